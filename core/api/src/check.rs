//! `cargo litestream check`: is each database being backed up right now, and has the backup
//! proved itself lately? For monitors: cheap (one replica listing per database, two requests
//! on the control socket, a few `stat`s; no restore), one verdict per database with Nagios's
//! meaning (OK, WARNING, CRITICAL, UNKNOWN), and the numbers behind it ([`prometheus`]).
//!
//! The checks, per database:
//! - **daemon**: a `replicate` answers on the control socket and replicates the database.
//! - **lag**: how long the replica has gone without what the database holds. The replica is
//!   behind when the daemon's local TXID is past the replica's, or when the `-wal` was written
//!   after the replica last advanced. The second is the stall Litestream reports nowhere: a
//!   daemon that hangs (or is stopped) copies nothing, so its own TXID stands still while the
//!   application's writes keep landing in the WAL. The lag is then counted from the moment the
//!   replica reached its newest TXID.
//! - **snapshot**: the newest level-9 file's age against the snapshot interval.
//! - **verify**, **scrub**, **drill**: the last run of each, from the history.

pub mod prometheus;
pub mod text;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cargo_litestream_config::{CheckThresholds, Env, TomlTable};
use cargo_litestream_runner::Litestream;
use jiff::Timestamp;
use serde::Serialize;

use crate::backups::history::{Entry, Kind};
use crate::backups::store::{NoNativeStore, Store};
use crate::backups::{self, ReplicaFile};
use crate::control::{self, ControlError, Listed};
use crate::json;
use crate::targets::Replica;

/// The JSON report's schema version (README, "JSON output").
pub const JSON_VERSION: u32 = 1;

/// Litestream's `snapshot.interval` when the configuration sets none (`store.go`,
/// `DefaultSnapshotInterval`).
pub const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// File times compared across the replica and the local disk: an S3 listing has whole
/// seconds, and a replica's clock may differ a little from ours.
const CLOCK_SLACK: Duration = Duration::from_secs(1);

/// A verdict, in Nagios's words. Ordered from best to worst: a check that could not be made
/// (UNKNOWN) outranks a warning, a CRITICAL outranks everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Unknown,
    Critical,
}

impl Status {
    /// Nagios's plugin exit codes.
    pub const fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// One database to check.
#[derive(Clone, Debug)]
pub struct Target {
    /// How the user knows it (its alias, else its path): the history's and the metrics' name.
    pub name: String,
    /// The database file, absolute.
    pub path: PathBuf,
    /// Litestream's folder beside it (`.<file>-litestream`, or the entry's `meta-path`).
    pub meta_path: PathBuf,
    /// The replica, read natively when it can be; else `litestream ltx` lists it.
    pub store: Result<Store, NoNativeStore>,
    /// What `litestream ltx` is given to list the replica (`-config FILE DB_PATH`).
    pub litestream_target: Vec<OsString>,
    /// How long a commit may take to reach the replica when all is well: the database's
    /// `monitor-interval` plus the replica's `sync-interval`, plus a second.
    pub in_flight: Duration,
}

impl Target {
    /// The check target of a configured database's replica; `None` for a replica without a
    /// configured database (a URL given alone), which check has nothing to compare with.
    pub fn of_replica(replica: Replica<'_>) -> Option<Target> {
        let chosen = replica.database?;
        // A `dir` entry's database has its own state folder, as Litestream's scan gives it.
        let database = chosen.database();
        let meta_path = database
            .options
            .get("meta-path")
            .and_then(|v| v.as_str())
            .map_or_else(|| Target::default_meta_path(&chosen.path), PathBuf::from);
        // Litestream's defaults (`db.go` DefaultMonitorInterval, `replica.go` DefaultSyncInterval).
        let interval = |table: &TomlTable, key: &str| {
            table
                .get(key)
                .and_then(|v| v.as_str())
                .and_then(cargo_litestream_config::parse_go_duration)
                .unwrap_or(Duration::from_secs(1))
        };
        let in_flight = interval(&database.options, "monitor-interval")
            + interval(&database.replica, "sync-interval")
            + CLOCK_SLACK;
        Some(Target {
            name: replica.name,
            path: chosen.path.clone(),
            meta_path,
            store: replica.store,
            litestream_target: replica.litestream_target,
            in_flight,
        })
    }

