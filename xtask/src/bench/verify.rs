//! Measurement 4: `cargo litestream verify` at every size, while `cargo litestream replicate`
//! runs with Litestream's default intervals: databases of 1 MiB, 64 MiB, 512 MiB and 2 GiB on a
//! file replica, and 64 MiB on S3 (`rclone serve s3`). Issue 13's bars: at most 0.5 s at every
//! size, peak RSS at most 64 MiB, no temporary copy of the database.
//!
//! verify reads its sentinel row from the replica by the pages it needs. The full restore it
//! used to make (`litestream restore` of the latest backup, what `verify --full` still runs) is
//! timed in the same alternation, so the report shows what reading pages saves.

use std::path::Path;
use std::time::Duration;

use super::fixture::{self, Bench, Daemon, Lookup, Project, S3Server};
use super::measure::{self, Run};
use super::report::{Section, Status, Verdict, num};
use super::samples;

const BAR_MS: f64 = 500.0;
const BAR_RSS_MIB: f64 = 64.0;
/// The database sizes, in MiB, on the file replica.
const SIZES_MIB: [u64; 4] = [1, 64, 512, 2048];
/// The size measured on S3.
const S3_SIZE_MIB: u64 = 64;

struct Row {
    replica: &'static str,
    size_mib: u64,
    db_bytes: u64,
    verify: Vec<Run>,
    restore: Vec<Run>,
}

pub fn run(bench: &Bench) -> Result<Section, String> {
    let runs = bench.runs(10);
    let dir = bench.scratch("verify")?;
    let lookup = Lookup::Cache(bench.cache.clone());
    super::step(
        "Measuring",
        format!("4. verify: {runs} pairs at {SIZES_MIB:?} MiB (file) and {S3_SIZE_MIB} MiB (S3)"),
    );

    let mut rows = Vec::new();
    for size in SIZES_MIB {
        let at = dir.join(format!("file-{size}"));
        rows.push(measure_size(bench, &at, "file", "replica = \"replica\"", size, &lookup, runs)?);
        // Each size's database, replica and restores are gigabytes at the top: not kept.
        let _ = std::fs::remove_dir_all(&at);
    }
    let s3_dir = dir.join("s3");
    std::fs::create_dir_all(&s3_dir).map_err(|e| e.to_string())?;
    let server = S3Server::start(bench, &s3_dir)?;
    let s3 = measure_size(
        bench,
        &s3_dir.join("app"),
        "S3 (rclone serve s3)",
        &format!("replica = {}", server.replica()),
        S3_SIZE_MIB,
        &lookup,
        runs,
    );
    let _ = server.daemon.stop();
    rows.push(s3?);

    let mut body = format!(
        "`cargo-litestream litestream verify default` (B) while `cargo-litestream litestream replicate` runs (default \
         intervals: `monitor-interval` and `sync-interval` 1 s), against `litestream restore -config <generated> -o \
         <new file> <db>` (A: the full restore verify used to make, and `verify --full` still makes), in turns; \
         {runs} pairs after {} warm-up pair per size, every verify checked to exit 0 (in sync) and to have read \
         pages (`\"method\": \"pages\"`), leaving no file behind. Databases of rows of 200 hex digits (pages that \
         compress as real data does). verify's steps: ask the daemon over the control socket, insert the sentinel \
         row, `sync -wait` over the socket, list the replica, open the restore plan's files by their page index, \
         read the schema and one path down the table's b-tree, delete the row.\n\n\
         | replica | database | verify (B), median (95 % CI) | min / p90 | peak RSS of verify | full restore (A), median | A / B |\n\
         |---|---|---|---|---|---|---|\n",
        bench.warmup.min(1)
    );
    let mut summary = Vec::new();
    for row in &rows {
        let v = measure::ms(&row.verify);
        let r = measure::ms(&row.restore);
        let (low, high) = measure::median_ci(&v);
        let median = measure::median(&v);
        let rss = measure::rss_mib(&row.verify);
        let rss_max = rss.iter().copied().fold(0.0, f64::max);
        body.push_str(&format!(
            "| {} | {} MiB ({} MiB on disk) | {} ms ({} – {}) | {} / {} ms | {} MiB (max {}) | {} ms | {:.0}× |\n",
            row.replica,
            row.size_mib,
            row.db_bytes >> 20,
            num(median),
            num(low),
            num(high),
            num(measure::quantile(&v, 0.0)),
            num(measure::quantile(&v, 0.9)),
            num(measure::median(&rss)),
            num(rss_max),
            num(measure::median(&r)),
            measure::median(&r) / median.max(0.001),
        ));
        summary.push(Verdict {
            measurement: format!("`verify`, {} MiB, {} replica", row.size_mib, row.replica),
            result: format!(
                "{} ms (p90 {} ms), peak RSS {} MiB",
                num(median),
                num(measure::quantile(&v, 0.9)),
                num(rss_max)
            ),
            bar: format!("≤ {} s, ≤ {BAR_RSS_MIB} MiB", BAR_MS / 1000.0),
            status: match Status::at_most(BAR_MS, median, (low, high)) {
                Status::Pass if rss_max > BAR_RSS_MIB => Status::Fail,
                status => status,
            },
        });
    }
    body.push_str(
        "\nWhat bounds it: not the database's size. verify reads the page index of each file of the restore plan \
         (the snapshot's grows with the database: 24 bytes in memory per page, about 12 MiB for 2 GiB of 4 KiB \
         pages, read in one pass) and then a handful of pages; the rest is cargo-litestream's start (about 2 ms, \
         see 1), the control socket's `list` and `sync -wait` (the daemon ships the one new transaction), and the \
         sentinel row's insert and delete on the live database. The full restore (A) reads and writes the whole \
         database.\n",
    );
    Ok(Section {
        number: 4,
        title: "`verify` at every size while `replicate` runs".to_owned(),
        body,
        summary,
    })
}

