//! Raw samples of the last run, as CSV under `target/bench/samples/`, for anyone who wants to
//! look past the medians.

use super::fixture::Bench;
use super::measure::Paired;

/// Writes `<name>.csv` with a header line and one line per row.
pub fn write(
    bench: &Bench,
    name: &str,
    header: &str,
    rows: impl IntoIterator<Item = String>,
) -> Result<(), String> {
    let path = bench.dir.join("samples").join(format!("{name}.csv"));
    let mut text = format!("{header}\n");
    for row in rows {
        text.push_str(&row);
        text.push('\n');
    }
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Pairs as `pair,a_ms,b_ms,a_rss_kib,b_rss_kib`.
pub fn paired(bench: &Bench, name: &str, paired: &Paired) -> Result<(), String> {
    write(
        bench,
        name,
        "pair,a_ms,b_ms,a_rss_kib,b_rss_kib",
        paired.a.iter().zip(&paired.b).enumerate().map(|(i, (a, b))| {
            format!("{i},{:.4},{:.4},{},{}", a.ms(), b.ms(), a.max_rss_kib, b.max_rss_kib)
        }),
    )
}
