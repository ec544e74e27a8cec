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
//! When litestream runs as a *child* (`replicate -exec`, supervised; `spawn_replicate` in an
//! application), [`ReplicateLock::acquire_shared`] takes an open-file-description lock
//! (`F_OFD_SETLK`, Linux) instead: it belongs to the open file, not to a process, so the parent
//! and the litestream child that inherits the descriptor (see [`ReplicateLock::inheritable_fds`])
//! hold it together, and it is released only when both have exited. A parent killed with
//! `kill -9` therefore does not release the lock while its litestream is still finishing its final
//! sync. OFD locks and record locks conflict with each other, so both kinds of replicator see
//! each other. Elsewhere (macOS, BSD) the parent alone holds a record lock.
//!
//! Two more kinds of lock file, in one machine-wide folder ([`machine_dir`]), are taken the same
//! way and held alongside: one per replica location (`replica-<sha256 of the location>.lock`),
//! because two databases writing into one location overwrite each other's backups (two projects
//! whose databases share a file name under one project-wide replica); and one per database file
//! identity (`file-<device>-<inode>.lock`), because a hard link is the same database under
//! another path, which the lock beside the database cannot see.
//!
//! The holder writes its PID into the file, because `F_GETLK` cannot name the holder of an OFD
//! lock (it reports -1); the machine-wide ones also name the database, for the refusal. The lock file is left in place after the daemon ends: removing it would
//! race with a starting daemon. On non-Unix platforms litestream runs as a child and
//! `File::try_lock` is held by this process while it waits.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Who holds a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// The process with this ID.
    Pid(u32),
    /// A process nobody can name: the platform reports no PID (an OFD lock, Windows) and the
    /// holder recorded none in the file (yet).
    Unknown,
}

impl Holder {
    /// The holder's process ID, when known.
    pub fn pid(self) -> Option<u32> {
        match self {
            Holder::Pid(pid) => Some(pid),
            Holder::Unknown => None,
        }
    }

    /// ` by process 4242`, or nothing when unknown: the end of "is being replicated…".
    pub fn by(self) -> String {
        self.pid().map(|pid| format!(" by process {pid}")).unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{database} is already being replicated{by}; a second replicator would corrupt its replica: stop that one first (lock file: {lock})",
        database = database.display(),
        by = holder.by(),
        lock = lock.display()
    )]
    Held { database: PathBuf, lock: PathBuf, holder: Holder },

    #[error(
        "{location} already receives the backup of {other}{by}; replicating {database} there too would overwrite it: give one of the two projects a `path-prefix` (or this database its own `replica`) (lock file: {lock})",
        database = database.display(),
        by = holder.pid().map(|p| format!(" (replicated by process {p})")).unwrap_or_default(),
        lock = lock.display()
    )]
    ReplicaHeld { database: PathBuf, other: String, location: String, lock: PathBuf, holder: Holder },

    #[error(
        "{database} is the same file as {other} (a hard link), which is already being replicated{by}; a second replicator would corrupt its replica: replicate it under one name only (lock file: {lock})",
        database = database.display(),
        by = holder.by(),
        lock = lock.display()
    )]
    SameFile { database: PathBuf, other: String, lock: PathBuf, holder: Holder },

    #[error("cannot lock {} for replication ({source}); check that its folder exists and is writable", lock.display())]
    Io { lock: PathBuf, source: std::io::Error },
}

/// A replica location a replicator is about to write to, for one of its databases: the
/// comparable string of `cargo_litestream_config`'s replica `target`, `$VAR`s expanded as
/// Litestream expands them (secrets in it never reach a file name: it is hashed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaClaim {
    pub database: PathBuf,
    pub location: String,
}

/// One lock file held: the open file (holding it is the point), and for the machine-wide ones
/// the database it is held for, recorded under the PID.
#[derive(Debug)]
struct Held {
    file: File,
    database: Option<PathBuf>,
}

