//! The HTML: one section per database (a table of its facts, the timeline, the newest restore
//! points with "restore to a copy"), and the page reporting a restored copy. Server-rendered,
//! no script; every text from the project or the replica is escaped.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::copy::{RESTORES, RestoredCopy};
use super::timeline;
use super::{DatabaseView, Points};
use crate::backups::history::Kind;
use crate::backups::report::bytes;
use crate::check::{self, Report, Status};
use crate::json::txid;

/// How many of the newest restore points get a row (and a button) of their own; any other is
/// chosen on the timeline.
const NEWEST_ROWS: usize = 8;

pub(crate) struct PageView<'a> {
    pub package: String,
    pub base: &'a str,
    pub form_token: &'a str,
    pub now: Timestamp,
    pub databases: &'a [DatabaseView],
    /// The point chosen on a timeline: database and TXID.
    pub selected: Option<(&'a str, u64)>,
}

/// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query parameter's value, percent-encoded.
pub(crate) fn query_escape(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d1d1f;margin:0;background:#fafafa}
main{max-width:1000px;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.25rem;margin:2rem 0 .5rem;border-bottom:1px solid #ddd;padding-bottom:.25rem}
h3{font-size:1rem;margin:1.25rem 0 .4rem}
table{border-collapse:collapse;background:#fff;margin:.25rem 0}th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f2f4;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}
.status{font-weight:700;padding:0 .35rem;border-radius:3px}
.ok{background:#dff3e4;color:#0b5d1e}.warning{background:#fff3cd;color:#6b4e00}.critical{background:#fbe3e1;color:#8a1c12}.unknown{background:#e8e8ee;color:#333}
.legend span{display:inline-block;margin-right:1.2rem}.sw{display:inline-block;width:.8rem;height:.8rem;vertical-align:-1px;margin-right:.3rem}
svg.timeline{background:#fff;border:1px solid #ddd;display:block}
svg.timeline a:hover rect,svg.timeline a:focus rect{fill:#d35400}
tr.selected td{background:#fff4e5}
button{font:inherit;padding:.15rem .6rem;cursor:pointer}
.note{color:#555;font-size:.9rem}
";

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>",
        escape(title)
    )
}

fn status_badge(status: Status) -> String {
    let class = match status {
        Status::Ok => "ok",
        Status::Warning => "warning",
        Status::Unknown => "unknown",
        Status::Critical => "critical",
    };
    format!(r#"<span class="status {class}">{}</span>"#, status.label())
}

fn ago(time: Timestamp, now: Timestamp) -> String {
    let seconds = (now.as_millisecond() - time.as_millisecond()) as f64 / 1000.0;
    format!("{} UTC ({} ago)", time.strftime("%Y-%m-%d %H:%M:%S"), check::span(seconds))
}

/// The status page.
pub(crate) fn render(view: &PageView<'_>) -> String {
    let title = format!("Litestream status: {}", view.package);
    let mut html = head(&title);
    let overall = view.databases.iter().map(|d| d.report.status).max().unwrap_or(Status::Ok);
    let _ = write!(
        html,
        "<h1>{}</h1><p>{} · {} database{} · checked {} UTC · <a href=\"{}/\">refresh</a></p>",
        escape(&title),
        status_badge(overall),
        view.databases.len(),
        if view.databases.len() == 1 { "" } else { "s" },
        view.now.strftime("%Y-%m-%d %H:%M:%S"),
        escape(view.base)
    );
    if view.databases.is_empty() {
        html.push_str("<p>No databases are configured in <code>[package.metadata.litestream]</code>.</p>");
    }
    for (id, database) in view.databases.iter().enumerate() {
        section(&mut html, view, id, database);
    }
    html.push_str("</main></body></html>\n");
    html
}

fn section(html: &mut String, view: &PageView<'_>, id: usize, database: &DatabaseView) {
    let report = &database.report;
    let name = escape(&report.database);
    let _ = write!(
        html,
        r#"<section id="db-{id}" data-database="{name}" aria-labelledby="db-{id}-h"><h2 id="db-{id}-h">{name} {}</h2>"#,
        status_badge(report.status)
    );
    facts(html, report, view.now);
    html.push_str("<h3>Restore points</h3>");
    match &database.points {
        Err(error) => {
            let _ = write!(html, "<p>The replica could not be listed: {}</p>", escape(&error.to_string()));
        }
        Ok(points) => {
            let selected = view.selected.filter(|(db, _)| *db == report.database).map(|(_, t)| t);
            html.push_str(&timeline::render(
                points,
                &report.database,
                id,
                &format!("{}/", view.base),
                selected,
            ));
            html.push_str(
                r##"<p class="legend"><span><i class="sw" style="background:#1f4e9c"></i>snapshot</span><span><i class="sw" style="background:#3c8d5a"></i>incremental</span><span><i class="sw" style="background:#e7a29a"></i>unreachable TXIDs</span><span class="note">Times in UTC. Hover a mark for its TXID; click it to choose it below.</span></p>"##,
            );
            newest_points(html, view, id, &report.database, points, selected);
        }
    }
    html.push_str("</section>");
}

fn facts(html: &mut String, report: &Report, now: Timestamp) {
    let row = |html: &mut String, heading: &str, value: String| {
        let _ = write!(html, "<tr><th scope=\"row\">{heading}</th><td>{value}</td></tr>");
    };
    let none = || "none".to_owned();
    html.push_str("<table class=\"facts\"><caption class=\"note\" style=\"text-align:left\">");
    let _ = write!(html, "<code>{}</code></caption>", escape(&report.path.display().to_string()));
    row(
        html,
        "Replication",
        report.daemon_status.as_deref().map_or_else(|| "no replicate answers for it".to_owned(), escape),
    );
    row(html, "Lag", report.lag_seconds.map_or_else(|| "unknown".to_owned(), check::span));
    row(
        html,
        "TXIDs",
        format!(
            "local {} · replica {} · behind by {}",
            report.local_txid.map_or_else(|| "unknown".to_owned(), txid),
            report.replica_txid.map_or_else(|| "none".to_owned(), txid),
            report.txid_lag.map_or_else(|| "unknown".to_owned(), |l| l.to_string())
        ),
    );
    row(html, "Newest snapshot", report.snapshot.map_or_else(none, |t| ago(t, now)));
    row(
        html,
        "Restore points",
        match (report.restore_points, report.recovery_window_start) {
            (Some(n), Some(start)) => format!("{n}, back to {}", ago(start, now)),
            (Some(n), None) => n.to_string(),
            _ => "unknown".to_owned(),
        },
    );
    for assurance in &report.assurance {
        let name = match assurance.kind {
            Kind::Verify => "Last verify",
            Kind::Scrub => "Last scrub",
            Kind::Drill => "Last drill",
        };
        let value = match (assurance.last_run, assurance.last_ok) {
            (Some(time), Some(ok)) => {
                let outcome = if ok {
                    r#"<span class="status ok">passed</span>"#.to_owned()
                } else {
                    r#"<span class="status critical">FAILED</span>"#.to_owned()
                };
                let mut value = format!("{outcome} {}", ago(time, now));
                if let (false, Some(success)) = (ok, assurance.last_success) {
                    let _ = write!(value, "; last passed {}", ago(success, now));
                }
                value
            }
            _ => "never run".to_owned(),
        };
        row(html, name, value);
    }
    let findings: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("<li>{} <b>{}</b>: {}</li>", status_badge(f.status), f.check, escape(&f.message)))
        .collect();
    row(html, "Findings", format!("<ul style=\"margin:0;padding-left:1.1rem\">{}</ul>", findings.join("")));
    html.push_str("</table>");
}

fn newest_points(
    html: &mut String,
    view: &PageView<'_>,
    id: usize,
    database: &str,
    points: &Points,
    selected: Option<u64>,
) {
    let list = &points.points.points;
    if list.is_empty() {
        return;
    }
    let mut shown: Vec<&crate::backups::RestorePoint> = list.iter().rev().take(NEWEST_ROWS).collect();
    if let Some(point) = selected.and_then(|t| points.points.get(t))
        && !shown.iter().any(|p| p.txid == point.txid)
    {
        shown.insert(0, point);
    }
    let _ = write!(
        html,
        "<h3>Restore to a copy</h3><p class=\"note\">A copy is a new file in <code>target/litestream/{}/{RESTORES}/</code>, checked with <code>integrity_check</code>; the database itself is never touched.</p>",
        escape(&view.package)
    );
    let _ = write!(
        html,
        "<table class=\"points\" aria-label=\"Newest restore points of {}\"><thead><tr><th scope=\"col\">TXID</th><th scope=\"col\">Written (UTC)</th><th scope=\"col\">Kind</th><th scope=\"col\">Restore reads</th><th scope=\"col\"><span class=\"note\">Action</span></th></tr></thead><tbody>",
        escape(database)
    );
    for point in shown {
        let is_selected = Some(point.txid) == selected;
        let _ = write!(
            html,
            r#"<tr{} data-txid="{}"><td><code>{}</code></td><td>{}</td><td>{}</td><td class="num">{} file{}, {}</td><td><form method="post" action="{}/restore"><input type="hidden" name="csrf" value="{}"><input type="hidden" name="db" value="{}"><input type="hidden" name="txid" value="{}"><button type="submit" aria-label="Restore TXID {} of {} to a copy">Restore to a copy</button></form></td></tr>"#,
            if is_selected { r#" class="selected""# } else { "" },
            txid(point.txid),
            txid(point.txid),
            point.time.strftime("%Y-%m-%d %H:%M:%S"),
            if points.snapshots.contains(&point.txid) { "snapshot" } else { "incremental" },
            point.files,
            if point.files == 1 { "" } else { "s" },
            bytes(point.bytes),
            escape(view.base),
            escape(view.form_token),
            escape(database),
            txid(point.txid),
            txid(point.txid),
            escape(database),
        );
    }
    let _ = write!(
        html,
        "</tbody></table><p class=\"note\" id=\"db-{id}-count\">{} restore points in all.</p>",
        list.len()
    );
}

/// The page after a restore to a copy.
pub(crate) fn render_copy(package: &str, base: &str, copy: &RestoredCopy) -> String {
    let title = format!("Restored a copy of {}", copy.database);
    let mut html = head(&title);
    let sound = copy.integrity == "ok";
    let _ = write!(
        html,
        "<h1>{}</h1><p>Restore point <code>{}</code> (written {} UTC) restored in {} to</p><p><code id=\"copy-path\">{}</code></p>",
        escape(&title),
        txid(copy.point.txid),
        copy.point.time.strftime("%Y-%m-%d %H:%M:%S"),
        if copy.restore_ms < 1000 {
            format!("{} ms", copy.restore_ms)
        } else {
            format!("{:.1} s", copy.restore_ms as f64 / 1000.0)
        },
        escape(&copy.path.display().to_string())
    );
    let _ = write!(
        html,
        "<h2>integrity_check</h2><p>{} <code id=\"integrity\">{}</code></p>",
        status_badge(if sound { Status::Ok } else { Status::Critical }),
        escape(&copy.integrity)
    );
    html.push_str("<h2>Tables</h2>");
    if copy.tables.is_empty() {
        html.push_str("<p>The copy holds no tables.</p>");
    } else {
        html.push_str("<table id=\"row-counts\"><thead><tr><th scope=\"col\">Table</th><th scope=\"col\">Rows</th></tr></thead><tbody>");
        for (table, rows) in &copy.tables {
            let _ = write!(
                html,
                "<tr><td>{}</td><td class=\"num\" data-table=\"{}\">{rows}</td></tr>",
                escape(table),
                escape(table)
            );
        }
        html.push_str("</tbody></table>");
    }
    let _ = writeln!(
        html,
        "<p class=\"note\">The copy stays in <code>target/litestream/{}/{RESTORES}/</code> until you remove it.</p><p><a href=\"{}/\">Back to the status page</a></p></main></body></html>",
        escape(package),
        escape(base)
    );
    html
}