    /// Litestream's meta folder of `path` when the entry sets no `meta-path`.
    pub fn default_meta_path(path: &Path) -> PathBuf {
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        path.with_file_name(format!(".{file}-litestream"))
    }
}

/// `snapshot.interval` of the configuration's top-level keys, else Litestream's default (the
/// configuration check has refused a value that is not a duration above zero).
pub fn snapshot_interval(globals: &TomlTable) -> Duration {
    globals
        .get("snapshot")
        .and_then(|s| s.get("interval"))
        .and_then(|v| v.as_str())
        .and_then(cargo_litestream_config::parse_go_duration)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_SNAPSHOT_INTERVAL)
}

/// Why a project's databases could not be checked at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The configuration litestream would list a replica with could not be written.
    #[error(transparent)]
    Config(#[from] cargo_litestream_config::ConfigError),
    /// The history of verifies, scrubs and drills could not be read.
    #[error(transparent)]
    History(#[from] backups::history::HistoryError),
}

/// Every configured database of `project` as a check target, a `dir` entry's databases as
/// Litestream's scan finds them, each with the configuration litestream lists it with.
pub fn project_targets(
    project: &cargo_litestream_config::Project,
    env: &Env,
) -> Result<Vec<Target>, CheckError> {
    Ok(crate::targets::configured_replicas(project, env)?
        .into_iter()
        .filter_map(Target::of_replica)
        .collect())
}

/// The reports of every database of `project`, with its configured thresholds: what
/// `cargo litestream check` with no argument computes, for a caller without a command line
/// (the metrics endpoint). `timeout` bounds the control socket's answer.
pub fn check_project(
    project: &cargo_litestream_config::Project,
    env: &Env,
    litestream: Option<&Litestream>,
    timeout: Duration,
) -> Result<(Vec<Report>, Timestamp), CheckError> {
    let (looks, now) = inspect_project(project, env, litestream, timeout)?;
    Ok((looks.into_iter().map(|look| look.report).collect(), now))
}

/// What [`check_project`] saw of one database: its report, and the replica's files of the
/// listing it was made from (for a caller that draws them, without listing twice).
pub struct Inspection {
    pub target: Target,
    pub report: Report,
    pub files: Result<Vec<ReplicaFile>, ReplicaListError>,
}

/// [`check_project`], with each database's target and replica listing.
pub fn inspect_project(
    project: &cargo_litestream_config::Project,
    env: &Env,
    litestream: Option<&Litestream>,
    timeout: Duration,
) -> Result<(Vec<Inspection>, Timestamp), CheckError> {
    let asked = Asked::ask(&project.state_dir, project.socket_path(env), timeout)?;
    let targets = project_targets(project, env)?;
    let cx = asked.context(&project.check, &project.globals, env, litestream, timeout);
    let looks = targets
        .into_iter()
        .map(|target| {
            let (report, files) = check_listing(&target, &cx);
            Inspection { target, report, files }
        })
        .collect();
    Ok((looks, asked.now))
}

/// What a check run asks once for all its databases: the history of verifies, scrubs and
/// drills, and what the daemon answers on the control socket (`GET /list`), at one moment.
pub struct Asked {
    pub socket: PathBuf,
    pub daemon: Result<Vec<Listed>, ControlError>,
    pub history: Vec<Entry>,
    pub now: Timestamp,
}

impl Asked {
    /// Reads the history in `state_dir` (an unreadable one stops the run) and asks the daemon
    /// on `socket`, waiting `timeout` at most.
    pub fn ask(state_dir: &Path, socket: PathBuf, timeout: Duration) -> Result<Asked, CheckError> {
        let history = backups::history::read(state_dir)?;
        let daemon = control::list(&socket, timeout);
        Ok(Asked { socket, daemon, history, now: Timestamp::now() })
    }

    /// The context each database is checked in, with `thresholds` and the snapshot interval
    /// of the configuration's top-level keys `globals`.
    pub fn context<'a>(
        &'a self,
        thresholds: &'a CheckThresholds,
        globals: &TomlTable,
        env: &'a Env,
        litestream: Option<&'a Litestream>,
        timeout: Duration,
    ) -> Context<'a> {
        Context {
            thresholds,
            snapshot_interval: snapshot_interval(globals),
            socket: &self.socket,
            daemon: &self.daemon,
            history: &self.history,
            litestream,
            env,
            timeout,
            now: self.now,
        }
    }
}