/// Locks held for the life of this process (and, on Unix, of the litestream it becomes or, with
/// [`ReplicateLock::acquire_shared`] on Linux, of the litestream child it starts).
#[derive(Debug)]
pub struct ReplicateLock {
    files: Vec<Held>,
    /// Open-file-description locks that a child can share (Linux, `acquire_shared`).
    shared: bool,
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
    ///
    /// The locks are record locks kept across `exec`: for a process about to *become* litestream.
    /// Each of `replicas` is locked machine-wide too, and so is each existing database's file
    /// identity (device and inode).
    pub fn acquire<'a>(
        databases: impl IntoIterator<Item = &'a Path>,
        replicas: &[ReplicaClaim],
    ) -> Result<ReplicateLock, LockError> {
        ReplicateLock::take(databases, replicas, sys::Kind::KeptAcrossExec)
    }

    /// Locks every database for a process that runs litestream as a child: on Linux the child
    /// shares the locks (pass [`ReplicateLock::inheritable_fds`] to it), so they stay held
    /// until both have exited; elsewhere this process alone holds them.
    pub fn acquire_shared<'a>(
        databases: impl IntoIterator<Item = &'a Path>,
        replicas: &[ReplicaClaim],
    ) -> Result<ReplicateLock, LockError> {
        ReplicateLock::take(databases, replicas, sys::Kind::Shared)
    }

    fn take<'a>(
        databases: impl IntoIterator<Item = &'a Path>,
        replicas: &[ReplicaClaim],
        kind: sys::Kind,
    ) -> Result<ReplicateLock, LockError> {
        let mut files = Vec::new();
        let mut taken = Vec::new();
        for database in databases {
            if database.parent().is_some_and(|dir| !dir.is_dir()) {
                continue;
            }
            let lock = lock_path(database);
            let file = open(&lock).map_err(|source| LockError::Io { lock: lock.clone(), source })?;
            match sys::try_lock(&file, kind) {
                Ok(true) => {
                    files.push(Held { file, database: None });
                    taken.push((database.to_path_buf(), lock));
                }
                Ok(false) => {
                    // Released meanwhile: still refused, this run lost the race.
                    let holder = holder(&file).unwrap_or(Holder::Unknown);
                    return Err(LockError::Held { database: database.to_path_buf(), lock, holder });
                }
                Err(source) => return Err(LockError::Io { lock, source }),
            }
        }
        // Only now, with our own locks held, look at the neighbours': of two replicators
        // starting at once, at least one sees the other.
        for (database, _) in &taken {
            if let Some((lock, holder)) = neighbour_holder(database, &taken) {
                return Err(LockError::Held { database: database.clone(), lock, holder });
            }
        }
        // Then the machine-wide keys: each database's file identity (a hard link elsewhere is
        // the same database) and each replica location (another project's database may write
        // there). A key taken twice in this run (one location for a folder and a file in it)
        // is taken once: closing a second descriptor would drop a record lock.
        let mut keys: Vec<(PathBuf, &Path, Option<&str>)> = Vec::new();
        for (database, _) in &taken {
            if let Some(key) = identity_key(database) {
                keys.push((key, database, None));
            }
        }
        for claim in replicas {
            keys.push((replica_key(&claim.location), &claim.database, Some(&claim.location)));
        }
        let mut seen = std::collections::HashSet::new();
        for (lock, database, location) in keys {
            if !seen.insert(lock.clone()) {
                continue;
            }
            let file =
                open_machine_wide(&lock).map_err(|source| LockError::Io { lock: lock.clone(), source })?;
            match sys::try_lock(&file, kind) {
                Ok(true) => files.push(Held { file, database: Some(database.to_path_buf()) }),
                Ok(false) => {
                    let (holder, other) = record(&file);
                    let holder = holder.unwrap_or(Holder::Unknown);
                    let other = other.unwrap_or_else(|| "another database".to_owned());
                    let database = database.to_path_buf();
                    return Err(match location {
                        Some(location) => {
                            let location = cargo_litestream_config::redact_url_password(location);
                            LockError::ReplicaHeld { database, other, location, lock, holder }
                        }
                        None => LockError::SameFile { database, other, lock, holder },
                    });
                }
                Err(source) => return Err(LockError::Io { lock, source }),
            }
        }
        let lock = ReplicateLock { files, shared: kind == sys::Kind::Shared && sys::OFD };
        lock.record_holder(std::process::id());
        Ok(lock)
    }

    /// Writes `pid` into every lock file, so a refused second replicator can name the process
    /// replicating (the litestream child, once it runs). Best effort: the lock is what counts.
    pub fn record_holder(&self, pid: u32) {
        use std::io::{Seek, Write};
        for held in &self.files {
            let mut file = &held.file;
            let _ = file.set_len(0);
            let _ = file.seek(std::io::SeekFrom::Start(0));
            let _ = match &held.database {
                Some(database) => write!(file, "{pid}\n{}\n", database.display()),
                None => writeln!(file, "{pid}"),
            };
        }
    }

    /// The descriptors a litestream child must keep open (clear their close-on-exec flag in the
    /// child) to share the locks: empty when the locks cannot be shared (not Linux, or taken
    /// with [`ReplicateLock::acquire`]).
    #[cfg(unix)]
    pub fn inheritable_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        if self.shared { self.files.iter().map(|held| held.file.as_raw_fd()).collect() } else { Vec::new() }
    }

    /// How many lock files are held (databases, file identities, replica locations).
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Who holds the lock on `file`, if anyone: the PID from `F_GETLK`, or for an OFD lock (which
/// `F_GETLK` reports as -1) the PID its holder wrote into the file.
fn holder(file: &File) -> Option<Holder> {
    match sys::holder(file).ok().flatten()? {
        Holder::Unknown => Some(recorded(file).0.map_or(Holder::Unknown, Holder::Pid)),
        known => Some(known),
    }
}

/// What the holder wrote: its PID, and (machine-wide locks) the database it replicates.
fn recorded(file: &File) -> (Option<u32>, Option<String>) {
    use std::io::{Read, Seek};
    let mut text = String::new();
    let mut file = file;
    if file.seek(std::io::SeekFrom::Start(0)).is_err() || file.read_to_string(&mut text).is_err() {
        return (None, None);
    }
    let mut lines = text.lines();
    let pid = lines.next().and_then(|l| l.trim().parse::<u32>().ok()).filter(|pid| *pid > 0);
    (pid, lines.next().map(str::to_owned).filter(|l| !l.is_empty()))
}

/// The holder of a machine-wide lock on `file` and the database it recorded.
fn record(file: &File) -> (Option<Holder>, Option<String>) {
    (holder(file), recorded(file).1)
}

/// The machine-wide folder of replica-location and file-identity locks:
/// `/tmp/cargo-litestream-locks` on Unix (a fixed path, so a shell, a cron job and a service
/// of any user on the machine meet there whatever their `TMPDIR`; a systemd unit with
/// `PrivateTmp=` has a /tmp of its own and is not seen: the owner record in a file replica
/// covers that), the temp folder elsewhere.
pub fn machine_dir() -> PathBuf {
    #[cfg(unix)]
    {
        PathBuf::from("/tmp/cargo-litestream-locks")
    }
    #[cfg(not(unix))]
    {
        std::env::temp_dir().join("cargo-litestream-locks")
    }
}

/// The lock of a replica location: its sha256, so a URL's query string or user name never
/// becomes a file name, and any location fits one.
fn replica_key(location: &str) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(location.as_bytes());
    machine_dir().join(format!("replica-{}.lock", cargo_litestream_fetch::hex(&digest)))
}

