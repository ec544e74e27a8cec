//! What the backend tests do to a database: a writer thread committing numbered rows, syncs
//! confirmed through the control socket, restores, and their checks.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::{Project, Run};

/// `CREATE TABLE t(x INTEGER PRIMARY KEY)` with rows `1..=n` in the project's `file`.
pub fn seed(project: &Project, file: &str, n: i64) {
    let conn = project.sqlite(file);
    conn.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY)").unwrap();
    insert(project, file, 1..=n);
}

pub fn insert(project: &Project, file: &str, values: impl IntoIterator<Item = i64>) {
    let conn = project.sqlite(file);
    for v in values {
        conn.execute("INSERT INTO t VALUES (?1)", [v]).unwrap();
    }
}

/// `sync -wait -json DB`: returns once the replica holds everything committed before the
/// call, with the replica's TXID.
#[track_caller]
pub fn sync_wait(project: &Project, db: &str) -> u64 {
    let run = project.run(["sync", "-wait", "-json", "-timeout", "60", db]).success();
    run.json()["replica_txid"].as_u64().unwrap_or_else(|| panic!("no replica_txid\n{run}"))
}

/// Restores `db` (alias, path or replica URL) into a fresh file of the project; its rows.
#[track_caller]
pub fn restore(project: &Project, db: &str, out: &str) -> Vec<i64> {
    let out = project.p(out);
    project.run(["restore", "-integrity-check", "full", "-o", &out, db]).success();
    assert_integrity(Path::new(&out));
    crate::support::rows(Path::new(&out))
}

/// `PRAGMA integrity_check` says `ok`.
#[track_caller]
pub fn assert_integrity(path: &Path) {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let result: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(result, "ok", "integrity_check of {}", path.display());
}

/// The rows are exactly `1..=k` for some `k >= at_least` (a consistent prefix of the commit
/// order holding every row that had to be there); returns `k`.
#[track_caller]
pub fn assert_prefix(rows: &[i64], at_least: i64, context: &str) -> i64 {
    let k = rows.len() as i64;
    assert!(
        rows.iter().copied().eq(1..=k),
        "{context}: restored rows are not 1..={k} (first gap near {:?})",
        rows.iter().zip(1..).find(|(r, i)| **r != *i)
    );
    assert!(k >= at_least, "{context}: restored {k} rows, but {at_least} were committed and had to be there");
    k
}

/// A thread inserting 1, 2, 3, … into `t` (one transaction each, a millisecond apart) until
/// stopped or `limit` rows, recording the last committed row.
pub struct Writer {
    stop: Arc<AtomicBool>,
    committed: Arc<AtomicI64>,
    handle: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(project: &Project, file: &str, from: i64, limit: i64) -> Writer {
        let path = project.path().join(file);
        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicI64::new(from - 1));
        let handle = {
            let (stop, committed) = (stop.clone(), committed.clone());
            std::thread::spawn(move || {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(Duration::from_secs(30)).unwrap();
                let mut next = from;
                while !stop.load(Ordering::SeqCst) && next < from + limit {
                    conn.execute("INSERT INTO t VALUES (?1)", [next]).unwrap();
                    committed.store(next, Ordering::SeqCst);
                    next += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        Writer { stop, committed, handle: Some(handle) }
    }

    /// The last row whose transaction has committed.
    pub fn committed(&self) -> i64 {
        self.committed.load(Ordering::SeqCst)
    }

    /// Blocks until at least `n` rows are committed in all (bounded: 60 s).
    #[track_caller]
    pub fn wait_for(&self, n: i64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while self.committed() < n {
            assert!(
                !self.handle.as_ref().unwrap().is_finished(),
                "the writer stopped at {}",
                self.committed()
            );
            assert!(
                std::time::Instant::now() < deadline,
                "the writer reached only {} of {n}",
                self.committed()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stops the writer; the last committed row.
    pub fn finish(mut self) -> i64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            handle.join().expect("writer thread");
        }
        self.committed()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// A run that must end (a refused `replicate` would otherwise run forever): killed and failed
/// after `limit`.
#[track_caller]
pub fn run_bounded(project: &Project, args: &[&str], limit: Duration) -> Run {
    let mut command = project.cmd(args);
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = command.spawn().unwrap();
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`cargo litestream {}` still ran after {limit:?}\n{}",
                args.join(" "),
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}
