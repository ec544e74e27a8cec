//! `sync`, spoken to the daemon directly instead of through `litestream sync`.
//!
//! Litestream's own client always sends a positive `timeout`, and a sync made under one can
//! leave the daemon without the read lock that keeps the application's checkpoints from
//! restarting the WAL under it: committed rows then never reach the backup
//! ([`cargo_litestream_api::control::sync`] says how). The output, flags and exit codes are
//! `litestream sync`'s.

use std::time::{Duration, Instant};

use anyhow::bail;
use cargo_litestream_api::control::{self, ControlError, SyncUntil};
use clap::ArgMatches;

use crate::Ctx;
use crate::passthrough::{self, Passthrough};

/// Runs `sync` as declared by `spec` (its flags: `-socket`, `-timeout`, `-wait`, `-json`; its
/// one positional: the database).
pub fn run(spec: &Passthrough, matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let positional = &spec.positionals[0];
    let text = matches.get_one::<String>(positional.name).map(String::as_str).unwrap_or_default();
    let db = passthrough::database_path(positional, text, ctx)?;
    let socket = passthrough::socket(matches, ctx)?;
    let timeout = seconds(matches.get_one::<String>("timeout").map_or("30", String::as_str))?;
    let wait = matches.get_flag("wait");
    let until = if wait { SyncUntil::Replica } else { SyncUntil::Local };

    ctx.shell.verbose("Syncing", format!("{} through {}", db.display(), socket.display()));
    let started = Instant::now();
    let reply = control::sync(&socket, &db, until, timeout).map_err(|error| match error {
        ControlError::NotRunning { socket, .. } => anyhow::anyhow!(passthrough::no_daemon(&socket)),
        ControlError::TimedOut(after) => anyhow::anyhow!(
            "the sync did not finish within {} s: the replica is slow or unreachable (see the replicate \
             log); raise -timeout to wait longer",
            after.as_secs()
        ),
        ControlError::Refused { message, .. } => anyhow::anyhow!("sync failed: {message}"),
        other => other.into(),
    })?;
    let duration_ms = started.elapsed().as_millis();

    // Litestream's shape: decimal TXIDs, `replica_txid` only with -wait.
    let mut out = serde_json::Map::new();
    out.insert("db_path".into(), reply.path.display().to_string().into());
    out.insert("txid".into(), reply.txid.into());
    if wait {
        out.insert("replica_txid".into(), reply.replica_txid.into());
    }
    out.insert("duration_ms".into(), (duration_ms as u64).into());
    let text = if matches.get_flag("json") {
        serde_json::to_string_pretty(&out)? + "\n"
    } else {
        out.iter()
            .map(|(key, value)| {
                format!("{key}: {}\n", value.as_str().map_or(value.to_string(), str::to_owned))
            })
            .collect()
    };
    std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?;
    Ok(0)
}

/// `-timeout` as Litestream's flag package reads an int: whole seconds, more than zero.
fn seconds(text: &str) -> anyhow::Result<Duration> {
    let Ok(seconds) = text.trim().parse::<i64>() else {
        bail!("invalid value {text:?} for flag -timeout: parse error");
    };
    if seconds <= 0 {
        bail!("timeout must be greater than 0");
    }
    Ok(Duration::from_secs(seconds.unsigned_abs()))
}
