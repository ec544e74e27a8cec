//! Measurement 6: `restore-points` on a replica of 10 000 files, against the listing it rests
//! on (`litestream ltx -level all -json`, run directly with the same config). The bar (issue 13)
//! is what restore-points adds to the listing: at most 100 ms.
//!
//! The replica is a `file` replica laid out as a month of Litestream at its default levels
//! would leave it: 30 daily snapshots, hourly L3, 5-minute L2, 30-second L1 and the newest
//! level-0 files. Listing reads names, sizes and times only, so the files are sparse (their
//! sizes are real to `stat`, nothing is written).

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::fixture::{Bench, Lookup, Project, json_of};
use super::measure::{self, Paired};
use super::report::{Section, Status, Verdict, count, num};
use super::samples;

const BAR_MS: f64 = 100.0;
/// TXIDs in the month: one every 2.6 s.
const TXIDS: u64 = 1_000_000;

/// (level, files, TXIDs per file, bytes per file): 10 000 files.
const LAYOUT: [(u8, u64, u64, u64); 5] = [
    (9, 30, 0, 64 << 20),
    (3, 720, 1000, 512 << 10),
    (2, 1000, 100, 100 << 10),
    (1, 2000, 10, 20 << 10),
    (0, 6250, 1, 4 << 10),
];

pub fn run(bench: &Bench) -> Result<Section, String> {
    let dir = bench.scratch("points")?;
    let project = Project::new(
        &dir.join("app"),
        "replica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    )?;
    // A project-wide replica keeps each database under `<path>/<file name>`.
    let files = write_replica(&project.path("replica/app.db"))?;
    super::fixture::create_database(&project.path("app.db"), 1)?;
    let lookup = Lookup::Cache(bench.cache.clone());

    // The listing alone, with the config restore-points generates.
    let config = project.path("litestream.yml");
    let status = bench
        .ours(&project.dir, &lookup, &["config", "-o", config.to_str().ok_or("non-UTF-8 path")?])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("`config -o` failed".to_owned());
    }
    let db = project.path("app.db");
    let listing_args = ["ltx", "-config", config.to_str().unwrap_or_default(), "-level", "all", "-json"];
    let listing = || {
        let mut command = bench.litestream(&project.dir, &listing_args);
        command.arg(&db);
        command
    };
    let ours = || bench.ours(&project.dir, &lookup, &["restore-points", "--json", "default"]);

    // Checked once, untimed: the listing has every file, and restore-points lists the points.
    let listed = json_of(&mut listing())?;
    let listed_files = listed.as_array().map_or(0, Vec::len);
    if listed_files as u64 != files {
        return Err(format!("litestream ltx listed {listed_files} files of {files}"));
    }
    let report = json_of(&mut ours())?;
    let points = report["databases"][0]["points"].as_array().map_or(0, Vec::len);
    if points < 9000 {
        return Err(format!("restore-points listed {points} points; the layout has more than 9 000"));
    }

    let runs = bench.runs(20);
    super::step(
        "Measuring",
        format!("6. restore-points: {runs} pairs on a replica of {} files", count(files)),
    );
    let paired =
        Paired::measure(runs, bench.warmup, || measure::run(&mut listing()), || measure::run(&mut ours()))?;
    samples::paired(bench, "6-restore-points", &paired)?;

    let (a, b) = (measure::ms(&paired.a), measure::ms(&paired.b));
    let diffs = paired.differences_ms();
    let added = measure::median(&diffs);
    let ci = measure::median_ci(&diffs);
    let rows: String = LAYOUT
        .iter()
        .map(|(level, n, span, bytes)| {
            let span = if *level == 9 { "1 to its end".to_owned() } else { format!("{span}") };
            format!("| {level} | {} | {span} | {} KiB |\n", count(*n), count(bytes >> 10))
        })
        .collect();
    let body = format!(
        "`litestream ltx -level all -json` (A: the listing, run directly with the config cargo-litestream \
         generates) against `cargo-litestream litestream restore-points --json default` (B: the same listing, \
         then Litestream's restore plan for every file end, {points} restore points found), on a `file` replica \
         of {} files laid out as a month at Litestream's default levels would leave it ({} TXIDs):\n\n\
         | level | files | TXIDs per file | size |\n|---|---|---|---|\n{rows}\n\
         Sparse files (the listing reads names, sizes and times). {runs} pairs after {} warm-up pairs; stdout \
         to /dev/null.\n\n\
         | | A: listing | B: restore-points | B − A |\n|---|---|---|---|\n\
         | wall time, median | {} ms | {} ms | **{} ms** (95 % CI {} – {}) |\n\
         | wall time, min / p90 | {} / {} ms | {} / {} ms | |\n\
         | peak RSS, median | {} MiB | {} MiB | |\n\n\
         What B adds: cargo-litestream's start and config generation (about 2 ms, measurement 2), parsing \
         the listing's JSON, and one restore plan per file end (`core/api/src/backups/plan.rs`: per step, a \
         binary search in each level).",
        count(files),
        count(TXIDS),
        bench.warmup,
        num(measure::median(&a)),
        num(measure::median(&b)),
        num(added),
        num(ci.0),
        num(ci.1),
        num(measure::quantile(&a, 0.0)),
        num(measure::quantile(&a, 0.9)),
        num(measure::quantile(&b, 0.0)),
        num(measure::quantile(&b, 0.9)),
        num(measure::median(&measure::rss_mib(&paired.a))),
        num(measure::median(&measure::rss_mib(&paired.b))),
    );
    Ok(Section {
        number: 6,
        title: "`restore-points` on a replica of 10 000 files".to_owned(),
        body,
        summary: vec![Verdict {
            measurement: format!("`restore-points`, {} files, beyond the listing itself", count(files)),
            result: format!(
                "+{} ms (CI {} – {}) over {} ms",
                num(added),
                num(ci.0),
                num(ci.1),
                num(measure::median(&a))
            ),
            bar: format!("≤ {BAR_MS} ms"),
            status: Status::at_most(BAR_MS, added, ci),
        }],
    })
}

/// Writes the layout under `replica/ltx/<level>/`; returns how many files.
fn write_replica(replica: &Path) -> Result<u64, String> {
    let start = SystemTime::now() - Duration::from_secs(30 * 24 * 3600);
    let time_of = |txid: u64| start + Duration::from_millis(txid * 2600);
    let mut written = 0;
    for (level, n, span, bytes) in LAYOUT {
        let dir = replica.join("ltx").join(level.to_string());
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for i in 0..n {
            let (min, max) = if level == 9 {
                (1, TXIDS * (i + 1) / n)
            } else {
                (TXIDS - span * (n - i) + 1, TXIDS - span * (n - i - 1))
            };
            let path = dir.join(format!("{min:016x}-{max:016x}.ltx"));
            let file =
                std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            file.set_len(bytes).map_err(|e| e.to_string())?;
            file.set_modified(time_of(max)).map_err(|e| e.to_string())?;
            written += 1;
        }
    }
    Ok(written)
}
