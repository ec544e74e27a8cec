//! `restore`: Litestream's, with what it gets wrong done right around it.
//!
//! - `-force` onto an existing database is done safely ([`cargo_litestream_api::restore`]):
//!   Litestream 0.5.17 deletes the old database and its sidecars *before* it restores, so a
//!   failed restore loses it.
//! - An output inside a replica is refused before anything runs.
//! - `--at TIME` picks the newest restore point at or before TIME by Litestream's own plan.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use cargo_litestream_api::restore::{self, Replaced};
use cargo_litestream_config::{DatabaseArg, Lookup};
use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::Ctx;
use crate::passthrough::Passthrough;

/// Runs `restore` as declared by `spec` (Litestream's flags, `--at`, the database or URL).
pub fn run(spec: &Passthrough, matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let at = match matches.get_one::<String>("at") {
        Some(time) => restore_point_at(spec, time, matches, ctx)?,
        None => Vec::new(),
    };
    // Built once: it writes the generated config, and every step below reads the same argv.
    let args = spec.litestream_args_with(matches, ctx, at)?;
    let output = output_path(&args, matches, ctx)?;
    if let Some(output) = &output {
        let from_url = matches.get_one::<String>("DB_PATH").map(String::as_str);
        restore::refuse_output_in_a_replica(output, ctx.project_if_any()?, from_url, &ctx.env)?;
    }
    let Some(output) = output else { return exec(&args, ctx) };
    let flags = restore::RestoreFlags {
        force: on(matches, "force"),
        follow: on(matches, "f"),
        if_db_not_exists: on(matches, "if-db-not-exists"),
        dry_run: on(matches, "dry-run"),
    };
    if restore::step(&output, flags)? == restore::Step::Litestream {
        return exec(&args, ctx);
    }
    let litestream = ctx.litestream()?;
    match restore::replace(&litestream, &ctx.env, &ctx.shell, &args, &output, matches.get_flag("json"))? {
        Replaced::NothingToReplace => exec(&args, ctx),
        Replaced::Ran { code, stdout } => {
            let mut out = std::io::stdout().lock();
            out.write_all(&stdout).and_then(|()| out.flush()).context("could not write to stdout")?;
            Ok(code)
        }
    }
}

fn on(matches: &ArgMatches, name: &str) -> bool {
    matches.value_source(name) == Some(ValueSource::CommandLine) && matches.get_flag(name)
}

/// Where the restore goes: `-o`, else the database's own path (config mode); `None` for a
/// replica URL without `-o` (Litestream explains).
fn output_path(args: &[OsString], matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Option<PathBuf>> {
    if let Some(at) = args.iter().position(|a| a == "-o") {
        return Ok(args.get(at + 1).map(PathBuf::from));
    }
    let Some(text) = matches.get_one::<String>("DB_PATH") else { return Ok(None) };
    let arg = match ctx.project_if_any()? {
        Some(project) => project.resolve_database_arg(text, &ctx.env, Lookup::Configured)?,
        None => DatabaseArg::Url(text.clone()),
    };
    Ok(match arg {
        DatabaseArg::Path { path, .. } => Some(path),
        DatabaseArg::Url(_) => None,
    })
}

/// Hands the process over to litestream with `args`.
fn exec(args: &[OsString], ctx: &Ctx) -> anyhow::Result<u8> {
    Ok(ctx.litestream()?.exec(args, &ctx.env, &ctx.shell)?)
}

/// `--at TIME`: the `-txid` of the newest restore point at or before TIME, chosen from the
/// replica's listing by Litestream's own plan (so the restore reaches it), and said. Litestream's
/// `-timestamp` instead restores whatever its plan reaches with the files older than TIME,
/// which after compaction can lie far before it, and does not say so.
fn restore_point_at(
    spec: &Passthrough,
    time: &str,
    matches: &ArgMatches,
    ctx: &Ctx,
) -> anyhow::Result<Vec<OsString>> {
    use cargo_litestream_api::{backups, json};
    let given = |name: &str| matches.value_source(name) == Some(ValueSource::CommandLine);
    if let Some(other) = ["txid", "timestamp", "index", "f"].into_iter().find(|name| given(name)) {
        bail!("--at and -{other} name the point to restore twice: give one of them");
    }
    let now = cargo_litestream_api::jiff::Zoned::now();
    let time = backups::parse_time(time, &now)
        .map_err(|why| anyhow::anyhow!("invalid value {time:?} for --at: {why}"))?;
    if time > now.timestamp() {
        bail!(
            "--at {time} lies in the future: the newest point is the latest backup, which `restore` without --at takes"
        );
    }
    let target = spec.replica_target(matches, ctx)?;
    let litestream = ctx.litestream()?;
    let point = backups::point_at(&litestream, &ctx.env, &target, time, std::time::Duration::from_secs(60))?;
    ctx.shell.status(
        "Choosing",
        format!(
            "restore point {} written {} ({} before {time})",
            json::txid(point.txid),
            point.time,
            backups::distance(point.time, time)
        ),
    );
    Ok(vec!["-txid".into(), json::txid(point.txid).into()])
}
