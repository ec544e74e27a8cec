//! Commits a restarted Litestream would skip, and how to make it take them.
//!
//! While no Litestream runs, the application's own checkpoint (SQLite's default
//! `wal_autocheckpoint`) may copy the WAL into the database file and restart the WAL from its
//! start. Frames Litestream had not shipped before it stopped (a `kill -9`, a crash, a deploy)
//! are then only in the database file. When Litestream 0.5.17 starts again it compares the
//! WAL with the newest LTX file it wrote (`db.go`, `verify`): it reads the frame just before
//! the offset it had reached, and if that frame still holds the page it last shipped, it
//! takes the new salt for an ordinary restart and goes on incrementally from the new WAL's
//! start. But a restarted WAL shorter than that offset leaves the old frame where it was, with
//! its old salt and content: the check passes, and the commits that were only in the
//! unshipped tail of the old WAL never reach the replica (until the next snapshot). The fault
//! matrix in RELIABILITY.md lost such commits before this check existed.
//!
//! So before starting Litestream, each database's WAL header is compared with the newest
//! local level-0 LTX file. The same salts mean the WAL was not restarted since Litestream last
//! synced: it resumes where it was. Other salts (or no LTX file to compare with, while the WAL
//! holds frames) mean it may have been: a `wal_checkpoint(TRUNCATE)` then empties the WAL, and
//! Litestream, finding a WAL shorter than its offset, takes a full snapshot of the database
//! file, which holds every commit. That costs one snapshot upload, only after a restart of the
//! WAL while nothing replicated it; an application with `wal_autocheckpoint = 0`
//! ([`crate::sqlite`]) never restarts the WAL itself, so it rarely pays.
//!
//! The caller must hold the replicate lock: no Litestream may be reading the WAL meanwhile.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The WAL's magic numbers (big- and little-endian checksums).
const WAL_MAGIC: [u32; 2] = [0x377f_0682, 0x377f_0683];
const WAL_HEADER_SIZE: usize = 32;
/// LTX header (superfly/ltx v0.5 `Header.MarshalBinary`): magic, then big-endian fields; the
/// WAL salts are at bytes 64..72.
const LTX_MAGIC: &[u8; 4] = b"LTX1";
const LTX_HEADER_PREFIX: usize = 72;

/// What was found, per database.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum WalState {
    /// No WAL, or one without frames: nothing only in the WAL.
    Empty,
    /// The WAL goes on from where Litestream's newest LTX file left it.
    Continuous,
    /// The WAL was (or may have been) restarted since: it was checkpointed into the database
    /// and truncated, so Litestream starts with a snapshot.
    Checkpointed { why: String },
    /// As `Checkpointed`, but the checkpoint could not complete (another connection kept it
    /// from finishing within the timeout): Litestream may skip commits until its next snapshot.
    Busy { why: String },
}

/// A read transaction on a database whose WAL was found [`WalState::Continuous`]: while it is
/// open no connection can restart the WAL, so it stays continuous until Litestream holds a
/// read lock of its own. Drop it once Litestream has synced the database once (its first sync
/// opens the database); until then it only keeps checkpoints from restarting the WAL, and
/// delays nothing else.
pub struct WalGuard {
    _reader: Option<rusqlite::Connection>,
}

/// Checks the database at `db`, whose Litestream state is in `meta_dir` (`<dir>/.<file>-litestream`
/// unless `meta-path` moves it), and checkpoints it when Litestream would skip commits.
///
/// The read transaction comes first: a check made without it could find the WAL continuous
/// and see the application restart it a moment later, before Litestream has opened it. After
/// a TRUNCATE checkpoint no guard is needed: Litestream's recorded offset then lies past the
/// end of the file or in frames with other salts, and either way it takes a snapshot.
pub fn close_gap(
    db: &Path,
    meta_dir: &Path,
    busy_timeout: Duration,
) -> std::io::Result<(WalState, WalGuard)> {
    let unguarded = WalGuard { _reader: None };
    if wal_salts(db)?.is_none() {
        return Ok((WalState::Empty, unguarded));
    }
    // Read-only: a reader's lock is all the guard needs, and it must not count as a writer to
    // anything that looks (`restore -force`).
    let conn = open(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY, busy_timeout)?;
    conn.execute_batch("BEGIN; SELECT count(*) FROM sqlite_master;").map_err(|e| sqlite_error(db, e))?;
    let Some(wal_salts) = wal_salts(db)? else {
        return Ok((WalState::Empty, unguarded));
    };
    let why = match newest_l0_salts(meta_dir)? {
        Some(ltx_salts) if ltx_salts == wal_salts => {
            return Ok((WalState::Continuous, WalGuard { _reader: Some(conn) }));
        }
        Some(_) => "the WAL was restarted since litestream last synced it".to_owned(),
        None => "litestream has no local position to resume the WAL from".to_owned(),
    };
    drop(conn);
    let conn = open(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE, busy_timeout)?;
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
        .map_err(|e| sqlite_error(db, e))?;
    let state = if busy == 0 { WalState::Checkpointed { why } } else { WalState::Busy { why } };
    Ok((state, unguarded))
}

/// `meta-path`, else Litestream's default beside the database.
pub fn default_meta_dir(db: &Path) -> PathBuf {
    let name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    db.with_file_name(format!(".{name}-litestream"))
}

