//! The library API (`cargo-litestream-api`) as an application uses it, in this process:
//! `restore_if_missing`, `spawn_replicate` and its handle, against the real litestream 0.5.17
//! and a `file` replica. The orphan test runs the "application" as a child process (this test
//! binary again), kills it with SIGKILL and checks that its litestream ended too.

use std::path::Path;
use std::time::Duration;

use cargo_litestream_api::config::{Env, Project as Config};
use cargo_litestream_api::{
    LogOutput, ReplicateOptions, RestoreAction, RestoreOptions, locate_litestream, restore_if_missing,
    spawn_replicate,
};

use crate::procs;
use crate::support::{Project, litestream_bin, rows};

fn project() -> Project {
    Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"data/app.db\"\n",
    )
}

fn env(project: &Project) -> Env {
    Env::empty(project.path())
        .with("PATH", std::env::var_os("PATH").unwrap_or_default())
        .with("HOME", project.path())
        .with("CARGO_LITESTREAM_BIN", litestream_bin())
}

fn load(project: &Project) -> Config {
    Config::load(Some(&project.path().join("Cargo.toml")), &env(project)).unwrap()
}

fn options(project: &Project) -> ReplicateOptions {
    ReplicateOptions {
        log: LogOutput::File(project.path().join("litestream.log")),
        ..ReplicateOptions::default()
    }
}

fn log(project: &Project) -> String {
    std::fs::read_to_string(project.path().join("litestream.log")).unwrap_or_default()
}

fn insert(project: &Project, values: &[i64]) {
    let conn = project.sqlite("data/app.db");
    conn.execute_batch("CREATE TABLE IF NOT EXISTS t(x INTEGER)").unwrap();
    for v in values {
        conn.execute("INSERT INTO t VALUES (?1)", [v]).unwrap();
    }
}

/// Replicates rows 1..=n through the library, stops, and returns the database's path.
fn replicated(project: &Project, n: i64) -> std::path::PathBuf {
    let (config, env) = (load(project), env(project));
    let litestream = locate_litestream(&config, &env).unwrap();
    let handle = spawn_replicate(&config, &env, &litestream, &options(project)).unwrap();
    insert(project, &(1..=n).collect::<Vec<_>>());
    let stopped = handle.stop().unwrap();
    assert!(stopped.final_sync.is_ok(), "{:?}\n{}", stopped.final_sync, log(project));
    project.path().join("data/app.db")
}

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn restore_if_missing_restores_an_absent_database() {
    let project = project();
    let db = replicated(&project, 3);
    remove_database(&db);
    let (config, env) = (load(&project), env(&project));
    let litestream = locate_litestream(&config, &env).unwrap();
    let reports = restore_if_missing(&config, &env, &litestream, &RestoreOptions::default()).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].database, "default");
    assert_eq!(reports[0].action, RestoreAction::Restored);
    assert_eq!(rows(&db), [1, 2, 3]);

    // Present now: untouched, byte for byte, even though the replica would give other data.
    let conn = project.sqlite("data/app.db");
    conn.execute("DELETE FROM t", []).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
    drop(conn);
    let before = std::fs::read(&db).unwrap();
    let reports = restore_if_missing(&config, &env, &litestream, &RestoreOptions::default()).unwrap();
    assert_eq!(reports[0].action, RestoreAction::Present);
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert_eq!(rows(&db), Vec::<i64>::new());
}

#[test]
fn restore_if_missing_without_a_backup_does_nothing() {
    let project = project();
    let (config, env) = (load(&project), env(&project));
    let litestream = locate_litestream(&config, &env).unwrap();
    let reports = restore_if_missing(&config, &env, &litestream, &RestoreOptions::default()).unwrap();
    assert_eq!(reports[0].action, RestoreAction::NoBackup);
    assert!(!project.path().join("data/app.db").exists(), "nothing is created");
    assert!(!project.path().join("replica").exists(), "the replica is not touched");
}

/// `restore_if_missing` refuses, changing nothing, an absent database with sidecars left over,
/// and one a replicator holds: each its own error variant, one line naming the database.
#[test]
fn restore_if_missing_refuses_leftover_sidecars_and_a_replicated_database() {
    let project = project();
    let db = replicated(&project, 2);
    let (config, env) = (load(&project), env(&project));
    let litestream = locate_litestream(&config, &env).unwrap();

    let wal = project.path().join("data/app.db-wal");
    std::fs::remove_file(&db).unwrap();
    std::fs::write(&wal, b"an old WAL").unwrap();
    let error = restore_if_missing(&config, &env, &litestream, &RestoreOptions::default()).unwrap_err();
    assert!(matches!(error, cargo_litestream_api::ReplicateError::OrphanedSidecars { .. }), "{error}");
    assert!(error.to_string().starts_with(&format!("could not restore {}", db.display())), "{error}");
    assert!(!db.exists(), "nothing restored");
    assert_eq!(std::fs::read(&wal).unwrap(), b"an old WAL", "the sidecar is the user's to remove");
    std::fs::remove_file(&wal).unwrap();

    // A replicator holds the database's lock (it would recreate the file as it writes).
    let handle = spawn_replicate(&config, &env, &litestream, &options(&project)).unwrap();
    remove_database(&db);
    let error = restore_if_missing(&config, &env, &litestream, &RestoreOptions::default()).unwrap_err();
    assert!(matches!(error, cargo_litestream_api::ReplicateError::BeingReplicated { .. }), "{error}");
    assert!(error.to_string().contains(&format!("process {}", handle.pid())), "{error}");
    assert!(!db.exists(), "nothing restored");
    drop(handle.stop());
}

