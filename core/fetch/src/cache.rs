//! The cache: where verified files live, their receipts, the lock around changing them.
//!
//! Layout: `<root>/<artifact>/<version>/<target>/` holds the installed file (`litestream`,
//! `litestream-vfs.so`, …), `receipt.json` (what was installed, its sha256 and size, where it came
//! from, what vouched for it), `.lock`, and while a download runs, `.tmp-*` files. The receipt
//! is written last: an entry without one is not installed.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cargo_litestream_config::Env;
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

    /// The cheap check made on every use: a receipt, and a file of the size it records.
    /// (A full re-hash is `--verify`'s job: it costs ~0.1 s for 40 MB.)
    pub fn installed(&self) -> Option<Receipt> {
        let receipt = self.receipt()?;
        let meta = fs::metadata(self.path()).ok()?;
        (meta.is_file() && meta.len() == receipt.size).then_some(receipt)
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

    /// Installs a verified temporary file under its final name, then writes the receipt.
    /// Permissions are set and data flushed to disk before the rename.
    pub fn install(
        &self,
        temp: NamedTempFile,
        executable: bool,
        receipt: &Receipt,
    ) -> Result<PathBuf, FetchError> {
        let path = self.path();
        set_mode(temp.as_file(), executable)
            .map_err(|e| FetchError::io("set permissions on", temp.path(), e))?;
        temp.as_file().sync_all().map_err(|e| FetchError::io("write", temp.path(), e))?;
        persist(temp, &path)?;
        let mut json =
            serde_json::to_vec_pretty(receipt).map_err(|e| FetchError::io("write", &path, e.into()))?;
        json.push(b'\n');
        let mut receipt_temp = self.temp_file()?;
        receipt_temp.write_all(&json).map_err(|e| FetchError::io("write", receipt_temp.path(), e))?;
        persist(receipt_temp, &self.receipt_path())?;
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
/// scanner briefly holding the new file, or a running copy of the old one).
pub fn persist(mut temp: NamedTempFile, path: &Path) -> Result<(), FetchError> {
    let mut delay = Duration::from_millis(50);
    for _ in 0..6 {
        match temp.persist(path) {
            Ok(_) => return Ok(()),
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

    #[test]
    fn an_entry_counts_as_installed_only_with_a_matching_receipt() {
        let root = tempfile::tempdir().unwrap();
        let entry = Entry::new(root.path(), "litestream", "0.5.17", "x86_64-unknown-linux-gnu", "litestream");
        entry.create().unwrap();
        assert!(entry.installed().is_none());
        let mut temp = entry.temp_file().unwrap();
        temp.write_all(b"payload").unwrap();
        let receipt = Receipt {
            artifact: "litestream".into(),
            version: "0.5.17".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            file: "litestream".into(),
            sha256: "0".repeat(64),
            size: 7,
            source: "test".into(),
            verified_by: "pin".into(),
        };
        let path = entry.install(temp, true, &receipt).unwrap();
        assert_eq!(entry.installed(), Some(receipt));
        // A file of another size (truncated, replaced) is not installed any more.
        fs::write(&path, b"payload!").unwrap();
        assert!(entry.installed().is_none());
        entry.remove().unwrap();
        assert!(!path.exists() && !entry.receipt_path().exists());
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
