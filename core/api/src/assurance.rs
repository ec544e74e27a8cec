//! Scheduled assurance: while replication is supervised (`replicate -exec`, `spawn_replicate`),
//! `verify`, `scrub` and `drill` run on the intervals the project sets (`verify-every = "6h"`,
//! `scrub-every`, `drill-every`), each result logged as one line and appended to the history
//! (`backups::history`) that `check`, the metrics and the status page read.
//!
//! One thread, which waits on a channel until the next run is due (so stopping is immediate,
//! never after a sleep) and runs the checks of every configured database one after the other.
//! The first run of each check is one interval after the start.
//!
//! How one check of one replica runs, and is judged and recorded, is [`Checks`]: the commands
//! run the same code, and print its reports with [`text`].

mod run;
pub mod text;

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cargo_litestream_config::{Env, Project};
use cargo_litestream_runner::Litestream;

pub use run::{AssuranceError, Assured, Checks, Standing, Verdict, record};

use crate::backups::drill;
use crate::backups::history::Kind;
use crate::verify::VerifyOptions;

/// The running schedule; dropping it stops it (waiting for a check in progress to end).
pub struct Assurance {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Assurance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Assurance")
    }
}

impl Drop for Assurance {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the project's schedule (`None` when it sets no interval). `log` gets one line per
/// result, e.g. `verify default: in sync (12 ms)`.
pub fn start(
    project: &Project,
    env: &Env,
    litestream: &Litestream,
    log: Box<dyn Fn(&str) + Send>,
) -> Option<Assurance> {
    let schedule = project.schedule;
    if schedule.is_empty() {
        return None;
    }
    let (project, env, litestream) = (project.clone(), env.clone(), litestream.clone());
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("cargo-litestream assurance".to_owned())
        .spawn(move || {
            let started = Instant::now();
            let mut due: Vec<(Kind, Duration, Instant)> = [
                (Kind::Verify, schedule.verify),
                (Kind::Scrub, schedule.scrub),
                (Kind::Drill, schedule.drill),
            ]
            .into_iter()
            .filter_map(|(kind, every)| every.map(|every| (kind, every, started + every)))
            .collect();
            loop {
                let next = due.iter().map(|(_, _, at)| *at).min().unwrap_or(started);
                match stopped.recv_timeout(next.saturating_duration_since(Instant::now())) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // Stopped (the sender dropped): no new check starts.
                    _ => return,
                }
                let now = Instant::now();
                for (kind, every, at) in &mut due {
                    if *at <= now {
                        for line in run(*kind, &project, &env, &litestream) {
                            log(&line);
                        }
                        *at = Instant::now() + *every;
                    }
                }
            }
        })
        .ok()?;
    Some(Assurance { stop: Some(stop), thread: Some(thread) })
}

/// Runs one check on every configured database (a `dir` entry's databases as Litestream's scan
/// finds them): a line per database, each run in the history.
pub fn run(kind: Kind, project: &Project, env: &Env, litestream: &Litestream) -> Vec<String> {
    let shell = cargo_litestream_shell::Shell::quiet();
    let checks = Checks { env, project: Some(project), litestream: Some(litestream), shell: &shell };
    let state_dir = &project.state_dir;
    let mut lines = Vec::new();
    if kind == Kind::Verify {
        // verify reads the database and its replica itself: no litestream target to write.
        for selected in crate::targets::configured(project) {
            let crate::targets::Selected::Database(chosen) = selected else { continue };
            let result = checks.verify(&chosen, &VerifyOptions::default());
            lines.push(text::verification_summary(&result));
            lines.extend(record(state_dir, &chosen.name, &result));
        }
        return lines;
    }
    let replicas = match crate::targets::configured_replicas(project, env) {
        Ok(replicas) => replicas,
        Err(error) => {
            let word = if kind == Kind::Scrub { "scrub" } else { "drill" };
            return vec![format!("{word} could not start: {error}")];
        }
    };
    for replica in &replicas {
        let name = &replica.name;
        let (line, recorded) = match kind {
            Kind::Scrub => {
                match checks.scrub(replica, &Default::default(), Duration::from_secs(3600), &mut ()) {
                    Ok(report) => (text::scrub_summary(name, &report), record(state_dir, name, &report)),
                    Err(error) => (format!("scrub {name}: could not check: {error}"), None),
                }
            }
            // Drill (verify returned above).
            _ => {
                let options = drill::DrillOptions { checks: project.drill_checks.clone(), timeout: None };
                match checks.drill(replica, &options) {
                    Ok(report) => (text::drill_summary(name, &report), record(state_dir, name, &report)),
                    Err(error) => (format!("drill {name}: could not run: {error}"), None),
                }
            }
        };
        lines.push(line);
        lines.extend(recorded);
    }
    lines
}
