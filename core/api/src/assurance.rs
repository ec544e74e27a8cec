//! Scheduled assurance: while replication is supervised (`replicate -exec`, `spawn_replicate`),
//! `verify`, `scrub` and `drill` run on the intervals the project sets (`verify-every = "6h"`,
//! `scrub-every`, `drill-every`), each result logged as one line and appended to the history
//! (`backups::history`) that `check`, the metrics and the status page read.
//!
//! One thread, which waits on a channel until the next run is due (so stopping is immediate,
//! never after a sleep) and runs the checks of every configured database one after the other.
//! The first run of each check is one interval after the start.

use std::ffi::OsString;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cargo_litestream_config::{Env, Generate, Location, Project};
use cargo_litestream_runner::Litestream;

use crate::backups::history::{self, Entry, Kind};
use crate::backups::{drill, scrub, store::Store};
use crate::verify::{self, Outcome as VerifyOutcome, VerifyOptions};

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

/// Runs one check on every configured database: a line per database, each run in the history.
pub fn run(kind: Kind, project: &Project, env: &Env, litestream: &Litestream) -> Vec<String> {
    let mut lines = Vec::new();
    let config = project.config_path();
    let config_written = project.write_config(&config, env, Generate::default());
    for db in &project.databases {
        let Location::File(path) = &db.location else { continue };
        let name = db.name();
        let target: Vec<OsString> = vec!["-config".into(), config.clone().into(), path.clone().into()];
        let (line, entry) = match kind {
            Kind::Verify => {
                let result = verify::verify(project, env, litestream, path, &VerifyOptions::default());
                let line = format!(
                    "verify {name}: {}: {} ({} ms)",
                    result.outcome.label(),
                    result.message,
                    result.duration_ms
                );
                let entry = (result.outcome != VerifyOutcome::Inconclusive).then(|| {
                    Entry::new(
                        kind,
                        &name,
                        result.outcome == VerifyOutcome::InSync,
                        result.duration_ms,
                        json(&result),
                    )
                });
                (line, entry)
            }
            Kind::Scrub => {
                let report = match Store::of(&db.replica, &project.globals, env) {
                    Ok(store) => {
                        let options = scrub::ScrubOptions {
                            memory: Some(scrub::memory_path(&project.state_dir, &store)),
                            ..Default::default()
                        };
                        scrub::scrub(&store, &options, &mut ()).map_err(|e| e.to_string())
                    }
                    Err(_) => match &config_written {
                        Ok(()) => scrub::by_restoring(
                            litestream,
                            env,
                            &target,
                            &project.state_dir,
                            Duration::from_secs(3600),
                        )
                        .map_err(|e| e.to_string()),
                        Err(error) => Err(error.to_string()),
                    },
                };
                match report {
                    Ok(report) => {
                        let line = format!(
                            "scrub {name}: {}: {} files, {} read, {} findings ({} ms)",
                            report.outcome.label(),
                            report.files,
                            report.files_read,
                            report.findings.len(),
                            report.duration_ms
                        );
                        let entry = (report.outcome != scrub::Outcome::Unchecked).then(|| {
                            Entry::new(
                                kind,
                                &name,
                                report.outcome == scrub::Outcome::Sound,
                                report.duration_ms,
                                json(&report),
                            )
                        });
                        (line, entry)
                    }
                    Err(error) => (format!("scrub {name}: could not check: {error}"), None),
                }
            }
            Kind::Drill => {
                let options = drill::DrillOptions { checks: project.drill_checks.clone(), timeout: None };
                let report = match &config_written {
                    Ok(()) => drill::drill(litestream, env, &target, &project.state_dir, &options)
                        .map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                match report {
                    Ok(report) => {
                        let failed: Vec<String> =
                            report.rehearsals.iter().filter_map(|r| r.error.clone()).collect();
                        let line = format!(
                            "drill {name}: {}: {} restores, RPO {} ({} ms){}",
                            report.outcome.label(),
                            report.rehearsals.len(),
                            report.rpo_seconds.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.1} s")),
                            report.duration_ms,
                            if failed.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", failed.join("; "))
                            }
                        );
                        let entry = Entry::new(
                            kind,
                            &name,
                            report.outcome == drill::Outcome::Passed,
                            report.duration_ms,
                            json(&report),
                        );
                        (line, Some(entry))
                    }
                    Err(error) => (format!("drill {name}: could not run: {error}"), None),
                }
            }
        };
        lines.push(line);
        if let Some(problem) = entry.and_then(|entry| history::record(&project.state_dir, &entry)) {
            lines.push(problem);
        }
    }
    lines
}

fn json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}
