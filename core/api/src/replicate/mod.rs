//! Replication from inside an application: [`restore_if_missing`] before the app opens its
//! database, [`spawn_replicate`] for the daemon's lifetime.
//!
//! What litestream-ruby's Puma plugin and the Elixir supervisor do, without their defects:
//!
//! - **No lost PID.** The [`ReplicateHandle`] owns the litestream child through a monitor thread
//!   that records its exit before reaping it; stopping signals only a live child, and dropping
//!   the handle stops it (a handle cannot be leaked by accident into "replication keeps running
//!   with nobody to stop it", short of `std::mem::forget`).
//! - **No orphan.** On Linux litestream gets SIGTERM from the kernel when the application dies,
//!   however it dies (`PR_SET_PDEATHSIG`, even after `kill -9`), and exits. (The kernel may send
//!   it more than once, as the dying application's threads exit one by one, and a second SIGTERM
//!   makes litestream 0.5.17 skip its shutdown sync: what it had not shipped yet stays in the
//!   database's WAL and is shipped by the next replication.) It runs in a process group of its
//!   own, so a terminal's Ctrl-C reaches only the application, which then stops replication
//!   *after* its own last writes. On macOS and other Unix systems there is no parent-death
//!   signal: an application killed with SIGKILL leaves its litestream running.
//! - **Nothing lost at the edges.** Litestream opens databases only on its first tick (one
//!   second after start) and a SIGTERM before that replicates nothing; so the handle is returned
//!   only once the control socket answers and a first `sync -wait` of every database succeeded,
//!   and stopping runs a final `sync -wait` before the SIGTERM.
//! - **One replicator per database.** The same lock as `cargo litestream replicate`, shared with
//!   the litestream child (Linux: an open-file-description lock), so the CLI refuses to start a
//!   second replicator next to the application's and vice versa.
//!
//! Needs the control socket (on by default in the generated configuration) and a Unix system.
//!
//! `cargo litestream replicate` shares this module: [`plan`] (what a run locks and runs, for
//! the project, a `-config FILE` or a single database), [`supervise`] (`-exec CMD`), [`guard`]
//! (the WAL guard of a litestream started by `exec`), and [`prepare_start`], the steps every
//! start of litestream as a child takes, `spawn_replicate`'s included.

pub mod exec;
#[cfg(unix)]
pub mod guard;
pub mod plan;
#[cfg(unix)]
pub mod supervise;
#[cfg_attr(not(unix), allow(dead_code))]
mod words;

pub use words::CommandLineError;

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cargo_litestream_config::OrphanedSidecars;
use cargo_litestream_config::{ConfigError, Env, Generate, Location, Project, parse_go_duration};
use cargo_litestream_runner::Litestream;
use cargo_litestream_runner::lock::{LockError, ReplicaClaim, ReplicateLock, replicator};
use serde::Serialize;

use crate::child::{Child, ChildOptions, ExitWatch, signal};
use crate::control::{self, ControlError};
use crate::process::{BoundedError, last_error_line, output_within};
use crate::wal::{WalGuard, WalState};