/// Rows written while the handle runs are in the replica after `stop()`; meanwhile the CLI
/// reaches the same daemon (same socket) and a second replicator is refused.
#[test]
fn spawn_replicate_rows_written_while_running_are_restorable_after_stop() {
    let project = project();
    insert(&project, &[1]);
    let (config, env) = (load(&project), env(&project));
    let litestream = locate_litestream(&config, &env).unwrap();
    let handle = spawn_replicate(&config, &env, &litestream, &options(&project)).unwrap();
    assert_eq!(handle.first_sync().as_ref().map(Vec::len).ok(), Some(1), "{}", log(&project));

    project.run(["info", "-json"]).success().stdout_has(&format!("\"pid\": {}", handle.pid()));
    project.run(["replicate"]).our_error(&["already being replicated", &format!("process {}", handle.pid())]);

    insert(&project, &[2, 3, 4]);
    let synced = handle.sync(Duration::from_secs(30)).unwrap();
    assert_eq!(synced[0].txid, synced[0].replica_txid);
    insert(&project, &[5]);
    let pid = handle.pid();
    let stopped = handle.stop().unwrap();
    assert!(stopped.status.success(), "{stopped:?}\n{}", log(&project));
    assert!(!stopped.killed && !stopped.died_before);
    assert!(stopped.final_sync.is_ok(), "{stopped:?}");
    assert!(!procs::running(pid));

    let out = project.p("restored.db");
    project.run(["restore", "-o", &out, "default"]).success();
    assert_eq!(rows(Path::new(&out)), [1, 2, 3, 4, 5]);
    // The lock went with it: the CLI may replicate now.
    project.run(["replicate", "-once"]).success();
}

#[test]
fn dropping_the_handle_stops_litestream() {
    let project = project();
    insert(&project, &[1]);
    let (config, env) = (load(&project), env(&project));
    let litestream = locate_litestream(&config, &env).unwrap();
    let handle = spawn_replicate(&config, &env, &litestream, &options(&project)).unwrap();
    let pid = handle.pid();
    assert!(procs::running(pid));
    insert(&project, &[2]);
    drop(handle);
    assert!(!procs::running(pid), "litestream still runs after the handle was dropped");
    assert!(log(&project).contains("litestream shut down"), "{}", log(&project));
    let out = project.p("restored.db");
    project.run(["restore", "-o", &out, "default"]).success();
    assert_eq!(rows(Path::new(&out)), [1, 2]);
}

#[test]
fn a_killed_litestream_is_reported() {
    let project = project();
    insert(&project, &[1]);
    let (config, env) = (load(&project), env(&project));
    let litestream = locate_litestream(&config, &env).unwrap();
    let handle = spawn_replicate(&config, &env, &litestream, &options(&project)).unwrap();
    let watch = handle.watch();
    assert!(watch.exited().is_none());
    let reporter = std::thread::spawn(move || watch.wait());
    procs::kill(handle.pid(), libc::SIGKILL);
    let exit = reporter.join().unwrap();
    assert!(!exit.requested, "not a stop the application asked for");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(exit.status.signal(), Some(libc::SIGKILL));
    assert_eq!(handle.exited().map(|e| e.requested), Some(false));
    let stopped = handle.stop().unwrap();
    assert!(stopped.died_before);
    assert!(stopped.final_sync.is_err());
}

#[test]
fn spawn_replicate_refusals() {
    let project = project();
    insert(&project, &[1]);
    let (config, env) = (load(&project), env(&project));
    let litestream = locate_litestream(&config, &env).unwrap();
    let daemon = project.replicate::<_, &str>([]);
    let error = spawn_replicate(&config, &env, &litestream, &options(&project)).unwrap_err().to_string();
    assert!(error.contains("already being replicated"), "{error}");
    drop(daemon);

    project.write_manifest(
        "[package.metadata.litestream]\nreplica = \"replica\"\nsocket = { enabled = false }\n\n[package.metadata.litestream.databases]\ndefault = \"data/app.db\"\n",
    );
    let error =
        spawn_replicate(&load(&project), &env, &litestream, &options(&project)).unwrap_err().to_string();
    assert!(error.contains("socket.enabled = false"), "{error}");
}

