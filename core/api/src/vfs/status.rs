//! How healthy a VFS replica is: Healthy, Lagging, Stale or Unknown.
//!
//! What a fresh reader (a [`Probe`]) can honestly tell:
//! - it could not open the replica, or never polled it (`litestream_lag()` still `-1`):
//!   **Unknown**, never Healthy;
//! - it sees the replica's latest TXID (from `litestream ltx -level all -json`): it is as
//!   fresh as its last poll, so the poll age decides;
//! - it sees an older TXID than the replica holds: it serves data that newer data has replaced,
//!   so the age of the data it serves decides;
//! - the replica's latest TXID cannot be listed: the poll age decides, and the number of TXIDs
//!   behind is reported as unknown.
//!
//! The age is compared with the thresholds: below `lagging_after` Healthy, below `stale_after`
//! Lagging, else Stale.

use std::ffi::OsString;
use std::time::Duration;

use cargo_litestream_config::Env;
use cargo_litestream_runner::Litestream;
use serde::Serialize;

use super::Probe;
use crate::process::{BoundedError, last_error_line, output_within};

/// The verdict on one VFS replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Lagging,
    Stale,
    Unknown,
}

impl Health {
    /// `Healthy`, …: the word users see.
    pub fn label(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Lagging => "Lagging",
            Health::Stale => "Stale",
            Health::Unknown => "Unknown",
        }
    }

    /// The symbol shown before the word on a terminal.
    pub fn symbol(self) -> &'static str {
        match self {
            Health::Healthy => "✓",
            Health::Lagging => "⚠",
            Health::Stale => "✗",
            Health::Unknown => "?",
        }
    }

    /// Whether a monitor should be alerted (`vfs-status` then exits non-zero).
    pub fn is_failure(self) -> bool {
        matches!(self, Health::Stale | Health::Unknown)
    }
}

/// When a replica's age makes it Lagging, then Stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    pub lagging_after: Duration,
    pub stale_after: Duration,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds { lagging_after: Duration::from_secs(60), stale_after: Duration::from_secs(300) }
    }
}

impl Thresholds {
    pub fn classify(&self, age_seconds: f64) -> Health {
        if age_seconds < self.lagging_after.as_secs_f64() {
            Health::Healthy
        } else if age_seconds < self.stale_after.as_secs_f64() {
            Health::Lagging
        } else {
            Health::Stale
        }
    }
}

/// The newest transaction on a replica, as `litestream ltx -level all -json` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaPosition {
    pub txid: u64,
    /// When that transaction's file was written (RFC 3339).
    pub timestamp: String,
}

/// Why the replica's newest transaction could not be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PositionError {
    #[error("listing the replica (litestream ltx) could not start `{program}`")]
    Start {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listing the replica (litestream ltx) did not finish within {} s", .after.as_secs_f64())]
    TimedOut { after: Duration },
    /// Litestream ran and failed; `why` is the last error line it printed.
    #[error("listing the replica failed: {why}")]
    Failed { why: String },
    /// Litestream's listing could not be read.
    #[error(transparent)]
    Listing(#[from] crate::backups::ListError),
}

/// The replica's newest transaction (`None` for a replica with no backup yet), listed by
/// running `litestream ltx -level all -json` with `target` (a replica URL, or `-config FILE
/// DB_PATH`) and `extra_env` (credentials) added to `env`; bounded by `timeout`.
pub fn replica_position(
    litestream: &Litestream,
    env: &Env,
    target: &[OsString],
    extra_env: &[(String, String)],
    timeout: Duration,
) -> Result<Option<ReplicaPosition>, PositionError> {
    let mut command = litestream.command(env);
    command.args(["ltx", "-level", "all", "-json"]).args(target).envs(extra_env.iter().map(|(k, v)| (k, v)));
    let done = output_within(&mut command, None, timeout).map_err(|error| match error {
        BoundedError::Spawn { program, source } => PositionError::Start { program, source },
        BoundedError::TimedOut(after) => PositionError::TimedOut { after },
    })?;
    if !done.status.success() {
        return Err(PositionError::Failed { why: last_error_line(&done.stderr) });
    }
    // The one reader of litestream's listing (a listing it cannot read is an error here as in
    // doctor, never "no backup yet").
    let files = crate::backups::parse_listing(&done.stdout)?;
    let newest =
        files.iter().max_by(|a, b| a.max_txid.cmp(&b.max_txid).then_with(|| a.created.cmp(&b.created)));
    Ok(newest.map(|f| ReplicaPosition { txid: f.max_txid, timestamp: f.created.to_string() }))
}

/// A replica's health, with the numbers it rests on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Assessment {
    pub health: Health,
    /// How many TXIDs the reader is behind the replica's newest, where that can be told.
    pub txids_behind: Option<u64>,
    /// The age the thresholds were applied to (poll age, or data age when behind).
    pub age_seconds: Option<f64>,
    /// Why: one sentence.
    pub reason: String,
}