/// What can go wrong starting, running or stopping replication.
#[derive(Debug, thiserror::Error)]
pub enum ReplicateError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error(
        "the control socket is disabled (socket.enabled = false in {manifest}); replication started from an application needs it to know when its writes reached the replica: remove that setting"
    )]
    SocketDisabled { manifest: PathBuf },

    #[error(transparent)]
    Locked(#[from] LockError),

    #[error(transparent)]
    Owner(#[from] crate::owner::OwnerError),

    /// The project configures no database: litestream would replicate nothing, silently.
    #[error(
        "nothing to replicate: {} configures no database{}; add one to [{table}.databases] (e.g. `default = \"data/app.db\"`) \
         or set DATABASE_URL to a SQLite file",
        manifest.display(),
        database_url_problem.as_deref().map(|p| format!(" ({p})")).unwrap_or_default()
    )]
    NothingToReplicate { manifest: PathBuf, table: String, database_url_problem: Option<String> },

    /// A database configured by a symlink, whose WAL litestream would never find.
    #[error(transparent)]
    Symlinked(cargo_litestream_config::SymlinkedDatabase),

    /// A database absent beside its old `-wal`/`-shm` files (`-restore-if-db-not-exists`).
    #[error(transparent)]
    Orphans(OrphanedSidecars),

    #[error(transparent)]
    Plan(Box<plan::PlanError>),

    #[error(
        "a Litestream daemon already answers on {}; a second replicator would corrupt the replica: stop that one first (`cargo litestream info` shows its PID)",
        socket.display()
    )]
    DaemonRunning { socket: PathBuf },

    #[error("could not start `{}`: {source}", program.display())]
    Spawn { program: PathBuf, source: std::io::Error },

    #[error("litestream exited while starting ({status}); its error is on stderr")]
    ExitedAtStart { status: ExitStatus },

    #[error(
        "litestream's control socket {} did not answer within {} s; check the socket path (at most {} bytes here) and litestream's log",
        socket.display(),
        timeout.as_secs(),
        cargo_litestream_config::MAX_SOCKET_PATH
    )]
    NotReady { socket: PathBuf, timeout: Duration },

    #[error("the first sync did not complete")]
    FirstSync {
        #[source]
        source: SyncAllError,
    },

    #[error(transparent)]
    Sync(SyncAllError),

    /// `-wal`/`-shm` files without their database: a restore beside them would be read with
    /// them.
    #[error("could not restore {}: {orphans}", orphans.database.display())]
    OrphanedSidecars { orphans: OrphanedSidecars },
    /// Another process replicates the database.
    #[error(
        "could not restore {}: it is being replicated{by}; a restore now would confuse that replicator: stop it first",
        database.display()
    )]
    BeingReplicated { database: PathBuf, by: String },
    /// `litestream restore` did not finish within `RestoreOptions::timeout`.
    #[error(
        "could not restore {}: the restore did not finish within {} s (raise RestoreOptions::timeout for a large database)",
        database.display(),
        after.as_secs()
    )]
    RestoreTimedOut { database: PathBuf, after: Duration },
    /// `litestream restore` could not be started.
    #[error("could not restore {}: could not start `{program}`", database.display())]
    RestoreSpawn { database: PathBuf, program: String, source: std::io::Error },
    /// `litestream restore` failed: its last error line.
    #[error("could not restore {}: {stderr}", database.display())]
    RestoreFailed { database: PathBuf, stderr: String },
}

impl From<plan::PlanError> for ReplicateError {
    fn from(error: plan::PlanError) -> ReplicateError {
        ReplicateError::Plan(Box::new(error))
    }
}

/// Where litestream's log goes.
#[derive(Clone, Debug, Default)]
pub enum LogOutput {
    /// The application's own stderr (the generated config logs to stderr).
    #[default]
    Inherit,
    /// Discarded.
    Null,
    /// Appended to this file.
    File(PathBuf),
}

/// How to run replication.
#[derive(Clone, Debug)]
pub struct ReplicateOptions {
    /// How long to wait for the control socket and the first sync of every database.
    pub startup_timeout: Duration,
    /// Fail (and stop litestream) when the first sync does not complete within
    /// `startup_timeout`, e.g. the replica is unreachable. With `false` the handle is returned
    /// anyway and [`ReplicateHandle::first_sync`] holds the error: replication catches up once
    /// the replica is reachable.
    pub require_first_sync: bool,
    /// The bound on the final `sync -wait` when stopping. Default: the configuration's
    /// `shutdown-sync-timeout`, else 30 s (Litestream's default).
    pub sync_timeout: Option<Duration>,
    /// How long litestream may take to exit after SIGTERM before it is killed (SIGKILL).
    /// Default: `sync_timeout` + 10 s.
    pub stop_grace: Option<Duration>,
    /// `-log-level`.
    pub log_level: Option<String>,
    pub log: LogOutput,
}

impl Default for ReplicateOptions {
    fn default() -> ReplicateOptions {
        ReplicateOptions {
            startup_timeout: Duration::from_secs(30),
            require_first_sync: true,
            sync_timeout: None,
            stop_grace: None,
            log_level: None,
            log: LogOutput::Inherit,
        }
    }
}

/// One database synced to its replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Synced {
    pub path: PathBuf,
    /// The database's TXID.
    pub txid: u64,
    /// The replica's TXID after the sync (equal to `txid` when the replica has everything).
    pub replica_txid: u64,
}

/// How a replication run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicateExit {
    pub status: ExitStatus,
    /// `true` when the handle stopped it; `false` when litestream died on its own (a crash,
    /// a `kill`, a configuration error): replication is down.
    pub requested: bool,
}

/// Observes the litestream of a [`ReplicateHandle`] from another thread or task.
#[derive(Clone, Debug)]
pub struct ReplicateWatch {
    exit: ExitWatch,
    stopping: Arc<AtomicBool>,
}

impl ReplicateWatch {
    /// Blocks until litestream has exited. Run it on a thread (or `spawn_blocking`) to learn
    /// that replication died: [`ReplicateExit::requested`] is `false` then.
    pub fn wait(&self) -> ReplicateExit {
        let status = self.exit.wait();
        ReplicateExit { status, requested: self.stopping.load(Ordering::SeqCst) }
    }