/// What every database's check shares.
pub struct Context<'a> {
    pub thresholds: &'a CheckThresholds,
    pub snapshot_interval: Duration,
    /// The control socket, and what `GET /list` answered on it (asked once for all databases).
    pub socket: &'a Path,
    pub daemon: &'a Result<Vec<Listed>, ControlError>,
    /// The history (read once; an unreadable one stops the check before this).
    pub history: &'a [Entry],
    pub litestream: Option<&'a Litestream>,
    pub env: &'a Env,
    pub timeout: Duration,
    pub now: Timestamp,
}

/// One check's verdict on one database.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// `daemon`, `replica`, `lag`, `snapshot`, `verify`, `scrub`, `drill`.
    pub check: &'static str,
    pub status: Status,
    pub message: String,
}

/// The bytes and files of one level of the replica.
#[derive(Clone, Debug, Serialize)]
pub struct Level {
    pub level: u8,
    pub files: usize,
    pub bytes: u64,
}

/// The last runs of one kind of assurance.
#[derive(Clone, Debug, Serialize)]
pub struct Assurance {
    pub kind: Kind,
    /// The last run, passed or not.
    pub last_run: Option<Timestamp>,
    pub last_ok: Option<bool>,
    pub last_success: Option<Timestamp>,
    pub last_success_duration_ms: Option<u64>,
}

/// Everything `check` learned about one database.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub database: String,
    pub path: PathBuf,
    pub status: Status,
    pub findings: Vec<Finding>,
    /// What the daemon says of the database: `replicating`, `open`, `stopped`, or null when no
    /// daemon answered or it does not hold the database.
    pub daemon_status: Option<String>,
    #[serde(serialize_with = "json::serialize_optional_txid")]
    pub local_txid: Option<u64>,
    #[serde(serialize_with = "json::serialize_optional_txid")]
    pub replica_txid: Option<u64>,
    /// Local minus replica TXID (0 when the replica is ahead of what we could read locally).
    pub txid_lag: Option<u64>,
    /// When the replica reached its newest TXID.
    pub replica_reached: Option<Timestamp>,
    /// The newest file of any level.
    pub replica_newest_file: Option<Timestamp>,
    pub database_mtime: Option<Timestamp>,
    pub wal_mtime: Option<Timestamp>,
    /// How long the replica has lacked what the database holds (0: it holds it all).
    pub lag_seconds: Option<f64>,
    pub snapshot: Option<Timestamp>,
    pub snapshot_interval_seconds: u64,
    /// The oldest restore point's time: how far back a restore can go.
    pub recovery_window_start: Option<Timestamp>,
    pub restore_points: Option<usize>,
    pub levels: Vec<Level>,
    pub assurance: Vec<Assurance>,
}

impl Report {
    /// The report of `database` before any look: OK, nothing known yet.
    fn unchecked(database: String, path: PathBuf, snapshot_interval: Duration) -> Report {
        Report {
            database,
            path,
            status: Status::Ok,
            findings: Vec::new(),
            daemon_status: None,
            local_txid: None,
            replica_txid: None,
            txid_lag: None,
            replica_reached: None,
            replica_newest_file: None,
            database_mtime: None,
            wal_mtime: None,
            lag_seconds: None,
            snapshot: None,
            snapshot_interval_seconds: snapshot_interval.as_secs(),
            recovery_window_start: None,
            restore_points: None,
            levels: Vec::new(),
            assurance: Vec::new(),
        }
    }

    fn find(&mut self, check: &'static str, status: Status, message: impl Into<String>) {
        self.findings.push(Finding { check, status, message: message.into() });
    }
}

