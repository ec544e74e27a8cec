//! Measurement 5: replication lag, a committed write → visible in a restore, through
//! `cargo litestream replicate` (B) and `litestream replicate -config <the same generated file>` (A).
//!
//! One sample: wait a random fraction of the monitor interval (so the write lands at a uniformly
//! random phase of Litestream's tickers, the same distribution on both sides), commit one row,
//! then watch the file replica's level-0 folder (a `readdir` every millisecond) until an LTX file
//! with a higher TXID appears: Litestream writes it under a temporary name and renames it into
//! place, so its appearance is the moment a restore can see the row. The lag is commit → rename.
//! After the clock stops, a real `litestream restore` checks the row is there (untimed).
//!
//! The lag splits at the LTX header's timestamp (ms; Litestream stamps it when its monitor tick
//! turns the WAL into LTX): before it, waiting for the tick (the random phase: the same
//! distribution on both sides by construction); after it, Litestream's work to ship the file,
//! where a difference between the two daemons would show, with far less variance.
//!
//! Both daemons run one at a time on the same database and replica, in blocks of samples, the
//! sides alternating block by block (A B, B A, …); each block starts a fresh daemon.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::fixture::{self, Bench, Daemon, Lookup, Project};
use super::measure::{self, XorShift};
use super::report::{Section, Status, Verdict, num};
use super::samples;

const BAR: f64 = 1.05;

#[derive(Clone, Copy)]
struct Sample {
    lag_ms: f64,
    /// Commit → the LTX header's timestamp (waiting for the monitor tick).
    tick_ms: f64,
    /// Which daemon start of its side the sample was taken under.
    block: usize,
    /// The commit and the LTX header's stamp, as Unix milliseconds (for the raw samples).
    committed_unix_ms: f64,
    stamp_unix_ms: i64,
    /// When that daemon was started, Unix milliseconds.
    daemon_unix_ms: f64,
}

impl Sample {
    fn after_tick_ms(&self) -> f64 {
        self.lag_ms - self.tick_ms
    }
}

struct Setting {
    label: &'static str,
    /// Litestream's `monitor-interval` and `sync-interval`, as written in Cargo.toml; `None` for
    /// Litestream's defaults (1 s each).
    interval: Option<&'static str>,
    period: Duration,
    samples: usize,
    /// Samples per daemon start: each start draws new ticker phases, so more starts spread the
    /// per-daemon part of the variance.
    block: usize,
    /// After the daemon answers, so its start-up snapshot stays out of the first sample.
    settle: Duration,
}

struct Outcome {
    a: Vec<Sample>,
    b: Vec<Sample>,
    /// Daemon starts per side.
    starts: usize,
}