fn measure_size(
    bench: &Bench,
    dir: &Path,
    replica_name: &'static str,
    replica: &str,
    size_mib: u64,
    lookup: &Lookup,
    runs: usize,
) -> Result<Row, String> {
    let project = Project::new(
        dir,
        &format!("{replica}\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n"),
    )?;
    let db = project.path("app.db");
    super::step("Preparing", format!("4. a {size_mib} MiB database ({replica_name})"));
    // ~230 bytes a row on disk.
    fixture::create_random_database(&db, (size_mib << 20) as usize / 230)?;
    let db_bytes = std::fs::metadata(&db).map_or(0, |m| m.len());

    let mut daemon = Daemon::spawn(
        "cargo litestream replicate",
        bench.ours(&project.dir, lookup, &["replicate"]),
        dir.join("replicate.log"),
    )?;
    // The first sync ships the whole database: minutes at 2 GiB.
    let synced = fixture::wait_until("the first sync -wait", Duration::from_secs(900), || {
        measure::run(&mut bench.ours(&project.dir, lookup, &["sync", "-wait", "-timeout", "60", "default"]))
            .is_ok()
    });
    if let Err(error) = synced {
        return Err(format!("{error}; replicate's log:\n{}", daemon.log_tail()));
    }
    // Checked once, untimed: pages were read, in sync.
    let out = bench
        .ours(&project.dir, lookup, &["verify", "--json", "default"])
        .stdout(std::process::Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !text.contains("\"method\": \"pages\"") {
        return Err(format!("verify did not read pages in sync at {size_mib} MiB: {text}"));
    }

    let config = project.dir.join("target/litestream/bench/litestream.yml");
    let restored = dir.join("restored.db");
    let restore = || {
        let _ = std::fs::remove_file(&restored);
        let mut command = bench.litestream(&project.dir, &["restore", "-config"]);
        command.arg(&config).arg("-o").arg(&restored).arg(&db);
        measure::run(&mut command)
    };
    let verify = || measure::run(&mut bench.ours(&project.dir, lookup, &["verify", "default"]));
    let paired = measure::Paired::measure(runs, bench.warmup.min(1), restore, verify);
    let _ = std::fs::remove_file(&restored);
    let leftovers: Vec<String> = std::fs::read_dir(project.dir.join("target/litestream/bench"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".verify-"))
                .collect()
        })
        .unwrap_or_default();
    let alive = daemon.check_alive();
    let stopped = daemon.stop();
    let paired = paired.map_err(|e| format!("{replica_name} {size_mib} MiB: {e}"))?;
    alive?;
    stopped?;
    if !leftovers.is_empty() {
        return Err(format!("verify left {leftovers:?} behind"));
    }
    let label = replica_name.split_whitespace().next().unwrap_or(replica_name).to_lowercase();
    samples::paired(bench, &format!("4-verify-{label}-{size_mib}"), &paired)?;
    Ok(Row { replica: replica_name, size_mib, db_bytes, verify: paired.b, restore: paired.a })
}
