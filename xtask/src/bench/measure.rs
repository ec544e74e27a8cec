//! Whole processes, timed: wall time from spawn to reaped, peak RSS from the kernel's own
//! accounting (`wait4`'s rusage of that one child), instruction counts from `perf stat`; and the
//! statistics the report uses (medians, paired ratios, confidence intervals).
//!
//! Every measured process is started by a *launcher*, a fresh `xtask __measure` process, not by
//! the harness itself: Linux charges a child's peak RSS with the high-water mark of the memory it
//! was spawned from (`execve` records the old address space's peak, and `posix_spawn` runs the
//! child in the parent's), so a child of the harness, which has read 39 MB files and holds
//! samples, would inherit the harness's peak. The launcher's own peak (~3.6 MiB) is the floor
//! below which a figure cannot go; every process measured here is above it.

use std::io;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One finished process.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub wall: Duration,
    /// Peak resident set size of the child (and of what it `exec`ed into), KiB.
    pub max_rss_kib: u64,
}

impl Run {
    pub fn ms(&self) -> f64 {
        self.wall.as_secs_f64() * 1e3
    }

    pub fn rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }
}

/// Runs `command` to completion through the launcher (stdin, stdout and stderr on /dev/null)
/// and fails unless it exits 0: a failing run is never a fast sample.
///
/// `command` must come from `fixture::hermetic` (its environment cleared): the launcher passes
/// on exactly the variables set on it, and its working directory.
pub fn run(command: &mut Command) -> Result<Run, String> {
    static RESULTS: AtomicUsize = AtomicUsize::new(0);
    let result = std::env::temp_dir().join(format!(
        "xtask-bench-{}-{}",
        std::process::id(),
        RESULTS.fetch_add(1, Ordering::Relaxed)
    ));
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the xtask binary: {e}"))?;
    let mut launcher = Command::new(exe);
    launcher.arg("__measure").arg(&result).arg("--").arg(command.get_program()).args(command.get_args());
    launcher.env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            launcher.env(key, value);
        }
    }
    if let Some(dir) = command.get_current_dir() {
        launcher.current_dir(dir);
    }
    launcher.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let status =
        launcher.status().map_err(|e| format!("could not start the launcher for {command:?}: {e}"))?;
    let text = std::fs::read_to_string(&result).unwrap_or_default();
    let _ = std::fs::remove_file(&result);
    let fields: Vec<i64> = text.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    let [wall_ns, max_rss_kib, code] = fields[..] else {
        return Err(format!("the launcher for {command:?} failed ({status}) {text}"));
    };
    if code != 0 {
        return Err(format!("{command:?} ended with exit code {code} (negative: killed by that signal)"));
    }
    Ok(Run {
        wall: Duration::from_nanos(u64::try_from(wall_ns).unwrap_or(0)),
        max_rss_kib: u64::try_from(max_rss_kib).unwrap_or(0),
    })
}

/// `xtask __measure RESULT -- PROGRAM ARGS…`: runs the program with this process's environment,
/// folder and stdio, and writes `<wall ns> <peak RSS KiB> <exit code or -signal>` to RESULT.
pub fn launcher(args: &[String]) -> Result<(), String> {
    let [result, dash, program, rest @ ..] = args else {
        return Err("usage: xtask __measure RESULT -- PROGRAM ARGS…".to_owned());
    };
    if dash != "--" {
        return Err("usage: xtask __measure RESULT -- PROGRAM ARGS…".to_owned());
    }
    let (wall, status, max_rss_kib) = timed(Command::new(program).args(rest))?;
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().map_or_else(|| -i64::from(status.signal().unwrap_or(0)), i64::from);
    std::fs::write(result, format!("{} {max_rss_kib} {code}\n", wall.as_nanos()))
        .map_err(|e| format!("cannot write {result}: {e}"))
}

/// Spawns `command` and reaps it: wall time from before the spawn to the reaping, its status,
/// and its peak RSS (KiB).
fn timed(command: &mut Command) -> Result<(Duration, ExitStatus, u64), String> {
    let started = Instant::now();
    let child = command.spawn().map_err(|e| format!("could not start {command:?}: {e}"))?;
    let (status, max_rss_kib) = wait4(child.id()).map_err(|e| format!("wait4 on {command:?}: {e}"))?;
    Ok((started.elapsed(), status, max_rss_kib))
}

