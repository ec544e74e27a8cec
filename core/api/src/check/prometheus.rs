//! `check --format prometheus`: the numbers Litestream 0.5.17 does not export (it has no
//! replica TXID, lag, recovery window or assurance metric), in Prometheus's text exposition
//! format 0.0.4, for node_exporter's textfile collector.
//!
//! Every name starts with `cargo_litestream_`: Litestream owns `litestream_`, and a name of
//! ours there could collide with one it adds later. Times are exported as Unix timestamps
//! (`…_timestamp_seconds`), which stay true however late the file is scraped; ages are there
//! too, as of the probe, because alert rules on them read simply.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::{Report, Status};

struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// The metrics of `reports`, probed at `now`.
pub fn render(reports: &[Report], now: Timestamp) -> String {
    let mut families: Vec<Family> = Vec::new();
    let mut add = |name: &'static str, help: &'static str, labels: String, value: Option<f64>| {
        let Some(value) = value else { return };
        match families.iter_mut().find(|f| f.name == name) {
            Some(family) => family.samples.push((labels, value)),
            None => families.push(Family { name, help, samples: vec![(labels, value)] }),
        }
    };
    let seconds = |t: Option<Timestamp>| t.map(|t| t.as_nanosecond() as f64 / 1e9);
    let age = |t: Option<Timestamp>| t.map(|t| (now.as_nanosecond() - t.as_nanosecond()) as f64 / 1e9);
    for r in reports {
        let db = format!("db=\"{}\"", escape(&r.database));
        let code = |s: Status| f64::from(s.exit_code());
        add(
            "cargo_litestream_check_status",
            "Verdict of cargo litestream check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            db.clone(),
            Some(code(r.status)),
        );
        let up = r.daemon_status.as_deref() == Some("replicating");
        add(
            "cargo_litestream_daemon_replicating",
            "1 when a running replicate answers on the control socket and replicates the database.",
            db.clone(),
            Some(f64::from(u8::from(up))),
        );
        add(
            "cargo_litestream_local_txid",
            "Newest TXID Litestream copied from the WAL (the daemon's, else its newest local level-0 file).",
            db.clone(),
            r.local_txid.map(|t| t as f64),
        );
        add(
            "cargo_litestream_replica_txid",
            "Newest TXID on the replica.",
            db.clone(),
            r.replica_txid.map(|t| t as f64),
        );
        add(
            "cargo_litestream_replica_txid_lag",
            "Local TXID minus replica TXID.",
            db.clone(),
            r.txid_lag.map(|t| t as f64),
        );
        add(
            "cargo_litestream_replica_lag_seconds",
            "How long the replica has lacked what the database holds (0: it holds it all).",
            db.clone(),
            r.lag_seconds,
        );
        add(
            "cargo_litestream_replica_newest_file_timestamp_seconds",
            "Unix time of the replica's newest file, any level.",
            db.clone(),
            seconds(r.replica_newest_file),
        );
        add(
            "cargo_litestream_replica_newest_file_age_seconds",
            "Age of the replica's newest file, any level, when the check ran.",
            db.clone(),
            age(r.replica_newest_file),
        );
        add(
            "cargo_litestream_replica_snapshot_timestamp_seconds",
            "Unix time of the replica's newest snapshot (level 9).",
            db.clone(),
            seconds(r.snapshot),
        );
        add(
            "cargo_litestream_recovery_window_start_timestamp_seconds",
            "Unix time of the oldest restore point: how far back a restore can go.",
            db.clone(),
            seconds(r.recovery_window_start),
        );
        add(
            "cargo_litestream_restore_points",
            "Number of TXIDs a restore can reach.",
            db.clone(),
            r.restore_points.map(|n| n as f64),
        );
        for level in &r.levels {
            let labels = format!("{db},level=\"{}\"", level.level);
            add(
                "cargo_litestream_replica_bytes",
                "Bytes of the replica's files, per level (0: syncs, 1-8: compactions, 9: snapshots).",
                labels.clone(),
                Some(level.bytes as f64),
            );
            add(
                "cargo_litestream_replica_files",
                "Number of the replica's files, per level.",
                labels,
                Some(level.files as f64),
            );
        }
        for a in &r.assurance {
            let kind = serde_json::to_value(a.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let labels = format!("{db},kind=\"{kind}\"");
            add(
                "cargo_litestream_last_success_timestamp_seconds",
                "Unix time of the last successful verify, scrub or drill (history.jsonl).",
                labels.clone(),
                seconds(a.last_success),
            );
            add(
                "cargo_litestream_last_success_duration_seconds",
                "Duration of the last successful verify, scrub or drill.",
                labels.clone(),
                a.last_success_duration_ms.map(|ms| ms as f64 / 1000.0),
            );
            add(
                "cargo_litestream_last_run_ok",
                "1 when the last verify, scrub or drill passed, 0 when it failed.",
                labels,
                a.last_ok.map(|ok| f64::from(u8::from(ok))),
            );
        }
    }
    add(
        "cargo_litestream_check_timestamp_seconds",
        "Unix time the check ran (a textfile that stops changing shows here).",
        String::new(),
        seconds(Some(now)),
    );

    let mut out = String::new();
    for family in families {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} gauge", family.name);
        for (labels, value) in family.samples {
            let labels = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
            let _ = writeln!(out, "{}{labels} {}", family.name, number(value));
        }
    }
    out
}

/// A label value as the text format quotes it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Whole numbers without a fraction (TXIDs, bytes), the rest with millisecond precision.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_label_values() {
        assert_eq!(super::escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(super::number(12.0), "12");
        assert_eq!(super::number(0.25), "0.250");
    }
}