/// The lock of the file at `database` by device and inode; `None` when it does not exist yet
/// (nothing links to a file that is not there) or the platform has no inodes.
fn identity_key(database: &Path) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(database).ok()?;
        Some(machine_dir().join(format!("file-{}-{}.lock", metadata.dev(), metadata.ino())))
    }
    #[cfg(not(unix))]
    {
        let _ = database;
        None
    }
}

/// Opens (creating) a lock file in [`machine_dir`]. The folder is shared by every user, as
/// `/tmp` is (mode 1777): a symlink planted there is never followed (it could point the PID
/// we write at another file), and the files are writable by all, so another user's replicator
/// of the same location can take the lock and be refused by it.
fn open_machine_wide(path: &Path) -> std::io::Result<File> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        match std::fs::DirBuilder::new().mode(0o1777).create(dir) {
            // The umask narrowed the mode: every user must be able to add a lock file.
            Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        if !std::fs::symlink_metadata(dir)?.is_dir() {
            return Err(std::io::Error::other(format!("{} is not a folder", dir.display())));
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false).mode(0o666);
        options.custom_flags(libc::O_NOFOLLOW);
        let file = options.open(path)?;
        // Only the creator may change the mode; for everyone else it was set already.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o666));
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)?;
        open(path)
    }
}

/// The process replicating `database` under this lock, if one is. Never takes the lock. For
/// commands that must not run while the database is replicated (`restore -force` onto it).
///
/// Never call it in a process that holds the lock: closing any descriptor of a file drops
/// the process's record locks on it.
pub fn replicator(database: &Path) -> Option<Holder> {
    let lock = lock_path(database);
    let own = File::open(&lock).ok().and_then(|file| holder(&file));
    own.or_else(|| neighbour_holder(database, &[]).map(|(_, holder)| holder))
}

