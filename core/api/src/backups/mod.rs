//! What a replica holds, and what a restore can reach from it.
//!
//! - [`list`]: the replica's files, as `litestream ltx -level all -json` lists them (the one
//!   reader of that output). Litestream lists every backend it supports with the same config
//!   and credentials it replicates with, so this works wherever replication does.
//! - [`plan()`]: Litestream's restore plan for a target, computed here ([`mod@plan`] module).
//! - [`restore_points`]: every TXID a restore can reach, with its time and what it downloads.

pub mod btree;
pub mod drill;
pub mod history;
pub mod pages;
pub mod plan;
mod points;
pub mod report;
pub mod scrub;
pub mod store;
mod when;

use std::ffi::OsString;
use std::time::Duration;

use cargo_litestream_config::Env;
use cargo_litestream_runner::Litestream;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::json::{self, txid};
use crate::process::{BoundedError, last_error_line, output_within};
pub use plan::{PlanError, Target, plan};
pub use points::{RestorePoint, RestorePoints, restore_points};
pub use when::{TimeError, parse_time};

/// One LTX file on a replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaFile {
    /// 0 (one file per sync), 1-8 (compactions), 9 (snapshots).
    pub level: u8,
    #[serde(serialize_with = "json::serialize_txid")]
    pub min_txid: u64,
    #[serde(serialize_with = "json::serialize_txid")]
    pub max_txid: u64,
    /// Bytes a restore downloads for this file.
    pub size: u64,
    /// When the file was written, as Litestream lists it (file replicas: the LTX header's
    /// time; object stores: the upload time). Second precision.
    #[serde(rename = "timestamp")]
    pub created: Timestamp,
}

impl ReplicaFile {
    /// The file's name on the replica, as Litestream writes it.
    pub fn name(&self) -> String {
        cargo_litestream_ltx::file_name(
            cargo_litestream_ltx::Txid(self.min_txid),
            cargo_litestream_ltx::Txid(self.max_txid),
        )
    }
}

/// Why a replica could not be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    #[error("could not run litestream ltx: {0}")]
    Run(String),
    #[error("the replica did not answer within {} s (litestream ltx was stopped)", .0.as_secs())]
    TimedOut(Duration),
    #[error("listing the replica failed: {0}")]
    Litestream(String),
    #[error("could not read the output of `litestream ltx -json`: {0}")]
    Output(String),
}

/// The replica's files, listed by `litestream ltx -level all -json <target>` (`target`: a
/// replica URL, or `-config FILE DB_PATH`), bounded by `timeout`.
pub fn list(
    litestream: &Litestream,
    env: &Env,
    target: &[OsString],
    timeout: Duration,
) -> Result<Vec<ReplicaFile>, ListError> {
    let mut command = litestream.command(env);
    command.args(["ltx", "-level", "all", "-json"]).args(target);
    let done = output_within(&mut command, None, timeout).map_err(|e| match e {
        BoundedError::TimedOut(after) => ListError::TimedOut(after),
        other => ListError::Run(other.to_string()),
    })?;
    if !done.status.success() {
        return Err(ListError::Litestream(last_error_line(&done.stderr)));
    }
    parse_listing(&done.stdout)
}

/// `litestream ltx -json` output: `[{"level": 0, "min_txid": "<16 hex>", "max_txid": …,
/// "size": 567, "timestamp": "<RFC 3339>"}]`, or `null` for an empty replica.
pub fn parse_listing(json: &[u8]) -> Result<Vec<ReplicaFile>, ListError> {
    #[derive(Deserialize)]
    struct Listed {
        level: u8,
        min_txid: String,
        max_txid: String,
        size: u64,
        timestamp: String,
    }
    let listed: Option<Vec<Listed>> =
        serde_json::from_slice(json).map_err(|e| ListError::Output(e.to_string()))?;
    let parse_txid = |text: &str| {
        json::parse_txid(text).ok_or_else(|| ListError::Output(format!("{text:?} is not a TXID")))
    };
    listed
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            Ok(ReplicaFile {
                level: f.level,
                min_txid: parse_txid(&f.min_txid)?,
                max_txid: parse_txid(&f.max_txid)?,
                size: f.size,
                created: f
                    .timestamp
                    .parse()
                    .map_err(|e| ListError::Output(format!("timestamp {:?}: {e}", f.timestamp)))?,
            })
        })
        .collect()
}

/// Why `restore --at` found no point to restore to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AtError {
    #[error(transparent)]
    List(#[from] ListError),
    #[error("the replica holds no backup a restore can use")]
    NoPoints,
    #[error(
        "no restore point at or before {time}: the oldest is {} ({}); `cargo litestream restore-points` lists them",
        txid(oldest.txid),
        oldest.time
    )]
    TooEarly { time: Timestamp, oldest: RestorePoint },
}

/// The restore point `restore --at TIME` takes: the newest at or before `time` on the replica
/// `target` names (see [`list`]).
pub fn point_at(
    litestream: &Litestream,
    env: &Env,
    target: &[OsString],
    time: Timestamp,
    timeout: Duration,
) -> Result<RestorePoint, AtError> {
    let points = restore_points(&list(litestream, env, target, timeout)?);
    match points.at_or_before(time) {
        Some(point) => Ok(point.clone()),
        None => match points.points.first() {
            Some(oldest) => Err(AtError::TooEarly { time, oldest: oldest.clone() }),
            None => Err(AtError::NoPoints),
        },
    }
}

/// `3m 12s`: how far apart two times are, as a person reads it.
pub fn distance(from: Timestamp, to: Timestamp) -> String {
    let seconds = to.as_second().abs_diff(from.as_second());
    match jiff::Span::new()
        .try_seconds(seconds as i64)
        .and_then(|s| s.round(jiff::SpanRound::new().largest(jiff::Unit::Hour).smallest(jiff::Unit::Second)))
    {
        Ok(span) => format!("{span:#}"),
        Err(_) => format!("{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_litestreams_listing() {
        let json = br#"[
  {"level": 0, "min_txid": "0000000000000001", "max_txid": "000000000000000a", "size": 567, "timestamp": "2026-11-21T23:02:57Z"},
  {"level": 9, "min_txid": "0000000000000001", "max_txid": "0000000000000001", "size": 4200, "timestamp": "2026-11-21T23:02:58Z"}
]"#;
        let files = parse_listing(json).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!((files[0].level, files[0].min_txid, files[0].max_txid, files[0].size), (0, 1, 10, 567));
        assert_eq!(files[0].name(), "0000000000000001-000000000000000a.ltx");
        assert_eq!(files[1].created.to_string(), "2026-11-21T23:02:58Z");
        assert!(parse_listing(b"null").unwrap().is_empty());
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(distance(t("2026-12-01T10:00:00Z"), t("2026-12-01T10:03:12Z")), "3m 12s");
        assert_eq!(distance(t("2026-12-01T10:00:00Z"), t("2026-12-01T10:00:00Z")), "0s");
        assert_eq!(distance(t("2026-12-03T10:00:00Z"), t("2026-12-01T09:00:00Z")), "49h");
        assert!(parse_listing(b"[]").unwrap().is_empty());
        for bad in [
            &b"{"[..],
            br#"[{"level": 0}]"#,
            br#"[{"level":0,"min_txid":"zz","max_txid":"01","size":1,"timestamp":"2026-11-21T23:02:57Z"}]"#,
        ] {
            assert!(
                matches!(parse_listing(bad), Err(ListError::Output(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
