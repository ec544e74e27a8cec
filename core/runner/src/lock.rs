//! The replicate lock: at most one `replicate` per database.
//!
//! Two replicators on one database corrupt its replica (Litestream gotcha 7), and Litestream
//! itself does not notice: a second `replicate` even takes over the first one's control
//! socket (gotcha 24). So `cargo litestream replicate` holds a lock per database, in a file
//! beside it (`<dir>/.<file>-litestream.lock`, next to Litestream's own `.<file>-litestream`
//! folder), for as long as litestream runs.
//!
//! On Unix the lock is a POSIX record lock (`fcntl(F_SETLK)`) on a descriptor whose
//! close-on-exec flag is cleared, because `replicate` *becomes* litestream (`exec`):
//! - record locks belong to the process and survive `execve`, so litestream holds them;
//! - the kernel drops them when that process dies, however it dies (`kill -9` included):
//!   a stale lock file never blocks a restart, unlike a pid file or the control socket;
//! - they are not inherited by children, so the app started by `-exec` (which inherits the
//!   descriptor) does not keep the lock alive after litestream is gone (a `flock` would).
//!
//! The lock file is left in place (empty) after the daemon ends: removing it would race with a
//! starting daemon. Elsewhere litestream runs as a child and `File::try_lock` is held by this
//! process while it waits.

use std::fs::File;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{database} is already being replicated{by}; a second replicator would corrupt its replica: stop that one first (lock file: {lock})",
        database = database.display(),
        by = pid.map(|p| format!(" by process {p}")).unwrap_or_default(),
        lock = lock.display()
    )]
    Held { database: PathBuf, lock: PathBuf, pid: Option<i32> },

    #[error("cannot lock {} for replication ({source}); check that its folder exists and is writable", lock.display())]
    Io { lock: PathBuf, source: std::io::Error },
}

/// Locks held for the life of this process (and, on Unix, of the litestream it becomes).
#[derive(Debug)]
pub struct ReplicateLock {
    // Never read: holding the open files is the point.
    _files: Vec<File>,
}

/// The lock file of a database (or of a `dir`-mode folder): `<dir>/.<name>-litestream.lock`,
/// in the database's real folder (symlinked folders lead to the same file).
pub fn lock_path(database: &Path) -> PathBuf {
    let name = database.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = database.parent().unwrap_or(Path::new("/"));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.join(format!(".{name}-litestream.lock"))
}

impl ReplicateLock {
    /// Locks every database, or fails naming the first one another replicator holds.
    /// Databases whose folder does not exist yet are skipped (there is nothing there to
    /// replicate, and creating folders here would be a surprise).
    pub fn acquire<'a>(databases: impl IntoIterator<Item = &'a Path>) -> Result<ReplicateLock, LockError> {
        let mut files = Vec::new();
        for database in databases {
            if database.parent().is_some_and(|dir| !dir.is_dir()) {
                continue;
            }
            let lock = lock_path(database);
            let file = open(&lock).map_err(|source| LockError::Io { lock: lock.clone(), source })?;
            match sys::try_lock(&file) {
                Ok(true) => files.push(file),
                Ok(false) => {
                    let pid = sys::holder(&file).ok().flatten();
                    return Err(LockError::Held { database: database.to_path_buf(), lock, pid });
                }
                Err(source) => return Err(LockError::Io { lock, source }),
            }
        }
        Ok(ReplicateLock { _files: files })
    }
}

/// The process replicating `database` under this lock, if one is: `Some(pid)` (0 when the
/// platform cannot say which). Never takes the lock. For commands that must not run while the
/// database is replicated (`restore -force` onto it).
///
/// Never call it in a process that holds the lock: closing any descriptor of a file drops
/// the process's record locks on it.
pub fn replicating(database: &Path) -> Option<i32> {
    let lock = lock_path(database);
    let file = File::open(&lock).ok()?;
    sys::holder(&file).ok().flatten()
}

/// A process with the SQLite database at `database` open in WAL mode, if one is: `Some(pid)`.
///
/// Every WAL-mode connection of SQLite's unix VFS holds a read lock on byte 128 of the
/// `-shm` file (the "dead man switch", `UNIX_SHM_DMS`) for as long as it is open; a process
/// that could not take a write lock there is using the database (an app, or litestream).
/// Other journal modes hold no lock between transactions and are not seen. Never call it in a
/// process that has the database open (closing the `-shm` descriptor drops its locks).
pub fn sqlite_user(database: &Path) -> Option<i32> {
    let mut shm = database.as_os_str().to_owned();
    shm.push("-shm");
    let file = File::open(PathBuf::from(shm)).ok()?;
    sys::holder_of(&file, 128, 1).ok().flatten()
}

