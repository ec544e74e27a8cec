//! `replicate` becomes litestream by `exec`, so it cannot keep the read transactions that stop
//! the application from restarting a WAL until litestream has opened it
//! (`cargo_litestream_api::wal`). A helper process does, this binary again with a hidden flag:
//!
//! 1. `spawn`: started by `replicate`; starts `hold` and exits at once, so that `hold` is
//!    nobody's child once `replicate` has become litestream (no zombie under litestream);
//! 2. `hold`: checks each WAL (checkpointing a restarted one) and takes its guard, prints
//!    `ready` (then `replicate` execs litestream), waits for litestream's control socket,
//!    syncs every database once (which opens them, under litestream's own read lock), and
//!    exits. That first sync also ends the second in which litestream has not opened the
//!    databases yet.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cargo_litestream_api::replicate::{WalReport, close_wal_gaps, hold_until_first_sync, print_wal_reports};
use cargo_litestream_command::Ctx;
use cargo_litestream_command::anyhow::{self, Context as _};

/// How long the helper waits for litestream to answer and sync.
const FIRST_SYNC_TIMEOUT: Duration = Duration::from_secs(30);
const READY: &str = "ready";

/// Starts the helper and returns once it holds the guards.
pub fn start_helper(ctx: &Ctx) -> anyhow::Result<()> {
    let mut spawner = helper_command(ctx, "spawn")?
        .env(LITESTREAM_PID, std::process::id().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start the WAL guard")?;
    let stdout = spawner.stdout.take().context("the WAL guard has no output")?;
    spawner.wait().context("the WAL guard")?;
    // Its reports, one JSON line each, then `ready`; its own stderr is silent (it loads the
    // project again: every warning would be printed twice).
    let mut ready = false;
    let mut reports = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("the WAL guard")?;
        if line == READY {
            ready = true;
            break;
        }
        reports.extend(serde_json::from_str::<WalReport>(&line).ok());
    }
    print_wal_reports(&reports, &ctx.shell);
    if !ready {
        ctx.shell.warn(
            "the WAL check before starting litestream did not complete; commits made while litestream was not \
             running may be missing from the backup until its next snapshot",
        );
    }
    Ok(())
}

pub fn helper(phase: &str, databases: &[PathBuf], socket: Option<&Path>, ctx: &Ctx) -> anyhow::Result<u8> {
    if phase == "spawn" {
        // Our stdout (the pipe to `replicate`) is inherited by `hold`.
        let mut hold = helper_command(ctx, "hold")?;
        if let Some(pid) = ctx.env.get(LITESTREAM_PID) {
            hold.env(LITESTREAM_PID, pid);
        }
        hold.stdout(Stdio::inherit()).spawn().context("could not start the WAL guard")?;
        return Ok(0);
    }
    let (reports, guards) = close_wal_gaps(ctx.project_if_any()?, databases);
    for report in &reports {
        println!("{}", serde_json::to_string(report)?);
    }
    println!("{READY}");
    let Some(socket) = socket else { return Ok(0) };
    // `replicate`'s PID is litestream's after its exec: once that is gone, nothing to wait for.
    let litestream = ctx.env.get(LITESTREAM_PID).and_then(|p| p.parse::<u32>().ok());
    let alive = || {
        litestream
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists() || !cfg!(target_os = "linux"))
    };
    if let Err(message) = hold_until_first_sync(guards, socket, FIRST_SYNC_TIMEOUT, alive) {
        ctx.shell.verbose("Skipping", format!("the first sync: {message}"));
    }
    Ok(0)
}

/// Set for the helper: the PID `replicate` has, which becomes litestream's.
const LITESTREAM_PID: &str = "CARGO_LITESTREAM_REPLICATE_PID";

/// This binary, with the arguments `replicate` was given and the helper flag, in the captured
/// environment.
fn helper_command(ctx: &Ctx, phase: &str) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("could not find this program to start the WAL guard")?;
    let flag = format!("--{}", super::GUARD_FLAG);
    let mut args: Vec<std::ffi::OsString> =
        std::env::args_os().skip(1).filter(|a| !a.to_string_lossy().starts_with(&flag)).collect();
    args.push(format!("{flag}={phase}").into());
    let mut command = Command::new(exe);
    command
        .args(args)
        .env_clear()
        .envs(ctx.env.vars())
        .current_dir(ctx.env.cwd())
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    Ok(command)
}