/// Checks one database.
pub fn check(target: &Target, cx: &Context<'_>) -> Report {
    check_listing(target, cx).0
}

/// [`check`], and the replica's files as last listed for it.
pub fn check_listing(
    target: &Target,
    cx: &Context<'_>,
) -> (Report, Result<Vec<ReplicaFile>, ReplicaListError>) {
    let mut report = Report::unchecked(target.name.clone(), target.path.clone(), cx.snapshot_interval);
    let daemon_answered = check_daemon(target, cx, &mut report);
    let mut files = look(target, cx, cx.now, daemon_answered, &mut report);
    // A commit after an idle spell looks like lag (the replica's newest TXID is old, the WAL
    // is new) until Litestream ships it, which takes up to `in_flight`. Only then, and only
    // when the lag would alert, look once more: a stall still alerts, a commit in flight does
    // not. The OK path stays one listing.
    let lag_alerts = report.findings.iter().any(|f| f.check == "lag" && f.status != Status::Ok);
    let written_lately = report
        .wal_mtime
        .or(report.database_mtime)
        .is_some_and(|w| seconds_between(w, cx.now) < target.in_flight.as_secs_f64());
    if lag_alerts && written_lately {
        std::thread::sleep(target.in_flight);
        report.findings.retain(|f| f.check == "daemon");
        files = look(target, cx, Timestamp::now(), daemon_answered, &mut report);
        let waited = span(target.in_flight.as_secs_f64());
        if let Some(lag) = report.findings.iter_mut().find(|f| f.check == "lag") {
            lag.message.push_str(&match lag.status {
                Status::Ok => format!(" (a commit was in flight: looked again {waited} later)"),
                _ => format!(" (still, looked again {waited} later)"),
            });
        }
    }
    assess_history(cx, &mut report);
    report.status = report.findings.iter().map(|f| f.status).max().unwrap_or(Status::Ok);
    (report, files)
}

/// What the database and its replica hold at `now`: the local side (file times, the local
/// TXID), one listing of the replica (returned), and the lag and snapshot findings from them.
fn look(
    target: &Target,
    cx: &Context<'_>,
    now: Timestamp,
    daemon_answered: bool,
    report: &mut Report,
) -> Result<Vec<ReplicaFile>, ReplicaListError> {
    report.database_mtime = mtime(&target.path);
    report.wal_mtime = mtime(&cargo_litestream_config::sidecar(&target.path, "-wal"));
    // The daemon's own TXID when it answers; else the newest L0 file it left beside the
    // database (reference §6.4), which is as far as it got before it stopped.
    report.local_txid = daemon_answered
        .then(|| control::txid(cx.socket, &target.path, cx.timeout).ok())
        .flatten()
        .or_else(|| newest_local_txid(&target.meta_path));
    let files = list(target, cx);
    match &files {
        Ok(files) => assess_replica(files, cx, now, report),
        Err(error) => report.find("replica", Status::Unknown, format!("cannot list the replica: {error}")),
    }
    files
}

/// The daemon check; whether the daemon answered (and holds the database).
fn check_daemon(target: &Target, cx: &Context<'_>, report: &mut Report) -> bool {
    let databases = match cx.daemon {
        Ok(databases) => databases,
        Err(ControlError::NotRunning { socket, .. }) => {
            report.find(
                "daemon",
                Status::Critical,
                format!("no replicate is running (nothing answers on {})", socket.display()),
            );
            return false;
        }
        Err(ControlError::TimedOut(after)) => {
            report.find(
                "daemon",
                Status::Critical,
                format!(
                    "the replicate did not answer on {} within {} s: it is hung or stopped",
                    cx.socket.display(),
                    after.as_secs_f64()
                ),
            );
            return false;
        }
        Err(other) => {
            report.find("daemon", Status::Unknown, format!("cannot ask the replicate: {other}"));
            return false;
        }
    };
    let same = |listed: &Path| {
        listed == target.path
            || std::fs::canonicalize(listed)
                .ok()
                .is_some_and(|l| std::fs::canonicalize(&target.path).ok() == Some(l))
    };
    let Some(listed) = databases.iter().find(|d| same(&d.path)) else {
        report.find("daemon", Status::Critical, "the running replicate does not replicate this database");
        return false;
    };
    report.daemon_status = Some(listed.status.clone());
    match listed.status.as_str() {
        "replicating" => report.find("daemon", Status::Ok, "replicating"),
        "open" => report.find(
            "daemon",
            Status::Warning,
            "open but not monitored: it syncs only when asked (`sync`), not on writes",
        ),
        other => report.find(
            "daemon",
            Status::Critical,
            format!("the replicate holds it {other}, not replicating"),
        ),
    }
    true
}