pub fn run(bench: &Bench) -> Result<Section, String> {
    let settings = [
        Setting {
            label: "default intervals (1 s)",
            interval: None,
            period: Duration::from_secs(1),
            samples: bench.runs(100),
            block: 10,
            settle: Duration::from_secs(1),
        },
        Setting {
            label: "100 ms intervals",
            interval: Some("100ms"),
            period: Duration::from_millis(100),
            samples: bench.runs(500),
            block: 10,
            settle: Duration::from_millis(500),
        },
    ];
    let mut body = String::from(
        "A = `litestream replicate -config <file>`, where the file is what `cargo-litestream litestream config -o` \
         generates for the project (checked byte for byte against the one `cargo litestream replicate` writes \
         for itself); B = `cargo-litestream litestream replicate`. Same database, same file replica, one daemon \
         at a time, a fresh daemon per block of samples, the sides alternating block by block. A sample: wait for \
         its phase of the interval (counted from the daemon's start; a block's phases are spread evenly over the \
         interval from a random offset, in a random order: uniformly distributed write times, stratified so \
         each block covers the whole interval), commit one row, then `readdir` the replica's level-0 folder \
         every millisecond until a newer LTX file appears (Litestream renames it into place when complete); \
         the lag is commit → that moment. Each sample is then checked with a real `litestream restore` that \
         finds the row (untimed). The lag splits at the LTX header's timestamp, which Litestream stamps when its \
         monitor tick turns the WAL into LTX: *tick wait* (the write's phase: the same distribution on both \
         sides) and *after the tick* (shipping the file).\n\n\
         | intervals | samples per side (daemon starts) | lag A, median (95 % CI) | lag B, median (95 % CI) | B / A (95 % CI) | mean A / B, B / A (95 % CI) | p90 A / B | tick wait, median A / B | after the tick, median A / B | after the tick ≤ 20 ms, A / B |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut summary = Vec::new();
    let dir = bench.scratch("lag")?;
    for (index, setting) in settings.iter().enumerate() {
        super::step(
            "Measuring",
            format!(
                "5. lag, {}: {} samples per side, blocks of {}",
                setting.label, setting.samples, setting.block
            ),
        );
        let outcome = measure_setting(bench, &dir.join(format!("s{index}")), setting)?;
        samples::write(
            bench,
            &format!("5-lag-{}", setting.interval.unwrap_or("1s")),
            "side,sample,daemon_start,lag_ms,tick_wait_ms,after_tick_ms,daemon_unix_ms,committed_unix_ms,stamp_unix_ms",
            [("A", &outcome.a), ("B", &outcome.b)].into_iter().flat_map(|(side, samples)| {
                samples.iter().enumerate().map(move |(i, s)| {
                    format!(
                        "{side},{i},{},{:.3},{:.3},{:.3},{:.3},{:.3},{}",
                        s.block,
                        s.lag_ms,
                        s.tick_ms,
                        s.after_tick_ms(),
                        s.daemon_unix_ms,
                        s.committed_unix_ms,
                        s.stamp_unix_ms
                    )
                })
            }),
        )?;
        let lag = |s: &[Sample]| s.iter().map(|s| s.lag_ms).collect::<Vec<_>>();
        let after = |s: &[Sample]| s.iter().map(|s| s.after_tick_ms()).collect::<Vec<_>>();
        let tick = |s: &[Sample]| s.iter().map(|s| s.tick_ms).collect::<Vec<_>>();
        let (la, lb) = (lag(&outcome.a), lag(&outcome.b));
        let (ma, mb) = (measure::median(&la), measure::median(&lb));
        let ratio = mb / ma;
        let blocks = |samples: &[Sample]| {
            let mut grouped: Vec<Vec<f64>> = Vec::new();
            for (i, s) in samples.iter().enumerate() {
                if i == 0 || s.block != samples[i - 1].block {
                    grouped.push(Vec::new());
                }
                grouped.last_mut().expect("pushed above").push(s.lag_ms);
            }
            grouped
        };
        let (ba, bb) = (blocks(&outcome.a), blocks(&outcome.b));
        let (rl, rh) = measure::ratio_ci_blocks(&ba, &bb, measure::median);
        let (aa, ab) = (after(&outcome.a), after(&outcome.b));
        let ci = |blocks: &[Vec<f64>]| {
            let (l, h) = measure::ci_blocks(blocks, measure::median);
            format!("{} – {}", num(l), num(h))
        };
        let mean = measure::mean;
        let mean_ratio = mean(&lb) / mean(&la);
        let (ml, mh) = measure::ratio_ci_blocks(&ba, &bb, measure::mean);
        let quick = |v: &[f64]| 100.0 * v.iter().filter(|&&x| x <= 20.0).count() as f64 / v.len() as f64;
        body.push_str(&format!(
            "| {} | {} ({}) | {} ms ({}) | {} ms ({}) | **{ratio:.3}** ({rl:.3} – {rh:.3}) | {} / {} ms, {mean_ratio:.3} ({ml:.3} – {mh:.3}) | {} / {} ms | {} / {} ms | {} / {} ms | {:.0} % / {:.0} % |\n",
            setting.label,
            outcome.a.len(),
            outcome.starts,
            num(ma),
            ci(&ba),
            num(mb),
            ci(&bb),
            num(mean(&la)),
            num(mean(&lb)),
            num(measure::quantile(&la, 0.9)),
            num(measure::quantile(&lb, 0.9)),
            num(measure::median(&tick(&outcome.a))),
            num(measure::median(&tick(&outcome.b))),
            num(measure::median(&aa)),
            num(measure::median(&ab)),
            quick(&aa),
            quick(&ab),
        ));
        summary.push(Verdict {
            measurement: format!(
                "replication lag, {}: `cargo litestream replicate` vs `litestream replicate`",
                setting.label
            ),
            result: format!(
                "median {} vs {} ms: ratio {ratio:.3} (CI {rl:.3}–{rh:.3}); means: {mean_ratio:.3} (CI {ml:.3}–{mh:.3})",
                num(mb),
                num(ma)
            ),
            bar: format!("ratio ≤ {BAR:.2}"),
            status: Status::at_most(BAR, ratio, (rl, rh)),
        });
    }
    body.push_str(
        "\nWhat bounds it: Litestream's own intervals. A write waits for the next monitor tick (the *tick wait*: \
         half an interval on average). Then the replica's sync loop ships the LTX file, at once (a few ms for a \
         local file) when it is listening; but after each sync the loop sits out its own `sync-interval` ticker \
         before it listens again (upstream's `replica.go`, \"enforce a minimum time between synchronization\"), so \
         a write that comes soon after the previous one waits for that ticker: a few ms when the ticker fires \
         just after the monitor's (it starts when the database is initialised, at the first monitor tick), up to \
         a whole interval otherwise. `cargo litestream replicate` `exec`s the same litestream with the same \
         file: after start-up nothing of cargo-litestream is left in the process; its only trace is a start a \
         few ms later, which shifts both tickers alike. What remains between A and B is the tickers' phases, \
         drawn anew at each daemon start. Hence the 95 % intervals (a bootstrap that draws whole daemon starts, \
         2 000 times, since samples under one start share its phases), a verdict that needs the whole interval \
         within the bar, and the means beside the medians. More samples (`--runs`) narrow the intervals.\n\n\
         A pitfall this harness met: Litestream initialises a database at the first monitor tick *or* at the \
         first `sync` request, whichever comes first, and only then starts the sync ticker. Probing readiness \
         with `sync -wait` during start-up therefore set the sync ticker's phase from the probe's timing, and \
         B's later start shifted that timing: B's daemons drew the slow phase (the sync ticker ~50 ms after the \
         monitor's, at 100 ms intervals) far more often than A's, and B's mean lag came out 6.6 % higher \
         (interval 1.7–11.6 %). The harness now leaves each daemon alone for two intervals before probing; \
         the sync ticker then follows the monitor's by a few ms on both sides. A supervisor that runs `cargo \
         litestream sync -wait` right after starting replicate (as the README advises after quick restarts) \
         sets that phase the same way, with or without cargo-litestream.\n",
    );
    Ok(Section {
        number: 5,
        title: "Replication lag: `cargo litestream replicate` vs `litestream replicate`".to_owned(),
        body,
        summary,
    })
}

fn measure_setting(bench: &Bench, dir: &Path, setting: &Setting) -> Result<Outcome, String> {
    let metadata = match setting.interval {
        None => "replica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n"
            .to_owned(),
        Some(interval) => format!(
            "replica = \"replica\"\nsync-interval = \"{interval}\"\ndbs = [{{ path = \"default\", monitor-interval = \"{interval}\" }}]\n\n\
             [package.metadata.litestream.databases]\ndefault = \"app.db\"\n"
        ),
    };
    let project = Project::new(dir, &metadata)?;
    let db = project.path("app.db");
    fixture::create_database(&db, 1000)?;
    let lookup = Lookup::Cache(bench.cache.clone());

    // A's config: what cargo-litestream generates, written once.
    let config_a = dir.join("litestream-a.yml");
    let config_a_text = config_a.to_str().ok_or("non-UTF-8 path")?.to_owned();
    measure::run(&mut bench.ours(&project.dir, &lookup, &["config", "-o", &config_a_text]))?;
    let config_b = project.dir.join("target/litestream/bench/litestream.yml");

    let mut rng = XorShift::seeded();
    let blocks = setting.samples.div_ceil(setting.block);
    let mut outcome = Outcome { a: Vec::new(), b: Vec::new(), starts: blocks };
    let mut row = 0i64;
    for round in 0..blocks {
        let order: [bool; 2] = if round % 2 == 0 { [false, true] } else { [true, false] };
        for ours in order {
            let command = if ours {
                bench.ours(&project.dir, &lookup, &["replicate"])
            } else {
                let mut command = bench.litestream(&project.dir, &["replicate", "-config"]);
                command.arg(&config_a);
                command
            };
            let side = if ours { "B" } else { "A" };
            let daemon_unix_ms = unix_ms()?;
            let origin = Instant::now();
            let mut daemon = Daemon::spawn(
                &format!("replicate ({side})"),
                command,
                dir.join(format!("replicate-{side}.log")),
            )?;
            let ready = wait_ready(bench, &project, &lookup, &mut daemon, setting.period, setting.settle);
            if let Err(error) = ready {
                return Err(format!("{error}\n{}", daemon.log_tail()));
            }
            if ours && round == 0 {
                let a = std::fs::read(&config_a).map_err(|e| e.to_string())?;
                let b = std::fs::read(&config_b).map_err(|e| e.to_string())?;
                if a != b {
                    return Err(format!(
                        "{} and {} differ: the sides would not run the same config",
                        config_a.display(),
                        config_b.display()
                    ));
                }
            }
            let l0 = level0_dir(&project.path("replica"))?;
            let conn = rusqlite::Connection::open(&db).map_err(|e| e.to_string())?;
            conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
            let wanted =
                setting.block.min(setting.samples - if ours { outcome.b.len() } else { outcome.a.len() });
            for phase in phases(wanted, &mut rng) {
                row += 1;
                // Wait for this sample's phase of the interval, counted from the daemon's start.
                let period = setting.period.as_secs_f64();
                let now = origin.elapsed().as_secs_f64() % period;
                std::thread::sleep(Duration::from_secs_f64((phase * period - now).rem_euclid(period)));
                let mut sample = sample(&conn, &l0, row)?;
                sample.block = round;
                sample.daemon_unix_ms = daemon_unix_ms;
                check_restore(bench, &project, &config_a, &db, row)?;
                if ours { outcome.b.push(sample) } else { outcome.a.push(sample) }
            }
            drop(conn);
            daemon.check_alive()?;
            daemon.stop()?;
        }
    }
    Ok(outcome)
}

/// The daemon has started on its own, answers on its socket and has shipped everything so far;
/// then a short settling time so the start-up snapshot is not inside the first sample.
///
/// Nothing is asked of the daemon during its first two intervals. Litestream initialises a
/// database (and only then starts the replica's sync ticker) at the first monitor tick, or
/// earlier if a `sync` request comes first: probing readiness during start-up would set the
/// sync ticker's phase from the probe's timing, and B's few milliseconds of start-up before its
/// `exec` would shift that timing against A's (seen in early runs of this harness: B's daemons
/// drew the slow phase far more often).
fn wait_ready(
    bench: &Bench,
    project: &Project,
    lookup: &Lookup,
    daemon: &mut Daemon,
    period: Duration,
    settle: Duration,
) -> Result<(), String> {
    std::thread::sleep(period * 2 + Duration::from_millis(200));
    fixture::wait_until("replicate to answer sync -wait", Duration::from_secs(30), || {
        daemon.check_alive().is_ok()
            && measure::run(&mut bench.ours(
                &project.dir,
                lookup,
                &["sync", "-wait", "-timeout", "5", "default"],
            ))
            .is_ok()
    })?;
    daemon.check_alive()?;
    std::thread::sleep(settle);
    Ok(())
}

/// The phases (fractions of the interval) at which one daemon start's `n` samples are written:
/// evenly spread, from a random offset, in a random order. Each daemon start thus samples the
/// tickers' phase uniformly (stratified sampling: the same distribution as uniformly random
/// write times, with far less of their variance), on both sides alike.
fn phases(n: usize, rng: &mut XorShift) -> Vec<f64> {
    let offset = rng.unit();
    let mut phases: Vec<f64> = (0..n).map(|i| (i as f64 + offset) / n as f64).collect();
    for i in (1..n).rev() {
        phases.swap(i, rng.below(i + 1));
    }
    phases
}

fn sample(conn: &rusqlite::Connection, l0: &Path, row: i64) -> Result<Sample, String> {
    let before = newest(l0)?.map_or(0, |(txid, _)| txid);
    conn.execute(
        "INSERT INTO notes(id, body, created) VALUES (?1, 'lag sample', unixepoch('subsec'))",
        [row + 1_000_000],
    )
    .map_err(|e| e.to_string())?;
    let committed = Instant::now();
    let committed_unix_ms = unix_ms()?;
    let deadline = committed + Duration::from_secs(30);
    let file = loop {
        if let Some((txid, file)) = newest(l0)?
            && txid > before
        {
            break file;
        }
        if Instant::now() > deadline {
            return Err(format!("row {row} did not reach the replica within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let lag = committed.elapsed();
    let stamped = header_timestamp_ms(&file)?;
    let tick_ms = stamped as f64 - committed_unix_ms;
    Ok(Sample {
        lag_ms: lag.as_secs_f64() * 1e3,
        tick_ms,
        block: 0,
        committed_unix_ms,
        stamp_unix_ms: stamped,
        daemon_unix_ms: 0.0,
    })
}

fn unix_ms() -> Result<f64, String> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs_f64() * 1e3)
}

/// The replica's `…/ltx/0` folder (found once the first sync has created it).
fn level0_dir(replica: &Path) -> Result<PathBuf, String> {
    let mut stack = vec![replica.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.ends_with("ltx/0") {
            return Ok(dir);
        }
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    Err(format!("no ltx/0 folder under {}", replica.display()))
}

/// The level-0 file with the highest max TXID (`<min>-<max>.ltx`; `.tmp` files are not done).
fn newest(l0: &Path) -> Result<Option<(u64, PathBuf)>, String> {
    let mut best: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(l0).map_err(|e| format!("{}: {e}", l0.display()))?.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".ltx") else { continue };
        let Some((_, max)) = stem.split_once('-') else { continue };
        let Ok(max) = u64::from_str_radix(max, 16) else { continue };
        if best.as_ref().is_none_or(|(b, _)| max > *b) {
            best = Some((max, entry.path()));
        }
    }
    Ok(best)
}

/// The LTX header's timestamp: big-endian milliseconds since the epoch at byte 32.
fn header_timestamp_ms(file: &Path) -> Result<i64, String> {
    use std::io::Read;
    let mut header = [0u8; 40];
    std::fs::File::open(file)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    if &header[..4] != b"LTX1" {
        return Err(format!("{} is not an LTX file", file.display()));
    }
    let mut stamp = [0u8; 8];
    stamp.copy_from_slice(&header[32..40]);
    Ok(i64::from_be_bytes(stamp))
}

/// A real restore finds the row (untimed: it happens after the sample's clock stopped).
fn check_restore(bench: &Bench, project: &Project, config: &Path, db: &Path, row: i64) -> Result<(), String> {
    let out = project.dir.join("restored.db");
    let _ = std::fs::remove_file(&out);
    let mut command = bench.litestream(&project.dir, &["restore", "-config"]);
    command.arg(config).arg("-o").arg(&out).arg(db);
    measure::run(&mut command)?;
    let conn = rusqlite::Connection::open_with_flags(&out, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let found: i64 = conn
        .query_row("SELECT count(*) FROM notes WHERE id = ?1", [row + 1_000_000], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if found != 1 {
        return Err(format!("the restore after sample {row} lacks its row: the criterion is wrong"));
    }
    Ok(())
}
