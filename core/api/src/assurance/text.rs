//! How verify, scrub and drill reports read: the commands' lines on stdout, and the schedule's
//! one line per result.

use std::io::{self, Write};

use crate::backups::report::bytes;
use crate::backups::{drill::DrillReport, scrub::ScrubReport};
use crate::json;
use crate::verify::{Outcome as VerifyOutcome, Verification};

/// `verify`'s line: `main: in sync: … (12 ms)`, with a coloured symbol when `color`.
pub fn verification(out: &mut dyn Write, result: &Verification, color: bool) -> io::Result<()> {
    let label = if color {
        let (style, symbol) = match result.outcome {
            VerifyOutcome::InSync => ("\x1b[1;32m", "✓"),
            VerifyOutcome::OutOfSync => ("\x1b[1;31m", "✗"),
            VerifyOutcome::Inconclusive => ("\x1b[1;33m", "?"),
        };
        format!("{style}{symbol} {}\x1b[0m", result.outcome.label())
    } else {
        result.outcome.label().to_owned()
    };
    writeln!(out, "{}: {label}: {} ({} ms)", result.database, result.message, result.duration_ms)
}

/// `scrub`'s report of the replica `name`: the verdict and counts, each finding, and the
/// restore points the damage breaks.
pub fn scrub(out: &mut dyn Write, name: &str, report: &ScrubReport) -> io::Result<()> {
    let verdict = report.outcome.label();
    let mut read = format!("{} read", report.files_read);
    if report.files_remembered > 0 {
        read.push_str(&format!(", {} verified before", report.files_remembered));
    }
    if report.files_in_other_subsets > 0 {
        read.push_str(&format!(", {} left to other subsets", report.files_in_other_subsets));
    }
    writeln!(out, "{name}: {verdict}: {} files ({read}), {} read", report.files, bytes(report.bytes_read))?;
    for finding in &report.findings {
        writeln!(out, "  {}: {}", finding.file, finding.problem)?;
    }
    for finding in &report.unreadable {
        writeln!(out, "  {}: could not be read: {}", finding.file, finding.problem)?;
    }
    let latest = match report.latest_txid {
        Some(txid) => format!("latest ({}): {}", json::txid(txid), report.latest),
        None => format!("latest: {}", report.latest),
    };
    let broken: Vec<String> = report
        .broken
        .iter()
        .map(|r| {
            if r.start() == r.end() {
                json::txid(*r.start())
            } else {
                format!("{} … {}", json::txid(*r.start()), json::txid(*r.end()))
            }
        })
        .collect();
    if broken.is_empty() {
        writeln!(out, "  restore points: {latest}; {} points, none broken", report.points)
    } else {
        writeln!(out, "  restore points: {latest}; {}: broken", broken.join(", "))
    }
}

/// `drill`'s report of the replica `name`: the verdict and RPO, then a line per restore.
pub fn drill(out: &mut dyn Write, name: &str, report: &DrillReport) -> io::Result<()> {
    let verdict = report.outcome.label();
    let rpo = report.rpo_seconds.map_or_else(|| "no backup yet".to_owned(), |s| format!("{s:.1} s"));
    writeln!(
        out,
        "{name}: {verdict}: RPO {rpo} (the newest replica file's age), {} restore points",
        report.points
    )?;
    for r in &report.rehearsals {
        let mut line = format!(
            "  {:<16}  restore {:.2} s, {} ({:.1} MB/s); integrity_check {} ({} ms)",
            r.point,
            r.restore_ms as f64 / 1000.0,
            bytes(r.bytes),
            r.mb_per_s,
            if r.integrity.is_empty() { "not run" } else { &r.integrity },
            r.integrity_ms
        );
        if !r.checks.is_empty() {
            let passed = r.checks.iter().filter(|c| c.ok).count();
            line.push_str(&format!("; checks {passed}/{}", r.checks.len()));
        }
        writeln!(out, "{line}")?;
        if let Some(error) = &r.error {
            writeln!(out, "    {error}")?;
        }
    }
    Ok(())
}

/// The schedule's line for a verify: `verify main: in sync: … (12 ms)`.
pub fn verification_summary(result: &Verification) -> String {
    format!(
        "verify {}: {}: {} ({} ms)",
        result.database,
        result.outcome.label(),
        result.message,
        result.duration_ms
    )
}

/// The schedule's line for a scrub of `name`.
pub fn scrub_summary(name: &str, report: &ScrubReport) -> String {
    format!(
        "scrub {name}: {}: {} files, {} read, {} findings ({} ms)",
        report.outcome.label(),
        report.files,
        report.files_read,
        report.findings.len(),
        report.duration_ms
    )
}

/// The schedule's line for a drill of `name`, with the errors of failed restores.
pub fn drill_summary(name: &str, report: &DrillReport) -> String {
    let failed: Vec<&str> = report.rehearsals.iter().filter_map(|r| r.error.as_deref()).collect();
    format!(
        "drill {name}: {}: {} restores, RPO {} ({} ms){}",
        report.outcome.label(),
        report.rehearsals.len(),
        report.rpo_seconds.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.1} s")),
        report.duration_ms,
        if failed.is_empty() { String::new() } else { format!(": {}", failed.join("; ")) }
    )
}
