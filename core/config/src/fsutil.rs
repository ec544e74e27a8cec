//! File writes that never leave a half-written file behind.

use std::io::Write;
use std::path::Path;

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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/litestream.yml");
        super::write_private(&path, b"a").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::write_private(&path, b"b").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"b");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temp file left");
    }
}
