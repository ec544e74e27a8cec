//! Reading replicas through the Litestream VFS extension (`litestream-vfs`).
//!
//! The extension registers a SQLite VFS named `litestream` that serves a database straight from
//! its replica (S3, GCS, Azure, SFTP, WebDAV, NATS, a folder), polling it for new transactions.
//! [`open_replica`] loads it (entry point [`ENTRY_POINT`]) and opens a read-only rusqlite
//! [`Connection`] on one replica, chosen per connection with the percent-encoded `replica_url=`
//! URI parameter.
//!
//! # Upstream limitations (litestream-vfs 0.5.17)
//!
//! - **After the extension is loaded, every plain (non-VFS) SQLite open in the process fails**
//!   with `automatic extension loading failed` (its auto-extension callback returns garbage;
//!   upstream PR #1506). Connections opened *before* loading keep working. So open your plain
//!   connections (your app's pool) first, or do VFS work in a separate process, as
//!   `cargo litestream vfs-status` does.
//! - **Opening a replica that holds no backup yet blocks forever.** Every open here is bounded
//!   by [`OpenOptions::timeout`]; an open that times out leaves its thread blocked inside the
//!   extension (nothing can cancel it) until the replica gets data.
//! - The extension reads its environment (credentials such as `AWS_ACCESS_KEY_ID`, logging
//!   such as `LITESTREAM_LOG_FILE`) **once, from the environment the process started with**;
//!   `std::env::set_var` has no effect on it. Pass the replica as `replica_url=` (done here) and
//!   credentials in the environment of the process.
//! - One process can load the extension once; it cannot be unloaded.

mod probe;
pub mod report;
mod status;
mod target;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use cargo_litestream_config::{Env, Project, redact_url_password};
use rusqlite::{Connection, OpenFlags};

pub use probe::{Probe, ProbeRequest, probe, probe_in_child};
pub use status::{
    Assessment, Health, PositionError, ReplicaPosition, Thresholds, assess, replica_position, seconds,
};
pub use target::{
    ReplicaUrlError, TargetSource, VfsTarget, VfsTargetError, replica_url, vfs_target, vfs_targets,
};

/// The extension's entry point. SQLite would derive `sqlite3_litestream_init` from upstream's
/// release file name `litestream.so`, which does not exist: always name it.
pub const ENTRY_POINT: &str = "sqlite3_litestreamvfs_init";

/// The environment variable naming the extension file.
pub const EXTENSION_ENV: &str = "CARGO_LITESTREAM_VFS_EXTENSION";

/// The name the extension registers its VFS under.
pub const VFS_NAME: &str = "litestream";

/// What can go wrong with the VFS.
#[derive(Debug, thiserror::Error)]
pub enum VfsError {
    #[error(
        "no litestream VFS extension found; run `cargo litestream vfs-install` (verified download), or set `vfs-extension-path` in [package.metadata.litestream] or {EXTENSION_ENV} to a litestream-vfs 0.5.17 library"
    )]
    NoExtension,

    #[error("the VFS extension `{}` (from {from}) does not exist; fix the path", path.display())]
    ExtensionMissing { path: PathBuf, from: ExtensionSource },

    #[error(
        "could not load the VFS extension `{}`: {message}; it must be litestream-vfs 0.5.17 for this platform (Linux needs glibc >= 2.34)",
        path.display()
    )]
    Load { path: PathBuf, message: String },

    #[error(
        "the VFS extension is already loaded in this process from `{}`, not `{}`; a process can load only one",
        loaded.display(),
        wanted.display()
    )]
    AlreadyLoaded { loaded: PathBuf, wanted: PathBuf },

    #[error(
        "opening {url} through the VFS did not finish within {} s; the VFS waits forever on a replica with no backup yet (nothing replicated) and on one it cannot reach",
        timeout.as_secs_f64()
    )]
    OpenTimedOut { url: String, timeout: Duration },

    #[error(
        "could not open {url} through the VFS: {message}; check the URL, and the credentials in the environment the process started with"
    )]
    Open { url: String, message: String },

    #[error("the VFS connection to {url} failed: {message}")]
    Query { url: String, message: String },
}

/// Where the extension path came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionSource {
    /// `vfs-extension-path` in the configuration.
    Config,
    /// [`EXTENSION_ENV`].
    EnvVar,
    /// Installed by `cargo litestream vfs-install`.
    Installed,
}