/// Reaps `pid` and returns its status and peak RSS (KiB). The `Child` handle is never waited
/// on after this (it does nothing when dropped).
#[allow(unsafe_code)] // wait4 is the one call that gives a single child's rusage
fn wait4(pid: u32) -> io::Result<(ExitStatus, u64)> {
    use std::os::unix::process::ExitStatusExt;
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain integers; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; both pointers are to live locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            let max_rss = u64::try_from(usage.ru_maxrss).unwrap_or(0);
            return Ok((ExitStatus::from_raw(status), max_rss));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Sends `signal` to `pid` (a daemon this harness started).
#[allow(unsafe_code)] // kill(2) on our own child's pid
pub fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: plain syscall with integer arguments.
        unsafe { libc::kill(pid, signal) };
    }
}

/// User-space instructions retired by `command` and everything it execs, from
/// `perf stat -e instructions:u` (load-independent, unlike time). `None` where perf cannot
/// count (no perf, or a virtual machine without counters).
pub fn instructions(command: &Command, scratch: &Path) -> Option<u64> {
    let out = scratch.join("perf.csv");
    let mut perf = Command::new("perf");
    perf.args(["stat", "-x", ",", "-e", "instructions:u", "-o"]).arg(&out).arg("--");
    perf.arg(command.get_program()).args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        perf.current_dir(dir);
    }
    perf.env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            perf.env(key, value);
        }
    }
    let status = perf.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().ok()?;
    if !status.success() {
        return None;
    }
    let text = std::fs::read_to_string(&out).ok()?;
    text.lines().filter(|l| l.contains("instructions")).find_map(|l| l.split(',').next()?.trim().parse().ok())
}

/// Where `command`'s instructions go: callgrind's inclusive counts of `phases` (label, a piece
/// of the function's name as `callgrind_annotate` prints it; phases must not nest), the rest,
/// and the total, as a Markdown table. `dump_before` stops counting at that function (e.g.
/// `execvp`, for what a process does before it becomes another). `None` without valgrind.
/// `command` must be hermetic, as for [`run`].
pub fn callgrind_phases(
    command: &Command,
    dump_before: Option<&str>,
    phases: &[(&str, &str)],
    scratch: &Path,
) -> Option<String> {
    let out = scratch.join("callgrind.out");
    let _ = std::fs::remove_file(&out);
    let mut valgrind = Command::new("valgrind");
    valgrind.arg("--tool=callgrind").arg(format!("--callgrind-out-file={}", out.display()));
    if let Some(function) = dump_before {
        valgrind.arg(format!("--dump-before={function}"));
    }
    valgrind.arg(command.get_program()).args(command.get_args()).env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            valgrind.env(key, value);
        }
    }
    if let Some(dir) = command.get_current_dir() {
        valgrind.current_dir(dir);
    }
    let status = valgrind.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().ok()?;
    // With --dump-before the profile up to that call is `<file>.1`; the process then became
    // another program and wrote nothing more.
    let profile = if dump_before.is_some() { scratch.join("callgrind.out.1") } else { out };
    if dump_before.is_none() && !status.success() {
        return None;
    }
    let annotated = Command::new("callgrind_annotate").arg("--inclusive=yes").arg(&profile).output().ok()?;
    let text = String::from_utf8_lossy(&annotated.stdout);
    let inclusive = |needle: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.contains(needle))?;
        line.split_whitespace().next()?.replace(',', "").parse().ok()
    };
    let total = inclusive("PROGRAM TOTALS")?;
    let share = |n: u64| format!("{:.0} %", 100.0 * n as f64 / total as f64);
    let mut table = String::from("| phase | instructions | share |\n|---|---|---|\n");
    let mut rest = total;
    for (label, needle) in phases {
        if let Some(n) = inclusive(needle) {
            rest = rest.saturating_sub(n);
            table.push_str(&format!("| {label} | {} | {} |\n", super::report::count(n), share(n)));
        }
    }
    table.push_str(&format!(
        "| the rest | {} | {} |\n| total | {} | |\n",
        super::report::count(rest),
        share(rest),
        super::report::count(total)
    ));
    Some(table)
}

/// The median of several instruction counts of the same command.
pub fn median_instructions(command: &Command, scratch: &Path, runs: usize) -> Option<u64> {
    let mut counts = Vec::with_capacity(runs);
    for _ in 0..runs {
        counts.push(instructions(command, scratch)? as f64);
    }
    Some(median(&counts) as u64)
}

pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// Linear-interpolated quantile `q` in [0, 1]; NaN for no values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// A distribution-free 95 % confidence interval for the median: the order statistics around
/// n/2 ± 0.98·√n (the binomial's normal approximation). Exact enough from n ≈ 10 on.
pub fn median_ci(values: &[f64]) -> (f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n < 6 {
        return (sorted.first().copied().unwrap_or(f64::NAN), sorted.last().copied().unwrap_or(f64::NAN));
    }
    let half = 0.98 * (n as f64).sqrt();
    let low = ((n as f64 / 2.0 - half).floor().max(1.0) as usize) - 1;
    let high = ((n as f64 / 2.0 + 1.0 + half).ceil() as usize).min(n) - 1;
    (sorted[low], sorted[high])
}

pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// A 95 % bootstrap interval for `statistic(b) / statistic(a)` when each side's samples come in
/// blocks that may be correlated within (here: the samples taken under one daemon start share
/// its ticker phases): whole blocks are drawn with replacement, 2 000 times, so the interval
/// carries the variation between blocks and not only between samples.
pub fn ratio_ci_blocks(a: &[Vec<f64>], b: &[Vec<f64>], statistic: fn(&[f64]) -> f64) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = XorShift::seeded();
    let ratios: Vec<f64> = (0..2000)
        .map(|_| {
            let sa = resample_blocks(a, statistic, &mut rng);
            resample_blocks(b, statistic, &mut rng) / sa
        })
        .collect();
    (quantile(&ratios, 0.025), quantile(&ratios, 0.975))
}

/// The same bootstrap for one side's `statistic`.
pub fn ci_blocks(blocks: &[Vec<f64>], statistic: fn(&[f64]) -> f64) -> (f64, f64) {
    if blocks.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = XorShift::seeded();
    let values: Vec<f64> = (0..2000).map(|_| resample_blocks(blocks, statistic, &mut rng)).collect();
    (quantile(&values, 0.025), quantile(&values, 0.975))
}

fn resample_blocks(blocks: &[Vec<f64>], statistic: fn(&[f64]) -> f64, rng: &mut XorShift) -> f64 {
    let drawn: Vec<f64> =
        (0..blocks.len()).flat_map(|_| blocks[rng.below(blocks.len())].iter().copied()).collect();
    statistic(&drawn)
}

/// A small PRNG for resampling and random delays (statistics, not secrets).
pub struct XorShift(u64);

impl XorShift {
    pub fn seeded() -> XorShift {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        XorShift((nanos ^ u64::from(std::process::id()).rotate_left(32)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Two sides run alternately, pair by pair.
pub struct Paired {
    pub a: Vec<Run>,
    pub b: Vec<Run>,
}

impl Paired {
    /// `warmup` pairs discarded, then `runs` pairs kept. Within a pair the order alternates
    /// (A B, B A, A B, …), so a drift in the machine's load favours neither side.
    pub fn measure(
        runs: usize,
        warmup: usize,
        mut a: impl FnMut() -> Result<Run, String>,
        mut b: impl FnMut() -> Result<Run, String>,
    ) -> Result<Paired, String> {
        for _ in 0..warmup {
            a()?;
            b()?;
        }
        let mut paired = Paired { a: Vec::with_capacity(runs), b: Vec::with_capacity(runs) };
        for i in 0..runs {
            if i.is_multiple_of(2) {
                paired.a.push(a()?);
                paired.b.push(b()?);
            } else {
                paired.b.push(b()?);
                paired.a.push(a()?);
            }
        }
        Ok(paired)
    }

    /// B/A for each pair.
    pub fn ratios(&self) -> Vec<f64> {
        self.a.iter().zip(&self.b).map(|(a, b)| b.ms() / a.ms()).collect()
    }

    /// B−A for each pair, in milliseconds.
    pub fn differences_ms(&self) -> Vec<f64> {
        self.a.iter().zip(&self.b).map(|(a, b)| b.ms() - a.ms()).collect()
    }
}

pub fn ms(runs: &[Run]) -> Vec<f64> {
    runs.iter().map(Run::ms).collect()
}

pub fn rss_mib(runs: &[Run]) -> Vec<f64> {
    runs.iter().map(Run::rss_mib).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(quantile(&[0.0, 10.0], 0.9), 9.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn median_interval_brackets_the_median() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let (low, high) = median_ci(&values);
        assert!(low < 50.5 && high > 50.5, "{low} {high}");
        assert!(low >= 35.0 && high <= 65.0, "{low} {high}");
    }

    #[test]
    fn a_child_is_timed_and_reaped_with_its_status_and_rss() {
        let (wall, status, rss) = timed(Command::new("true").stdout(Stdio::null())).unwrap();
        assert!(status.success() && rss > 0 && wall > Duration::ZERO);
        let (_, status, _) = timed(&mut Command::new("false")).unwrap();
        assert_eq!(status.code(), Some(1));
    }
}
