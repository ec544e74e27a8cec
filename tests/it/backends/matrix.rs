//! The fault matrix (RELIABILITY.md): a server dies with `kill -9` while the application
//! writes, comes back, and is synced at once, ten times in a row; after each death the replica
//! must restore to a database that passes `PRAGMA integrity_check` and holds every row a
//! `sync -wait` confirmed, with no hole anywhere below.
//!
//! The cells: `replicate` (the application keeps writing while the daemon is down) and
//! `replicate -exec APP` (supervisor, application and litestream all die, as in a container
//! crash), each on a `file` and an S3 (rclone) replica, with the application at SQLite's
//! defaults (`wal_autocheckpoint = 1000`) and with `cargo_litestream_api::sqlite`'s pragmas;
//! and, on a `file` replica at SQLite's defaults, the same database found by a `dir` + `pattern`
//! entry instead of named by a `databases` alias (its replica path, its WAL check and its
//! generated single-database config are their own code paths).
//! Each round commits at least [`COMMITS_PER_ROUND`] transactions, one row each, so the
//! application's own checkpoint runs in every round at the defaults.
//!
//! The application is this test binary again ([`writer_app`]), so `-exec` runs a real process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::servers;
use super::workload::assert_integrity;
use crate::support::{Daemon, Project};

/// Rounds (kill, restart, restore) per cell: 10, or `CARGO_LITESTREAM_MATRIX_ROUNDS` (what
/// `cargo xtask soak` sets).
fn rounds() -> usize {
    std::env::var("CARGO_LITESTREAM_MATRIX_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(10)
}
/// Commits per round: past SQLite's autocheckpoint (1000 pages; each commit adds a page or more).
const COMMITS_PER_ROUND: i64 = 1_500;
/// How often the test asks for a `sync -wait` while the application writes.
const CONFIRM_EVERY: Duration = Duration::from_millis(100);

/// Set in the writer's environment: `<database path>|<defaults or recommended>`.
const WRITER_ROLE: &str = "CARGO_LITESTREAM_TEST_WRITER";

/// The application: one row per transaction, `x` = the next integer, every half millisecond,
/// until killed or until `<database>.stop` exists. Several may run at once (an orphan of a
/// killed supervisor and its successor): each row is `max(x) + 1` inside its own transaction.
#[test]
#[ignore = "the application the fault matrix runs (set CARGO_LITESTREAM_TEST_WRITER)"]
fn writer_app() {
    let Ok(role) = std::env::var(WRITER_ROLE) else { return };
    let (path, pragmas) = role.split_once('|').expect("path|pragmas");
    let conn = rusqlite::Connection::open(path).unwrap();
    match pragmas {
        "recommended" => cargo_litestream_api::sqlite::configure(&conn).unwrap(),
        _ => {
            conn.pragma_update(None, "journal_mode", "wal").unwrap();
            conn.busy_timeout(Duration::from_secs(30)).unwrap();
        }
    }
    conn.execute_batch("CREATE TABLE IF NOT EXISTS t(x INTEGER PRIMARY KEY)").unwrap();
    let stop = format!("{path}.stop");
    let mut insert = conn.prepare("INSERT INTO t(x) SELECT coalesce(max(x), 0) + 1 FROM t").unwrap();
    // A failed test removes the project: an orphaned writer must not write on forever.
    while !Path::new(&stop).exists() && Path::new(path).exists() {
        insert.execute([]).unwrap();
        // A pause between requests, as a service has: a writer that takes the write lock back
        // at once starves Litestream's own brief write transactions past their busy timeout.
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Supervisor {
    /// `cargo litestream replicate`; the application runs on its own.
    Replicate,
    /// `cargo litestream replicate -exec APP`.
    Exec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pragmas {
    Defaults,
    Recommended,
}

/// How the configuration names the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `databases.default = "app.db"`.
    Alias,
    /// `dbs = [{ dir = "tenants", pattern = "*.db" }]`, the database `tenants/app.db`, named
    /// by its path on the command line.
    DirEntry,
}

impl Pragmas {
    fn name(self) -> &'static str {
        match self {
            Pragmas::Defaults => "defaults",
            Pragmas::Recommended => "recommended",
        }
    }
}

/// The command line of the writer application, for `-exec` (words split as a shell would).
fn writer_command() -> Vec<String> {
    let exe = std::env::current_exe().unwrap().to_string_lossy().into_owned();
    ["backends::matrix::writer_app", "--exact", "--ignored", "--quiet", "--test-threads=1"]
        .into_iter()
        .map(str::to_owned)
        .fold(vec![exe], |mut argv, a| {
            argv.push(a);
            argv
        })
}

/// The newest row, read through a connection of its own.
fn newest_row(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT coalesce(max(x), 0) FROM t", [], |r| r.get(0)).unwrap_or(0)
}

/// `sync -wait` of the database `name` (alias or path) at `db`: on success, every row up to
/// the one returned is in the replica.
fn confirm(project: &Project, name: &str, db: &Path) -> Result<i64, crate::support::Run> {
    let before = newest_row(db);
    let run = project.run(["sync", "-wait", "-timeout", "30", name]);
    if run.code == Some(0) { Ok(before) } else { Err(run) }
}

/// What one cell measured.
struct Figures {
    commits: i64,
    confirmations: usize,
    lost_confirmed: usize,
    /// Rows committed after the last confirmation and missing from the restore after a kill:
    /// not promised (they had not been confirmed), reported.
    unconfirmed_at_kill: Vec<i64>,
    elapsed: Duration,
}

fn run_cell(supervisor: Supervisor, s3: bool, pragmas: Pragmas) {
    run_cell_with(supervisor, s3, pragmas, Layout::Alias);
}

fn run_cell_with(supervisor: Supervisor, s3: bool, pragmas: Pragmas, layout: Layout) {
    let started = Instant::now();
    let backend = s3.then(servers::rclone_s3);
    // The name the commands below are given, and the file.
    let (name, file) = match layout {
        Layout::Alias => ("default", "app.db"),
        Layout::DirEntry => ("tenants/app.db", "tenants/app.db"),
    };
    let mut project = match (&backend, layout) {
        (Some(backend), Layout::Alias) => backend.project(&[("default", "app.db")]),
        (None, Layout::Alias) => Project::new(
            "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
        ),
        (backend, Layout::DirEntry) => {
            assert!(backend.is_none(), "the dir-entry cells run on a file replica");
            Project::new(
                "[package.metadata.litestream]\nreplica = \"replica\"\ndbs = [{ dir = \"tenants\", pattern = \"*.db\" }]\n",
            )
        }
    };
    let db = project.path().join(file);
    {
        let conn = project.sqlite(file);
        conn.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY)").unwrap();
    }
    project.env.push((WRITER_ROLE.into(), format!("{}|{}", db.display(), pragmas.name())));
    let cell = format!(
        "{} / {}{} / {}",
        match supervisor {
            Supervisor::Replicate => "replicate",
            Supervisor::Exec => "replicate -exec",
        },
        if s3 { "s3" } else { "file" },
        if layout == Layout::DirEntry { ", dir entry" } else { "" },
        pragmas.name()
    );

    // `replicate`: the application outlives every daemon.
    let mut app = (supervisor == Supervisor::Replicate).then(|| Writer::spawn(&project));
    let mut figures = Figures {
        commits: 0,
        confirmations: 0,
        lost_confirmed: 0,
        unconfirmed_at_kill: Vec::new(),
        elapsed: Duration::ZERO,
    };
    // (confirmed, committed at the kill) of each round, for the failure message.
    let mut history = Vec::new();
    for round in 1..=rounds() {
        let mut daemon = match supervisor {
            Supervisor::Replicate => project.replicate::<_, &str>([]),
            Supervisor::Exec => {
                let mut command = project.cmd(["replicate", "-exec", &writer_command().join(" ")]);
                std::os::unix::process::CommandExt::process_group(&mut command, 0);
                project.daemon(command)
            }
        };
        // The restart, then a sync at once: the moment that used to lose commits.
        let mut confirmed = confirm(&project, name, &db).unwrap_or_else(|run| {
            panic!("{cell}, round {round}: the first sync failed\n{run}\n{}", daemon.log())
        });
        figures.confirmations += 1;
        let target = newest_row(&db) + COMMITS_PER_ROUND;
        while newest_row(&db) < target {
            std::thread::sleep(CONFIRM_EVERY);
            if let Ok(rows) = confirm(&project, name, &db) {
                confirmed = rows;
                figures.confirmations += 1;
            }
        }
        let at_kill = kill_everything(&project, &db, &mut daemon, supervisor);

        let out = project.path().join(format!("round-{round}.db"));
        project.run(["restore", "-o", out.to_str().unwrap(), name]).success();
        assert_integrity(&out);
        let rows = crate::support::rows(&out);
        let k = rows.len() as i64;
        let holes = rows.iter().zip(1..).filter(|(r, i)| **r != *i).count();
        let lost = (1..=confirmed).filter(|x| rows.binary_search(x).is_err()).count();
        assert!(
            holes == 0 && lost == 0,
            "{cell}, round {round}: {lost} of {confirmed} confirmed rows missing from the restore ({k} rows; missing: \
             {}); the previous rounds: {history:?}\n{}",
            missing_ranges(&rows, confirmed),
            daemon.log()
        );
        history.push((confirmed, at_kill));
        figures.lost_confirmed += lost;
        figures.unconfirmed_at_kill.push(at_kill - k.max(confirmed));
        figures.commits = at_kill;
        std::fs::remove_file(&out).unwrap();
    }

    // The end: the application stops, a clean daemon ships the rest, everything restores.
    std::fs::write(format!("{}.stop", db.display()), "").unwrap();
    if let Some(app) = app.as_mut() {
        app.0.wait().unwrap();
    }
    // Orphaned writers of killed supervisors see the stop file too.
    wait_for_no_writer(&db);
    let last = newest_row(&db);
    let mut daemon = project.replicate::<_, &str>([]);
    if let Err(run) = confirm(&project, name, &db) {
        panic!("{cell}: the final sync failed\n{run}\n{}", daemon.log());
    }
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    let out = project.path().join("final.db");
    project.run(["restore", "-o", out.to_str().unwrap(), name]).success();
    assert_integrity(&out);
    let rows = crate::support::rows(&out);
    assert!(rows.iter().copied().eq(1..=last), "{cell}: the final restore is not 1..={last}");
    figures.elapsed = started.elapsed();

    let mut at_risk = figures.unconfirmed_at_kill.clone();
    at_risk.sort_unstable();
    println!(
        "matrix: {cell}: {} kills, {} commits, {} confirmations, {} confirmed rows lost, unconfirmed rows missing \
         after a kill: median {} max {}, final restore {last} of {last} rows, {:.1} s",
        rounds(),
        figures.commits,
        figures.confirmations,
        figures.lost_confirmed,
        at_risk[at_risk.len() / 2],
        at_risk.last().unwrap(),
        figures.elapsed.as_secs_f64()
    );
}

/// The rows of `1..=up_to` missing from `rows` (sorted), as ranges.
fn missing_ranges(rows: &[i64], up_to: i64) -> String {
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for x in (1..=up_to).filter(|x| rows.binary_search(x).is_err()) {
        match ranges.last_mut() {
            Some((_, end)) if *end == x - 1 => *end = x,
            _ => ranges.push((x, x)),
        }
    }
    ranges
        .iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The application run on its own (for `replicate`), killed if the test fails.
struct Writer(std::process::Child);

impl Writer {
    fn spawn(project: &Project) -> Writer {
        let argv = writer_command();
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        project.hermetic(&mut command);
        Writer(command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGKILL to litestream and, with `-exec`, to the supervisor's whole process group (itself and
/// the application) at once: nothing gets to shut down. The newest committed row at the kill.
fn kill_everything(project: &Project, db: &Path, daemon: &mut Daemon, supervisor: Supervisor) -> i64 {
    let litestream: i32 = project.run(["info", "-json"]).success().json()["pid"].as_i64().unwrap() as i32;
    match supervisor {
        Supervisor::Replicate => {
            assert_eq!(litestream as u32, daemon.pid(), "replicate execs litestream");
            daemon.stop_with(libc::SIGKILL);
        }
        Supervisor::Exec => {
            let group = daemon.pid() as i32;
            // SAFETY: kill(2) on processes this test started (litestream's PID is its child's).
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(litestream, libc::SIGKILL);
                libc::kill(-group, libc::SIGKILL);
            }
            daemon.stop_with(libc::SIGKILL);
            assert!(
                crate::procs::wait_gone(litestream as u32, Duration::from_secs(10)),
                "litestream survived"
            );
        }
    }
    newest_row(db)
}

/// Until no process has `db` open for writing any more (orphaned writers exit at the stop file).
fn wait_for_no_writer(db: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = -1;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = newest_row(db);
        if now == last {
            return;
        }
        assert!(Instant::now() < deadline, "a writer is still running");
        last = now;
    }
}

#[test]
fn kill_9_replicate_file_defaults() {
    run_cell(Supervisor::Replicate, false, Pragmas::Defaults);
}

#[test]
fn kill_9_replicate_file_recommended() {
    run_cell(Supervisor::Replicate, false, Pragmas::Recommended);
}

#[test]
fn kill_9_replicate_s3_defaults() {
    run_cell(Supervisor::Replicate, true, Pragmas::Defaults);
}

#[test]
fn kill_9_replicate_s3_recommended() {
    run_cell(Supervisor::Replicate, true, Pragmas::Recommended);
}

#[test]
fn kill_9_replicate_exec_file_defaults() {
    run_cell(Supervisor::Exec, false, Pragmas::Defaults);
}

#[test]
fn kill_9_replicate_exec_file_recommended() {
    run_cell(Supervisor::Exec, false, Pragmas::Recommended);
}

#[test]
fn kill_9_replicate_exec_s3_defaults() {
    run_cell(Supervisor::Exec, true, Pragmas::Defaults);
}

#[test]
fn kill_9_replicate_exec_s3_recommended() {
    run_cell(Supervisor::Exec, true, Pragmas::Recommended);
}

#[test]
fn kill_9_replicate_dir_entry_file_defaults() {
    run_cell_with(Supervisor::Replicate, false, Pragmas::Defaults, Layout::DirEntry);
}

#[test]
fn kill_9_replicate_exec_dir_entry_file_defaults() {
    run_cell_with(Supervisor::Exec, false, Pragmas::Defaults, Layout::DirEntry);
}
