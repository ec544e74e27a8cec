//! Measurement 8: the restore inside `drill` against raw `litestream restore` of the same point
//! (issue 13's bar: within 1.05×). drill times its restore alone (the `litestream restore` it
//! runs, as its JSON reports it in `restore_ms`); A is the same command run directly.

use super::fixture::{Bench, Lookup, Project, json_of, stdout_of};
use super::measure::{self, Paired, Run};
use super::report::{Section, Status, Verdict, num};
use super::samples;

/// Rows of ~230 bytes: a 64 MiB database.
const ROWS: usize = 290_000;
const MAX_RATIO: f64 = 1.05;

pub fn run(bench: &Bench) -> Result<Section, String> {
    let dir = bench.scratch("drill")?;
    let project = Project::new(
        &dir.join("app"),
        "replica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    )?;
    let lookup = Lookup::Cache(bench.cache.clone());
    super::step("Preparing", "8. drill: a 64 MiB database and its snapshot");
    let db = project.path("app.db");
    super::fixture::create_random_database(&db, ROWS)?;
    let db_bytes = std::fs::metadata(&db).map_err(|e| e.to_string())?.len();
    stdout_of(&mut bench.ours(&project.dir, &lookup, &["replicate", "-once", "-force-snapshot"]))?;
    let out = project.path("restored.db");
    let litestream_restore = bench.litestream_restore(&project, &lookup, &db, &out)?;
    let restore = || measure::run(&mut litestream_restore());
    // drill's own figure for its latest-point restore, as a Run (its wall time is the restore's).
    let drill = || -> Result<Run, String> {
        let json = json_of(&mut bench.ours(&project.dir, &lookup, &["drill", "--json", "default"]))?;
        let ms = json["databases"][0]["rehearsals"][0]["restore_ms"]
            .as_u64()
            .ok_or_else(|| format!("no restore_ms in drill's report: {json}"))?;
        Ok(Run { wall: std::time::Duration::from_millis(ms), max_rss_kib: 0 })
    };

    let runs = bench.runs(10);
    super::step("Measuring", format!("8. drill: {runs} pairs, litestream restore vs drill's restore"));
    let paired = Paired::measure(runs, bench.warmup.min(1), restore, drill)?;
    samples::paired(bench, "8-drill", &paired)?;
    let (a, b) = (measure::ms(&paired.a), measure::ms(&paired.b));
    let ratios = paired.ratios();
    let ratio = measure::median(&ratios);
    let ci = measure::median_ci(&ratios);
    let body = format!(
        "`litestream restore -config <generated> -o <new file> <db>` (A) against the latest-point restore inside \
         `cargo-litestream litestream drill --json default` (B: its `restore_ms`, the same `litestream restore` \
         drill runs and times alone; drill then also restores a random point and runs `integrity_check`, which \
         are not in B), on a `file` replica holding a snapshot of a {} MiB database; {runs} pairs after {} \
         warm-up pair.\n\n\
         | | A: litestream restore | B: drill's restore | B / A (pair by pair) |\n|---|---|---|---|\n\
         | wall time, median | {} ms | {} ms | **{ratio:.3}** (95 % CI {:.3} – {:.3}) |\n",
        db_bytes >> 20,
        bench.warmup.min(1),
        num(measure::median(&a)),
        num(measure::median(&b)),
        ci.0,
        ci.1,
    );
    Ok(Section {
        number: 8,
        title: "`drill`'s restore vs `litestream restore`".to_owned(),
        body,
        summary: vec![Verdict {
            measurement: format!(
                "`drill`'s restore of a {} MiB database vs `litestream restore`",
                db_bytes >> 20
            ),
            result: format!(
                "{} vs {} ms: ratio {ratio:.3} (CI {:.3}–{:.3})",
                num(measure::median(&b)),
                num(measure::median(&a)),
                ci.0,
                ci.1
            ),
            bar: format!("ratio ≤ {MAX_RATIO}"),
            status: Status::at_most(MAX_RATIO, ratio, ci),
        }],
    })
}
