//! `cargo litestream replicate` becomes litestream by `exec`, so it cannot keep the read
//! transactions that stop the application from restarting a WAL until litestream has opened it
//! ([`crate::wal`]). A helper process does, the same program again with the hidden flag
//! [`GUARD_FLAG`] (its other arguments unchanged):
//!
//! 1. `spawn`: started by `replicate`; starts `hold` and exits at once, so that `hold` is
//!    nobody's child once `replicate` has become litestream (no zombie under litestream);
//! 2. `hold`: checks each WAL (checkpointing a restarted one) and takes its guard, prints
//!    `ready` (then `replicate` execs litestream), waits for litestream's control socket,
//!    syncs every database once (which opens them, under litestream's own read lock: every
//!    sync of ours says `"timeout": -1`), releases the guards, and exits. That first sync also
//!    ends the second in which litestream has not opened the databases yet.
//!
//! The socket is the project's, the one a `-config FILE` enables, or a private one that
//! [`plan::plain`](super::plan::plain) generates (single-database mode, a `-config FILE`
//! without one): without a socket the guards would end before litestream holds its lock.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cargo_litestream_config::{Env, Project};
use cargo_litestream_shell::Shell;

use super::{WalReport, close_wal_gaps, hold_until_first_sync, print_wal_reports};

/// The hidden flag (`--__guard-wal=spawn|hold`) that makes `replicate` this helper.
pub const GUARD_FLAG: &str = "__guard-wal";

/// Why the helper could not be started or could not report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    #[error("could not find this program to start the WAL guard")]
    OwnPath(#[source] std::io::Error),
    #[error("could not start the WAL guard")]
    Start(#[source] std::io::Error),
    #[error("the WAL guard has no output")]
    NoOutput,
    #[error("the WAL guard")]
    Io(#[source] std::io::Error),
}

/// How long the helper waits for litestream to answer and sync.
const FIRST_SYNC_TIMEOUT: Duration = Duration::from_secs(30);
const READY: &str = "ready";

/// Starts the helper and returns once it holds the guards (their reports printed on `shell`).
/// `socket`: where litestream will answer (without one the guards end at once); `private`:
/// the run's private folder (a generated configuration and socket), removed by the helper
/// once the first sync is done.
pub fn start_helper(
    env: &Env,
    shell: &Shell,
    socket: Option<&Path>,
    private: Option<&Path>,
) -> Result<(), GuardError> {
    let mut spawner = helper_command(env, "spawn")?;
    if let Some(socket) = socket {
        spawner.env(SOCKET, socket);
    }
    if let Some(private) = private {
        spawner.env(PRIVATE_DIR, private);
    }
    let mut spawner = spawner
        .env(LITESTREAM_PID, std::process::id().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(GuardError::Start)?;
    let stdout = spawner.stdout.take().ok_or(GuardError::NoOutput)?;
    spawner.wait().map_err(GuardError::Io)?;
    // Its reports, one JSON line each, then `ready`; its own stderr is silent (it loads the
    // project again: every warning would be printed twice).
    let mut ready = false;
    let mut reports = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(GuardError::Io)?;
        if line == READY {
            ready = true;
            break;
        }
        reports.extend(serde_json::from_str::<WalReport>(&line).ok());
    }
    print_wal_reports(&reports, shell);
    if !ready {
        shell.warn(
            "the WAL check before starting litestream did not complete; commits made while litestream was not \
             running may be missing from the backup until its next snapshot",
        );
    }
    Ok(())
}

/// The helper itself, in `phase` (`spawn` or `hold`, see the module): `databases` are those
/// `replicate` locked.
pub fn serve(
    phase: &str,
    project: Option<&Project>,
    databases: &[PathBuf],
    env: &Env,
    shell: &Shell,
) -> Result<u8, GuardError> {
    if phase == "spawn" {
        // Our stdout (the pipe to `replicate`) is inherited by `hold`.
        let mut hold = helper_command(env, "hold")?;
        if let Some(pid) = env.get(LITESTREAM_PID) {
            hold.env(LITESTREAM_PID, pid);
        }
        hold.stdout(Stdio::inherit()).spawn().map_err(GuardError::Start)?;
        return Ok(0);
    }
    let (reports, guards) = close_wal_gaps(project, databases);
    for report in &reports {
        println!("{}", serde_json::to_string(report).unwrap_or_default());
    }
    println!("{READY}");
    let Some(socket) = env.get_os(SOCKET).map(PathBuf::from) else { return Ok(0) };
    // `replicate`'s PID is litestream's after its exec: once that is gone, nothing to wait for.
    let litestream = env.get(LITESTREAM_PID).and_then(|p| p.parse::<u32>().ok());
    let alive = || {
        litestream
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists() || !cfg!(target_os = "linux"))
    };
    if let Err(message) = hold_until_first_sync(guards, &socket, FIRST_SYNC_TIMEOUT, alive) {
        shell.verbose("Skipping", format!("the first sync: {message}"));
    }
    // Litestream read its configuration at start, and nothing of ours talks to a private
    // socket after the first sync.
    if let Some(private) = env.get_os(PRIVATE_DIR).map(PathBuf::from)
        && private.file_name().is_some_and(|n| n.to_string_lossy().starts_with("cargo-litestream-"))
    {
        let _ = std::fs::remove_dir_all(private);
    }
    Ok(0)
}

/// Set for the helper: the PID `replicate` has, which becomes litestream's.
const LITESTREAM_PID: &str = "CARGO_LITESTREAM_REPLICATE_PID";
/// Set for the helper: the control socket to sync on.
const SOCKET: &str = "CARGO_LITESTREAM_GUARD_SOCKET";
/// Set for the helper: the run's private folder, removed after the first sync.
const PRIVATE_DIR: &str = "CARGO_LITESTREAM_GUARD_PRIVATE_DIR";

/// This program, with the arguments `replicate` was given and the helper flag, in the captured
/// environment.
fn helper_command(env: &Env, phase: &str) -> Result<Command, GuardError> {
    let exe = std::env::current_exe().map_err(GuardError::OwnPath)?;
    let flag = format!("--{GUARD_FLAG}");
    let mut args: Vec<std::ffi::OsString> =
        std::env::args_os().skip(1).filter(|a| !a.to_string_lossy().starts_with(&flag)).collect();
    args.push(format!("{flag}={phase}").into());
    let mut command = Command::new(exe);
    command
        .args(args)
        .env_clear()
        .envs(env.vars())
        .current_dir(env.cwd())
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    Ok(command)
}
