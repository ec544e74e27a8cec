//! `cargo litestream restore-points`: the report of one replica, for people and as JSON.
//!
//! The JSON contract (`version` 1) is documented in README.md ("JSON output"); TXIDs are Litestream's
//! 16-hex-digit strings, times RFC 3339 in UTC, sizes in bytes.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::{ListError, RestorePoints};
use crate::json::txid;

/// The report's schema version (README.md, "JSON output").
pub const JSON_VERSION: u32 = 1;

/// One replica's restore points, or why they could not be listed.
pub struct Report {
    /// The alias, path or (redacted) replica URL the user knows the database by.
    pub database: String,
    pub points: Result<RestorePoints, ListError>,
}

impl Report {
    pub fn to_json(&self) -> Value {
        match &self.points {
            Err(error) => json!({ "database": self.database, "error": error.to_string() }),
            Ok(points) => json!({
                "database": self.database,
                "newest_txid": points.newest_txid.map(txid),
                "latest": match &points.latest {
                    Ok(latest) => json!({ "txid": txid(*latest) }),
                    Err(why) => json!({ "error": why.to_string() }),
                },
                "points": points.points,
                "unreachable": points
                    .unreachable()
                    .iter()
                    .map(|r| json!({ "from": txid(*r.start()), "to": txid(*r.end()) }))
                    .collect::<Vec<_>>(),
            }),
        }
    }

    /// The table: one line per point, oldest first, then what `restore` with no target does
    /// and which TXIDs no restore reaches. `heading` names the database first (several
    /// databases).
    pub fn write_human(&self, out: &mut impl Write, heading: bool) -> io::Result<()> {
        if heading {
            writeln!(out, "{}:", self.database)?;
        }
        let points = match &self.points {
            Ok(points) => points,
            Err(error) => return writeln!(out, "  could not be listed: {error}"),
        };
        if points.points.is_empty() {
            writeln!(out, "no restore points: the replica holds no backup a restore can use")?;
        } else {
            writeln!(out, "{:<16}  {:<20}  {:>5}  {:>10}", "TXID", "TIME", "FILES", "DOWNLOAD")?;
            for point in &points.points {
                let time = point.time.strftime("%Y-%m-%dT%H:%M:%SZ");
                writeln!(
                    out,
                    "{}  {time:<20}  {:>5}  {:>10}",
                    txid(point.txid),
                    point.files,
                    bytes(point.bytes)
                )?;
            }
        }
        match &points.latest {
            Ok(latest) => writeln!(out, "latest: {}", txid(*latest))?,
            Err(why) => writeln!(out, "latest: restore fails: {why}")?,
        }
        let unreachable = points.unreachable();
        if !unreachable.is_empty() {
            let ranges: Vec<String> = unreachable
                .iter()
                .map(|r| {
                    if r.start() == r.end() {
                        txid(*r.start())
                    } else {
                        format!("{}-{}", txid(*r.start()), txid(*r.end()))
                    }
                })
                .collect();
            writeln!(
                out,
                "not restorable: {} (their level-0 files are gone: compacted and past l0-retention, or never shipped)",
                ranges.join(", ")
            )?;
        }
        Ok(())
    }
}

/// `1.5 MiB`, as cargo prints sizes.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::super::{ReplicaFile, restore_points};
    use super::*;

    #[test]
    fn human_and_json() {
        let created = "2026-12-01T10:00:00Z".parse().unwrap();
        let files = [
            ReplicaFile { level: 9, min_txid: 1, max_txid: 1, size: 4096, created },
            ReplicaFile { level: 1, min_txid: 2, max_txid: 7, size: 2048, created },
        ];
        let report = Report { database: "default".into(), points: Ok(restore_points(&files)) };
        let mut out = Vec::new();
        report.write_human(&mut out, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "TXID              TIME                  FILES    DOWNLOAD\n\
             0000000000000001  2026-12-01T10:00:00Z      1     4.0 KiB\n\
             0000000000000007  2026-12-01T10:00:00Z      2     6.0 KiB\n\
             latest: 0000000000000007\n\
             not restorable: 0000000000000002-0000000000000006 (their level-0 files are gone: compacted and past l0-retention, or never shipped)\n"
        );
        let json = report.to_json();
        assert_eq!(json["points"][1]["txid"], "0000000000000007");
        assert_eq!(json["points"][1]["bytes"], 6144);
        assert_eq!(json["points"][1]["time"], "2026-12-01T10:00:00Z");
        assert_eq!(json["latest"]["txid"], "0000000000000007");
        assert_eq!(json["unreachable"][0], json!({"from": "0000000000000002", "to": "0000000000000006"}));
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536 * 1024), "1.5 MiB");
    }
}
