//! `cargo litestream dashboard [--addr HOST:PORT] [--token TOKEN]`: the status page of
//! `cargo_litestream_api::dashboard`, served until interrupted. 127.0.0.1 by default; any other
//! address only with a token, which every request must then present.

use std::sync::Arc;

use cargo_litestream_api::dashboard::{self, Dashboard, Options};
use cargo_litestream_command::anyhow::{self, Context as _, bail};
use cargo_litestream_command::clap::{Arg, ArgMatches, Command};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

/// The environment variable a token may come from (kept out of `ps` and shell history).
const TOKEN_VAR: &str = "CARGO_LITESTREAM_DASHBOARD_TOKEN";

fn cli() -> Command {
    Command::new("dashboard")
        .arg(
            Arg::new("addr")
                .long("addr")
                .value_name("HOST:PORT")
                .help(format!("Where to listen (default: {}; port 0 picks a free one)", dashboard::DEFAULT_ADDR)),
        )
        .arg(Arg::new("token").long("token").value_name("TOKEN").help(format!(
            "Require this token of every request (Authorization: Bearer, or ?token= once); needed for a non-loopback --addr (or set {TOKEN_VAR})"
        )))
        .after_help(
            "Per database: replication state and lag, the restore points as a timeline, the last verify, scrub \
             and drill, and \"restore to a copy\": a restore point restored into a new file under \
             target/litestream/<package>/restores/, checked with integrity_check. The database itself is never touched.",
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let token = match matches.get_one::<String>("token") {
        Some(token) if token.trim().is_empty() => {
            bail!("--token is empty: give a token, or leave the flag out")
        }
        Some(token) => Some(token.clone()),
        None => ctx.env.non_empty(TOKEN_VAR).map(str::to_owned),
    };
    let addr = matches.get_one::<String>("addr").map_or(dashboard::DEFAULT_ADDR, String::as_str);
    let listener = dashboard::listen(addr, token.is_some())?;
    let project = ctx.project()?.clone();
    let litestream = ctx.litestream()?;
    let options =
        Options { loopback_hosts_only: token.is_none(), token: token.clone(), ..Options::default() };
    let page = Dashboard::new(project, ctx.env.clone(), litestream, options)
        .context("cannot start the status page")?;
    let server = dashboard::serve(Arc::new(page), listener).context("cannot start the status page")?;
    let url = format!("http://{}/", server.addr());
    match token {
        Some(_) => ctx
            .shell
            .status("Serving", format!("{url} (token required: open {url}?token=TOKEN once; Ctrl-C stops)")),
        None => ctx.shell.status("Serving", format!("{url} (Ctrl-C stops)")),
    }
    server.wait();
    Ok(0)
}

register_command!(CommandSpec {
    name: "dashboard",
    about: "Serve a status page: replication, restore points as a timeline, assurance runs, restore to a copy",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
