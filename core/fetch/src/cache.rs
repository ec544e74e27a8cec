//! The cache: where verified files live, their receipts, the lock around changing them.
//!
//! Layout: `<root>/<artifact>/<version>/<target>/` holds the installed file (`litestream`,
//! `litestream-vfs.so`, …), `receipt.json` (what was installed, its sha256 and size, the
//! installed file's identity on disk, where it came from, what vouched for it), `.lock`, and
//! while a download runs, `.tmp-*` files. The receipt is written last: an entry without one is
//! not installed.
//!
//! The cache may be shared (between CI jobs, restored from a CI cache, on a network mount), so
//! the receipt alone never vouches for the file: on every use the file's identity (device,
//! inode, size, mtime, ctime) must equal the one recorded when it was hashed, or it is hashed
//! again before it runs. A file replaced in place, restored by a CI cache or swapped for a
//! symlink has another identity; one stat tells, so the warm path stays one `lstat`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cargo_litestream_env::Env;
use cargo_litestream_shell::Shell;
use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::FetchError;

/// `CARGO_LITESTREAM_CACHE_DIR`, else the platform's user cache folder + `cargo-litestream`:
/// `$XDG_CACHE_HOME` or `~/.cache` on Linux and other Unix, `~/Library/Caches` on macOS,
/// `%LOCALAPPDATA%` on Windows.
pub fn cache_root(env: &Env) -> Result<PathBuf, FetchError> {
    if let Some(dir) = env.non_empty("CARGO_LITESTREAM_CACHE_DIR") {
        return Ok(env.absolute(Path::new(dir)));
    }
    platform_cache_dir(env).map(|dir| dir.join("cargo-litestream")).ok_or(FetchError::NoCacheDir)
}

fn platform_cache_dir(env: &Env) -> Option<PathBuf> {
    let absolute = |key: &str| env.get_os(key).map(PathBuf::from).filter(|p| p.is_absolute());
    if cfg!(windows) {
        absolute("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        absolute("HOME").map(|home| home.join("Library/Caches"))
    } else {
        absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".cache")))
    }
}

/// Who a file on disk is, as far as one `lstat` can tell: any write to the file, a `chmod`, a
/// rename over it, a copy or a restore changes at least one field (ctime cannot be set from user
/// space, and a replacement is another inode). Equal identities mean the bytes hashed when the
/// identity was taken are still the bytes on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub ctime: i64,
    pub ctime_nsec: i64,
}

impl Identity {
    #[cfg(unix)]
    pub fn of(meta: &fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
        }
    }

    /// Without inode numbers in stable std, the size, the last write and the creation time
    /// (a replacement is a new file, with its own creation time).
    #[cfg(not(unix))]
    pub fn of(meta: &fs::Metadata) -> Identity {
        let nanos = |time: io::Result<std::time::SystemTime>| {
            time.ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or((0, 0), |d| {
                (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), i64::from(d.subsec_nanos()))
            })
        };
        let (mtime, mtime_nsec) = nanos(meta.modified());
        let (ctime, ctime_nsec) = nanos(meta.created());
        Identity { dev: 0, ino: 0, size: meta.len(), mtime, mtime_nsec, ctime, ctime_nsec }
    }
}

/// What `receipt.json` records about an installed file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub artifact: String,
    pub version: String,
    pub target: String,
    /// The installed file's name in the entry folder.
    pub file: String,
    pub sha256: String,
    pub size: u64,
    /// The URL it was downloaded from, or the path it was adopted from.
    pub source: String,
    /// What its hash was checked against: `pin`, `config`, or `upstream-checksum` (unpinned).
    pub verified_by: String,
    /// The installed file's identity when it was last hashed. Absent in receipts written
    /// before it existed: such a file is re-hashed on its next use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

/// What the cheap check on every use found in an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// No receipt, nothing under the installed name, or a file whose size is not the receipt's.
    Missing,
    /// The file is the one hashed when the receipt was written: its identity is the recorded one.
    Unchanged(Receipt),
    /// A regular file of the receipt's size whose identity differs from the recorded one (or
    /// none is recorded), or a symlink: it must be hashed again before it is used (and a
    /// symlink never passes).
    Changed(Receipt),
}

/// One cache entry: an artifact's version for one target.
#[derive(Clone, Debug)]
pub struct Entry {
    pub dir: PathBuf,
    pub file_name: String,
}

const RECEIPT: &str = "receipt.json";
const LOCK: &str = ".lock";
const TEMP_PREFIX: &str = ".tmp-";