    /// [`ReplicateWatch::wait`], bounded.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ReplicateExit> {
        let status = self.exit.wait_timeout(timeout)?;
        Some(ReplicateExit { status, requested: self.stopping.load(Ordering::SeqCst) })
    }

    /// The exit, if litestream has exited.
    pub fn exited(&self) -> Option<ReplicateExit> {
        self.wait_timeout(Duration::ZERO)
    }
}

/// What stopping found.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    /// The final `sync -wait` of every database before the SIGTERM (an error when litestream
    /// had already died, or the replica could not be reached in time).
    pub final_sync: Result<Vec<Synced>, SyncAllError>,
    /// Litestream did not exit within the grace period and was killed (its last writes may
    /// not have been replicated).
    pub killed: bool,
    /// Litestream had died before the stop was requested.
    pub died_before: bool,
}

/// A running `litestream replicate` for a project. Stop it with [`ReplicateHandle::stop`];
/// dropping it stops it too (blocking, bounded by the sync timeout and the grace period).
#[derive(Debug)]
pub struct ReplicateHandle {
    child: Child,
    socket: PathBuf,
    stopping: Arc<AtomicBool>,
    sync_timeout: Duration,
    stop_grace: Duration,
    first_sync: Result<Vec<Synced>, SyncAllError>,
    wal_reports: Vec<WalReport>,
    /// The project's scheduled verify, scrub and drill; stopped before litestream is.
    assurance: Option<crate::assurance::Assurance>,
    /// `/metrics` (the project's `metrics-addr`), stopped with the schedule.
    metrics: Option<crate::metrics::MetricsServer>,
    /// Released after litestream has exited (dropped last).
    _lock: ReplicateLock,
    stopped: bool,
}

/// Starts `litestream replicate` for every database of `project` and returns once it is ready:
/// its control socket answers and every existing database has been synced once.
///
/// ```no_run
/// use cargo_litestream_api::{ReplicateOptions, locate_litestream, restore_if_missing, spawn_replicate};
/// use cargo_litestream_api::config::Env;
///
/// let env = Env::capture()?;
/// let project = cargo_litestream_api::manifest!().load(&env)?;
/// let litestream = locate_litestream(&project, &env)?;
/// restore_if_missing(&project, &env, &litestream, &Default::default())?;
/// // … open the application's pool here …
/// let replication = spawn_replicate(&project, &env, &litestream, &ReplicateOptions::default())?;
/// // … serve …
/// let stopped = replication.stop()?; // final sync, SIGTERM, bounded wait
/// assert!(stopped.final_sync.is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn_replicate(
    project: &Project,
    env: &Env,
    litestream: &Litestream,
    options: &ReplicateOptions,
) -> Result<ReplicateHandle, ReplicateError> {
    if !project.socket_enabled() {
        return Err(ReplicateError::SocketDisabled { manifest: project.manifest_path.clone() });
    }
    refuse_unreplicable(project)?;
    let socket = project.socket_path(env);
    let started = prepare_start(
        Some(project),
        &database_locations(project),
        &plan::Replicas::of_project(project, env),
        Some(&socket),
        env,
    )?;
    // Unchecked S3 records are warnings a library has no shell for: the lock still holds.
    let (lock, wal_reports, wal_guards) = (started.lock, started.wal_reports, started.wal_guards);
    let config = project.supervised_config_path();
    project.write_config(&config, env, Generate { omit_exec: true, ..Generate::default() })?;

    let mut command = litestream.command(env);
    command.arg("replicate").arg("-config").arg(&config);
    if let Some(level) = &options.log_level {
        command.arg("-log-level").arg(level);
    }
    command.stdin(Stdio::null());
    match &options.log {
        LogOutput::Inherit => {}
        LogOutput::Null => {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        LogOutput::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| ReplicateError::Spawn { program: path.clone(), source })?;
            let copy =
                file.try_clone().map_err(|source| ReplicateError::Spawn { program: path.clone(), source })?;
            command.stdout(copy).stderr(file);
        }
    }
    let child = start_litestream(command, &lock, litestream)?;

    let sync_timeout = options.sync_timeout.unwrap_or_else(|| shutdown_sync_timeout(project));
    let stop_grace = options.stop_grace.unwrap_or(sync_timeout + Duration::from_secs(10));
    let deadline = Instant::now() + options.startup_timeout;
    // No handle yet: nothing else has seen this litestream, so a start that fails stops it here.
    if let Err(error) = wait_ready(&socket, &child.watch(), options.startup_timeout) {
        child.stop(signal::SIGTERM, stop_grace);
        return Err(error);
    }
    let first_sync = sync_all(&socket, deadline.saturating_duration_since(Instant::now()));
    // Litestream holds its own read lock now (or the first sync failed and it opens the
    // databases on its first tick): the WALs need no more guarding.
    drop(wal_guards);
    let first_sync = match first_sync {
        Err(source) if options.require_first_sync => {
            child.stop(signal::SIGTERM, stop_grace);
            return Err(ReplicateError::FirstSync { source });
        }
        done => done,
    };
    let mut handle = ReplicateHandle {
        child,
        socket,
        stopping: Arc::new(AtomicBool::new(false)),
        sync_timeout,
        stop_grace,
        first_sync,
        wal_reports,
        assurance: None,
        metrics: None,
        _lock: lock,
        stopped: false,
    };
    handle.assurance = crate::assurance::start(project, env, litestream, assurance_log(&options.log));
    if let Some(addr) = &project.metrics_addr {
        // Replication matters more than its metrics: a port taken is a line of the log.
        match crate::metrics::serve(project, env, litestream, addr) {
            Ok(server) => handle.metrics = Some(server),
            Err(error) => assurance_log(&options.log)(&format!("metrics-addr {addr}: not served: {error}")),
        }
    }
    Ok(handle)
}

