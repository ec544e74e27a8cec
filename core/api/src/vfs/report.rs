//! How fresh each VFS read replica (`[package.metadata.litestream.vfs]`) is: what
//! `cargo litestream vfs-status` prints.
//!
//! For each replica, two things happen in parallel with the others: `litestream ltx -level all
//! -json` lists the replica's newest TXID, then a child process (the given program, whose
//! command line serves [`serve_probe`]) loads the VFS extension, opens the replica through it
//! (bounded: an empty replica blocks forever) and reports what a fresh reader sees. The calling
//! process never loads the extension: after loading it, plain SQLite opens fail (upstream bug),
//! and the child's environment can carry each replica's own credentials, which the extension
//! reads only at process start.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use cargo_litestream_config::{Env, Project};
use cargo_litestream_runner::Litestream;
use serde::Serialize;

use super::{
    Assessment, Extension, Health, Probe, ProbeRequest, ReplicaPosition, TargetSource, Thresholds, VfsTarget,
};

/// How often the probe's reader polls the replica: short, so the first poll (the reader's
/// `litestream_lag()` is -1 until then) comes quickly.
const PROBE_POLL_INTERVAL_MS: u64 = 200;
/// A probe child's start-up and the loading of the 84 MB extension, on top of the timeout.
const PROBE_GRACE: Duration = Duration::from_secs(10);
const NULL_DEVICE: &str = if cfg!(windows) { "NUL" } else { "/dev/null" };

/// Why the status could not be asked for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    #[error("`{alias}` is not a VFS alias; configured: {configured}")]
    UnknownAlias { alias: String, configured: String },

    #[error(
        "--lagging-after ({} s) is later than --stale-after ({} s); give a smaller --lagging-after",
        lagging.as_secs(),
        stale.as_secs()
    )]
    Thresholds { lagging: Duration, stale: Duration },

    #[error("could not read the probe request")]
    ProbeRequest(#[source] std::io::Error),
}

/// One replica's line in the output (`vfs-status --json`'s `replicas`, a documented contract).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub alias: String,
    /// With any password redacted.
    pub replica_url: Option<String>,
    /// The database alias whose replica this is, when it is one.
    pub database: Option<String>,
    pub txid: Option<String>,
    pub replica_txid: Option<String>,
    pub txids_behind: Option<u64>,
    pub poll_age_seconds: Option<i64>,
    pub data_time: Option<String>,
    pub data_age_seconds: Option<f64>,
    pub status: Health,
    pub reason: String,
}

impl Report {
    fn unresolved(alias: &str, problem: &str) -> Report {
        Report {
            alias: alias.to_owned(),
            replica_url: None,
            database: None,
            txid: None,
            replica_txid: None,
            txids_behind: None,
            poll_age_seconds: None,
            data_time: None,
            data_age_seconds: None,
            status: Health::Unknown,
            reason: problem.to_owned(),
        }
    }

    fn new(
        target: &VfsTarget,
        probe: Probe,
        position: Result<Option<ReplicaPosition>, String>,
        assessment: Assessment,
    ) -> Report {
        Report {
            alias: target.alias.clone(),
            replica_url: Some(target.display_url()),
            database: match &target.source {
                TargetSource::Database { alias, .. } => Some(alias.clone()),
                TargetSource::Url => None,
            },
            txid: probe.txid,
            replica_txid: position.ok().flatten().map(|p| crate::json::txid(p.txid)),
            txids_behind: assessment.txids_behind,
            poll_age_seconds: probe.poll_age_seconds,
            data_time: probe.data_time,
            data_age_seconds: probe.data_age_seconds.map(|a| (a * 10.0).round() / 10.0),
            status: assessment.health,
            reason: assessment.reason,
        }
    }
}

/// A VFS alias and its replica, or why it has none.
pub type NamedTarget = (String, Result<VfsTarget, super::VfsTargetError>);

