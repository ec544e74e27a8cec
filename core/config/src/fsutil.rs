//! File writes that never leave a half-written file behind, and SQLite's files beside a database.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (a temporary file in the same folder, then a rename),
/// readable and writable by the owner only: generated files can hold credentials.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // tempfile creates the file with mode 0600 on Unix before anything is written to it.
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The suffixes of the files SQLite keeps beside a database.
pub const SQLITE_SIDECARS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// `-wal`, `-shm` or `-journal` files at `database` whose database file is gone: left from an
/// earlier database. Restoring there is unsafe: Litestream 0.5.17 leaves them in place, and
/// the first open of the restored file applies that old WAL over it, undoing the restore.
/// Empty when the database exists (then they are its own) or nothing is left.
pub fn orphaned_sidecars(database: &Path) -> Vec<PathBuf> {
    if database.symlink_metadata().is_ok() {
        return Vec::new();
    }
    SQLITE_SIDECARS
        .iter()
        .map(|suffix| sidecar(database, suffix))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
}

/// `database` with `suffix` appended to its file name: `app.db` + `-wal` → `app.db-wal`.
pub fn sidecar(database: &Path, suffix: &str) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// A database's `-wal`, `-shm` or `-journal` files left without it ([`orphaned_sidecars`]): a
/// restore beside them would be undone by the old WAL. Says what to do in one line; `hint` is
/// how the refusing command replaces them, if it can (`", or pass -force"`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} {} left from an earlier database at {}: SQLite would apply that old WAL to the restored database and undo the restore; move {} away (the WAL may hold that database's last writes){hint}",
    self.names(),
    if stale.len() == 1 { "is" } else { "are" },
    database.display(),
    if stale.len() == 1 { "it" } else { "them" }
)]
pub struct OrphanedSidecars {
    pub database: PathBuf,
    pub stale: Vec<PathBuf>,
    pub hint: &'static str,
}

impl OrphanedSidecars {
    /// The orphaned sidecars of `database`, if any.
    pub fn of(database: &Path, hint: &'static str) -> Option<OrphanedSidecars> {
        let stale = orphaned_sidecars(database);
        (!stale.is_empty()).then(|| OrphanedSidecars { database: database.to_path_buf(), stale, hint })
    }

    fn names(&self) -> String {
        self.stale.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn private_and_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/litestream.yml");
        write_private(&path, b"a").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"b").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"b");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temp file left");
    }

    #[test]
    fn orphaned_sidecars_are_those_without_their_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("app.db");
        assert!(orphaned_sidecars(&db).is_empty());
        std::fs::write(dir.path().join("app.db-wal"), "old").unwrap();
        std::fs::write(dir.path().join("app.db-journal"), "old").unwrap();
        let stale = orphaned_sidecars(&db);
        assert_eq!(stale, [dir.path().join("app.db-wal"), dir.path().join("app.db-journal")]);
        let message = OrphanedSidecars::of(&db, ", or pass -force").unwrap().to_string();
        assert!(
            message.contains("app.db-wal and ")
                && message.contains(" are left from")
                && message.ends_with("-force")
        );
        std::fs::write(&db, "").unwrap();
        assert!(orphaned_sidecars(&db).is_empty(), "a database's own sidecars are not orphans");
    }
}