/// The application is killed with SIGKILL (no destructor runs): its litestream gets SIGTERM from
/// the kernel (parent-death signal) and exits: no orphan. Linux sends that signal each time
/// litestream is re-parented while the dying application's threads exit, and a second SIGTERM
/// makes litestream 0.5.17 skip its shutdown sync; the last write then stays in the database and
/// the next replication ships it.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_application_leaves_no_orphan() {
    const ROLE: &str = "CARGO_LITESTREAM_TEST_APP_DIR";
    if let Some(dir) = std::env::var_os(ROLE) {
        // The application's side, in a child process.
        let root = Path::new(&dir);
        let env = Env::empty(root)
            .with("PATH", std::env::var_os("PATH").unwrap_or_default())
            .with("CARGO_LITESTREAM_BIN", litestream_bin());
        let config = Config::load(Some(&root.join("Cargo.toml")), &env).unwrap();
        let litestream = locate_litestream(&config, &env).unwrap();
        let options =
            ReplicateOptions { log: LogOutput::File(root.join("litestream.log")), ..Default::default() };
        let handle = spawn_replicate(&config, &env, &litestream, &options).unwrap();
        let conn = rusqlite::Connection::open(root.join("data/app.db")).unwrap();
        conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
        use std::io::Write;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "litestream {}", handle.pid()).and_then(|()| stdout.flush()).unwrap();
        loop {
            std::thread::park();
        }
    }

    let project = project();
    insert(&project, &[1]);
    let mut app = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "library::a_killed_application_leaves_no_orphan",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, project.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(app.stdout.take().unwrap()));
    let pid: u32 = loop {
        let Some(line) = lines.next() else {
            let _ = app.kill();
            panic!("the application ended before starting litestream\n{}", log(&project));
        };
        // The harness prints `test … ... ` on the same line first.
        if let Some((_, pid)) = line.unwrap().rsplit_once("litestream ") {
            break pid.trim().parse().unwrap();
        }
    };
    assert!(procs::running(pid));
    app.kill().unwrap(); // SIGKILL
    app.wait().unwrap();
    assert!(procs::wait_gone(pid, Duration::from_secs(30)), "litestream outlived its application");
    assert!(log(&project).contains("signal received, litestream shutting down"), "{}", log(&project));
    project.run(["replicate", "-once"]).success();
    let out = project.p("restored.db");
    project.run(["restore", "-o", &out, "default"]).success();
    assert_eq!(rows(Path::new(&out)), [1, 2], "the last write is replicated\n{}", log(&project));
}

/// The history's kinds, once each of `kinds` appears in it (bounded wait: the schedule runs
/// every second).
fn wait_for_history(project: &Project, kinds: &[&str]) -> Vec<serde_json::Value> {
    let path = project.path().join("target/litestream/app/history.jsonl");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if kinds.iter().all(|k| lines.iter().any(|l| l["kind"] == *k)) {
            return lines;
        }
        assert!(std::time::Instant::now() < deadline, "not every kind ran within 60 s: {lines:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `verify-every`, `scrub-every` and `drill-every` run while `spawn_replicate`'s handle lives:
/// each result is a line of litestream's log and of the history; stopping the handle stops them.
#[test]
fn spawn_replicate_runs_the_scheduled_checks() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\nverify-every = \"1s\"\nscrub-every = \"1s\"\ndrill-every = \"1s\"\n\n[package.metadata.litestream.databases]\ndefault = \"data/app.db\"\n",
    );
    insert(&project, &[1, 2, 3]);
    let (config, env) = (load(&project), env(&project));
    let litestream = locate_litestream(&config, &env).unwrap();
    let handle = spawn_replicate(&config, &env, &litestream, &options(&project)).unwrap();
    let lines = wait_for_history(&project, &["verify", "scrub", "drill"]);
    let stopped = handle.stop().unwrap();
    assert!(stopped.final_sync.is_ok(), "{stopped:?}");
    assert!(lines.iter().all(|l| l["ok"] == true), "{lines:?}");
    let log = log(&project);
    for kind in ["verify default: in sync", "scrub default: sound", "drill default: passed"] {
        assert!(log.contains(&format!("cargo-litestream: {kind}")), "{kind}\n{log}");
    }
    // Stopped with the handle: no line is added afterwards.
    let count = std::fs::read_to_string(project.path().join("target/litestream/app/history.jsonl"))
        .unwrap()
        .lines()
        .count();
    std::thread::sleep(Duration::from_millis(1500));
    let after = std::fs::read_to_string(project.path().join("target/litestream/app/history.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(after, count, "a check ran after stop");
}

/// `metrics-addr` under `spawn_replicate`: served while the handle lives, gone after `stop`.
#[test]
fn spawn_replicate_serves_metrics_until_stopped() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\nmetrics-addr = \"127.0.0.1:0\"\n\n[package.metadata.litestream.databases]\ndefault = \"data/app.db\"\n",
    );
    insert(&project, &[1]);
    let (config, env) = (load(&project), env(&project));
    let litestream = locate_litestream(&config, &env).unwrap();
    let handle = spawn_replicate(&config, &env, &litestream, &options(&project)).unwrap();
    let addr = handle.metrics_addr().expect("metrics are served");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("cargo_litestream_replica_txid{db=\"default\"}"), "{response}");
    handle.stop().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err(), "still listening after stop");
}