/// The salts of the WAL header, or `None` when there is no WAL with a valid header and frames.
fn wal_salts(db: &Path) -> std::io::Result<Option<[u32; 2]>> {
    let wal = cargo_litestream_config::sidecar(db, "-wal");
    let mut file = match File::open(&wal) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let len = file.metadata()?.len();
    let mut header = [0u8; WAL_HEADER_SIZE];
    if len <= WAL_HEADER_SIZE as u64 || file.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    let magic = u32::from_be_bytes(header[0..4].try_into().unwrap_or_default());
    if !WAL_MAGIC.contains(&magic) {
        return Ok(None);
    }
    Ok(Some([be32(&header[16..20]), be32(&header[20..24])]))
}

/// The WAL salts recorded in the level-0 LTX file with the highest TXID, if there is one.
fn newest_l0_salts(meta_dir: &Path) -> std::io::Result<Option<[u32; 2]>> {
    let dir = meta_dir.join("ltx").join("0");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let newest = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let (_, max) = name.strip_suffix(".ltx")?.split_once('-')?;
            Some((u64::from_str_radix(max, 16).ok()?, entry.path()))
        })
        .max_by_key(|(max, _)| *max);
    let Some((_, path)) = newest else { return Ok(None) };
    let mut header = [0u8; LTX_HEADER_PREFIX];
    if File::open(&path).and_then(|mut f| f.read_exact(&mut header)).is_err() || &header[0..4] != LTX_MAGIC {
        return Ok(None); // unreadable: no position to trust
    }
    Ok(Some([be32(&header[64..68]), be32(&header[68..72])]))
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes.try_into().unwrap_or_default())
}

fn open(
    db: &Path,
    mode: rusqlite::OpenFlags,
    busy_timeout: Duration,
) -> std::io::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(db, mode | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| sqlite_error(db, e))?;
    conn.busy_timeout(busy_timeout).map_err(|e| sqlite_error(db, e))?;
    Ok(conn)
}

fn sqlite_error(db: &Path, error: rusqlite::Error) -> std::io::Error {
    std::io::Error::other(format!("{}: {error}", db.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_db(dir: &Path) -> (PathBuf, rusqlite::Connection) {
        let path = dir.join("app.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "wal").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
        (path, conn)
    }

    fn write_l0(meta: &Path, max_txid: u64, salts: [u32; 2]) {
        let dir = meta.join("ltx/0");
        std::fs::create_dir_all(&dir).unwrap();
        let mut header = vec![0u8; 100];
        header[0..4].copy_from_slice(LTX_MAGIC);
        header[64..68].copy_from_slice(&salts[0].to_be_bytes());
        header[68..72].copy_from_slice(&salts[1].to_be_bytes());
        std::fs::write(dir.join(format!("{max_txid:016x}-{max_txid:016x}.ltx")), header).unwrap();
    }

    #[test]
    fn the_same_salts_leave_the_wal_alone_and_others_checkpoint_it() {
        let dir = tempfile::tempdir().unwrap();
        let (db, conn) = wal_db(dir.path());
        conn.busy_timeout(Duration::ZERO).unwrap();
        let meta = default_meta_dir(&db);
        let salts = wal_salts(&db).unwrap().expect("a WAL with frames");

        write_l0(&meta, 1, [0, 0]);
        write_l0(&meta, 2, salts);
        let (state, guard) = close_gap(&db, &meta, Duration::from_secs(1)).unwrap();
        assert_eq!(state, WalState::Continuous);
        // While the guard is held, no checkpoint can restart the WAL.
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)).unwrap();
        assert_eq!(busy, 1);
        drop(guard);

        // A newer file with other salts: the WAL restarted since; checkpointed to empty.
        write_l0(&meta, 0x10, [salts[0].wrapping_add(1), 7]);
        let (state, _) = close_gap(&db, &meta, Duration::from_secs(1)).unwrap();
        assert!(matches!(state, WalState::Checkpointed { .. }), "{state:?}");
        assert_eq!(std::fs::metadata(cargo_litestream_config::sidecar(&db, "-wal")).unwrap().len(), 0);
        assert_eq!(close_gap(&db, &meta, Duration::from_secs(1)).unwrap().0, WalState::Empty);
    }

    #[test]
    fn no_position_with_frames_checkpoints_and_a_reader_makes_it_busy() {
        let dir = tempfile::tempdir().unwrap();
        let (db, conn) = wal_db(dir.path());
        let meta = default_meta_dir(&db);
        // A reader in the middle of a transaction keeps TRUNCATE from finishing.
        let reader = rusqlite::Connection::open(&db).unwrap();
        reader.execute_batch("BEGIN; SELECT count(*) FROM t;").unwrap();
        conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let (state, _) = close_gap(&db, &meta, Duration::from_millis(50)).unwrap();
        assert!(matches!(state, WalState::Busy { .. }), "{state:?}");
        reader.execute_batch("COMMIT").unwrap();
        let (state, _) = close_gap(&db, &meta, Duration::from_millis(50)).unwrap();
        assert!(matches!(state, WalState::Checkpointed { .. }), "{state:?}");
    }

    #[test]
    fn no_wal_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("none.db");
        assert_eq!(close_gap(&db, &default_meta_dir(&db), Duration::ZERO).unwrap().0, WalState::Empty);
    }
}
