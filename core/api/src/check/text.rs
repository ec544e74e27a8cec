//! `check`'s text formats: `human` for a terminal, `nagios` for a Nagios plugin (one status
//! line with performance data, then one line per finding that is not OK).

use std::io::Write;
use std::time::Duration;

use cargo_litestream_config::CheckThresholds;

use super::{Report, Status, overall};
use crate::backups::report::bytes;

/// Per database its verdict, each finding, and a line of numbers.
pub fn human(out: &mut impl Write, reports: &[Report]) -> std::io::Result<()> {
    for r in reports {
        writeln!(out, "{}: {}", r.database, r.status.label())?;
        for f in &r.findings {
            writeln!(out, "  {:<9} {:<8} {}", f.check, f.status.label(), f.message)?;
        }
        let hex = |t: Option<u64>| t.map_or_else(|| "none".to_owned(), crate::json::txid);
        let total: u64 = r.levels.iter().map(|l| l.bytes).sum();
        writeln!(
            out,
            "  replica TXID {} (local {}), {} restore points, {} in {} levels",
            hex(r.replica_txid),
            hex(r.local_txid),
            r.restore_points.unwrap_or(0),
            bytes(total),
            r.levels.len()
        )?;
    }
    Ok(())
}

/// Nagios plugin output: one status line with performance data, then one line per finding
/// that is not OK.
pub fn nagios(out: &mut impl Write, reports: &[Report], thresholds: &CheckThresholds) -> std::io::Result<()> {
    let status = overall(reports);
    let bad: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.findings
                .iter()
                .filter(|f| f.status != Status::Ok)
                .map(move |f| format!("{}: {}: {}", r.database, f.check, f.message))
        })
        .collect();
    let summary = match bad.first() {
        Some(first) if bad.len() > 1 => format!("{first} (and {} more)", bad.len() - 1),
        Some(first) => first.clone(),
        None => format!("{} database(s) replicated", reports.len()),
    };
    // Performance data: 'label'=value[unit];warn;crit;min, the thresholds as they applied.
    let limit = |d: Option<Duration>| d.map(|d| d.as_secs_f64().to_string()).unwrap_or_default();
    let (warn, crit) = (limit(thresholds.warn_lag), limit(thresholds.max_lag));
    let mut perf = Vec::new();
    for r in reports {
        let label = r.database.replace(['\'', '='], "_");
        if let Some(lag) = r.lag_seconds {
            perf.push(format!("'{label} lag'={lag:.3}s;{warn};{crit};0"));
        }
        if let Some(txids) = r.txid_lag {
            perf.push(format!("'{label} txid_lag'={txids};;;0"));
        }
    }
    writeln!(out, "LITESTREAM {} - {summary} | {}", status.label(), perf.join(" "))?;
    for line in bad.iter().skip(1) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