impl std::fmt::Display for ExtensionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExtensionSource::Config => "vfs-extension-path",
            ExtensionSource::EnvVar => EXTENSION_ENV,
            ExtensionSource::Installed => "vfs-install",
        })
    }
}

/// The extension file to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    pub path: PathBuf,
    pub source: ExtensionSource,
}

/// Finds the extension: `vfs-extension-path` in the configuration, else
/// `CARGO_LITESTREAM_VFS_EXTENSION`, else the copy `vfs-install` verified and installed.
pub fn locate_extension(project: Option<&Project>, env: &Env) -> Result<Extension, VfsError> {
    let given = project
        .and_then(|p| p.vfs_extension_path.clone())
        .map(|path| (path, ExtensionSource::Config))
        .or_else(|| {
            env.non_empty(EXTENSION_ENV).map(|p| (env.absolute(Path::new(p)), ExtensionSource::EnvVar))
        });
    if let Some((path, from)) = given {
        if !path.is_file() {
            return Err(VfsError::ExtensionMissing { path, from });
        }
        return Ok(Extension { path, source: from });
    }
    match installed_extension(project, env) {
        Some(path) => Ok(Extension { path, source: ExtensionSource::Installed }),
        None => Err(VfsError::NoExtension),
    }
}

/// The extension `cargo litestream vfs-install` downloaded, verified against its pin and
/// installed in the cache, if any (for the project's Litestream version). Cache only: this never
/// downloads, so opening a replica never waits on the network.
fn installed_extension(project: Option<&Project>, env: &Env) -> Option<PathBuf> {
    let version = project.map_or(cargo_litestream_config::DEFAULT_LITESTREAM_VERSION, |p| p.version.as_str());
    cargo_litestream_release_vfs::installed_path(env, version).ok().flatten()
}

/// The extension this process loaded, if any.
static LOADED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Whether this process has loaded the extension (after which plain SQLite opens fail).
pub fn is_loaded() -> bool {
    LOADED.lock().map(|l| l.is_some()).unwrap_or(true)
}

/// Loads the extension into this process, once; later calls with the same path do nothing.
///
/// Loading opens one throwaway in-memory connection, which is itself a plain open: it works
/// only before the extension is loaded, which is the only time it happens.
pub fn load_extension(path: &Path) -> Result<(), VfsError> {
    let mut loaded = LOADED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(previous) = loaded.as_ref() {
        if previous == path {
            return Ok(());
        }
        return Err(VfsError::AlreadyLoaded { loaded: previous.clone(), wanted: path.to_path_buf() });
    }
    let load_error = |message: String| VfsError::Load { path: path.to_path_buf(), message };
    let conn = Connection::open_in_memory().map_err(|e| load_error(e.to_string()))?;
    // SAFETY: loading a native library runs its code in this process. The path is one the user
    // configured explicitly (or `vfs-install` verified against its pin); the guard enables
    // extension loading only for this call, and no SQL runs while it is enabled.
    #[allow(unsafe_code)]
    let result = unsafe {
        rusqlite::LoadExtensionGuard::new(&conn)
            .and_then(|_guard| conn.load_extension(path, Some(ENTRY_POINT)))
    };
    result.map_err(|e| load_error(e.to_string()))?;
    *loaded = Some(path.to_path_buf());
    Ok(())
}

/// How to open a replica.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Give up on an open that has not finished by then (an empty replica never finishes).
    pub timeout: Duration,
    /// How often the VFS polls the replica for new transactions (`poll_interval=`; the
    /// extension's default is 1 s).
    pub poll_interval: Option<Duration>,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions { timeout: Duration::from_secs(10), poll_interval: None }
    }
}

/// The SQLite URI that opens `replica_url` through the VFS, read-only.
pub fn replica_uri(replica_url: &str, poll_interval: Option<Duration>) -> String {
    let encoded = percent_encoding::utf8_percent_encode(replica_url, percent_encoding::NON_ALPHANUMERIC);
    let mut uri = format!("file:replica.db?vfs={VFS_NAME}&mode=ro&replica_url={encoded}");
    if let Some(interval) = poll_interval {
        uri.push_str(&format!("&poll_interval={}ms", interval.as_millis().max(1)));
    }
    uri
}