/// Where scheduled checks log their lines: with litestream's log.
fn assurance_log(log: &LogOutput) -> Box<dyn Fn(&str) + Send> {
    match log {
        LogOutput::Inherit => Box::new(|line| eprintln!("cargo-litestream: {line}")),
        LogOutput::Null => Box::new(|_| {}),
        LogOutput::File(path) => {
            let path = path.clone();
            Box::new(move |line| {
                use std::io::Write as _;
                if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(&path) {
                    let _ = writeln!(file, "cargo-litestream: {line}");
                }
            })
        }
    }
}

/// What is held and known once litestream may be started as a child.
pub struct Started {
    /// The replicate lock, shared with the child-to-be (hand it to [`start_litestream`]).
    pub lock: ReplicateLock,
    /// The S3 owner records that could not be checked (warnings).
    pub unchecked_owners: Vec<String>,
    /// What the WAL check did for each database.
    pub wal_reports: Vec<WalReport>,
    /// Held until litestream's first sync covered the databases.
    pub wal_guards: Vec<WalGuard>,
}

/// The steps before litestream starts as a child (`replicate -exec` and [`spawn_replicate`]):
/// the replicate lock of `lock_paths` and the replica locations (shared with the child), no
/// live daemon on `live_socket` (when given), the replicas' owner records, the WAL check.
pub fn prepare_start(
    project: Option<&Project>,
    lock_paths: &[PathBuf],
    replicas: &plan::Replicas,
    live_socket: Option<&Path>,
    env: &Env,
) -> Result<Started, ReplicateError> {
    let lock = ReplicateLock::acquire_shared(lock_paths.iter().map(PathBuf::as_path), &replicas.claims)?;
    if let Some(socket) = live_socket {
        refuse_live_socket(socket)?;
    }
    let unchecked_owners = crate::owner::claim_all(&replicas.files, env)?;
    let (wal_reports, wal_guards) = close_wal_gaps(project, lock_paths);
    Ok(Started { lock, unchecked_owners, wal_reports, wal_guards })
}

/// A socket that accepts a connection belongs to a live daemon (one not started by this tool,
/// or it would hold the lock). A socket file that refuses is left by a killed one (gotcha 25):
/// Litestream replaces it.
pub fn refuse_live_socket(socket: &Path) -> Result<(), ReplicateError> {
    if socket_answers(socket) {
        return Err(ReplicateError::DaemonRunning { socket: socket.to_path_buf() });
    }
    Ok(())
}

/// Starts litestream as a child that shares the replicate lock, lives in its own process
/// group, and gets SIGTERM when this process dies (Linux).
pub fn start_litestream(
    command: std::process::Command,
    lock: &ReplicateLock,
    litestream: &Litestream,
) -> Result<Child, ReplicateError> {
    let options = ChildOptions {
        own_process_group: true,
        parent_death_signal: Some(signal::SIGTERM),
        keep_fds: inheritable_fds(lock),
    };
    let child = Child::spawn(command, options, None)
        .map_err(|source| ReplicateError::Spawn { program: litestream.path.clone(), source })?;
    lock.record_holder(child.pid());
    Ok(child)
}

#[cfg(unix)]
fn inheritable_fds(lock: &ReplicateLock) -> Vec<i32> {
    lock.inheritable_fds()
}

#[cfg(not(unix))]
fn inheritable_fds(_: &ReplicateLock) -> Vec<i32> {
    Vec::new()
}

impl ReplicateHandle {
    /// Litestream's process ID.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The control socket it answers on (`cargo litestream info`, `sync`, `verify` use it).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The first sync's result (always `Ok` when `require_first_sync` was set).
    pub fn first_sync(&self) -> &Result<Vec<Synced>, SyncAllError> {
        &self.first_sync
    }

