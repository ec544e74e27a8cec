//! Whole processes, timed: wall time from spawn to reaped, peak RSS from the kernel's own
//! accounting (`wait4`'s rusage of that one child), instruction counts from `perf stat`; and the
//! statistics the report uses (medians, paired ratios, confidence intervals).

use std::io;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
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

/// Runs `command` to completion (stdin from /dev/null, stdout and stderr as configured by the
/// caller, else discarded) and fails unless it exits 0: a failing run is never a fast sample.
pub fn run(command: &mut Command) -> Result<Run, String> {
    run_expecting(command, 0)
}

/// As [`run`], for a command whose expected exit code is `code`.
pub fn run_expecting(command: &mut Command, code: i32) -> Result<Run, String> {
    command.stdin(Stdio::null());
    let started = Instant::now();
    let child = command.spawn().map_err(|e| format!("could not start {command:?}: {e}"))?;
    let (status, max_rss_kib) = wait4(child.id()).map_err(|e| format!("wait4 on {command:?}: {e}"))?;
    let wall = started.elapsed();
    if status.code() != Some(code) {
        return Err(format!("{command:?} ended with {status}, expected exit code {code}"));
    }
    Ok(Run { wall, max_rss_kib })
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

/// A 95 % bootstrap interval for median(b) / median(a) of two independent samples.
pub fn ratio_of_medians_ci(a: &[f64], b: &[f64]) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = XorShift::seeded();
    let mut ratios = Vec::with_capacity(2000);
    let resample = |values: &[f64], rng: &mut XorShift| {
        let drawn: Vec<f64> = (0..values.len()).map(|_| values[rng.below(values.len())]).collect();
        median(&drawn)
    };
    for _ in 0..2000 {
        let ma = resample(a, &mut rng);
        let mb = resample(b, &mut rng);
        ratios.push(mb / ma);
    }
    (quantile(&ratios, 0.025), quantile(&ratios, 0.975))
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
    fn a_run_reports_its_own_rss_and_fails_on_a_bad_exit() {
        let run = run(Command::new("true").stdout(Stdio::null())).unwrap();
        assert!(run.max_rss_kib > 0);
        assert!(super::run(&mut Command::new("false")).is_err());
        assert!(run_expecting(&mut Command::new("false"), 1).is_ok());
    }
}