/// A replicator of a folder holding `database`, or of a database inside the folder `database`:
/// `dir`-mode folders and single databases have lock files of their own, so each looks for the
/// other's. Lock files in `ours` are skipped: opening and closing a file this process holds a
/// record lock on would drop that lock.
fn neighbour_holder(database: &Path, ours: &[(PathBuf, PathBuf)]) -> Option<(PathBuf, Holder)> {
    let ours = |lock: &Path| ours.iter().any(|(_, held)| held == lock);
    let held = |lock: PathBuf| -> Option<(PathBuf, Holder)> {
        if ours(&lock) {
            return None;
        }
        let holder = holder(&File::open(&lock).ok()?)?;
        Some((lock, holder))
    };
    let real = std::fs::canonicalize(database).unwrap_or_else(|_| database.to_path_buf());
    // A folder replicated in `dir` mode above it (its lock: `.<folder>-litestream.lock`).
    if let Some(found) =
        real.ancestors().skip(1).filter(|a| a.parent().is_some()).find_map(|a| held(lock_path(a)))
    {
        return Some(found);
    }
    // A database replicated on its own below it, when it is a `dir`-mode folder.
    if real.is_dir() {
        return walk_lock_files(&real, MAX_LOCK_SCAN).into_iter().find_map(held);
    }
    None
}

/// At most this many entries are looked at below a `dir`-mode folder.
const MAX_LOCK_SCAN: usize = 100_000;

/// The `.*-litestream.lock` files below `dir` (not following symlinks).
fn walk_lock_files(dir: &Path, mut budget: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            if budget == 0 {
                return found;
            }
            budget -= 1;
            let Ok(kind) = entry.file_type() else { continue };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                // Litestream's own state (`.<db>-litestream/`) holds LTX files, never locks.
                if !(name.starts_with('.') && name.ends_with("-litestream")) {
                    pending.push(entry.path());
                }
            } else if kind.is_file() && name.starts_with('.') && name.ends_with("-litestream.lock") {
                found.push(entry.path());
            }
        }
    }
    found
}

/// A process with the SQLite database at `database` open in WAL mode, if one is: `Some(pid)`.
///
/// Every WAL-mode connection of SQLite's unix VFS holds a read lock on byte 128 of the
/// `-shm` file (the "dead man switch", `UNIX_SHM_DMS`) for as long as it is open; a process
/// that could not take a write lock there is using the database (an app, or litestream).
/// Other journal modes hold no lock between transactions and are not seen. Never call it in a
/// process that has the database open (closing the `-shm` descriptor drops its locks).
pub fn sqlite_user(database: &Path) -> Option<i32> {
    let file = File::open(cargo_litestream_config::sidecar(database, "-shm")).ok()?;
    sys::holder_of(&file, 128, 1).ok().flatten()
}

/// Whether descriptor `fd` of the process at `/proc/<pid>` was opened for writing (the access
/// mode in `fdinfo`'s octal `flags`). A descriptor closed since it was listed (its `fdinfo` is
/// gone) is not; `flags` that cannot be read count as writing.
#[cfg(target_os = "linux")]
fn opened_for_writing(proc_dir: &Path, fd: &std::ffi::OsStr) -> bool {
    let Ok(info) = std::fs::read_to_string(proc_dir.join("fdinfo").join(fd)) else { return false };
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).map(str::trim);
    flags.and_then(|f| u32::from_str_radix(f, 8).ok()).is_none_or(|f| f & 0o3 != 0)
}