    /// What the check of each database's WAL did before litestream started: a WAL restarted
    /// while nothing replicated it is checkpointed, so litestream starts with a snapshot
    /// ([`crate::wal`]). Worth logging when it is not `Empty` or `Continuous`.
    pub fn wal_reports(&self) -> &[WalReport] {
        &self.wal_reports
    }

    /// Syncs every database now and waits until the replica has it (`sync -wait`).
    pub fn sync(&self, timeout: Duration) -> Result<Vec<Synced>, ReplicateError> {
        sync_all(&self.socket, timeout).map_err(ReplicateError::Sync)
    }

    /// A watcher that reports when litestream exits, usable from another thread.
    pub fn watch(&self) -> ReplicateWatch {
        ReplicateWatch { exit: self.child.watch(), stopping: Arc::clone(&self.stopping) }
    }

    /// `Some` once litestream has exited; `requested` is `false` when it died on its own.
    pub fn exited(&self) -> Option<ReplicateExit> {
        self.watch().exited()
    }

    /// Stops replication gracefully: a final `sync -wait` of every database (bounded), SIGTERM,
    /// litestream's own shutdown sync, then SIGKILL if it has not exited within the grace period.
    /// Where `/metrics` is served (the project's `metrics-addr`), when it is.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(crate::metrics::MetricsServer::addr)
    }

    pub fn stop(mut self) -> Result<Stopped, ReplicateError> {
        Ok(self.shutdown())
    }

    fn shutdown(&mut self) -> Stopped {
        self.stopped = true;
        // No check starts any more; one in progress ends first (it may need the daemon).
        drop(self.assurance.take());
        drop(self.metrics.take());
        let died_before = self.child.try_status().is_some();
        self.stopping.store(true, Ordering::SeqCst);
        let final_sync = if died_before {
            Err(SyncAllError::NotRunning)
        } else {
            sync_all(&self.socket, self.sync_timeout)
        };
        let (status, killed) = self.child.stop(signal::SIGTERM, self.stop_grace);
        Stopped { status, final_sync, killed, died_before }
    }
}

impl Drop for ReplicateHandle {
    fn drop(&mut self) {
        if !self.stopped {
            self.shutdown();
        }
    }
}

/// Why a sync of every database failed, or was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncAllError {
    /// The daemon could not be asked for its databases.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// Some databases did not sync.
    #[error("{}", failures.iter().map(SyncFailure::to_string).collect::<Vec<_>>().join("; "))]
    Failed { failures: Vec<SyncFailure> },
    /// Litestream had exited before the sync was asked for.
    #[error("litestream was not running")]
    NotRunning,
    /// Litestream exited, or the deadline passed, before its control socket answered.
    #[error("litestream never answered on {}", socket.display())]
    NeverAnswered { socket: PathBuf },
}

/// One database that did not sync, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", path.display())]
#[non_exhaustive]
pub struct SyncFailure {
    pub path: PathBuf,
    pub error: ControlError,
}

/// `sync -wait` of every database the daemon on `socket` replicates and that exists, bounded by
/// `timeout` in all. A database without a file yet (the application has not created it) or
/// without data has nothing to replicate and is skipped.
pub fn sync_all(socket: &Path, timeout: Duration) -> Result<Vec<Synced>, SyncAllError> {
    let deadline = Instant::now() + timeout;
    let remaining = || deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let listed = control::list(socket, remaining())?;
    let mut synced = Vec::new();
    let mut failures = Vec::new();
    for db in listed {
        if db.status == "stopped" || !db.path.is_file() {
            continue;
        }
        match control::sync_wait(socket, &db.path, remaining()) {
            Ok(reply) => {
                synced.push(Synced { path: db.path, txid: reply.txid, replica_txid: reply.replica_txid })
            }
            // An empty file (created, nothing written yet): nothing to replicate.
            Err(ControlError::Refused { message, .. }) if message.contains("no position") => {}
            Err(error) => failures.push(SyncFailure { path: db.path, error }),
        }
    }
    if failures.is_empty() { Ok(synced) } else { Err(SyncAllError::Failed { failures }) }
}