/// Opens a read-only connection on the replica at `replica_url` through the VFS extension at
/// `extension` (loaded first if this process has not loaded it yet).
///
/// The replica is chosen per connection (the `replica_url=` URI parameter), never through a
/// process-wide variable, so connections to several replicas can coexist. Credentials come from
/// the environment the process started with (`AWS_ACCESS_KEY_ID`, …).
///
/// **Read the [module documentation](self) first:** once this has loaded the extension, plain
/// SQLite opens in this process fail, so open your ordinary connections before calling it (or
/// call it in a separate process). The open is bounded by `options.timeout`.
///
/// ```no_run
/// use std::path::Path;
/// use std::time::Duration;
/// use cargo_litestream_api::vfs::{OpenOptions, open_replica};
///
/// // Plain connections first: after the extension is loaded they can no longer be opened.
/// let primary = rusqlite::Connection::open("app.db")?;
/// let replica = open_replica(
///     Path::new("/opt/litestream-vfs.so"),
///     "s3://my-bucket/app.db?region=eu-west-1",
///     &OpenOptions { timeout: Duration::from_secs(10), poll_interval: None },
/// )?;
/// let rows: i64 = replica.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
/// # drop(primary);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_replica(
    extension: &Path,
    replica_url: &str,
    options: &OpenOptions,
) -> Result<Connection, VfsError> {
    load_extension(extension)?;
    let shown = redact_url_password(replica_url);
    let uri = replica_uri(replica_url, options.poll_interval);
    let flags =
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let (sender, receiver) = mpsc::channel();
    // The open runs on its own thread so it can be abandoned: a replica with no backup blocks
    // it forever. When the caller has given up, the late connection is dropped on that thread.
    std::thread::Builder::new()
        .name("litestream-vfs-open".to_owned())
        .spawn(move || {
            let _ = sender.send(Connection::open_with_flags(uri, flags));
        })
        .map_err(|e| VfsError::Open {
            url: shown.clone(),
            message: format!("could not start a thread: {e}"),
        })?;
    match receiver.recv_timeout(options.timeout) {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(VfsError::Open { url: shown, message: error.to_string() }),
        Err(_) => Err(VfsError::OpenTimedOut { url: shown, timeout: options.timeout }),
    }
}

/// Opens the VFS alias `alias` of `project` (`[package.metadata.litestream.vfs]`), with the
/// extension [`locate_extension`] finds.
///
/// Fails, rather than connecting with the wrong identity, when the replica's credentials from
/// the configuration are not what the process environment holds: the extension reads only the
/// environment the process started with.
pub fn open_configured_replica(
    project: &Project,
    env: &Env,
    alias: &str,
    options: &OpenOptions,
) -> Result<Connection, Box<dyn std::error::Error + Send + Sync>> {
    let target = vfs_target(project, env, alias)?;
    let missing: Vec<&str> =
        target.env.iter().filter(|(k, v)| env.get(k) != Some(v.as_str())).map(|(k, _)| k.as_str()).collect();
    if !missing.is_empty() {
        return Err(format!(
            "the replica of VFS alias `{alias}` needs {} in the environment this process started with (the VFS ignores later changes); start the process with them, or read it in a child process",
            missing.join(", ")
        )
        .into());
    }
    let extension = locate_extension(Some(project), env)?;
    Ok(open_replica(&extension.path, &target.url, options)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_encode_the_replica_url() {
        assert_eq!(
            replica_uri("s3://b/p?endpoint=http://h:1&region=x", Some(Duration::from_millis(200))),
            "file:replica.db?vfs=litestream&mode=ro&replica_url=s3%3A%2F%2Fb%2Fp%3Fendpoint%3Dhttp%3A%2F%2Fh%3A1%26region%3Dx&poll_interval=200ms"
        );
    }

    #[test]
    fn extension_lookup_order() {
        let dir = tempfile::tempdir().unwrap();
        let so = dir.path().join("litestream-vfs.so");
        std::fs::write(&so, b"").unwrap();
        let env = Env::empty(dir.path()).with(EXTENSION_ENV, "litestream-vfs.so");
        assert_eq!(
            locate_extension(None, &env).unwrap(),
            Extension { path: so.clone(), source: ExtensionSource::EnvVar }
        );
        let missing = Env::empty(dir.path()).with(EXTENSION_ENV, "nope.so");
        assert!(matches!(locate_extension(None, &missing), Err(VfsError::ExtensionMissing { .. })));
        assert!(matches!(locate_extension(None, &Env::empty(dir.path())), Err(VfsError::NoExtension)));
    }
}