/// Another process that has `database` open for writing, by its PID: on Linux every process's open
/// files (`/proc/<pid>/fd`) are compared with the file's device and inode, which sees what the
/// `-shm` lock of [`sqlite_user`] cannot: a connection in `locking_mode = EXCLUSIVE` (no
/// `-shm`), a connection opened but not used yet, a rollback-journal connection between
/// transactions. Read-only openers (`immutable=1`, `SQLITE_OPEN_READ_ONLY`) cannot write into a
/// replaced file and are not counted. Elsewhere: [`sqlite_user`]. Processes this user may not
/// inspect are not seen.
pub fn database_opener(database: &Path) -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let wanted = std::fs::metadata(database).ok()?;
        let me = std::process::id();
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if pid == me {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
            for fd in fds.flatten() {
                if let Ok(meta) = std::fs::metadata(fd.path())
                    && meta.dev() == wanted.dev()
                    && meta.ino() == wanted.ino()
                    && opened_for_writing(&entry.path(), &fd.file_name())
                {
                    return i32::try_from(pid).ok();
                }
            }
        }
        sqlite_user(database)
    }
    #[cfg(not(target_os = "linux"))]
    {
        sqlite_user(database)
    }
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

    /// Which lock to take.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        /// A record lock on a descriptor kept across `exec`.
        KeptAcrossExec,
        /// An OFD lock (Linux) a child can share; a record lock elsewhere.
        Shared,
    }

    /// Whether `Kind::Shared` takes an OFD lock.
    pub const OFD: bool = cfg!(target_os = "linux");

    enum Op {
        /// F_SETLK a write lock on the whole file, then clear FD_CLOEXEC.
        LockAndKeepAcrossExec,
        /// F_OFD_SETLK (Linux) or F_SETLK a write lock on the whole file; FD_CLOEXEC stays set.
        LockShared,
        /// F_GETLK: who would stop us from taking a write lock on `len` bytes at `start`
        /// (`len` 0: to the end of the file).
        Query { start: i64, len: i64 },
    }

    /// The one place with `unsafe` in this crate: `fcntl(2)` calls on a descriptor this
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
                Op::LockShared => {
                    #[cfg(target_os = "linux")]
                    let command = libc::F_OFD_SETLK; // l_pid must be 0 (it is, zeroed above)
                    #[cfg(not(target_os = "linux"))]
                    let command = libc::F_SETLK;
                    if libc::fcntl(fd, command, &lock) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
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
    pub fn try_lock(file: &File, kind: Kind) -> std::io::Result<bool> {
        let op = match kind {
            Kind::KeptAcrossExec => Op::LockAndKeepAcrossExec,
            Kind::Shared => Op::LockShared,
        };
        match fcntl(file, op) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EAGAIN)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Who holds a lock on the whole file (`F_GETLK` reports -1 for an OFD lock: unknown).
    pub fn holder(file: &File) -> std::io::Result<Option<super::Holder>> {
        let pid = holder_of(file, 0, 0)?;
        Ok(pid.map(|pid| {
            u32::try_from(pid).ok().filter(|p| *p > 0).map_or(super::Holder::Unknown, super::Holder::Pid)
        }))
    }

    pub fn holder_of(file: &File, start: i64, len: i64) -> std::io::Result<Option<i32>> {
        let lock = fcntl(file, Op::Query { start, len })?;
        Ok((i32::from(lock.l_type) != libc::F_UNLCK).then_some(lock.l_pid))
    }
}