/// Waits until the control socket answers, giving up when litestream exits or the deadline
/// passes. Litestream opens every database (and restores missing ones when asked to) before it
/// starts the control server, so an answer means it is ready.
pub fn wait_ready(socket: &Path, litestream: &ExitWatch, timeout: Duration) -> Result<(), ReplicateError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(status) = litestream.try_status() {
            return Err(ReplicateError::ExitedAtStart { status });
        }
        if control::list(socket, Duration::from_secs(5)).is_ok() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ReplicateError::NotReady { socket: socket.to_path_buf(), timeout });
        }
        // Nothing to wait on but the socket itself: a short, growing pause (at most 100 ms);
        // an exit ends the wait at once.
        if litestream.wait_timeout(pause.min(deadline - now)).is_some() {
            continue;
        }
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Whether something accepts connections on `socket` (a live daemon; a killed one leaves a file
/// that refuses).
pub fn socket_answers(socket: &Path) -> bool {
    #[cfg(unix)]
    {
        socket.exists() && std::os::unix::net::UnixStream::connect(socket).is_ok()
    }
    #[cfg(not(unix))]
    {
        let _ = socket;
        false
    }
}

/// The files and folders of every configured database (what the replicate lock covers).
pub fn database_locations(project: &Project) -> Vec<PathBuf> {
    project.databases.iter().map(|db| db.location.path().to_path_buf()).collect()
}

/// Each database's replica location, for the machine-wide lock beside the database locks.
pub fn replica_claims(project: &Project, env: &Env) -> Vec<ReplicaClaim> {
    project
        .databases
        .iter()
        .map(|db| ReplicaClaim {
            database: db.location.path().to_path_buf(),
            location: cargo_litestream_config::replica_location(&db.replica, &project.globals, env),
        })
        .collect()
}

/// `(database, place)` of every database whose replica can hold an owner record: a `file`
/// replica's folder, an S3 replica with credentials at hand ([`crate::owner`]).
pub fn owner_places(project: &Project, env: &Env) -> Vec<(PathBuf, crate::owner::Place)> {
    project
        .databases
        .iter()
        .filter_map(|db| {
            Some((
                db.location.path().to_path_buf(),
                crate::owner::place_of(&db.replica, &project.globals, env)?,
            ))
        })
        .collect()
}

/// A project with no database, or one whose WAL litestream would never find (a symlink), would
/// run a litestream that replicates nothing, silently: refused.
pub fn refuse_unreplicable(project: &Project) -> Result<(), ReplicateError> {
    if project.databases.is_empty() {
        return Err(nothing_to_replicate(project));
    }
    match project
        .databases
        .iter()
        .filter_map(|db| db.path())
        .find_map(cargo_litestream_config::symlinked_database)
    {
        Some(symlinked) => Err(ReplicateError::Symlinked(symlinked)),
        None => Ok(()),
    }
}

/// `-restore-if-db-not-exists` restores a missing database beside whatever `-wal`/`-shm` it
/// left, and the first open applies that old WAL over the restored file: refused, nothing run.
pub fn refuse_orphaned_sidecars(databases: &[PathBuf]) -> Result<(), ReplicateError> {
    let hint = ", or restore it first with `cargo litestream restore -force`";
    match databases.iter().find_map(|database| OrphanedSidecars::of(database, hint)) {
        Some(orphans) => Err(ReplicateError::Orphans(orphans)),
        None => Ok(()),
    }
}

/// [`ReplicateError::NothingToReplicate`] for `project` (replicate, spawn_replicate
/// and doctor refuse such a project: litestream would run and replicate nothing).
pub fn nothing_to_replicate(project: &Project) -> ReplicateError {
    ReplicateError::NothingToReplicate {
        manifest: project.manifest_path.clone(),
        table: project.source.table_name().to_string(),
        database_url_problem: project.database_url_problem.clone(),
    }
}

/// What the WAL check ([`crate::wal`]) found for one database before litestream started.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct WalReport {
    pub path: PathBuf,
    pub state: Result<WalState, String>,
}

/// How long the pre-start checkpoint waits for the application's transactions.
const WAL_CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(5);

/// Before litestream starts (the replicate lock held): for each database file in `databases`,
/// checkpoints a WAL restarted while nothing replicated it, so that litestream starts with a
/// snapshot instead of skipping commits ([`crate::wal`] says why). `project` gives each
/// database's `meta-path`; without it (a user's own `-config`), Litestream's default.
///
/// The guards returned keep each continuous WAL from being restarted until litestream has
/// opened the database: drop them after its first sync.
pub fn close_wal_gaps(project: Option<&Project>, databases: &[PathBuf]) -> (Vec<WalReport>, Vec<WalGuard>) {
    databases
        .iter()
        .flat_map(|path| wal_targets(project, path))
        .map(|(path, meta)| match crate::wal::close_gap(&path, &meta, WAL_CHECKPOINT_TIMEOUT) {
            Ok((state, guard)) => (WalReport { path, state: Ok(state) }, Some(guard)),
            Err(error) => (WalReport { path, state: Err(error.to_string()) }, None),
        })
        .fold((Vec::new(), Vec::new()), |(mut reports, mut guards), (report, guard)| {
            reports.push(report);
            guards.extend(guard);
            (reports, guards)
        })
}

