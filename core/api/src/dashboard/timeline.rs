//! A replica's restore points as an SVG picture: a time axis, one mark per point (a tall
//! block where a snapshot ends, a thin tick for an incremental point), the TXID ranges no
//! restore reaches as hatched bands, each with a `<title>` (hover: TXID, time, what a restore
//! downloads). Each mark links to the page with that point selected for "restore to a copy".

use std::fmt::Write as _;

use jiff::Timestamp;

use super::Points;
use super::page::{escape, query_escape};
use crate::backups::report::bytes;
use crate::json::txid;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 16.0;
const RIGHT: f64 = 16.0;
const TRACK_TOP: f64 = 24.0;
const TRACK_BOTTOM: f64 = 64.0;
const AXIS: f64 = 72.0;
const HEIGHT: f64 = 100.0;

/// The SVG of `points` for the database `database` (`id`: unique on the page; `href`: the
/// page's own address, to which `?db=…&txid=…` is appended).
pub(crate) fn render(
    points: &Points,
    database: &str,
    id: usize,
    href: &str,
    selected: Option<u64>,
) -> String {
    let list = &points.points.points;
    let mut svg = String::new();
    let unreachable = points.points.unreachable();
    let described = format!(
        "{} restore points{}, {} of them snapshots; {} unreachable TXID range{}",
        list.len(),
        match (list.first(), list.last()) {
            (Some(first), Some(last)) => format!(" from {} to {}", first.time, last.time),
            _ => String::new(),
        },
        list.iter().filter(|p| points.snapshots.contains(&p.txid)).count(),
        unreachable.len(),
        if unreachable.len() == 1 { "" } else { "s" },
    );
    let _ = write!(
        svg,
        r#"<svg class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-labelledby="tl-title-{id} tl-desc-{id}" xmlns="http://www.w3.org/2000/svg"><title id="tl-title-{id}">Restore points of {}</title><desc id="tl-desc-{id}">{}</desc>"#,
        escape(database),
        escape(&described)
    );
    svg.push_str(r##"<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fbe3e1"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c0392b" stroke-width="2"/></pattern></defs>"##);
    let Some(start) = list.iter().map(|p| p.time).min() else {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" class="empty">no restore point yet</text></svg>"#,
            WIDTH / 2.0,
            (TRACK_TOP + TRACK_BOTTOM) / 2.0
        );
        return svg;
    };
    let end = list.iter().map(|p| p.time).chain(points.newest_file).max().unwrap_or(start);
    let scale = Scale::new(start, end);

    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TRACK_TOP}" width="{}" height="{}" fill="#f4f6f8"/>"##,
        WIDTH - LEFT - RIGHT,
        TRACK_BOTTOM - TRACK_TOP
    );
    // Gaps first, under the marks: from the point before the range to the point after it
    // (or the newest file, for TXIDs past the last point).
    for range in &unreachable {
        let before = list.iter().rev().find(|p| p.txid < *range.start()).map_or(start, |p| p.time);
        let after = list.iter().find(|p| p.txid > *range.end()).map_or(end, |p| p.time);
        let (x0, x1) = (scale.x(before), scale.x(after));
        let width = (x1 - x0).max(3.0);
        let title = if range.start() == range.end() {
            format!("TXID {} is unreachable: no restore reaches it", txid(*range.start()))
        } else {
            format!(
                "TXIDs {} to {} are unreachable: no restore reaches them",
                txid(*range.start()),
                txid(*range.end())
            )
        };
        let _ = write!(
            svg,
            r#"<rect class="gap" x="{:.1}" y="{TRACK_TOP}" width="{width:.1}" height="{}" fill="url(#hatch)"><title>{}</title></rect>"#,
            x0.min(WIDTH - RIGHT - width),
            TRACK_BOTTOM - TRACK_TOP,
            escape(&title)
        );
    }
    for point in list {
        let snapshot = points.snapshots.contains(&point.txid);
        let x = scale.x(point.time);
        let title = format!(
            "TXID {} ({}), written {}; a restore reads {} file{}, {}",
            txid(point.txid),
            if snapshot { "snapshot" } else { "incremental" },
            point.time,
            point.files,
            if point.files == 1 { "" } else { "s" },
            bytes(point.bytes)
        );
        let link = format!("{href}?db={}&txid={}#db-{id}", query_escape(database), txid(point.txid));
        let (class, shape) = if snapshot {
            (
                "mark snapshot",
                format!(
                    r##"<rect x="{:.1}" y="{TRACK_TOP}" width="6" height="{}" fill="#1f4e9c"/>"##,
                    x - 3.0,
                    TRACK_BOTTOM - TRACK_TOP
                ),
            )
        } else {
            (
                "mark incremental",
                format!(
                    r##"<rect x="{:.1}" y="{}" width="2" height="{}" fill="#3c8d5a"/>"##,
                    x - 1.0,
                    TRACK_TOP + 10.0,
                    TRACK_BOTTOM - TRACK_TOP - 20.0
                ),
            )
        };
        let _ = write!(
            svg,
            r#"<a class="{class}" data-txid="{}" href="{}"><title>{}</title>{shape}</a>"#,
            txid(point.txid),
            escape(&link),
            escape(&title)
        );
    }
    if let Some(point) = selected.and_then(|t| points.points.get(t)) {
        let x = scale.x(point.time);
        let _ = write!(
            svg,
            r##"<path class="selected" d="M{:.1} {} l-6 -10 h12 z" fill="#d35400"><title>selected: TXID {}</title></path>"##,
            x,
            TRACK_TOP - 1.0,
            txid(point.txid)
        );
    }
    axis(&mut svg, &scale);
    svg.push_str("</svg>");
    svg
}

