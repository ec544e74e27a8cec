//! Measurement 7: `scrub` of a file replica against `litestream restore` of the same replica,
//! which reads the same bytes (issue 13's bars: scrub at most the restore's time, at least
//! 300 MB/s of page data on this machine, memory bounded whatever the replica's size).
//!
//! The replica holds one snapshot of a 512 MiB database (`replicate -once -force-snapshot`,
//! then its level-0 file removed), so both sides read exactly one file: restore decodes it into
//! a database file, scrub decodes and checksums it.

use super::fixture::{Bench, Lookup, Project, json_of, stdout_of};
use super::measure::{self, Paired};
use super::report::{Section, Status, Verdict, num};
use super::samples;

/// Rows of ~230 bytes (hex of 100 random bytes: pages that compress as real data does, not a
/// page of one repeated letter).
const ROWS: usize = 2_500_000;
const MIN_PAGE_MB_S: f64 = 300.0;
const MAX_RATIO: f64 = 1.0;

pub fn run(bench: &Bench) -> Result<Section, String> {
    let dir = bench.scratch("scrub")?;
    let project = Project::new(
        &dir.join("app"),
        "replica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    )?;
    let lookup = Lookup::Cache(bench.cache.clone());
    super::step(
        "Preparing",
        format!("7. scrub: a database of {} rows and its snapshot", super::config::thousands(ROWS)),
    );
    let db = project.path("app.db");
    super::fixture::create_random_database(&db, ROWS)?;
    let db_bytes = std::fs::metadata(&db).map_err(|e| e.to_string())?.len();
    stdout_of(&mut bench.ours(&project.dir, &lookup, &["replicate", "-once", "-force-snapshot"]))?;
    let replica = project.path("replica/app.db/ltx");
    let _ = std::fs::remove_dir_all(replica.join("0"));
    let snapshot_bytes: u64 = std::fs::read_dir(replica.join("9"))
        .map_err(|e| format!("no snapshot was written: {e}"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();

    let out = project.path("restored.db");
    let restore = bench.litestream_restore(&project, &lookup, &db, &out)?;
    let scrub = || bench.ours(&project.dir, &lookup, &["scrub", "--reread", "--json", "default"]);

    // Checked once, untimed: the restore is the database, the scrub is sound and read it all.
    stdout_of(&mut restore())?;
    let report = json_of(&mut scrub())?;
    let db = &report["databases"][0];
    let page_bytes = db["page_bytes"].as_u64().unwrap_or(0);
    if db["outcome"] != "sound" || db["bytes_read"].as_u64() != Some(snapshot_bytes) {
        return Err(format!("scrub did not read the snapshot soundly: {report}"));
    }

    let runs = bench.runs(5);
    super::step("Measuring", format!("7. scrub: {runs} pairs, litestream restore vs scrub of one snapshot"));
    let paired = Paired::measure(
        runs,
        bench.warmup.min(1),
        || measure::run(&mut restore()),
        || measure::run(&mut scrub()),
    )?;
    samples::paired(bench, "7-scrub", &paired)?;

    let (a, b) = (measure::ms(&paired.a), measure::ms(&paired.b));
    let ratios = paired.ratios();
    let ratio = measure::median(&ratios);
    let ratio_ci = measure::median_ci(&ratios);
    let rates: Vec<f64> = b.iter().map(|ms| page_bytes as f64 / 1e6 / (ms / 1000.0)).collect();
    let rate = measure::median(&rates);
    let rate_ci = measure::median_ci(&rates);
    let rss = measure::rss_mib(&paired.b);
    let body = format!(
        "`litestream restore -config <generated> -o <new file> <db>` (A) against `cargo-litestream litestream scrub \
         --reread --json default` (B) on a `file` replica holding one level-9 snapshot of a {} MiB database \
         ({} rows of 200 hex digits; the snapshot is {} MiB of LZ4 blocks, {} MiB of pages), written by \
         `replicate -once -force-snapshot` with its level-0 file removed, so both sides read the same one \
         file: A decodes it into a database file, B decodes it and checks its structure and CRC-64 checksum. \
         {runs} pairs after {} warm-up pair; the page cache is warm for both (the file was read just before).\n\n\
         | | A: litestream restore | B: scrub | B / A (pair by pair) |\n|---|---|---|---|\n\
         | wall time, median | {} ms | {} ms | **{ratio:.3}** (95 % CI {:.3} – {:.3}) |\n\
         | page data rate | | **{} MB/s** (95 % CI {} – {}) | |\n\
         | peak RSS, median (max) | {} MiB | {} MiB ({} MiB) | |\n\n\
         Memory: scrub holds one page and one compressed frame at a time (`core/ltx`), so its peak RSS does not \
         grow with the replica.",
        db_bytes >> 20,
        super::config::thousands(ROWS),
        snapshot_bytes >> 20,
        page_bytes >> 20,
        bench.warmup.min(1),
        num(measure::median(&a)),
        num(measure::median(&b)),
        ratio_ci.0,
        ratio_ci.1,
        num(rate),
        num(rate_ci.0),
        num(rate_ci.1),
        num(measure::median(&measure::rss_mib(&paired.a))),
        num(measure::median(&rss)),
        num(rss.iter().copied().fold(0.0, f64::max)),
    );
    Ok(Section {
        number: 7,
        title: "`scrub` of a file replica vs `litestream restore`".to_owned(),
        body,
        summary: vec![
            Verdict {
                measurement: format!(
                    "`scrub` of a {} MiB snapshot vs `litestream restore` of it",
                    db_bytes >> 20
                ),
                result: format!(
                    "{} vs {} ms: ratio {ratio:.3} (CI {:.3}–{:.3})",
                    num(measure::median(&b)),
                    num(measure::median(&a)),
                    ratio_ci.0,
                    ratio_ci.1
                ),
                bar: format!("ratio ≤ {MAX_RATIO}"),
                status: Status::at_most(MAX_RATIO, ratio, ratio_ci),
            },
            Verdict {
                measurement: "`scrub` page data rate".to_owned(),
                result: format!(
                    "{} MB/s (CI {} – {}), peak RSS {} MiB",
                    num(rate),
                    num(rate_ci.0),
                    num(rate_ci.1),
                    num(measure::median(&rss))
                ),
                bar: format!("≥ {MIN_PAGE_MB_S} MB/s"),
                status: Status::at_least(MIN_PAGE_MB_S, rate, rate_ci),
            },
        ],
    })
}