/// The database files a location stands for, each with Litestream's state folder for it: the
/// file itself, or, for a `dir` entry's folder, every database Litestream's scan will find there
/// (with the state folder `newDBFromDirectoryEntry` gives it). A missing file has no WAL to check.
fn wal_targets(project: Option<&Project>, location: &Path) -> Vec<(PathBuf, PathBuf)> {
    let meta_of = |db: &cargo_litestream_config::Database, path: &Path| {
        db.options
            .get("meta-path")
            .and_then(|v| v.as_str())
            .map_or_else(|| crate::wal::default_meta_dir(path), PathBuf::from)
    };
    if location.is_file() {
        let meta = project
            .and_then(|p| p.databases.iter().find(|db| db.path() == Some(location)))
            .map_or_else(|| crate::wal::default_meta_dir(location), |db| meta_of(db, location));
        return vec![(location.to_path_buf(), meta)];
    }
    let Some(project) = project else { return Vec::new() };
    let Some(entry) =
        project.databases.iter().find(|db| db.location == Location::Dir(location.to_path_buf()))
    else {
        return Vec::new();
    };
    entry
        .dir_databases()
        .into_iter()
        .filter_map(|path| {
            let member = project.dir_member(&path).ok()??.database();
            let meta = meta_of(&member, &path);
            Some((path, meta))
        })
        .collect()
}

/// For a litestream started by `exec` (which cannot inherit the guards): keeps `guards` until
/// litestream answers on `socket` and every database has been synced once, then drops them.
/// Bounded by `timeout`; gives up early when `litestream_alive` says it has gone.
pub fn hold_until_first_sync(
    guards: Vec<WalGuard>,
    socket: &Path,
    timeout: Duration,
    litestream_alive: impl Fn() -> bool,
) -> Result<usize, SyncAllError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    while control::list(socket, Duration::from_secs(5)).is_err() {
        if !litestream_alive() || Instant::now() >= deadline {
            return Err(SyncAllError::NeverAnswered { socket: socket.to_path_buf() });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
    let synced = sync_all(socket, deadline.saturating_duration_since(Instant::now()));
    drop(guards);
    synced.map(|s| s.len())
}

/// The one line each report that did something deserves (a status or a warning).
pub fn print_wal_reports(reports: &[WalReport], shell: &cargo_litestream_shell::Shell) {
    for report in reports {
        let path = report.path.display();
        match &report.state {
            Ok(WalState::Empty | WalState::Continuous) => {}
            Ok(WalState::Checkpointed { why }) => shell.status(
                "Checkpointed",
                format!("{path}: {why}, so litestream starts with a full snapshot (no commit is skipped)"),
            ),
            Ok(WalState::Busy { why }) => shell.warn(format!(
                "{path}: {why}, and the checkpoint that makes litestream take a snapshot could not finish within {} s (a long transaction of the application?): commits made while litestream was not running may be missing from the backup until its next snapshot",
                WAL_CHECKPOINT_TIMEOUT.as_secs()
            )),
            Err(error) => shell.warn(format!(
                "{path}: could not check the WAL before starting litestream ({error}); commits made while it was not running may be missing from the backup until its next snapshot"
            )),
        }
    }
}

/// The configuration's `shutdown-sync-timeout`, else Litestream's default of 30 s.
pub fn shutdown_sync_timeout(project: &Project) -> Duration {
    project
        .globals
        .get("shutdown-sync-timeout")
        .and_then(|v| v.as_str())
        .and_then(parse_go_duration)
        .unwrap_or(Duration::from_secs(30))
}

/// How to restore.
#[derive(Clone, Debug)]
pub struct RestoreOptions {
    /// The bound on each restore (a large database from a slow replica takes a while).
    pub timeout: Duration,
}

impl Default for RestoreOptions {
    fn default() -> RestoreOptions {
        RestoreOptions { timeout: Duration::from_secs(600) }
    }
}

/// What [`restore_if_missing`] did for one database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum RestoreAction {
    /// The file was absent and has been restored from the replica's latest backup.
    Restored,
    /// The file exists: left untouched.
    Present,
    /// The file was absent and the replica holds no backup: nothing was created (the app
    /// starts with a fresh database).
    NoBackup,
    /// Not a single file (`dir` mode): not handled here; use `-restore-if-db-not-exists`.
    Skipped { reason: String },
}

/// One database's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// The alias, else the path.
    pub database: String,
    pub path: PathBuf,
    #[serde(flatten)]
    pub action: RestoreAction,
}

