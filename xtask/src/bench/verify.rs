//! Measurement 4: `cargo litestream verify` wall time while `cargo litestream replicate` runs with
//! Litestream's default intervals, on a file replica and on S3 (`rclone serve s3`).
//!
//! The restore inside verify is a litestream process of its own; it is also timed alone (the
//! same `litestream restore` verify runs) so the report can say what the rest costs.

use std::path::Path;
use std::time::Duration;

use super::fixture::{self, Bench, Daemon, Lookup, Project, S3Server};
use super::measure::{self, Run};
use super::report::{Section, Status, Verdict, num};
use super::samples;

const BAR_MS: f64 = 500.0;
/// Rows of ~100 bytes in the verified database (about 1.3 MB).
const ROWS: usize = 10_000;

struct Backend {
    name: &'static str,
    verify: Vec<Run>,
    restore: Vec<Run>,
    db_bytes: u64,
}

pub fn run(bench: &Bench) -> Result<Section, String> {
    let runs = bench.runs(20);
    let dir = bench.scratch("verify")?;
    let lookup = Lookup::Cache(bench.cache.clone());
    super::step("Measuring", format!("4. verify: {runs} runs on a file replica and on S3 (rclone serve s3)"));

    let file = measure_backend(bench, &dir.join("file"), "file", "replica = \"replica\"", &lookup, runs)?;
    let s3_dir = dir.join("s3");
    std::fs::create_dir_all(&s3_dir).map_err(|e| e.to_string())?;
    let server = S3Server::start(bench, &s3_dir)?;
    let s3 = measure_backend(
        bench,
        &s3_dir.join("app"),
        "S3 (rclone serve s3)",
        &format!("replica = {}", server.replica()),
        &lookup,
        runs,
    );
    let _ = server.daemon.stop();
    let s3 = s3?;

    let mut body = format!(
        "`cargo-litestream litestream verify default` while `cargo-litestream litestream replicate` runs (default \
         intervals: `monitor-interval` and `sync-interval` 1 s), on a database of {} rows ({} MiB); {runs} runs \
         after {} warm-up runs, each checked to exit 0 (in sync). verify's own steps: ask the daemon over the \
         control socket, insert the sentinel row, `sync -wait` over the socket, `litestream restore` into a \
         temporary folder, look the row up, delete it. The restore alone (`litestream restore -config <generated> \
         -o <new file> <db>`, the command verify runs) was timed in the same alternation.\n\n\
         | replica | verify, median (95 % CI) | min / p90 | of which the restore process (median) | the rest | peak RSS (largest process) |\n\
         |---|---|---|---|---|---|\n",
        super::config::thousands(ROWS),
        num(file.db_bytes as f64 / f64::from(1 << 20)),
        bench.warmup
    );
    let mut summary = Vec::new();
    for backend in [&file, &s3] {
        let v = measure::ms(&backend.verify);
        let r = measure::ms(&backend.restore);
        let (low, high) = measure::median_ci(&v);
        let median = measure::median(&v);
        body.push_str(&format!(
            "| {} | {} ms ({} – {}) | {} / {} ms | {} ms | {} ms | {} MiB |\n",
            backend.name,
            num(median),
            num(low),
            num(high),
            num(measure::quantile(&v, 0.0)),
            num(measure::quantile(&v, 0.9)),
            num(measure::median(&r)),
            num(median - measure::median(&r)),
            num(measure::median(&measure::rss_mib(&backend.verify))),
        ));
        summary.push(Verdict {
            measurement: format!("`verify`, {} replica", backend.name),
            result: format!("{} ms (p90 {} ms)", num(median), num(measure::quantile(&v, 0.9))),
            bar: format!("≤ {} s", BAR_MS / 1000.0),
            status: Status::at_most(BAR_MS, median, (low, high)),
        });
    }
    body.push_str(
        "\nWhat bounds it: the restore is a second litestream process (Go start-up, listing the replica's LTX \
         files, downloading and applying them, for S3 through HTTP to the loopback server), and it is most of \
         verify's time; `sync -wait` over the control socket returns as soon as Litestream has shipped the row, \
         without waiting for its 1 s intervals. The rest is cargo-litestream's start (about 2 ms, see 1), the \
         control socket's `list` and `sync -wait` (the daemon encodes and ships the one new transaction), the \
         sentinel row's insert and delete on the live database (WAL commits), and the lookup in the restored \
         copy.\n",
    );
    Ok(Section { number: 4, title: "`verify` while `replicate` runs".to_owned(), body, summary })
}

fn measure_backend(
    bench: &Bench,
    dir: &Path,
    name: &'static str,
    replica: &str,
    lookup: &Lookup,
    runs: usize,
) -> Result<Backend, String> {
    let project = Project::new(
        dir,
        &format!("{replica}\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n"),
    )?;
    let db = project.path("app.db");
    fixture::create_database(&db, ROWS)?;
    let db_bytes = std::fs::metadata(&db).map_or(0, |m| m.len());

    let mut daemon = Daemon::spawn(
        "cargo litestream replicate",
        bench.ours(&project.dir, lookup, &["replicate"]),
        dir.join("replicate.log"),
    )?;
    let synced = fixture::wait_until("the first sync -wait", Duration::from_secs(30), || {
        measure::run(&mut bench.ours(&project.dir, lookup, &["sync", "-wait", "-timeout", "5", "default"]))
            .is_ok()
    });
    if let Err(error) = synced {
        return Err(format!("{error}; replicate's log:\n{}", daemon.log_tail()));
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

    let paired = measure::Paired::measure(runs, bench.warmup, restore, verify);
    let alive = daemon.check_alive();
    let stopped = daemon.stop();
    let paired = paired.map_err(|e| format!("{name}: {e}"))?;
    alive?;
    stopped?;
    let label = name.split_whitespace().next().unwrap_or(name).to_lowercase();
    samples::paired(bench, &format!("4-verify-{label}"), &paired)?;
    Ok(Backend { name, verify: paired.b, restore: paired.a, db_bytes })
}