fn list(target: &Target, cx: &Context<'_>) -> Result<Vec<ReplicaFile>, ReplicaListError> {
    target.list(cx.litestream, cx.env, cx.timeout)
}

/// Why a replica's files could not be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaListError {
    /// Reading the store natively failed.
    #[error(transparent)]
    Store(#[from] backups::store::StoreError),
    /// The store cannot be read natively, and there is no litestream to ask.
    #[error("no litestream to list the replica with")]
    NoLitestream,
    /// `litestream ltx` failed.
    #[error(transparent)]
    Litestream(#[from] backups::ListError),
}

impl Target {
    /// The replica's files: natively when its store can be read, else by `litestream ltx`
    /// (bounded by `timeout`).
    pub fn list(
        &self,
        litestream: Option<&Litestream>,
        env: &Env,
        timeout: Duration,
    ) -> Result<Vec<ReplicaFile>, ReplicaListError> {
        match &self.store {
            Ok(store) => Ok(store.list_within(timeout)?.files.into_iter().map(|f| f.file).collect()),
            Err(_) => {
                let litestream = litestream.ok_or(ReplicaListError::NoLitestream)?;
                Ok(backups::list(litestream, env, &self.litestream_target, timeout)?)
            }
        }
    }
}

fn assess_replica(files: &[ReplicaFile], cx: &Context<'_>, now: Timestamp, report: &mut Report) {
    let thresholds = cx.thresholds;
    report.levels.clear();
    for file in files {
        match report.levels.iter_mut().find(|l| l.level == file.level) {
            Some(level) => {
                level.files += 1;
                level.bytes += file.size;
            }
            None => report.levels.push(Level { level: file.level, files: 1, bytes: file.size }),
        }
    }
    report.levels.sort_by_key(|l| l.level);
    let points = backups::restore_points(files);
    report.restore_points = Some(points.points.len());
    report.recovery_window_start = points.points.first().map(|p| p.time);
    report.replica_newest_file = files.iter().map(|f| f.created).max();
    report.replica_txid = files.iter().map(|f| f.max_txid).max();
    // The replica reached its newest TXID when the first file holding it landed; compactions
    // and snapshots that repeat it later are not news of the database.
    report.replica_reached = report
        .replica_txid
        .and_then(|newest| files.iter().filter(|f| f.max_txid == newest).map(|f| f.created).min());
    report.txid_lag = match (report.local_txid, report.replica_txid) {
        (Some(local), Some(replica)) => Some(local.saturating_sub(replica)),
        (Some(local), None) => Some(local),
        _ => None,
    };

    // The WAL is where every commit lands; the database file also changes by checkpoints (the
    // daemon's own among them), which hold no new transaction. Without a WAL (the database
    // was closed cleanly) the file's last change is the last commit's.
    let local_write = report.wal_mtime.or(report.database_mtime);
    let age = |t: Timestamp| seconds_between(t, now);
    let lag = match report.replica_reached {
        Some(reached) => {
            let wal_newer = local_write.is_some_and(|w| {
                w > reached + jiff::SignedDuration::try_from(CLOCK_SLACK).unwrap_or_default()
            });
            let txid_behind = report.txid_lag.is_some_and(|l| l > 0);
            if wal_newer || txid_behind { age(reached) } else { 0.0 }
        }
        // Nothing on the replica: everything the database holds is missing from it, since the
        // database was last written at the latest.
        None => local_write.map_or(0.0, age),
    };
    report.lag_seconds = Some(lag);
    let shown = |d: Duration| format!("{} s", d.as_secs_f64());
    let what = if report.replica_txid.is_none() {
        format!("the replica holds no backup yet; the database was last written {} ago", span(lag))
    } else {
        format!("lag {lag:.1} s")
    };
    match (thresholds.max_lag, thresholds.warn_lag) {
        (Some(max), _) if lag > max.as_secs_f64() => {
            report.find("lag", Status::Critical, format!("{what} (more than {})", shown(max)))
        }
        (_, Some(warn)) if lag > warn.as_secs_f64() => {
            report.find("lag", Status::Warning, format!("{what} (more than {})", shown(warn)))
        }
        _ => report.find("lag", Status::Ok, what),
    }

    report.snapshot = files.iter().filter(|f| f.level == 9).map(|f| f.created).max();
    // No snapshot yet: the replica has gone without one since its oldest file.
    let since = report.snapshot.or_else(|| files.iter().map(|f| f.created).min());
    if let (Some(limit), Some(since)) =
        (thresholds.max_snapshot_age.map(|a| a.limit(cx.snapshot_interval)), since)
    {
        let snapshot_age = age(since);
        let described = match report.snapshot {
            Some(_) => format!("newest snapshot {} old", span(snapshot_age)),
            None => format!("no snapshot yet, replica files for {}", span(snapshot_age)),
        };
        if snapshot_age > limit.as_secs_f64() {
            let limits = format!(
                "more than {}; snapshot.interval {}",
                span(limit.as_secs_f64()),
                span(cx.snapshot_interval.as_secs_f64())
            );
            report.find("snapshot", Status::Warning, format!("{described} ({limits})"));
        } else {
            report.find("snapshot", Status::Ok, described);
        }
    }
}

fn assess_history(cx: &Context<'_>, report: &mut Report) {
    let thresholds = cx.thresholds;
    for (kind, name, max_age) in [
        (Kind::Verify, "verify", thresholds.max_verify_age),
        (Kind::Scrub, "scrub", thresholds.max_scrub_age),
        (Kind::Drill, "drill", thresholds.max_drill_age),
    ] {
        let runs: Vec<&Entry> =
            cx.history.iter().filter(|e| e.kind == kind && e.database == report.database).collect();
        let last = runs.iter().max_by_key(|e| e.time);
        let success = runs.iter().filter(|e| e.ok).max_by_key(|e| e.time);
        report.assurance.push(Assurance {
            kind,
            last_run: last.map(|e| e.time),
            last_ok: last.map(|e| e.ok),
            last_success: success.map(|e| e.time),
            last_success_duration_ms: success.map(|e| e.duration_ms),
        });
        // The latest evidence says the backup does not restore (or is damaged): whatever the
        // age thresholds, that is news a monitor must page on.
        if let Some(last) = last.filter(|e| !e.ok) {
            report.find(
                name,
                Status::Critical,
                format!(
                    "the last {name} failed, {} ago ({})",
                    span(seconds_between(last.time, cx.now)),
                    last.time
                ),
            );
            continue;
        }
        let Some(max_age) = max_age else {
            if let Some(success) = success {
                report.find(
                    name,
                    Status::Ok,
                    format!("passed {} ago", span(seconds_between(success.time, cx.now))),
                );
            }
            continue;
        };
        match success {
            None => report.find(
                name,
                Status::Warning,
                format!("no successful {name} on record (max age {})", span(max_age.as_secs_f64())),
            ),
            Some(success) => {
                let age = seconds_between(success.time, cx.now);
                let status = if age > max_age.as_secs_f64() { Status::Warning } else { Status::Ok };
                report.find(
                    name,
                    status,
                    format!("passed {} ago (max age {})", span(age), span(max_age.as_secs_f64())),
                );
            }
        }
    }
}

/// The newest TXID among the level-0 files the daemon keeps beside the database.
fn newest_local_txid(meta_path: &Path) -> Option<u64> {
    std::fs::read_dir(meta_path.join("ltx").join("0"))
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            cargo_litestream_ltx::parse_file_name(&e.file_name().to_string_lossy()).map(|(_, max)| max.0)
        })
        .max()
}