/// Restores every configured database whose file is absent from its replica, when the replica
/// has a backup. Present files are never touched; a replica without a backup restores nothing
/// and is no error. Call it before the application opens its pool.
///
/// Refuses (an error, nothing changed) a database that is absent while a replicator holds its
/// lock, and one whose `-wal`/`-shm`/`-journal` files are left over without the database
/// (Litestream 0.5.17 would restore beside them, and the first open would apply that old WAL
/// over the restored file; deleting them is the user's call).
pub fn restore_if_missing(
    project: &Project,
    env: &Env,
    litestream: &Litestream,
    options: &RestoreOptions,
) -> Result<Vec<RestoreReport>, ReplicateError> {
    let mut reports = Vec::new();
    let mut config: Option<PathBuf> = None;
    for db in &project.databases {
        let Location::File(path) = &db.location else {
            reports.push(RestoreReport {
                database: db.name(),
                path: db.location.path().to_path_buf(),
                action: RestoreAction::Skipped {
                    reason: "a `dir` entry: restore its databases with `replicate -restore-if-db-not-exists`"
                        .to_owned(),
                },
            });
            continue;
        };
        let report = |action| RestoreReport { database: db.name(), path: path.clone(), action };
        if path.symlink_metadata().is_ok() {
            reports.push(report(RestoreAction::Present));
            continue;
        }
        if let Some(orphans) = OrphanedSidecars::of(path, "") {
            return Err(ReplicateError::OrphanedSidecars { orphans });
        }
        if let Some(holder) = replicator(path) {
            return Err(ReplicateError::BeingReplicated { database: path.clone(), by: holder.by() });
        }
        let config_path = match &config {
            Some(path) => path.clone(),
            None => {
                let path = project.config_path();
                project.write_config(&path, env, Generate::default())?;
                config = Some(path.clone());
                path
            }
        };
        let mut command = litestream.command(env);
        command
            .arg("restore")
            .arg("-config")
            .arg(&config_path)
            .arg("-if-db-not-exists")
            .arg("-if-replica-exists")
            .arg(path);
        let done = match output_within(&mut command, None, options.timeout) {
            Ok(done) => done,
            Err(BoundedError::TimedOut(after)) => {
                return Err(ReplicateError::RestoreTimedOut { database: path.clone(), after });
            }
            Err(BoundedError::Spawn { program, source }) => {
                return Err(ReplicateError::RestoreSpawn { database: path.clone(), program, source });
            }
        };
        if !done.status.success() {
            let stderr = last_error_line(&done.stderr);
            return Err(ReplicateError::RestoreFailed { database: path.clone(), stderr });
        }
        let action = if path.is_file() { RestoreAction::Restored } else { RestoreAction::NoBackup };
        reports.push(report(action));
    }
    Ok(reports)
}

/// The litestream binary for `project`, found as `cargo litestream` finds it: `bin-path`, else
/// `CARGO_LITESTREAM_BIN` (the user's own, used as is), else the sha256-pinned managed binary:
/// from the cache, adopted from a `litestream` on `PATH` whose hash equals the pin, or
/// downloaded and verified (not with `CARGO_NET_OFFLINE=true`). Nothing unverified runs.
///
/// A deployed application is best given its binary explicitly (the one
/// `cargo litestream install --to DIR` verified, via `bin-path` or `CARGO_LITESTREAM_BIN`), so
/// that starting never depends on the network.
pub fn locate_litestream(
    project: &Project,
    env: &Env,
) -> Result<Litestream, cargo_litestream_runner::RunnerError> {
    let shell = cargo_litestream_shell::Shell::quiet();
    let fetcher = cargo_litestream_fetch::Fetcher::new(env, &shell, env.flag("CARGO_NET_OFFLINE"));
    Litestream::locate(Some(project), &fetcher)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ReplicateError, SyncAllError, SyncFailure, plan::one_line};
    use crate::control::ControlError;

    #[test]
    fn each_database_that_did_not_sync_is_named_with_its_reason() {
        let failures = vec![
            SyncFailure { path: "/a.db".into(), error: ControlError::TimedOut(Duration::from_secs(3)) },
            SyncFailure {
                path: "/b.db".into(),
                error: ControlError::Refused { status: 500, message: "replica unreachable".into() },
            },
        ];
        let error = SyncAllError::Failed { failures };
        assert_eq!(error.to_string(), "/a.db: timed out after 3 s; /b.db: replica unreachable");
    }

    #[test]
    fn a_failed_first_sync_carries_its_cause_and_prints_it_once() {
        let error = ReplicateError::FirstSync { source: SyncAllError::NotRunning };
        assert_eq!(error.to_string(), "the first sync did not complete");
        assert!(matches!(
            std::error::Error::source(&error).and_then(|s| s.downcast_ref()),
            Some(SyncAllError::NotRunning)
        ));
        assert_eq!(one_line(&error), "the first sync did not complete: litestream was not running");
    }
}