impl Entry {
    pub fn new(root: &Path, artifact: &str, version: &str, target: &str, file_name: &str) -> Entry {
        Entry { dir: root.join(artifact).join(version).join(target), file_name: file_name.to_owned() }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.file_name)
    }

    pub fn receipt_path(&self) -> PathBuf {
        self.dir.join(RECEIPT)
    }

    /// The receipt, when there is a readable one for this file.
    pub fn receipt(&self) -> Option<Receipt> {
        let text = fs::read(self.receipt_path()).ok()?;
        let receipt: Receipt = serde_json::from_slice(&text).ok()?;
        (receipt.file == self.file_name).then_some(receipt)
    }

    /// The cheap check made on every use: a receipt, and one `lstat` of the file (never
    /// followed through a symlink) compared with the identity the receipt records. Hashing
    /// (~0.1 s for 40 MB) is left to [`Entry::rehash`], for a [`Lookup::Changed`] file only.
    pub fn lookup(&self) -> Lookup {
        let Some(receipt) = self.receipt() else { return Lookup::Missing };
        let Ok(meta) = fs::symlink_metadata(self.path()) else { return Lookup::Missing };
        if !meta.file_type().is_file() {
            // A symlink (or a folder): `rehash` refuses it, and the caller says so.
            return Lookup::Changed(receipt);
        }
        if meta.len() != receipt.size {
            return Lookup::Missing;
        }
        if receipt.identity.as_ref() == Some(&Identity::of(&meta)) {
            Lookup::Unchanged(receipt)
        } else {
            Lookup::Changed(receipt)
        }
    }

    /// Hashes the installed file: its identity when its sha256 is `expected`, `None` when it is
    /// not, or it is not a regular file (a symlink is refused), or it changed while being read.
    /// The file is opened once and everything is checked on that descriptor, so the identity
    /// returned is that of the bytes hashed.
    pub fn rehash(&self, expected: &str) -> io::Result<Option<Identity>> {
        let path = self.path();
        let before = fs::symlink_metadata(&path)?;
        if !before.file_type().is_file() {
            return Ok(None);
        }
        let mut file = File::open(&path)?;
        let opened = Identity::of(&file.metadata()?);
        // Another file (a symlink swapped in since the lstat) has another identity.
        if opened != Identity::of(&before) {
            return Ok(None);
        }
        let mut out = crate::hash::HashingWriter::new(io::sink());
        crate::hash::copy(&mut file, &mut out)?;
        let (sha256, _, _) = out.finish();
        let after = Identity::of(&file.metadata()?);
        Ok((after == opened && sha256.eq_ignore_ascii_case(expected)).then_some(after))
    }

    /// Rewrites the receipt (atomically). Safe without the lock: a receipt names the identity
    /// of the file it vouches for, so one written late, over a newer install, vouches for
    /// nothing that is on disk and only costs the next run a re-hash.
    pub fn write_receipt(&self, receipt: &Receipt) -> Result<(), FetchError> {
        let path = self.receipt_path();
        let mut json =
            serde_json::to_vec_pretty(receipt).map_err(|e| FetchError::io("write", &path, e.into()))?;
        json.push(b'\n');
        let mut temp = self.temp_file()?;
        temp.write_all(&json).map_err(|e| FetchError::io("write", temp.path(), e))?;
        persist(temp, &path).map(drop)
    }

    /// Creates the entry folder (and the root); the error names the folder that failed.
    pub fn create(&self) -> Result<(), FetchError> {
        fs::create_dir_all(&self.dir)
            .map_err(|error| FetchError::CacheDir { path: self.dir.clone(), error })?;
        // A folder that exists but cannot be written to fails here rather than mid-download.
        let probe = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(|error| FetchError::CacheDir { path: self.dir.clone(), error })?;
        drop(probe);
        Ok(())
    }

    /// Takes the entry's lock, waiting (and saying so) while another process holds it.
    pub fn lock(&self, shell: &Shell) -> Result<Lock, FetchError> {
        let path = self.dir.join(LOCK);
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|error| FetchError::CacheDir { path: self.dir.clone(), error })?;
        match file.try_lock() {
            Ok(()) => return Ok(Lock { _file: Some(file) }),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
                // A file system without locks (some network mounts): carry on unlocked, as cargo does.
                return Ok(Lock { _file: None });
            }
            Err(fs::TryLockError::Error(error)) => return Err(FetchError::Lock { path, error }),
        }
        shell.status("Blocking", format!("waiting for file lock on {}", path.display()));
        file.lock().map_err(|error| FetchError::Lock { path, error })?;
        Ok(Lock { _file: Some(file) })
    }

    /// Removes what an interrupted run left behind. Only call with the lock held.
    pub fn remove_temporaries(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Removes the installed file and its receipt (receipt first: the entry stops counting as
    /// installed before the file goes). Only call with the lock held.
    pub fn remove(&self) -> Result<(), FetchError> {
        for path in [self.receipt_path(), self.path()] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(FetchError::io("remove", &path, source)),
            }
        }
        Ok(())
    }

    /// A temporary file in the entry folder (same file system as the final name, so the
    /// rename that installs it is atomic).
    pub fn temp_file(&self) -> Result<NamedTempFile, FetchError> {
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(|error| FetchError::CacheDir { path: self.dir.clone(), error })
    }

    /// Installs a verified temporary file under its final name, then writes the receipt with
    /// the installed file's identity (taken from the open file after the rename, so it is that
    /// of the bytes that were hashed). Permissions are set and data flushed to disk before the
    /// rename.
    pub fn install(
        &self,
        temp: NamedTempFile,
        executable: bool,
        receipt: &mut Receipt,
    ) -> Result<PathBuf, FetchError> {
        let path = self.path();
        set_mode(temp.as_file(), executable)
            .map_err(|e| FetchError::io("set permissions on", temp.path(), e))?;
        temp.as_file().sync_all().map_err(|e| FetchError::io("write", temp.path(), e))?;
        let file = persist(temp, &path)?;
        let meta = file.metadata().map_err(|e| FetchError::io("read", &path, e))?;
        receipt.identity = Some(Identity::of(&meta));
        self.write_receipt(receipt)?;
        Ok(path)
    }
}

