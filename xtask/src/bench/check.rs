//! Measurement 9: `check`, the probe a monitor runs every 10 s, against the listing it rests on
//! (`litestream ltx -level all -json`, run directly with the same config), while a real
//! `replicate` runs. The bar (issue 14: "cheap enough for a probe every 10 s"): at most 1 s, a
//! tenth of that interval, for a replica of a thousand files and more.
//!
//! The replica is real: litestream itself writes it, with a 10 ms monitor interval so that
//! thousands of separate commits leave well over a thousand level-0 files.

use std::time::Duration;

use super::fixture::{Bench, Daemon, Lookup, Project, json_of, wait_until};
use super::measure::{self, Paired};
use super::report::{Section, Status, Verdict, count, num};
use super::samples;

const BAR_MS: f64 = 1000.0;
/// Separate commits, each in its own monitor tick (10 ms apart).
const COMMITS: usize = 3000;

pub fn run(bench: &Bench) -> Result<Section, String> {
    let dir = bench.scratch("check")?;
    let project = Project::new(
        &dir.join("app"),
        "replica = \"replica\"\ndbs = [{ path = \"default\", monitor-interval = \"10ms\" }]\n\n\
         [package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    )?;
    let db = project.path("app.db");
    super::fixture::create_database(&db, 1)?;
    let lookup = Lookup::Cache(bench.cache.clone());

    let mut daemon = Daemon::spawn(
        "replicate",
        bench.ours(&project.dir, &lookup, &["replicate"]),
        dir.join("replicate.log"),
    )?;
    super::step(
        "Preparing",
        format!("9. check: {} commits, 10 ms apart, replicated by litestream", count(COMMITS as u64)),
    );
    {
        let conn = rusqlite::Connection::open(&db).map_err(|e| e.to_string())?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
        for i in 0..COMMITS {
            conn.execute("INSERT INTO notes(body) VALUES (?1)", [format!("row {i}")])
                .map_err(|e| e.to_string())?;
            std::thread::sleep(Duration::from_millis(12));
        }
    }
    daemon.check_alive()?;
    wait_until("replicate to answer sync -wait", Duration::from_secs(30), || {
        measure::run(&mut bench.ours(&project.dir, &lookup, &["sync", "-wait", "-timeout", "5", "default"]))
            .is_ok()
    })?;

    let config = project.path("litestream.yml");
    measure::run(&mut bench.ours(
        &project.dir,
        &lookup,
        &["config", "-o", config.to_str().ok_or("non-UTF-8 path")?],
    ))?;
    let listing_args = ["ltx", "-config", config.to_str().unwrap_or_default(), "-level", "all", "-json"];
    let listing = || {
        let mut command = bench.litestream(&project.dir, &listing_args);
        command.arg(&db);
        command
    };
    // No lag threshold: a commit-free replica is in sync; the measurement is the probe's work.
    let ours = || bench.ours(&project.dir, &lookup, &["check", "--format", "nagios", "default"]);

    // Checked once, untimed: the replica has the files, and check passes (exit 0: measure::run
    // refuses any other code).
    let files = json_of(&mut listing())?.as_array().map_or(0, Vec::len) as u64;
    if files < 1000 {
        return Err(format!("the replica holds {files} files; the measurement wants more than 1 000"));
    }
    measure::run(&mut ours()).map_err(|e| format!("check did not pass: {e}\n{}", daemon.log_tail()))?;

    let runs = bench.runs(20);
    super::step("Measuring", format!("9. check: {runs} pairs on a replica of {} files", count(files)));
    let paired =
        Paired::measure(runs, bench.warmup, || measure::run(&mut listing()), || measure::run(&mut ours()))?;
    samples::paired(bench, "9-check", &paired)?;
    daemon.check_alive()?;
    daemon.stop()?;

    let (a, b) = (measure::ms(&paired.a), measure::ms(&paired.b));
    let ratios = paired.ratios();
    let ratio_ci = measure::median_ci(&ratios);
    let ours_ms = measure::median(&b);
    let ours_ci = measure::median_ci(&b);
    let body = format!(
        "`litestream ltx -level all -json` (A: the listing, run directly with the config cargo-litestream \
         generates) against `cargo-litestream litestream check --format nagios default` (B: the control socket's \
         answer, the replica listed natively, the database's TXID and WAL time, the history), while a real \
         `cargo litestream replicate` runs. The `file` replica was written by litestream itself: {} separate \
         commits with a 10 ms monitor interval, {} files when measured. {runs} pairs after {} warm-up pairs; \
         stdout to /dev/null.\n\n\
         | | A: listing | B: check |\n|---|---|---|\n\
         | wall time, median | {} ms | **{} ms** (95 % CI {} – {}) |\n\
         | wall time, min / p90 | {} / {} ms | {} / {} ms |\n\
         | peak RSS, median | {} MiB | {} MiB |\n\
         | B / A, median of pairs | | {} (95 % CI {} – {}) |\n\n\
         check lists a `file` or S3 replica itself (`api::backups::store`), so it does not pay for a \
         litestream process; the bar is a tenth of a 10 s probe interval.",
        count(COMMITS as u64),
        count(files),
        bench.warmup,
        num(measure::median(&a)),
        num(ours_ms),
        num(ours_ci.0),
        num(ours_ci.1),
        num(measure::quantile(&a, 0.0)),
        num(measure::quantile(&a, 0.9)),
        num(measure::quantile(&b, 0.0)),
        num(measure::quantile(&b, 0.9)),
        num(measure::median(&measure::rss_mib(&paired.a))),
        num(measure::median(&measure::rss_mib(&paired.b))),
        num(measure::median(&ratios)),
        num(ratio_ci.0),
        num(ratio_ci.1),
    );
    Ok(Section {
        number: 9,
        title: "`check` while `replicate` runs".to_owned(),
        body,
        summary: vec![Verdict {
            measurement: format!("`check` of a replica of {} files, replicate running", count(files)),
            result: format!(
                "{} ms (CI {} – {}); the listing by litestream: {} ms",
                num(ours_ms),
                num(ours_ci.0),
                num(ours_ci.1),
                num(measure::median(&a))
            ),
            bar: format!("≤ {BAR_MS} ms"),
            status: Status::at_most(BAR_MS, ours_ms, ours_ci),
        }],
    })
}
