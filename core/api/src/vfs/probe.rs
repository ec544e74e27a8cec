//! One look at a replica through the VFS: what TXID a fresh reader sees, when it last polled
//! the replica, and how old the data it serves is.
//!
//! This loads the extension into the calling process; `cargo litestream vfs-status` therefore
//! runs it in a child process of its own (see the module documentation of [`crate::vfs`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{OpenOptions, VfsError, open_replica};

/// What to probe, and how long it may take.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeRequest {
    pub extension: PathBuf,
    pub url: String,
    /// Bound on the open and on the wait for the first poll, in milliseconds.
    pub timeout_ms: u64,
    /// The VFS poll interval for this probe, in milliseconds.
    pub poll_interval_ms: u64,
}

/// What a fresh VFS reader saw.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Probe {
    /// `litestream_txid()`: 16 hex digits.
    pub txid: Option<String>,
    /// `litestream_lag()`: seconds since the last successful poll of the replica; `-1` until the
    /// first poll completes.
    pub poll_age_seconds: Option<i64>,
    /// `litestream_time()`: when the newest transaction the reader sees was written (RFC 3339).
    pub data_time: Option<String>,
    /// Now − `data_time`, in seconds.
    pub data_age_seconds: Option<f64>,
    /// Why the probe could not see the replica.
    pub error: Option<String>,
}

/// Opens the replica through the VFS (bounded), waits until the reader has polled the replica
/// at least once (bounded by the same deadline), then reads the `litestream_*` functions.
pub fn probe(request: &ProbeRequest) -> Probe {
    match look(request) {
        Ok(probe) => probe,
        Err(error) => Probe { error: Some(error.to_string()), ..Probe::default() },
    }
}

fn look(request: &ProbeRequest) -> Result<Probe, VfsError> {
    let timeout = Duration::from_millis(request.timeout_ms);
    let deadline = Instant::now() + timeout;
    let options =
        OpenOptions { timeout, poll_interval: Some(Duration::from_millis(request.poll_interval_ms.max(1))) };
    let conn = open_replica(&request.extension, &request.url, &options)?;
    let query_error = |error: rusqlite::Error| VfsError::Query {
        url: cargo_litestream_config::redact_url_password(&request.url),
        message: error.to_string(),
    };

    // The reader reports -1 until its first poll: a fresh connection has not polled yet. The VFS
    // offers no notification, so ask again every poll interval's fraction until the deadline.
    let step = Duration::from_millis((request.poll_interval_ms / 4).clamp(10, 250));
    loop {
        let lag: i64 = conn.query_row("SELECT litestream_lag()", [], |r| r.get(0)).map_err(query_error)?;
        if lag >= 0 || Instant::now() + step > deadline {
            break;
        }
        std::thread::sleep(step);
    }
    conn.query_row(
        "SELECT litestream_txid(), litestream_lag(), litestream_time(), \
                (julianday('now') - julianday(litestream_time())) * 86400.0",
        [],
        |row| {
            Ok(Probe {
                txid: row.get(0)?,
                poll_age_seconds: row.get(1)?,
                data_time: row.get(2)?,
                data_age_seconds: row.get(3)?,
                error: None,
            })
        },
    )
    .map_err(query_error)
}

/// Runs [`probe`] in a child process, so this process never loads the extension (after which
/// its plain SQLite opens would fail) and the child's environment can carry the replica's
/// credentials.
///
/// `command` must start a program that reads a [`ProbeRequest`] as JSON on stdin and prints the
/// [`Probe`] as JSON on stdout (`cargo-litestream litestream vfs-status --probe-child` does).
/// The child is killed when it has not answered within the request's timeout plus `grace` (its
/// start-up and the loading of the extension).
pub fn probe_in_child(command: &mut std::process::Command, request: &ProbeRequest, grace: Duration) -> Probe {
    let failed = |error: String| Probe { error: Some(error), ..Probe::default() };
    let input = match serde_json::to_vec(request) {
        Ok(input) => input,
        Err(error) => return failed(format!("could not encode the probe request: {error}")),
    };
    let timeout = Duration::from_millis(request.timeout_ms) + grace;
    match crate::process::output_within(command, Some(&input), timeout) {
        Ok(done) if done.status.success() => serde_json::from_slice(&done.stdout).unwrap_or_else(|error| {
            failed(format!(
                "the probe process answered something else than JSON ({error}): {}",
                String::from_utf8_lossy(&done.stdout).trim()
            ))
        }),
        Ok(done) => {
            failed(format!("the probe process failed: {}", crate::process::last_error_line(&done.stderr)))
        }
        Err(error) => failed(format!("the probe process {error}")),
    }
}
