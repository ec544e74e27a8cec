//! Files the real litestream writes: `litestream replicate` on a temporary database with a
//! file replica, a few thousand rows in several transactions, then every file it wrote decoded.
//! Needs the provisioned tools (`CARGO_LITESTREAM_TOOLS`, set by `cargo xtask test`).

#![allow(clippy::disallowed_methods)] // tests read their own environment (the tools folder)

mod common;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use cargo_litestream_ltx::PageReader;
use common::{LtxFile, apply, check_file, error_chain, integrity_and_rows, list};

const TRANSACTIONS: i64 = 8;
const ROWS_EACH: i64 = 400;

fn litestream() -> Option<PathBuf> {
    let Some(tools) = std::env::var_os("CARGO_LITESTREAM_TOOLS") else {
        println!(
            "skipped: CARGO_LITESTREAM_TOOLS is unset (`cargo xtask test` sets it to the provisioned tools)"
        );
        return None;
    };
    let bin = Path::new(&tools).join("venv/bin/litestream");
    assert!(bin.is_file(), "CARGO_LITESTREAM_TOOLS is set, but {} is missing", bin.display());
    Some(bin)
}

/// Stops litestream with SIGTERM when dropped (its shutdown sync runs), SIGKILL if it lingers.
struct Replicator(Child);

impl Replicator {
    fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Replicator {
    fn drop(&mut self) {
        self.stop();
    }
}

fn newest(files: &[LtxFile], level: u32) -> Option<&LtxFile> {
    files.iter().filter(|f| f.level == level).max_by_key(|f| f.max)
}

#[test]
fn decodes_every_file_litestream_writes() {
    let Some(litestream) = litestream() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("app.db");
    let replica = dir.path().join("replica");
    let config = dir.path().join("litestream.yml");
    fs::write(
        &config,
        format!(
            "levels: [{{interval: 2s}}]\nsnapshot: {{interval: 4s, retention: 1h}}\ndbs:\n  - path: {}\n    \
             monitor-interval: 200ms\n    replica: {{type: file, path: {}, sync-interval: 200ms}}\n",
            db_path.display(),
            replica.display()
        ),
    )
    .unwrap();
    let db = rusqlite::Connection::open(&db_path).unwrap();
    db.pragma_update(None, "journal_mode", "wal").unwrap();
    db.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)").unwrap();

    let log = dir.path().join("litestream.log");
    let mut replicator = Replicator(
        Command::new(&litestream)
            .args(["replicate", "-config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(File::create(&log).unwrap())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    for tx in 0..TRANSACTIONS {
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2) \
             INSERT INTO t(v) SELECT printf('%d-%d-', ?1, i) || hex(randomblob(40)) FROM n",
            (tx, ROWS_EACH),
        )
        .unwrap();
        sleep(Duration::from_millis(400));
    }
    // Until the compactions and a snapshot have caught up with the last write.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let files = if replica.join("ltx").is_dir() { list(&replica) } else { Vec::new() };
        let latest = newest(&files, 0).map(|f| f.max);
        if latest.is_some()
            && newest(&files, 1).map(|f| f.max) == latest
            && newest(&files, 9).map(|f| f.max) == latest
        {
            break;
        }
        let log = fs::read_to_string(&log).unwrap_or_default();
        assert!(Instant::now() < deadline, "no L0, L1 and L9 files up to date after 60 s:\n{log}");
        sleep(Duration::from_millis(200));
    }
    replicator.stop();
    drop(db);

    let files = list(&replica);
    for level in [0, 1, 9] {
        assert!(files.iter().any(|f| f.level == level), "no level {level} files");
    }
    for file in &files {
        let summary = check_file(file);
        assert_eq!(summary.frame_pages, 0, "0.5.17 writes LZ4 blocks");
        let reader = PageReader::open(File::open(&file.path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {}", file.path.display(), error_chain(&e)));
        assert_eq!(reader.index().len(), summary.page_count as usize, "{}", file.path.display());
        if summary.header.is_snapshot() {
            assert_eq!(summary.page_count, summary.header.commit, "a snapshot holds every page");
        }
    }

    // The newest snapshot, decoded, is the database litestream restores at its TXID.
    let snapshot = newest(&files, 9).unwrap();
    let decoded = dir.path().join("decoded.db");
    apply(&[snapshot], &decoded);
    let restored = dir.path().join("restored.db");
    let out = Command::new(&litestream)
        .args(["restore", "-config"])
        .arg(&config)
        .args(["-txid", &snapshot.max.to_string(), "-o"])
        .arg(&restored)
        .arg(&db_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "litestream restore: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(integrity_and_rows(&decoded), ("ok".to_owned(), TRANSACTIONS * ROWS_EACH));
    assert!(
        fs::read(&decoded).unwrap() == fs::read(&restored).unwrap(),
        "the snapshot differs from the restore"
    );
}
