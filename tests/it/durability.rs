//! Litestream's read lock outlives every sync of ours.
//!
//! Litestream 0.5.17 keeps a read transaction open on each database so that the application's
//! own checkpoints cannot restart the WAL over frames it has not copied yet. A sync through the
//! control socket with a positive `timeout` (what `litestream sync` always sends) opens that
//! transaction under a context that ends with the request when the sync is the one that
//! initialises the database: afterwards any connection can reset the WAL, and commits go
//! missing from the backup (RELIABILITY.md). These tests look at the lock itself, which is
//! deterministic: a `PRAGMA wal_checkpoint(TRUNCATE)` from another connection returns busy while
//! Litestream holds it, and empties the WAL when it does not.
//!
//! The daemon's own monitor is slowed to `1h`, so the sync under test is the one that opens the
//! database, as it is when it arrives within a second of a (re)start. The first test shows the
//! check failing with litestream's own client, so it can fail.

use std::time::Duration;

use cargo_litestream_api::config::{Env, Project as Config};
use cargo_litestream_api::{LogOutput, ReplicateOptions, locate_litestream, spawn_replicate};

use crate::backends::harness::system_tool;
use crate::support::{Daemon, Project, litestream_bin};

/// `app.db` (alias `default`, table `t`) replicated to `replica/`, the monitor idle for an hour.
fn project() -> Project {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\ndbs = [{ path = \"default\", monitor-interval = \"1h\" }]\n\n\
         [package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);").unwrap();
    project
}

/// Litestream itself, started without cargo-litestream, on the project's generated config.
fn raw_litestream(project: &Project) -> Daemon {
    let config = project.path().join("own.yml");
    std::fs::write(&config, project.run(["config"]).success().stdout).unwrap();
    std::fs::create_dir_all(project.path().join("target/litestream/app")).unwrap();
    let mut raw = std::process::Command::new(litestream_bin());
    raw.arg("replicate").arg("-config").arg(&config);
    project.hermetic(&mut raw);
    project.daemon(raw)
}

fn socket(project: &Project) -> String {
    project.p("target/litestream/app/litestream.sock")
}

/// What a TRUNCATE checkpoint by another connection does after one more commit: `true` when it
/// restarted the WAL (nobody holds a read lock), `false` when it was kept from it.
fn wal_can_be_reset(project: &Project) -> bool {
    let conn = project.sqlite("app.db");
    conn.busy_timeout(Duration::ZERO).unwrap();
    conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0)).unwrap();
    busy == 0
}

#[test]
fn the_sync_command_leaves_litestream_its_read_lock_where_litestreams_own_client_does_not() {
    let project = project();

    // Litestream alone: the lock is gone once its own client's sync has answered.
    let mut daemon = raw_litestream(&project);
    let mut raw = std::process::Command::new(litestream_bin());
    raw.args(["sync", "-wait", "-socket", &socket(&project), &project.p("app.db")]);
    project.hermetic(&mut raw);
    let output = raw.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        wal_can_be_reset(&project),
        "litestream's own `sync -wait` left the read lock in place: the hazard this file guards against is gone \
         (see RELIABILITY.md)\n{}",
        daemon.log()
    );
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());

    // Ours, on a fresh start: with and without -wait, the lock stays.
    let mut daemon = project.replicate::<_, &str>([]);
    let run = project.run(["sync", "-wait", "-json", "default"]).success();
    let json = run.json();
    assert_eq!(json["db_path"], project.p("app.db"), "{run}");
    assert!(json["replica_txid"].as_u64().unwrap() >= json["txid"].as_u64().unwrap(), "{run}");
    assert!(!wal_can_be_reset(&project), "after `cargo litestream sync -wait`\n{}", daemon.log());
    project.run(["sync", "default"]).success().stdout_has("txid: ");
    assert!(!wal_can_be_reset(&project), "after `cargo litestream sync`\n{}", daemon.log());
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
}

#[test]
fn verify_leaves_litestream_its_read_lock() {
    let project = project();
    let daemon = project.replicate::<_, &str>([]);
    project.run(["verify", "default"]).success();
    assert!(!wal_can_be_reset(&project), "after `cargo litestream verify`\n{}", daemon.log());
}