fn open(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(unix)]
mod sys {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    enum Op {
        /// F_SETLK a write lock on the whole file, then clear FD_CLOEXEC.
        LockAndKeepAcrossExec,
        /// F_GETLK: who would stop us from taking a write lock on `len` bytes at `start`
        /// (`len` 0: to the end of the file).
        Query { start: i64, len: i64 },
    }

    /// The one place with `unsafe` in this crate: three `fcntl(2)` calls on a descriptor this
    /// function borrows for the duration of the call.
    #[allow(unsafe_code)] // fcntl has no safe std wrapper; record locks are what survive exec
    fn fcntl(file: &File, op: Op) -> std::io::Result<libc::flock> {
        let fd = file.as_raw_fd();
        // SAFETY: `fd` is open for the whole call (borrowed from `file`); `lock` is a valid,
        // initialised `struct flock` that fcntl reads (F_SETLK) or overwrites (F_GETLK) and
        // does not keep; F_GETFD/F_SETFD take plain integers. No memory is shared otherwise.
        unsafe {
            let mut lock: libc::flock = std::mem::zeroed();
            lock.l_type = libc::F_WRLCK as _;
            lock.l_whence = libc::SEEK_SET as _;
            lock.l_start = 0;
            lock.l_len = 0; // the whole file
            if let Op::Query { start, len } = op {
                lock.l_start = start as _;
                lock.l_len = len as _;
            }
            match op {
                Op::LockAndKeepAcrossExec => {
                    if libc::fcntl(fd, libc::F_SETLK, &lock) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags == -1 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Op::Query { .. } => {
                    if libc::fcntl(fd, libc::F_GETLK, &mut lock) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            Ok(lock)
        }
    }

    /// `Ok(false)` when another process holds the lock.
    pub fn try_lock(file: &File) -> std::io::Result<bool> {
        match fcntl(file, Op::LockAndKeepAcrossExec) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EAGAIN)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn holder(file: &File) -> std::io::Result<Option<i32>> {
        holder_of(file, 0, 0)
    }

    pub fn holder_of(file: &File, start: i64, len: i64) -> std::io::Result<Option<i32>> {
        let lock = fcntl(file, Op::Query { start, len })?;
        Ok((i32::from(lock.l_type) != libc::F_UNLCK).then_some(lock.l_pid))
    }
}

#[cfg(not(unix))]
mod sys {
    use std::fs::File;

    pub fn try_lock(file: &File) -> std::io::Result<bool> {
        match file.try_lock() {
            Ok(()) => Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    pub fn holder(file: &File) -> std::io::Result<Option<i32>> {
        match file.try_lock_shared() {
            Ok(()) => {
                file.unlock()?;
                Ok(None)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(Some(0)),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// SQLite's Windows VFS locks differently: not detected there.
    pub fn holder_of(_: &File, _: i64, _: i64) -> std::io::Result<Option<i32>> {
        Ok(None)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn lock_file_sits_beside_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("app.db");
        let real = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(lock_path(&db), real.join(".app.db-litestream.lock"));
    }

    #[test]
    fn a_missing_folder_is_skipped_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("missing/app.db");
        ReplicateLock::acquire([db.as_path()]).unwrap();
        assert!(!dir.path().join("missing").exists());
    }

    /// Within one process record locks never conflict (they are per process), so the
    /// conflict itself is tested across processes in tests/it; here: the descriptor is kept
    /// across exec (`/proc/self/fdinfo` shows its open flags, O_CLOEXEC is 0o2000000).
    #[cfg(target_os = "linux")]
    #[test]
    fn held_descriptors_survive_exec() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("app.db");
        assert_eq!(replicating(&db), None, "no lock file yet");
        let lock = ReplicateLock::acquire([db.as_path()]).unwrap();
        use std::os::fd::AsRawFd;
        let fdinfo =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", lock._files[0].as_raw_fd())).unwrap();
        let flags = fdinfo.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
        let flags = u32::from_str_radix(flags, 8).unwrap();
        assert_eq!(flags & 0o2_000_000, 0, "close-on-exec is cleared: {fdinfo}");
        assert!(lock_path(&db).is_file());
    }
}
