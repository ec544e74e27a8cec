//! `cargo xtask soak`: the fault matrix (`tests/it/backends/matrix.rs`) and the network faults
//! (`tests/it/backends/network.rs`) again and again, for a bounded number of minutes, with more
//! kills per cell than the test suite makes. Each pass is one run of the real test binary; the
//! figures it prints (`matrix: …`, `network: …`) are added up per cell, and RELIABILITY.md's
//! soak section (between its markers) is rewritten with them. Not part of `test` or CI.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::{cargo, exec, provision, root};

const USAGE: &str = "\
usage: cargo xtask soak [--minutes N] [--rounds R]

  --minutes N   stop starting passes after N minutes (default 10; a pass takes 1-3 minutes)
  --rounds R    kill -9 rounds per matrix cell and pass (default 30; the test suite makes 10)
";

const BEGIN: &str = "<!-- soak:begin -->";
const END: &str = "<!-- soak:end -->";

#[derive(Default)]
struct Cell {
    passes: u64,
    kills: u64,
    commits: u64,
    lost: u64,
    failures: Vec<String>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let (mut minutes, mut rounds) = (10u64, 30u64);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} takes a number\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--minutes" => minutes = value("--minutes")?,
            "--rounds" => rounds = value("--rounds")?,
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    let tools = provision::run()?;
    exec(cargo().args(["build", "--workspace", "--bins", "--tests"]))?;

    let deadline = Instant::now() + Duration::from_secs(minutes * 60);
    let mut cells: BTreeMap<String, Cell> = BTreeMap::new();
    let mut network: Vec<String> = Vec::new();
    let mut passes = 0;
    let started = Instant::now();
    while passes == 0 || Instant::now() < deadline {
        passes += 1;
        eprintln!("       Soak pass {passes} ({rounds} rounds per cell)");
        let output = cargo()
            .args(["test", "--quiet", "--test", "integration", "--"])
            .args(["backends::matrix::", "backends::network::", "--nocapture"])
            .env("CARGO_LITESTREAM_TOOLS", &tools.dir)
            .env("CARGO_LITESTREAM_MATRIX_ROUNDS", rounds.to_string())
            .output()
            .map_err(|e| format!("could not run the tests: {e}"))?;
        let text =
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        for line in text.lines() {
            // The harness's progress dots may stand before a test's own line.
            if let Some(at) = line.find("matrix: ") {
                let rest = &line[at + "matrix: ".len()..];
                let (cell, figures) = rest.split_once(": ").unwrap_or((rest, ""));
                let entry = cells.entry(cell.to_owned()).or_default();
                entry.passes += 1;
                entry.kills += number_before(figures, " kills");
                entry.commits += number_before(figures, " commits");
                entry.lost += number_before(figures, " confirmed rows lost");
            } else if let Some(at) = line.find("network: ") {
                network.push(line[at + "network: ".len()..].to_owned());
            } else if is_failure(line) {
                let cell =
                    cells.keys().find(|c| line.contains(c.as_str())).cloned().unwrap_or_else(|| "?".into());
                cells.entry(cell).or_default().failures.push(line.chars().take(300).collect());
            }
        }
        if !output.status.success() {
            eprintln!("       Soak pass {passes} failed: see the failures in the summary");
        }
    }

    let summary = summary(&cells, &network, passes, rounds, started.elapsed());
    print!("{summary}");
    write_section(&summary)?;
    let failed: u64 = cells.values().map(|c| c.lost + c.failures.len() as u64).sum();
    if failed > 0 { Err(format!("the soak found {failed} losses or failures")) } else { Ok(()) }
}

/// A test's failure: its panic, or the matrix's own message for a lost row.
fn is_failure(line: &str) -> bool {
    line.contains("panicked at") || line.contains("confirmed rows missing from the restore")
}

/// The integer just before `unit` in `text` ("17843 commits" → 17843).
fn number_before(text: &str, unit: &str) -> u64 {
    text.find(unit)
        .and_then(|end| text[..end].rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}

fn summary(
    cells: &BTreeMap<String, Cell>,
    network: &[String],
    passes: u64,
    rounds: u64,
    took: Duration,
) -> String {
    let mut out = format!(
        "Last soak: {passes} passes of {rounds} kill rounds per cell in {:.0} min (`cargo xtask soak`).\n\n\
         | cell | passes | kill -9 rounds | commits | confirmed rows lost | failures |\n|---|---:|---:|---:|---:|---:|\n",
        took.as_secs_f64() / 60.0
    );
    for (name, cell) in cells {
        out += &format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            cell.passes,
            cell.kills,
            cell.commits,
            cell.lost,
            cell.failures.len()
        );
    }
    if !network.is_empty() {
        out += "\nNetwork faults, every pass:\n\n";
        for line in network {
            out += &format!("- {line}\n");
        }
    }
    for (name, cell) in cells {
        for failure in &cell.failures {
            out += &format!("\nFailure in {name}: `{failure}`\n");
        }
    }
    out
}

/// Replaces the soak section of RELIABILITY.md.
fn write_section(summary: &str) -> Result<(), String> {
    let path = root().join("RELIABILITY.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        return Err(format!("{} has no {BEGIN} … {END} section", path.display()));
    };
    let updated = format!("{}{BEGIN}\n{summary}{}", &text[..begin], &text[end..]);
    std::fs::write(&path, updated).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("       Wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::number_before;

    #[test]
    fn a_passing_line_is_no_failure() {
        let line = ".matrix: replicate / file / defaults: 20 kills, 0 confirmed rows lost, unconfirmed rows missing after a kill";
        assert!(!super::is_failure(line));
        assert!(super::is_failure("x, round 3: 2 of 9 confirmed rows missing from the restore"));
    }

    #[test]
    fn figures_are_read_from_the_matrix_line() {
        let line = "10 kills, 17843 commits, 122 confirmations, 0 confirmed rows lost, unconfirmed …";
        assert_eq!(number_before(line, " kills"), 10);
        assert_eq!(number_before(line, " commits"), 17843);
        assert_eq!(number_before(line, " confirmed rows lost"), 0);
    }
}