/// The project's VFS replicas to look at: all of them, or the one `alias` names.
pub fn selected_targets(
    project: &Project,
    env: &Env,
    alias: Option<&str>,
) -> Result<Vec<NamedTarget>, StatusError> {
    let mut targets = super::vfs_targets(project, env);
    if let Some(alias) = alias {
        if !project.vfs.iter().any(|(name, _)| name == alias) {
            let names: Vec<&str> = project.vfs.iter().map(|(name, _)| name.as_str()).collect();
            return Err(StatusError::UnknownAlias {
                alias: alias.to_owned(),
                configured: if names.is_empty() { "none".to_owned() } else { names.join(", ") },
            });
        }
        targets.retain(|(name, _)| name == alias);
    }
    Ok(targets)
}

/// The thresholds, refused when Lagging would begin after Stale.
pub fn thresholds(lagging_after: Duration, stale_after: Duration) -> Result<Thresholds, StatusError> {
    if lagging_after > stale_after {
        return Err(StatusError::Thresholds { lagging: lagging_after, stale: stale_after });
    }
    Ok(Thresholds { lagging_after, stale_after })
}

/// Whether listing these targets needs the project's generated config (a database alias's
/// replica is listed as `ltx -config FILE DB_PATH`).
pub fn needs_config(targets: &[NamedTarget]) -> bool {
    targets.iter().any(|(_, t)| matches!(t, Ok(VfsTarget { source: TargetSource::Database { .. }, .. })))
}

/// What a status run needs besides the targets.
pub struct StatusRun<'a> {
    pub env: &'a Env,
    /// For listing the replica's newest TXID; without litestream that number is just unknown.
    pub litestream: Result<&'a Litestream, String>,
    /// The project's generated config, when [`needs_config`].
    pub config: Option<&'a Path>,
    pub extension: &'a Extension,
    /// The program and arguments that run [`serve_probe`] (e.g. this binary with a hidden flag).
    pub probe_program: &'a Path,
    pub probe_args: &'a [&'a str],
    pub thresholds: Thresholds,
    /// The bound on opening each replica (an empty replica never opens).
    pub timeout: Duration,
}

/// Every target's report, checked in parallel, in the targets' order.
pub fn status(run: &StatusRun<'_>, targets: &[NamedTarget]) -> Vec<Report> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|(alias, target)| {
                scope.spawn(move || match target {
                    Err(problem) => Report::unresolved(alias, &problem.to_string()),
                    Ok(target) => report(run, target),
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(targets)
            .map(|(handle, (alias, _))| {
                handle.join().unwrap_or_else(|_| Report::unresolved(alias, "the check panicked (a bug)"))
            })
            .collect()
    })
}

fn report(run: &StatusRun<'_>, target: &VfsTarget) -> Report {
    let position = match run.litestream {
        // `litestream ltx URL` would show the password to every user of the machine (command
        // lines are public); the config route keeps it in a 0600 file.
        Ok(_) if matches!(target.source, TargetSource::Url) && target.display_url() != target.url => Err(
            "not listed: the replica URL holds a password, which a `litestream ltx` command line would show to other users"
                .to_owned(),
        ),
        Ok(litestream) => {
            let args: Vec<OsString> = match (&target.source, run.config) {
                (TargetSource::Database { path, .. }, Some(config)) => {
                    vec!["-config".into(), config.into(), path.into()]
                }
                _ => vec![target.url.clone().into()],
            };
            // The report carries the reason as text, causes included (it is printed and in JSON).
            super::replica_position(litestream, run.env, &args, &target.env, run.timeout)
                .map_err(|error| crate::replicate::plan::one_line(&error))
        }
        Err(ref error) => Err(error.clone()),
    };
    let request = ProbeRequest {
        extension: run.extension.path.clone(),
        url: target.url.clone(),
        timeout_ms: u64::try_from(run.timeout.as_millis()).unwrap_or(u64::MAX),
        poll_interval_ms: PROBE_POLL_INTERVAL_MS,
    };
    let mut child = std::process::Command::new(run.probe_program);
    child.args(run.probe_args).env_clear().envs(run.env.vars()).envs(target.env.iter().map(|(k, v)| (k, v)));
    // The VFS is litestream's S3 client too: it cannot run with these either.
    for name in crate::UNUSABLE_BY_LITESTREAM {
        child.env_remove(name);
    }
    // The extension logs to stdout unless told otherwise, and stdout carries the child's answer.
    if run.env.get_os("LITESTREAM_LOG_FILE").is_none() {
        child.env("LITESTREAM_LOG_FILE", NULL_DEVICE);
    }
    let probe = super::probe_in_child(&mut child, &request, PROBE_GRACE);
    let assessment = super::assess(&probe, &position, &run.thresholds);
    Report::new(target, probe, position, assessment)
}