fn mtime(path: &Path) -> Option<Timestamp> {
    let modified: SystemTime = std::fs::metadata(path).ok()?.modified().ok()?;
    Timestamp::try_from(modified).ok()
}

fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    (to.as_nanosecond() - from.as_nanosecond()) as f64 / 1e9
}

/// `3m 12s`, `2h 5m`: a span as a person reads it (negative spans, from clock skew, as 0s).
pub fn span(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 10.0 {
        return format!("{seconds:.1}s");
    }
    let from = Timestamp::UNIX_EPOCH;
    backups::distance(from, from + jiff::SignedDuration::from_secs(seconds as i64))
}

/// The verdict over every database: the worst of theirs.
pub fn overall(reports: &[Report]) -> Status {
    reports.iter().map(|r| r.status).max().unwrap_or(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: Kind, ok: bool, time: &str) -> Entry {
        let mut e = Entry::new(kind, "default", ok, 1500, serde_json::Value::Null);
        e.time = time.parse().unwrap();
        e
    }

    fn file(level: u8, min: u64, max: u64, size: u64, created: &str) -> ReplicaFile {
        ReplicaFile { level, min_txid: min, max_txid: max, size, created: created.parse().unwrap() }
    }

    fn report() -> Report {
        Report::unchecked("default".into(), "/x/app.db".into(), Duration::ZERO)
    }

    fn context<'a>(
        thresholds: &'a CheckThresholds,
        history: &'a [Entry],
        env: &'a Env,
        daemon: &'a Result<Vec<Listed>, ControlError>,
    ) -> Context<'a> {
        Context {
            thresholds,
            snapshot_interval: Duration::from_secs(3600),
            socket: Path::new("/nowhere.sock"),
            daemon,
            history,
            litestream: None,
            env,
            timeout: Duration::from_secs(1),
            now: "2026-12-01T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn lag_counts_from_when_the_replica_last_advanced_once_the_wal_is_newer() {
        let env = Env::capture().unwrap();
        let daemon = Ok(Vec::new());
        let thresholds = CheckThresholds::default();
        let cx = context(&thresholds, &[], &env, &daemon);
        let files = [
            file(9, 1, 5, 4096, "2026-12-01T11:00:00Z"),
            file(0, 6, 9, 100, "2026-12-01T11:58:00Z"),
            // A compaction repeating TXID 9 later is not news of the database.
            file(1, 1, 9, 200, "2026-12-01T11:59:30Z"),
        ];
        let mut r = report();
        r.wal_mtime = Some("2026-12-01T11:59:59Z".parse().unwrap());
        assess_replica(&files, &cx, cx.now, &mut r);
        assert_eq!(r.lag_seconds, Some(120.0));
        assert_eq!(r.replica_txid, Some(9));
        assert_eq!(r.findings[0].status, Status::Critical, "{:?}", r.findings);
        assert_eq!(
            r.levels.iter().map(|l| (l.level, l.bytes)).collect::<Vec<_>>(),
            [(0, 100), (1, 200), (9, 4096)]
        );
        assert_eq!(r.recovery_window_start, Some("2026-12-01T11:00:00Z".parse().unwrap()));

        // Nothing written since: no lag, whatever the replica's age.
        let mut r = report();
        r.wal_mtime = Some("2026-12-01T11:57:59Z".parse().unwrap());
        r.local_txid = Some(9);
        assess_replica(&files, &cx, cx.now, &mut r);
        assert_eq!(r.lag_seconds, Some(0.0));
        assert_eq!(r.findings[0].status, Status::Ok);
        // … unless the daemon copied a TXID the replica lacks.
        let mut r = report();
        r.local_txid = Some(11);
        assess_replica(&files, &cx, cx.now, &mut r);
        assert_eq!((r.lag_seconds, r.txid_lag), (Some(120.0), Some(2)));
        // The snapshot is an hour old, twice the interval allowed: fine.
        assert_eq!(r.findings[1].status, Status::Ok, "{:?}", r.findings);
    }

    #[test]
    fn history_failures_are_critical_and_old_successes_warnings() {
        let env = Env::capture().unwrap();
        let daemon = Ok(Vec::new());
        let mut thresholds = CheckThresholds::default();
        thresholds.set("max-verify-age", "1h").unwrap();
        thresholds.set("max-scrub-age", "1h").unwrap();
        let history = [
            entry(Kind::Verify, true, "2026-12-01T09:00:00Z"),
            entry(Kind::Drill, true, "2026-12-01T09:00:00Z"),
            entry(Kind::Drill, false, "2026-12-01T10:00:00Z"),
        ];
        let cx = context(&thresholds, &history, &env, &daemon);
        let mut r = report();
        assess_history(&cx, &mut r);
        let statuses: Vec<_> = r.findings.iter().map(|f| (f.check, f.status)).collect();
        assert_eq!(
            statuses,
            [("verify", Status::Warning), ("scrub", Status::Warning), ("drill", Status::Critical)],
            "{:?}",
            r.findings
        );
        assert_eq!(r.assurance[2].last_success, Some("2026-12-01T09:00:00Z".parse().unwrap()));
        assert_eq!(r.assurance[2].last_ok, Some(false));
    }

    /// A commit after an idle spell is in flight, not lag: check looks once more, after
    /// `in_flight`, and sees it shipped; a replica that stays behind stays CRITICAL.
    #[test]
    fn a_commit_in_flight_is_looked_at_again() {
        let dir = tempfile::tempdir().unwrap();
        let (db, replica) = (dir.path().join("app.db"), dir.path().join("replica"));
        std::fs::write(&db, b"").unwrap();
        std::fs::write(dir.path().join("app.db-wal"), b"just committed").unwrap();
        let level0 = replica.join("ltx/0");
        std::fs::create_dir_all(&level0).unwrap();
        let old = std::fs::File::create(level0.join("0000000000000001-0000000000000001.ltx")).unwrap();
        old.set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
        let target = Target {
            name: "default".into(),
            path: db.clone(),
            meta_path: Target::default_meta_path(&db),
            store: Ok(Store::Folder(replica)),
            litestream_target: Vec::new(),
            in_flight: Duration::from_millis(500),
        };
        let env = Env::capture().unwrap();
        let daemon = Ok(Vec::new());
        let thresholds = CheckThresholds::default();
        let mut cx = context(&thresholds, &[], &env, &daemon);
        cx.now = Timestamp::now();

        let stalled = check(&target, &cx);
        let lag = stalled.findings.iter().find(|f| f.check == "lag").unwrap();
        assert_eq!(lag.status, Status::Critical, "{:?}", stalled.findings);
        assert!(lag.message.contains("still, looked again"), "{}", lag.message);

        std::fs::write(dir.path().join("app.db-wal"), b"committed again").unwrap();
        let shipper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(level0.join("0000000000000002-0000000000000002.ltx"), b"").unwrap();
        });
        cx.now = Timestamp::now();
        let shipped = check(&target, &cx);
        shipper.join().unwrap();
        let lag = shipped.findings.iter().find(|f| f.check == "lag").unwrap();
        assert_eq!((lag.status, shipped.lag_seconds), (Status::Ok, Some(0.0)), "{:?}", shipped.findings);
        assert!(lag.message.contains("a commit was in flight"), "{}", lag.message);
    }

    #[test]
    fn no_daemon_is_critical() {
        let env = Env::capture().unwrap();
        let daemon = control::list(Path::new("/nonexistent/none.sock"), Duration::from_secs(1));
        let thresholds = CheckThresholds::default();
        let cx = context(&thresholds, &[], &env, &daemon);
        let mut r = report();
        let target = Target {
            name: "default".into(),
            path: "/x/app.db".into(),
            meta_path: "/x/.app.db-litestream".into(),
            store: Err(NoNativeStore::Kind { kind: "none".into() }),
            litestream_target: Vec::new(),
            in_flight: Duration::from_secs(3),
        };
        assert!(!check_daemon(&target, &cx, &mut r));
        assert_eq!(r.findings[0].status, Status::Critical, "{:?}", r.findings);
        assert_eq!(Target::default_meta_path(Path::new("/x/app.db")), Path::new("/x/.app.db-litestream"));
    }
}
