//! The daemon checks: the control socket, a running `replicate` that replicates every database
//! and can ship it now, or who holds the replicate lock when nothing answers.

use std::path::Path;
use std::time::Duration;

use cargo_litestream_config::{Database, Env, Project};

use super::{Check, Status};
use crate::control::{self, ControlError};

/// Whether the running daemon can ship `path` now: a sync until the replica has it (the request
/// that keeps Litestream's read lock: `control::sync`). A replica that is read-only or full
/// makes Litestream log an ERROR and nothing else; this turns it into a failure.
fn shipping(socket: &Path, path: &Path, db: &Database, timeout: Duration) -> Check {
    match control::sync_wait(socket, path, timeout) {
        Ok(reply) => Check::new(
            "daemon",
            db.name(),
            Status::Pass,
            format!(
                "replicated by the running daemon; the replica has TXID {} (synced now)",
                crate::json::txid(reply.replica_txid)
            ),
        ),
        Err(ControlError::Refused { message, .. }) if message.contains("no position") => {
            Check::new("daemon", db.name(), Status::Pass, "replicated by the running daemon (nothing written yet)")
        }
        Err(error) => Check::new(
            "daemon",
            db.name(),
            Status::Fail,
            format!("the running daemon cannot ship it to the replica: {error}"),
        )
        .fix("make the replica writable and give it space (see the replicate log for litestream's ERROR lines)"),
    }
}

pub(super) fn check(project: &Project, env: &Env, timeout: Duration, checks: &mut Vec<Check>) {
    if !project.socket_enabled() {
        checks.push(
            Check::new(
                "daemon",
                "socket",
                Status::Warn,
                "the control socket is disabled (socket.enabled = false)",
            )
            .fix("remove that setting: `sync`, `verify`, `doctor` and `replicate -exec` need it"),
        );
        return;
    }
    let socket = project.socket_path(env);
    if socket.as_os_str().len() > cargo_litestream_config::MAX_SOCKET_PATH {
        checks.push(
            Check::new(
                "daemon",
                "socket",
                Status::Fail,
                format!("{} is longer than the OS allows: litestream runs without it", socket.display()),
            )
            .fix("choose a shorter socket.path"),
        );
        return;
    }
    match control::info(&socket, timeout) {
        Ok(info) => {
            checks.push(Check::new(
                "daemon",
                "replicate",
                Status::Pass,
                format!(
                    "running: litestream {} (process {}, up {} s) answers on {}",
                    info.version,
                    info.pid,
                    info.uptime_seconds.round(),
                    socket.display()
                ),
            ));
            match control::list(&socket, timeout) {
                Ok(listed) => {
                    for db in &project.databases {
                        let Some(path) = db.path() else { continue };
                        let entry = listed.iter().find(|l| l.path == path);
                        checks.push(match entry.map(|l| l.status.as_str()) {
                            Some("replicating") | Some("open") if path.is_file() => {
                                shipping(&socket, path, db, timeout)
                            }
                            Some("replicating") | Some("open") => Check::new(
                                "daemon",
                                db.name(),
                                Status::Pass,
                                "replicated by the running daemon (no file yet)",
                            ),
                            Some(status) => Check::new(
                                "daemon",
                                db.name(),
                                Status::Fail,
                                format!("{status} in the running daemon"),
                            )
                            .fix(format!("`cargo litestream start {}`", db.name())),
                            None => Check::new(
                                "daemon",
                                db.name(),
                                Status::Fail,
                                "not replicated by the running daemon (started with another configuration?)",
                            )
                            .fix("restart `cargo litestream replicate`"),
                        });
                    }
                }
                Err(error) => checks.push(Check::new(
                    "daemon",
                    "replicate",
                    Status::Fail,
                    format!("cannot list its databases: {error}"),
                )),
            }
        }
        Err(ControlError::NotRunning { .. }) => {
            let holder = project
                .databases
                .iter()
                .filter_map(|db| cargo_litestream_runner::lock::replicator(db.location.path()))
                .next();
            let stale =
                if socket.exists() { " (the socket file is left from a daemon that died)" } else { "" };
            checks.push(match holder {
                Some(holder) => Check::new(
                    "daemon",
                    "replicate",
                    Status::Warn,
                    format!(
                        "a replicator{} holds the replicate lock, but nothing answers on {}{stale}",
                        holder.pid().map(|pid| format!(" (process {pid})")).unwrap_or_default(),
                        socket.display()
                    ),
                )
                .fix("it was started with another configuration or socket; `sync`, `verify` and `doctor` cannot reach it"),
                None => Check::new("daemon", "replicate", Status::Warn, format!("not running: nothing answers on {}{stale}", socket.display()))
                    .fix("start `cargo litestream replicate` (or the service that runs it)"),
            });
        }
        Err(error) => checks.push(
            Check::new(
                "daemon",
                "replicate",
                Status::Fail,
                format!("the daemon on {} does not answer properly: {error}", socket.display()),
            )
            .fix("see its log; it may be stuck shipping to an unreachable replica"),
        ),
    }
}