/// The child side: one probe, the request read from `input` (stdin), the answer to print on
/// stdout (a private protocol between two copies of one program: no envelope).
pub fn serve_probe(mut input: impl std::io::Read) -> Result<Probe, StatusError> {
    let mut text = String::new();
    input.read_to_string(&mut text).map_err(StatusError::ProbeRequest)?;
    let request: ProbeRequest = serde_json::from_str(&text)
        .map_err(|e| StatusError::ProbeRequest(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    Ok(super::probe(&request))
}

/// The human-readable report (`color`: a terminal's colours for the status).
pub fn render_text(reports: &[Report], color: bool) -> String {
    let mut out = String::new();
    let plural = if reports.len() == 1 { "" } else { "s" };
    out.push_str(&format!("Found {} VFS replica{plural}:\n", reports.len()));
    for report in reports {
        let unknown = || "unknown".to_owned();
        out.push_str(&format!("\n{}\n", report.alias));
        if let Some(url) = &report.replica_url {
            let of = report.database.as_ref().map(|d| format!(" (the replica of `{d}`)")).unwrap_or_default();
            out.push_str(&format!("  Replica URL:     {url}{of}\n"));
        }
        let behind = match (&report.txids_behind, &report.replica_txid) {
            (Some(n), Some(latest)) => format!(" ({n} behind; the replica's newest when listed: {latest})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  Transaction ID:  {}{behind}\n",
            report.txid.clone().unwrap_or_else(unknown)
        ));
        let poll = match report.poll_age_seconds {
            Some(-1) => "never (-1)".to_owned(),
            Some(age) => format!("{} ago", super::seconds(age as f64)),
            None => unknown(),
        };
        out.push_str(&format!("  Last poll:       {poll}\n"));
        let data = match (report.data_age_seconds, &report.data_time) {
            (Some(age), Some(time)) => format!("{} (written {time})", super::seconds(age)),
            _ => unknown(),
        };
        out.push_str(&format!("  Data age:        {data}\n"));
        out.push_str(&format!(
            "  Status:          {}: {}\n",
            status_label(report.status, color),
            report.reason
        ));
    }
    out
}

/// `✓ Healthy` in colour on a terminal, `Healthy` elsewhere.
fn status_label(health: Health, color: bool) -> String {
    if !color {
        return health.label().to_owned();
    }
    let style = match health {
        Health::Healthy => "\x1b[1;32m",
        Health::Lagging => "\x1b[1;33m",
        Health::Stale => "\x1b[1;31m",
        Health::Unknown => "\x1b[1;35m",
    };
    format!("{style}{} {}\x1b[0m", health.symbol(), health.label())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_in_the_wrong_order_are_refused() {
        let error = thresholds(Duration::from_secs(61), Duration::from_secs(60)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--lagging-after (61 s) is later than --stale-after (60 s); give a smaller --lagging-after"
        );
        thresholds(Duration::ZERO, Duration::ZERO).unwrap();
    }

    #[test]
    fn an_unresolved_replica_renders_as_unknown() {
        let reports = [Report::unresolved("reports", "no such database")];
        let text = render_text(&reports, false);
        assert_eq!(
            text,
            "Found 1 VFS replica:\n\nreports\n  Transaction ID:  unknown\n  Last poll:       unknown\n  \
             Data age:        unknown\n  Status:          Unknown: no such database\n"
        );
        assert!(render_text(&reports, true).contains("\x1b[1;35m"));
    }

    #[test]
    fn a_bad_probe_request_is_an_error() {
        let error = serve_probe(&b"{"[..]).unwrap_err();
        assert!(error.to_string().starts_with("could not read the probe request"), "{error}");
    }
}