/// Times to x positions.
struct Scale {
    start: Timestamp,
    seconds: f64,
}

impl Scale {
    fn new(start: Timestamp, end: Timestamp) -> Scale {
        let seconds = (end.as_millisecond() - start.as_millisecond()) as f64 / 1000.0;
        Scale { start, seconds }
    }

    fn x(&self, time: Timestamp) -> f64 {
        let width = WIDTH - LEFT - RIGHT;
        if self.seconds <= 0.0 {
            return LEFT + width / 2.0;
        }
        let at = (time.as_millisecond() - self.start.as_millisecond()) as f64 / 1000.0;
        LEFT + (at / self.seconds).clamp(0.0, 1.0) * width
    }

    fn at(&self, fraction: f64) -> Timestamp {
        let millis = (self.seconds * 1000.0 * fraction) as i64;
        self.start.checked_add(jiff::SignedDuration::from_millis(millis)).unwrap_or(self.start)
    }
}

/// The axis line, five ticks with their times (UTC; the date too when the span is a day or
/// more), and a note that the times are UTC.
fn axis(svg: &mut String, scale: &Scale) {
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{AXIS}" x2="{}" y2="{AXIS}" stroke="#555" stroke-width="1"/>"##,
        WIDTH - RIGHT
    );
    let format = if scale.seconds >= 86_400.0 { "%m-%d %H:%M" } else { "%H:%M:%S" };
    let ticks: &[f64] = if scale.seconds <= 0.0 { &[0.5] } else { &[0.0, 0.25, 0.5, 0.75, 1.0] };
    for &fraction in ticks {
        let time = if scale.seconds <= 0.0 { scale.start } else { scale.at(fraction) };
        let x = scale.x(time);
        let anchor = match fraction {
            0.0 => "start",
            1.0 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{AXIS}" x2="{x:.1}" y2="{}" stroke="#555"/><text x="{x:.1}" y="{}" text-anchor="{anchor}" font-size="12" fill="#222">{}</text>"##,
            AXIS + 5.0,
            AXIS + 19.0,
            escape(&time.strftime(format).to_string())
        );
    }
}
