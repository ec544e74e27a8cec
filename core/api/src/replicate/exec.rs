//! Plain `cargo litestream replicate`: everything before the process becomes litestream by
//! `exec` (on Unix; elsewhere litestream runs as a child and its exit is the exit).
//!
//! The replicate lock (a record lock litestream keeps across `exec` and the kernel drops when
//! it dies), no live daemon on the project's socket, the replicas' owner records, and the WAL
//! check, whose guard a helper process holds across the `exec` until litestream's first sync
//! ([`guard`](super::guard)), through the socket [`plan::plain`] chooses.

use std::ffi::OsString;
use std::path::PathBuf;

use cargo_litestream_config::{Env, Project};
use cargo_litestream_runner::lock::ReplicateLock;
use cargo_litestream_shell::Shell;

use super::plan::{self, Source};
use super::{ReplicateError, refuse_live_socket, refuse_orphaned_sidecars};

/// What plain `replicate` asks for, besides its [`Source`].
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    /// litestream's argv as the command line gave it (`replicate …`).
    pub args: Vec<OsString>,
    pub no_expand_env: bool,
    pub restore_if_db_not_exists: bool,
    /// `DB_PATH REPLICA_URL` together with `-config`: Litestream's own error to give, nothing
    /// to plan.
    pub litestreams_to_refuse: bool,
}

/// Ready to `exec` litestream with `args`; `lock` must be held until then (litestream inherits
/// it).
#[derive(Debug)]
pub struct Ready {
    pub args: Vec<OsString>,
    pub lock: ReplicateLock,
}

/// Everything before the `exec` (see the module). `source` is `None` for a replica URL given as
/// `DB_PATH` (litestream's to refuse); `project` gives each database's `meta-path`.
pub fn prepare_exec(
    source: Option<&Source<'_>>,
    request: ExecRequest,
    project: Option<&Project>,
    env: &Env,
    shell: &Shell,
) -> Result<Ready, ReplicateError> {
    let (databases, replicas) = match source {
        Some(source) => plan::locked(source, request.no_expand_env, env, shell),
        None => Default::default(),
    };
    if request.restore_if_db_not_exists {
        refuse_orphaned_sidecars(&databases)?;
    }
    let lock = ReplicateLock::acquire(databases.iter().map(PathBuf::as_path), &replicas.claims)?;
    if let Some(Source::Project(project)) = source
        && project.socket_enabled()
    {
        refuse_live_socket(&project.socket_path(env))?;
    }
    for warning in crate::owner::claim_all(&replicas.files, env)? {
        shell.warn(warning);
    }
    let args = guard_wals(source, request, project, &databases, env, shell)?;
    Ok(Ready { args, lock })
}

/// The WAL check and its guard, in a helper that outlives the `exec`; it holds the guard until
/// the first sync through a control socket, a private one if need be.
#[cfg(unix)]
fn guard_wals(
    source: Option<&Source<'_>>,
    request: ExecRequest,
    _project: Option<&Project>,
    _databases: &[PathBuf],
    env: &Env,
    shell: &Shell,
) -> Result<Vec<OsString>, ReplicateError> {
    let plain = match source {
        Some(source) if !request.litestreams_to_refuse => plan::plain(source, request.no_expand_env, env)?,
        _ => plan::Plain::default(),
    };
    let args = plain.litestream_args(request.args);
    if let Some(why) = &plain.unguarded {
        shell.warn(why);
    }
    let private = plain.config.map(|(_, dir)| dir.keep());
    if let Err(error) = super::guard::start_helper(env, shell, plain.socket.as_deref(), private.as_deref()) {
        // Replication matters more than the check: go on, and say what is missing.
        shell.warn(format!(
            "{}; litestream starts without the WAL check: commits made while it was not running may be \
             missing from the backup until its next snapshot",
            plan::one_line(&error)
        ));
    }
    Ok(args)
}

/// Without `exec`, litestream runs as a child of this process: the guard is dropped at once.
#[cfg(not(unix))]
fn guard_wals(
    _source: Option<&Source<'_>>,
    request: ExecRequest,
    project: Option<&Project>,
    databases: &[PathBuf],
    _env: &Env,
    shell: &Shell,
) -> Result<Vec<OsString>, ReplicateError> {
    let (reports, _guards) = super::close_wal_gaps(project, databases);
    super::print_wal_reports(&reports, shell);
    Ok(request.args)
}
