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

/// The one-line refusal for [`orphaned_sidecars`], with what to do (`force_hint`: how this
/// command replaces them, if it can).
pub fn orphaned_sidecars_message(database: &Path, stale: &[PathBuf], force_hint: &str) -> String {
    let names: Vec<String> = stale.iter().map(|p| p.display().to_string()).collect();
    let (verb, them) = if stale.len() == 1 { ("is", "it") } else { ("are", "them") };
    format!(
        "{} {verb} left from an earlier database at {}: SQLite would apply that old WAL to the restored database and undo the restore; move {them} away (the WAL may hold that database's last writes){force_hint}",
        names.join(" and "),
        database.display(),
    )
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
        let message = orphaned_sidecars_message(&db, &stale, ", or pass -force");
        assert!(
            message.contains("app.db-wal and ")
                && message.contains(" are left from")
                && message.ends_with("-force")
        );
        std::fs::write(&db, "").unwrap();
        assert!(orphaned_sidecars(&db).is_empty(), "a database's own sidecars are not orphans");
    }
}