#[test]
fn replicate_exec_starts_the_app_with_litestreams_read_lock_in_place() {
    let project = project();
    // The application: one commit, then a TRUNCATE checkpoint; it exits 0 only if the
    // checkpoint was kept from restarting the WAL ("1|…" from SQLite's shell).
    let sqlite3 = system_tool("sqlite3", "sqlite3");
    let app = format!(
        "sh -c 'r=$({} app.db \"PRAGMA busy_timeout=0; INSERT INTO t VALUES (2); PRAGMA wal_checkpoint(TRUNCATE);\" \
         | tail -n 1); echo \"checkpoint: $r\"; test \"${{r%%|*}}\" = 1'",
        sqlite3.display()
    );
    let run = project.run(["replicate", "-exec", &app]);
    assert_eq!(run.code, Some(0), "the app could reset the WAL under litestream\n{run}");
}

#[test]
fn spawn_replicate_leaves_litestream_its_read_lock() {
    let project = project();
    let env = Env::empty(project.path())
        .with("PATH", std::env::var_os("PATH").unwrap_or_default())
        .with("HOME", project.path())
        .with("CARGO_LITESTREAM_BIN", litestream_bin());
    let config = Config::load(Some(&project.path().join("Cargo.toml")), &env).unwrap();
    let litestream = locate_litestream(&config, &env).unwrap();
    let options = ReplicateOptions {
        log: LogOutput::File(project.path().join("litestream.log")),
        ..ReplicateOptions::default()
    };
    let handle = spawn_replicate(&config, &env, &litestream, &options).unwrap();
    assert!(handle.first_sync().is_ok(), "{:?}", handle.first_sync());
    assert!(!wal_can_be_reset(&project), "after spawn_replicate's first sync");
    handle.sync(Duration::from_secs(30)).unwrap();
    assert!(!wal_can_be_reset(&project), "after ReplicateHandle::sync");
    handle.stop().unwrap();
}