#[cfg(not(unix))]
mod sys {
    use std::fs::File;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        KeptAcrossExec,
        Shared,
    }

    pub const OFD: bool = false;

    pub fn try_lock(file: &File, _kind: Kind) -> std::io::Result<bool> {
        match file.try_lock() {
            Ok(()) => Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    pub fn holder(file: &File) -> std::io::Result<Option<super::Holder>> {
        match file.try_lock_shared() {
            Ok(()) => {
                file.unlock()?;
                Ok(None)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(Some(super::Holder::Unknown)),
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
        ReplicateLock::acquire([db.as_path()], &[]).unwrap();
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
        assert_eq!(replicator(&db), None, "no lock file yet");
        let lock = ReplicateLock::acquire([db.as_path()], &[]).unwrap();
        use std::os::fd::AsRawFd;
        let fdinfo =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", lock.files[0].file.as_raw_fd())).unwrap();
        let flags = fdinfo.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
        let flags = u32::from_str_radix(flags, 8).unwrap();
        assert_eq!(flags & 0o2_000_000, 0, "close-on-exec is cleared: {fdinfo}");
        assert!(lock_path(&db).is_file());
    }

    /// The shared (OFD) lock and the record lock exclude each other, even within one process,
    /// and a refusal names the PID recorded in the file (F_GETLK reports -1 for OFD locks).
    #[cfg(target_os = "linux")]
    #[test]
    fn shared_and_exec_locks_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("app.db");
        let shared = ReplicateLock::acquire_shared([db.as_path()], &[]).unwrap();
        assert_eq!(shared.inheritable_fds().len(), 1);
        shared.record_holder(4242);
        match ReplicateLock::acquire([db.as_path()], &[]) {
            Err(LockError::Held { holder, .. }) => assert_eq!(holder, Holder::Pid(4242)),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(replicator(&db), Some(Holder::Pid(4242)));
        drop(shared);
        assert_eq!(replicator(&db), None);
        let exec = ReplicateLock::acquire([db.as_path()], &[]).unwrap();
        assert!(exec.inheritable_fds().is_empty(), "record locks are not shared with children");
    }

    /// A `dir`-mode folder's lock and the lock of a database inside it see each other, both
    /// ways, at any depth; Litestream's own state folders are not searched.
    #[cfg(target_os = "linux")]
    #[test]
    fn folder_and_database_locks_see_each_other() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("data");
        std::fs::create_dir_all(folder.join("nested")).unwrap();
        let db = folder.join("nested/one.db");
        let real = |p: &Path| std::fs::canonicalize(p).unwrap();

        let dir_lock = ReplicateLock::acquire_shared([folder.as_path()], &[]).unwrap();
        dir_lock.record_holder(4242);
        match ReplicateLock::acquire([db.as_path()], &[]) {
            Err(LockError::Held { holder, lock, .. }) => {
                assert_eq!(holder, Holder::Pid(4242));
                assert_eq!(lock, real(root.path()).join(".data-litestream.lock"));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(replicator(&db), Some(Holder::Pid(4242)), "restore -force sees the folder's replicator");
        drop(dir_lock);

        let db_lock = ReplicateLock::acquire_shared([db.as_path()], &[]).unwrap();
        db_lock.record_holder(4343);
        match ReplicateLock::acquire([folder.as_path()], &[]) {
            Err(LockError::Held { holder, lock, .. }) => {
                assert_eq!(holder, Holder::Pid(4343));
                assert_eq!(lock, real(&folder).join("nested/.one.db-litestream.lock"));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        drop(db_lock);
        // Both kinds together in one run (a config naming the folder and a file in it) is
        // litestream's business: its own locks are not a conflict.
        ReplicateLock::acquire([folder.as_path(), db.as_path()], &[]).unwrap();

        assert_eq!(walk_lock_files(&folder, MAX_LOCK_SCAN).len(), 1);
        std::fs::create_dir(folder.join(".one.db-litestream")).unwrap();
        std::fs::write(folder.join(".one.db-litestream/.x-litestream.lock"), "").unwrap();
        assert_eq!(walk_lock_files(&folder, MAX_LOCK_SCAN).len(), 1, "state folders are skipped");
    }

    /// Two databases claiming one replica location exclude each other (OFD locks conflict
    /// within one process too), and the refusal names the other database and its process.
    #[cfg(target_os = "linux")]
    #[test]
    fn one_replica_location_one_database() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a/app.db"), dir.path().join("b/app.db"));
        std::fs::create_dir_all(a.parent().unwrap()).unwrap();
        std::fs::create_dir_all(b.parent().unwrap()).unwrap();
        let location = format!("file://{}/shared/app.db", dir.path().display());
        let claim = |db: &Path| ReplicaClaim { database: db.to_path_buf(), location: location.clone() };
        let first = ReplicateLock::acquire_shared([a.as_path()], &[claim(&a)]).unwrap();
        first.record_holder(4242);
        match ReplicateLock::acquire_shared([b.as_path()], &[claim(&b)]) {
            Err(LockError::ReplicaHeld { other, holder, location: named, .. }) => {
                assert_eq!(
                    (other, holder, named),
                    (a.display().to_string(), Holder::Pid(4242), location.clone())
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        drop(first);
        ReplicateLock::acquire_shared([b.as_path()], &[claim(&b)]).unwrap();
    }

    /// A hard link is the same database: its file identity is locked machine-wide.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_hard_link_is_the_same_database() {
        let dir = tempfile::tempdir().unwrap();
        let (db, link) = (dir.path().join("app.db"), dir.path().join("link.db"));
        std::fs::write(&db, "").unwrap();
        std::fs::hard_link(&db, &link).unwrap();
        let first = ReplicateLock::acquire_shared([db.as_path()], &[]).unwrap();
        first.record_holder(4242);
        match ReplicateLock::acquire_shared([link.as_path()], &[]) {
            Err(LockError::SameFile { other, holder, .. }) => {
                assert_eq!((other, holder), (db.display().to_string(), Holder::Pid(4242)));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