/// Held while an entry is being changed; released (by the OS too, if the process dies) on drop.
pub struct Lock {
    _file: Option<File>,
}

#[cfg(unix)]
fn set_mode(file: &File, executable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _executable: bool) -> io::Result<()> {
    Ok(())
}

/// Renames `temp` to `path`, retrying a few times on `PermissionDenied` (on Windows, a virus
/// scanner briefly holding the new file, or a running copy of the old one); returns the file,
/// still open.
pub fn persist(mut temp: NamedTempFile, path: &Path) -> Result<File, FetchError> {
    let mut delay = Duration::from_millis(50);
    for _ in 0..6 {
        match temp.persist(path) {
            Ok(file) => return Ok(file),
            Err(e) if e.error.kind() == io::ErrorKind::PermissionDenied && cfg!(windows) => {
                temp = e.file;
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => return Err(FetchError::io("install", path, e.error)),
        }
    }
    Err(FetchError::io("install", path, io::Error::from(io::ErrorKind::PermissionDenied)))
}

/// Copies a verified file to `dir/name` atomically (for `install --to`), keeping it executable.
pub fn copy_to(source: &Path, dir: &Path, name: &str, executable: bool) -> Result<PathBuf, FetchError> {
    fs::create_dir_all(dir).map_err(|e| FetchError::io("create", dir, e))?;
    let target = dir.join(name);
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| FetchError::io("write to", dir, e))?;
    let mut input = File::open(source).map_err(|e| FetchError::io("read", source, e))?;
    crate::hash::copy(&mut input, temp.as_file_mut()).map_err(|e| FetchError::io("write to", dir, e))?;
    set_mode(temp.as_file(), executable).map_err(|e| FetchError::io("set permissions in", dir, e))?;
    temp.as_file().sync_all().map_err(|e| FetchError::io("write to", dir, e))?;
    persist(temp, &target)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_root_precedence() {
        let env = Env::empty("/work").with("HOME", "/home/u");
        let expected = if cfg!(target_os = "macos") {
            "/home/u/Library/Caches/cargo-litestream"
        } else {
            "/home/u/.cache/cargo-litestream"
        };
        if !cfg!(windows) {
            assert_eq!(cache_root(&env).unwrap(), PathBuf::from(expected));
        }
        let env = env.with("CARGO_LITESTREAM_CACHE_DIR", "rel/cache");
        assert_eq!(cache_root(&env).unwrap(), PathBuf::from("/work/rel/cache"));
        assert!(matches!(cache_root(&Env::empty("/")), Err(FetchError::NoCacheDir)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn xdg_cache_home_must_be_absolute() {
        let env = Env::empty("/").with("HOME", "/h").with("XDG_CACHE_HOME", "/x");
        assert_eq!(cache_root(&env).unwrap(), PathBuf::from("/x/cargo-litestream"));
        let env = Env::empty("/").with("HOME", "/h").with("XDG_CACHE_HOME", "relative");
        assert_eq!(cache_root(&env).unwrap(), PathBuf::from("/h/.cache/cargo-litestream"));
    }

    const PAYLOAD: &[u8] = b"payload";
    /// sha256 of `PAYLOAD`.
    const PAYLOAD_SHA256: &str = "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5";

    fn installed_entry(root: &Path) -> (Entry, PathBuf, Receipt) {
        let entry = Entry::new(root, "litestream", "0.5.17", "x86_64-unknown-linux-gnu", "litestream");
        entry.create().unwrap();
        assert_eq!(entry.lookup(), Lookup::Missing);
        let mut temp = entry.temp_file().unwrap();
        temp.write_all(PAYLOAD).unwrap();
        let mut receipt = Receipt {
            artifact: "litestream".into(),
            version: "0.5.17".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            file: "litestream".into(),
            sha256: PAYLOAD_SHA256.into(),
            size: 7,
            source: "test".into(),
            verified_by: "pin".into(),
            identity: None,
        };
        let path = entry.install(temp, true, &mut receipt).unwrap();
        (entry, path, receipt)
    }

    /// Replaces `path` the way a CI cache restore or an attacker would: a new file renamed over it.
    fn replace(path: &Path, bytes: &[u8]) {
        let temp = path.with_file_name("replacement");
        fs::write(&temp, bytes).unwrap();
        fs::rename(&temp, path).unwrap();
    }

    #[test]
    fn an_entry_counts_as_installed_only_with_a_matching_receipt() {
        let root = tempfile::tempdir().unwrap();
        let (entry, path, receipt) = installed_entry(root.path());
        assert!(receipt.identity.is_some(), "install records the file's identity");
        assert_eq!(entry.receipt(), Some(receipt.clone()));
        assert_eq!(entry.lookup(), Lookup::Unchanged(receipt));
        // A file of another size (truncated, replaced) is not installed any more.
        fs::write(&path, b"payload!").unwrap();
        assert_eq!(entry.lookup(), Lookup::Missing);
        entry.remove().unwrap();
        assert!(!path.exists() && !entry.receipt_path().exists());
    }

    #[test]
    fn a_same_size_replacement_must_be_hashed_again_and_fails() {
        let root = tempfile::tempdir().unwrap();
        let (entry, path, receipt) = installed_entry(root.path());
        replace(&path, b"PAYLOAD");
        assert_eq!(entry.lookup(), Lookup::Changed(receipt.clone()));
        assert_eq!(entry.rehash(PAYLOAD_SHA256).unwrap(), None);

        // The same bytes under a new identity (a restored cache) hash to the pin: the identity
        // returned is the new file's, and with it in the receipt the file is unchanged again.
        replace(&path, PAYLOAD);
        assert!(matches!(entry.lookup(), Lookup::Changed(_)));
        let identity = entry.rehash(PAYLOAD_SHA256).unwrap().expect("the bytes match");
        assert_eq!(identity, Identity::of(&fs::symlink_metadata(&path).unwrap()));
        let updated = Receipt { identity: Some(identity), ..receipt };
        entry.write_receipt(&updated).unwrap();
        assert_eq!(entry.lookup(), Lookup::Unchanged(updated));
    }

    #[test]
    fn an_edited_size_or_a_missing_identity_vouches_for_nothing() {
        let root = tempfile::tempdir().unwrap();
        let (entry, path, receipt) = installed_entry(root.path());
        replace(&path, b"other bytes");
        let edited = Receipt { size: 11, ..receipt.clone() };
        entry.write_receipt(&edited).unwrap();
        assert_eq!(entry.lookup(), Lookup::Changed(edited));
        assert_eq!(entry.rehash(PAYLOAD_SHA256).unwrap(), None);

        // A receipt from before identities were recorded: hashed again on first use.
        replace(&path, PAYLOAD);
        let old = Receipt { identity: None, ..receipt };
        entry.write_receipt(&old).unwrap();
        let text = fs::read_to_string(entry.receipt_path()).unwrap();
        assert!(!text.contains("identity"), "{text}");
        assert_eq!(entry.lookup(), Lookup::Changed(old));
        assert!(entry.rehash(PAYLOAD_SHA256).unwrap().is_some());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_never_installed() {
        let root = tempfile::tempdir().unwrap();
        let (entry, path, _) = installed_entry(root.path());
        // Even one to a file with the pinned bytes: what it points to can change at any time.
        let elsewhere = root.path().join("elsewhere");
        fs::write(&elsewhere, PAYLOAD).unwrap();
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(matches!(entry.lookup(), Lookup::Changed(_)));
        assert_eq!(entry.rehash(PAYLOAD_SHA256).unwrap(), None);
    }

    #[test]
    fn leftovers_of_an_interrupted_run_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let entry = Entry::new(root.path(), "a", "1", "t", "f");
        entry.create().unwrap();
        let temp = entry.temp_file().unwrap();
        let (_, path) = temp.keep().unwrap();
        entry.remove_temporaries();
        assert!(!path.exists());
    }

    #[test]
    fn an_unwritable_cache_folder_is_named() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a-file");
        fs::write(&file, "").unwrap();
        let entry = Entry::new(&file, "litestream", "0.5.17", "t", "litestream");
        let error = entry.create().unwrap_err().to_string();
        assert!(error.contains(&entry.dir.display().to_string()), "{error}");
        assert!(error.contains("CARGO_LITESTREAM_CACHE_DIR"), "{error}");
    }
}