/// Commits 2..=40 shipped by `litestream` (run as `first`, then killed), 41..=60 committed after
/// it died: the WAL continuous (`app` keeps it open, autocheckpoint off), so the next start's
/// guard holds it (`api::wal`, `Continuous`) until that start's first sync.
fn shipped_then_killed(
    project: &Project,
    app: &rusqlite::Connection,
    url: &str,
    first: std::process::Command,
) {
    app.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    let mut daemon = Project::spawn(first);
    for x in 2..=40 {
        app.execute("INSERT INTO t VALUES (?1)", [x]).unwrap();
    }
    let out = project.path().join("shipped.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let _ = std::fs::remove_file(&out);
        project.run(["restore", "-o", out.to_str().unwrap(), url]);
        if out.is_file() && crate::support::rows(&out).len() == 40 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "litestream never shipped 40 rows\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.stop_with(libc::SIGKILL);
    for x in 41..=60 {
        app.execute("INSERT INTO t VALUES (?1)", [x]).unwrap();
    }
}

/// Waits until `daemon` (plain `replicate`, which execs litestream once its WAL guard is held)
/// has become litestream, then tells whether another connection could restart the WAL at any
/// moment of the next `window` (a commit, then `wal_checkpoint(TRUNCATE)`): `true` is the hole
/// RELIABILITY.md describes, a guard that ended before Litestream held its own read lock.
fn wal_resettable_after_exec(project: &Project, daemon: &Daemon, window: Duration) -> bool {
    let comm = format!("/proc/{}/comm", daemon.pid());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&comm).map(|c| c.trim() != "litestream").unwrap_or(true) {
        assert!(std::time::Instant::now() < deadline, "replicate never became litestream\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(2));
    }
    let conn = project.sqlite("app.db");
    let end = std::time::Instant::now() + window;
    let mut x = 1000;
    while std::time::Instant::now() < end {
        // Litestream writes its own tables while it opens the database: wait for the write
        // lock, never for a reader.
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.execute("INSERT INTO t VALUES (?1)", [x]).unwrap();
        x += 1;
        conn.busy_timeout(Duration::ZERO).unwrap();
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0)).unwrap();
        if busy == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Single-database mode has no control socket of the project's: plain `replicate DB URL` gets a
/// private one in a generated configuration, so its WAL guard holds until the first sync has
/// given Litestream its read lock. Before, the guard ended at once, and a checkpoint in the
/// second before Litestream's first monitor tick restarted the WAL over unshipped commits.
#[cfg(target_os = "linux")]
#[test]
fn replicate_of_a_single_database_keeps_the_wal_guarded_until_its_first_sync() {
    let project = project();
    let app = project.sqlite("app.db");
    let url = format!("file://{}", project.p("single-replica"));
    let mut first = std::process::Command::new(litestream_bin());
    first.args(["replicate", &project.p("app.db"), &url]);
    project.hermetic(&mut first);
    shipped_then_killed(&project, &app, &url, first);

    let mut daemon = Project::spawn(project.cmd(["replicate", "app.db", url.as_str()]));
    let resettable = wal_resettable_after_exec(&project, &daemon, Duration::from_secs(3));
    assert!(!resettable, "the WAL could be restarted before litestream held its read lock\n{}", daemon.log());
    let out = project.path().join("restored.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let _ = std::fs::remove_file(&out);
        project.run(["restore", "-o", out.to_str().unwrap(), url.as_str()]).success();
        let rows = crate::support::rows(&out);
        if (1..=60).all(|x| rows.binary_search(&x).is_ok()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "commits lost: {rows:?}\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    // The generated configuration's private folder is gone once the first sync is done.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", daemon.pid())).unwrap();
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let config = args.iter().position(|a| *a == b"-config").map(|at| String::from_utf8_lossy(args[at + 1]));
    let config = std::path::PathBuf::from(config.expect("litestream runs on a generated config").as_ref());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while config.parent().unwrap().exists() {
        assert!(std::time::Instant::now() < deadline, "{} was left behind", config.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
}

/// The user's own `-config FILE` without a socket (its monitor idle for an hour): litestream
/// reads a private copy with one added, so the guard holds until the first sync through it.
#[cfg(target_os = "linux")]
#[test]
fn replicate_with_an_own_config_without_a_socket_keeps_the_wal_guarded_until_its_first_sync() {
    let project = project();
    let app = project.sqlite("app.db");
    let url = format!("file://{}", project.p("own-replica"));
    let config = |monitor: &str| {
        format!("dbs:\n  - path: {}\n{monitor}    replica:\n      url: {url}\n", project.p("app.db"))
    };
    let first_config = project.path().join("first.yml");
    std::fs::write(&first_config, config("")).unwrap();
    let mut first = std::process::Command::new(litestream_bin());
    first.arg("replicate").arg("-config").arg(&first_config);
    project.hermetic(&mut first);
    shipped_then_killed(&project, &app, &url, first);

    let own = project.path().join("own.yml");
    let text = config("    monitor-interval: 1h\n");
    std::fs::write(&own, &text).unwrap();
    let mut daemon = Project::spawn(project.cmd(["replicate", "-config", own.to_str().unwrap()]));
    let resettable = wal_resettable_after_exec(&project, &daemon, Duration::from_secs(3));
    assert!(!resettable, "the WAL could be restarted before litestream held its read lock\n{}", daemon.log());
    assert_eq!(std::fs::read_to_string(&own).unwrap(), text, "the user's file is never changed");
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    let out = project.path().join("restored.db");
    project.run(["restore", "-o", out.to_str().unwrap(), url.as_str()]).success();
    let rows = crate::support::rows(&out);
    assert!((1..=60).all(|x| rows.binary_search(&x).is_ok()), "commits lost: {rows:?}\n{}", daemon.log());
}

/// The window a restart opens: commits not yet shipped when litestream died, then the
/// application's own checkpoint restarting the WAL before litestream is back. Litestream
/// 0.5.17 then resumes incrementally from the new WAL and never ships those commits (see
/// `cargo_litestream_api::wal`); started through `cargo litestream replicate`, it takes a
/// snapshot and ships them. Deterministic: the monitor idles, the WAL restart is explicit.
#[test]
fn commits_unshipped_at_a_kill_survive_a_wal_restart_before_the_next_start() {
    for through_us in [false, true] {
        let project = project();
        let db = project.path().join("app.db");
        let app = project.sqlite("app.db");
        app.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        app.execute_batch("CREATE TABLE u(y INTEGER)").unwrap();
        let start = || if through_us { project.replicate::<_, &str>([]) } else { raw_litestream(&project) };

        // Shipped: 2..=60, one commit each, so litestream's WAL offset lies far into the WAL.
        let mut daemon = start();
        for x in 2..=60 {
            app.execute("INSERT INTO t VALUES (?1)", [x]).unwrap();
        }
        project.run(["sync", "-wait", "default"]).success();
        // Committed, not shipped: litestream dies first.
        for x in 61..=80 {
            app.execute("INSERT INTO t VALUES (?1)", [x]).unwrap();
        }
        daemon.stop_with(libc::SIGKILL);
        // The application checkpoints and restarts the WAL; its next commit (another table)
        // writes a WAL far shorter than litestream's offset.
        // (Bounded retries: the helper of `replicate` may still hold its guard for a moment.)
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while app.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)).unwrap() != 0 {
            assert!(std::time::Instant::now() < deadline, "the WAL could not be restarted");
            std::thread::sleep(Duration::from_millis(20));
        }
        app.execute("INSERT INTO u VALUES (1)", []).unwrap();

        let mut daemon = start();
        project.run(["sync", "-wait", "default"]).success();
        daemon.stop_with(libc::SIGKILL);
        let out = project.path().join("restored.db");
        project.run(["restore", "-o", out.to_str().unwrap(), "default"]).success();
        let restored = crate::support::rows(&out);
        let expected: Vec<i64> = (1..=80).collect();
        if through_us {
            assert_eq!(restored, expected, "through cargo litestream\n{}", daemon.log());
            assert!(daemon.log().contains("Checkpointed"), "{}", daemon.log());
        } else {
            // Litestream alone: the shipped rows, and a hole where the unshipped ones were.
            let missing = (61..=80).filter(|x| restored.binary_search(x).is_err()).count();
            println!(
                "litestream alone, after a WAL restart while it was down: {missing} of 20 unshipped commits lost"
            );
            assert!(
                restored.starts_with(&expected[..60]) && missing > 0,
                "litestream itself no longer skips these commits ({restored:?}): the check in \
                 cargo_litestream_api::wal may be unnecessary (RELIABILITY.md)"
            );
        }
        drop(app);
        let _ = std::fs::remove_file(&db);
    }
}

/// The same WAL restart for a database of a `dir` + `pattern` entry (`tenants/t1.db`): its WAL is
/// checked too, so litestream snapshots it instead of skipping the unshipped commits. (Litestream
/// alone loses them as above; that side is not repeated.)
#[test]
fn a_dir_entry_database_keeps_its_unshipped_commits_across_a_wal_restart() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\
         dbs = [{ dir = \"tenants\", pattern = \"*.db\", monitor-interval = \"1h\" }]\n",
    );
    let db = "tenants/t1.db";
    let app = project.sqlite(db);
    app.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    app.execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1); CREATE TABLE u(y INTEGER)")
        .unwrap();
    let path = project.p(db);

    let mut daemon = project.replicate::<_, &str>([]);
    for x in 2..=60 {
        app.execute("INSERT INTO t VALUES (?1)", [x]).unwrap();
    }
    project.run(["sync", "-wait", &path]).success();
    for x in 61..=80 {
        app.execute("INSERT INTO t VALUES (?1)", [x]).unwrap();
    }
    daemon.stop_with(libc::SIGKILL);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)).unwrap() != 0 {
        assert!(std::time::Instant::now() < deadline, "the WAL could not be restarted");
        std::thread::sleep(Duration::from_millis(20));
    }
    app.execute("INSERT INTO u VALUES (1)", []).unwrap();

    let mut daemon = project.replicate::<_, &str>([]);
    project.run(["sync", "-wait", &path]).success();
    daemon.stop_with(libc::SIGKILL);
    assert!(daemon.log().contains("Checkpointed"), "{}", daemon.log());
    let out = project.path().join("restored.db");
    project.run(["restore", "-o", out.to_str().unwrap(), &path]).success();
    assert_eq!(crate::support::rows(&out), (1..=80).collect::<Vec<i64>>(), "{}", daemon.log());
}