/// Judges `probe` against the replica's newest transaction (`position`: `Ok(None)` for an
/// empty replica, `Err` when it could not be listed).
pub fn assess(
    probe: &Probe,
    position: &Result<Option<ReplicaPosition>, String>,
    thresholds: &Thresholds,
) -> Assessment {
    let unknown = |reason: String| Assessment {
        health: Health::Unknown,
        txids_behind: None,
        age_seconds: None,
        reason,
    };
    if let Some(error) = &probe.error {
        return match position {
            Ok(None) => unknown(format!("the replica has no backup yet ({error})")),
            _ => unknown(error.clone()),
        };
    }
    let Some(txid) = probe.txid.as_deref().and_then(|t| u64::from_str_radix(t, 16).ok()) else {
        return unknown("the VFS reported no TXID".to_owned());
    };
    let poll_age = match probe.poll_age_seconds {
        Some(age) if age >= 0 => age as f64,
        _ => {
            return unknown(
                "the VFS never completed a poll of the replica (litestream_lag() = -1)".to_owned(),
            );
        }
    };
    let behind = match position {
        Ok(Some(position)) => Some(position.txid.saturating_sub(txid)),
        Ok(None) | Err(_) => None,
    };
    let (age, basis) = match behind {
        Some(n) if n > 0 => match probe.data_age_seconds {
            Some(data_age) => (data_age.max(0.0), format!("{n} TXIDs behind the replica, serving data")),
            None => return unknown(format!("{n} TXIDs behind the replica, and the data's age is unknown")),
        },
        _ => (poll_age, "last poll of the replica".to_owned()),
    };
    let health = thresholds.classify(age);
    let mut reason = format!("{basis} {} old", seconds(age));
    if let Err(why) = position {
        reason.push_str(&format!("; TXIDs behind unknown: {why}"));
    }
    Assessment { health, txids_behind: behind, age_seconds: Some(age), reason }
}

/// `42 s`, `5 min 3 s`, `2 h 4 min`.
pub fn seconds(age: f64) -> String {
    let total = age.round().max(0.0) as u64;
    match total {
        0..60 => format!("{total} s"),
        60..3600 => format!("{} min {} s", total / 60, total % 60),
        _ => format!("{} h {} min", total / 3600, (total % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_that_cannot_start_says_so_with_its_cause_once() {
        let litestream = Litestream {
            path: "/nonexistent/litestream".into(),
            source: cargo_litestream_runner::BinarySource::EnvVar,
        };
        let args = ["file:///nowhere".into()];
        let error =
            replica_position(&litestream, &Env::empty("/"), &args, &[], Duration::from_secs(5)).unwrap_err();
        let PositionError::Start { source, .. } = &error else { panic!("{error:?}") };
        assert_eq!(
            crate::replicate::plan::one_line(&error),
            format!(
                "listing the replica (litestream ltx) could not start `/nonexistent/litestream`: {source}"
            )
        );
    }

    fn probe(txid: u64, lag: i64, data_age: f64) -> Probe {
        Probe {
            txid: Some(format!("{txid:016x}")),
            poll_age_seconds: Some(lag),
            data_time: Some("2026-01-01T00:00:00Z".into()),
            data_age_seconds: Some(data_age),
            error: None,
        }
    }

    fn at(txid: u64) -> Result<Option<ReplicaPosition>, String> {
        Ok(Some(ReplicaPosition { txid, timestamp: "2026-01-01T00:00:00Z".into() }))
    }

    #[test]
    fn never_polled_is_unknown_never_healthy() {
        let a = assess(&probe(5, -1, 0.0), &at(5), &Thresholds::default());
        assert_eq!(a.health, Health::Unknown);
        assert!(a.reason.contains("-1"), "{}", a.reason);
    }

    #[test]
    fn up_to_date_readers_are_judged_by_poll_age() {
        let t = Thresholds::default();
        // An idle database: old data, but the reader sees the newest TXID.
        assert_eq!(assess(&probe(5, 0, 86_400.0), &at(5), &t).health, Health::Healthy);
        assert_eq!(assess(&probe(5, 60, 0.0), &at(5), &t).health, Health::Lagging);
        assert_eq!(assess(&probe(5, 300, 0.0), &at(5), &t).health, Health::Stale);
    }

    #[test]
    fn readers_behind_are_judged_by_data_age() {
        let t = Thresholds::default();
        let a = assess(&probe(3, 0, 400.0), &at(5), &t);
        assert_eq!((a.health, a.txids_behind), (Health::Stale, Some(2)));
        assert_eq!(assess(&probe(3, 0, 10.0), &at(5), &t).health, Health::Healthy);
    }

    #[test]
    fn unlisted_replicas_still_get_a_verdict() {
        let a = assess(&probe(3, 2, 400.0), &Err("denied".into()), &Thresholds::default());
        assert_eq!((a.health, a.txids_behind), (Health::Healthy, None));
        assert!(a.reason.contains("denied"));
    }

    #[test]
    fn failed_probes_are_unknown() {
        let failed = Probe { error: Some("timed out".into()), ..Probe::default() };
        let a = assess(&failed, &Ok(None), &Thresholds::default());
        assert_eq!(a.health, Health::Unknown);
        assert!(a.reason.contains("no backup yet"));
    }

    #[test]
    fn thresholds_are_configurable() {
        let t = Thresholds { lagging_after: Duration::from_secs(1), stale_after: Duration::from_secs(2) };
        assert_eq!(t.classify(0.5), Health::Healthy);
        assert_eq!(t.classify(1.0), Health::Lagging);
        assert_eq!(t.classify(2.0), Health::Stale);
        assert_eq!(seconds(3725.0), "1 h 2 min");
        assert_eq!(seconds(61.0), "1 min 1 s");
    }
}
