//! Faults a production daemon meets, against real servers: each test prints its counts.
//!
//! "Committed" means the writer's transaction returned; the restore must hold every row
//! committed before the fault (rows after it may or may not be there), as a consistent prefix
//! of the commit order (`1..=k`, no gaps), and pass `PRAGMA integrity_check`.

use std::path::Path;
use std::time::{Duration, Instant};

use super::servers::{self, SECRET_KEY};
use super::workload::{Writer, assert_integrity, assert_prefix, restore, run_bounded, seed, sync_wait};
use crate::procs;
use crate::support::{Project, rows};

const ROUNDS: i64 = 10;

/// SIGTERM to `cargo litestream replicate` (which is litestream: it was exec'd) while a writer
/// commits, ten times on the same database and S3 replica: Litestream's shutdown sync must
/// carry every row committed before the signal. Rows written between rounds, while nothing
/// replicates, must be picked up by the next daemon.
///
/// Each round starts writing once the daemon has synced once (`sync -wait`): Litestream
/// 0.5.17 opens a database on its first monitor tick (1 s after start) and skips the shutdown
/// sync of one it has not opened, so a SIGTERM in that first second replicates nothing (the
/// rows stay in the database and go out with the next start).
#[test]
fn sigterm_during_writes_loses_no_committed_row() {
    let backend = servers::rclone_s3();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 0);
    let mut next = 1;
    let mut required_total = 0;
    for round in 1..=ROUNDS {
        let mut daemon = project.replicate::<_, &str>([]);
        sync_wait(&project, "default");
        let writer = Writer::start(&project, "app.db", next, 1_000_000);
        // A different point in the write loop each round.
        writer.wait_for(next + 15 * round);
        let before_signal = writer.committed();
        let code = daemon.stop();
        let last = writer.finish();
        assert_eq!(code, Some(0), "round {round}: SIGTERM is a clean shutdown\n{}", daemon.log());
        let restored = restore(&project, "default", &format!("round-{round}.db"));
        let k = assert_prefix(&restored, before_signal, &format!("round {round}"));
        println!(
            "SIGTERM round {round}: {before_signal} rows committed before the signal, {last} by the end, {k} restored"
        );
        required_total = before_signal;
        next = last + 1;
    }
    println!(
        "SIGTERM x{ROUNDS}: every row committed before each signal was restored ({required_total} at the last)"
    );
}

/// `kill -9` of replicate mid-write, three times: each time the replica restores to a
/// database that passes `PRAGMA integrity_check` and holds every row committed before the
/// last confirmed `sync -wait`; a restarted replicate is not blocked by the dead one's lock or
/// socket, and catches up; at the end, everything.
#[test]
fn kill_9_mid_write_then_restart_keeps_every_confirmed_row() {
    let backend = servers::rclone_s3();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 0);
    let writer = Writer::start(&project, "app.db", 1, 1_000_000);
    let mut daemon = project.replicate::<_, &str>([]);
    for round in 1..=3 {
        writer.wait_for(writer.committed() + 40);
        let confirmed = writer.committed();
        sync_wait(&project, "default");
        writer.wait_for(confirmed + 40);
        assert_eq!(daemon.stop_with(libc::SIGKILL), Some(128 + libc::SIGKILL));
        let at_kill = writer.committed();
        let restored = restore(&project, "default", &format!("after-kill-{round}.db"));
        let k = assert_prefix(&restored, confirmed, &format!("after kill {round}"));
        println!(
            "kill -9 round {round}: {confirmed} rows confirmed by sync -wait, {at_kill} committed at the kill, {k} restored (integrity ok)"
        );
        // The socket file of the killed daemon is still there; the lock died with it.
        assert!(project.path().join("target/litestream/app/litestream.sock").exists());
        daemon = project.replicate::<_, &str>([]);
    }
    let last = writer.finish();
    sync_wait(&project, "default");
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    let restored = restore(&project, "default", "final.db");
    assert_eq!(restored.len() as i64, last, "after the restarts everything is replicated");
    assert_prefix(&restored, last, "final");
    println!("kill -9 x3: after restarting, all {last} committed rows restored");
}

/// The S3 server stopped for 10 s while the writer goes on, then started again on the same
/// port with the same data: `sync -wait` fails during the outage, replication catches up
/// after it, and nothing is lost.
#[test]
fn s3_outage_of_ten_seconds_then_catch_up() {
    let mut backend = servers::rclone_s3();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 0);
    let mut daemon = project.replicate::<_, &str>([]);
    let writer = Writer::start(&project, "app.db", 1, 1_000_000);
    writer.wait_for(50);
    let before = writer.committed();
    sync_wait(&project, "default");

    backend.server.stop();
    let down = Instant::now();
    let during = project.run(["sync", "-wait", "-timeout", "3", "default"]);
    assert_ne!(during.code, Some(0), "sync -wait must fail while S3 is down\n{during}");
    // The outage itself lasts 10 s (the fault being simulated, not a wait for an event).
    std::thread::sleep(Duration::from_secs(10).saturating_sub(down.elapsed()));
    let at_restart = writer.committed();
    backend.server.restart();

    writer.wait_for(at_restart + 50);
    let last = writer.finish();
    // Litestream retries with a backoff; `sync -wait` asks for an upload now (bounded retries).
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut attempts = 1;
    loop {
        let run = project.run(["sync", "-wait", "-json", "-timeout", "20", "default"]);
        if run.code == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "replication never caught up\n{run}\n{}", daemon.log());
        attempts += 1;
    }
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    // Litestream 0.5.17 may not log the outage at all (its S3 client retries through it).
    let errors = daemon.log().lines().filter(|l| l.contains("level=ERROR")).count();
    let restored = restore(&project, "default", "restored.db");
    assert_eq!(restored.len() as i64, last, "every row, including those written during the outage");
    assert_prefix(&restored, last, "after the outage");
    println!(
        "S3 outage 10 s: {before} rows before, {} written during it, {} after; caught up after {attempts} sync -wait; {} restored; {errors} ERROR log lines",
        at_restart - before,
        last - at_restart,
        restored.len()
    );
}

/// Wrong credentials: `sync -wait` and `restore` fail with Litestream's error (the server's
/// refusal named), a non-zero exit, and the secret is never printed.
#[test]
fn wrong_credentials_fail_clearly_without_printing_the_secret() {
    let backend = servers::rclone_s3();
    let wrong_secret = "wrong-secret-7f3a9c";
    let replica = servers::s3_replica(&backend.endpoint(), wrong_secret);
    let project = backend.project_with(&replica, &[("default", "app.db")]);
    seed(&project, "app.db", 5);

    let once = project.run(["replicate", "-once"]);
    assert_eq!(once.code, Some(1), "{once}");
    let mut daemon = project.replicate::<_, &str>([]);
    let sync = project.run(["sync", "-wait", "-timeout", "5", "default"]);
    assert_eq!(sync.code, Some(1), "{sync}");
    daemon.stop();
    let restore = project.run(["restore", "-o", &project.p("x.db"), "default"]);
    assert_eq!(restore.code, Some(1), "{restore}");
    assert!(restore.stderr.contains("SignatureDoesNotMatch"), "the refusal is named\n{restore}");
    assert!(!Path::new(&project.p("x.db")).exists());

    let config = project.run(["config"]).success();
    for output in [&once.stdout, &once.stderr, &sync.stdout, &sync.stderr, &restore.stderr, &config.stdout] {
        assert!(
            !output.contains(wrong_secret) && !output.contains(SECRET_KEY),
            "a secret was printed:\n{output}"
        );
    }
    assert!(!daemon.log().contains(wrong_secret), "the daemon printed the secret");
    println!(
        "wrong credentials: replicate -once exit {:?}, sync -wait exit {:?}, restore exit {:?}: {}",
        once.code,
        sync.code,
        restore.code,
        restore.stderr.lines().find(|l| l.starts_with("Error")).unwrap_or_default()
    );
}

/// A second `replicate` of a database that one is replicating is refused, in every mode,
/// naming the first one's PID; the first keeps its socket. A daemon started outside the tool
/// (no lock) is still noticed through the socket it answers on.
#[test]
fn a_second_replicator_is_refused() {
    let backend = servers::rclone_s3();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 3);
    let mut daemon = project.replicate::<_, &str>([]);
    let pid = daemon.pid().to_string();
    let limit = Duration::from_secs(30);
    let url = format!("file://{}", project.p("elsewhere"));
    for args in [
        &["replicate"][..],
        &["replicate", "-once"],
        &["replicate", "default", &url],
        &["replicate", "app.db", &url],
    ] {
        let run = run_bounded(&project, args, limit);
        run.our_error(&["already being replicated", &format!("by process {pid}"), "stop that one first"]);
    }
    // The first daemon still owns the socket.
    let info = project.run(["info", "-json"]).success().json();
    assert_eq!(info["pid"].to_string(), pid);
    assert_eq!(daemon.stop(), Some(0));
    println!("second replicator: refused in 4 modes while process {pid} replicated");

    // litestream run directly with the generated config takes no lock; its socket answers.
    let yaml = project.p("target/litestream/app/litestream.yml");
    let mut direct = std::process::Command::new(crate::support::litestream_bin());
    direct.args(["replicate", "-config", &yaml]);
    project.hermetic(&mut direct);
    let mut outside = project.daemon(direct);
    let run = run_bounded(&project, &["replicate"], limit);
    run.our_error(&["already answers on", "litestream.sock"]);
    assert_eq!(outside.stop(), Some(0));

    // Once it is gone, replicate starts (and a stale socket file is no obstacle).
    let mut again = project.replicate::<_, &str>([]);
    assert_eq!(again.stop(), Some(0));
}

/// Two projects whose databases are both `app.db`, on one S3 replica table without
/// `path-prefix`: the second is refused while the first runs (the machine-wide lock; S3 has no
/// owner record), naming the first; the same bucket and path on another S3 server is another
/// place, and replicates.
#[test]
fn a_second_project_on_one_s3_location_is_refused() {
    let backend = servers::rclone_s3();
    let first = backend.project(&[("default", "app.db")]);
    let second = backend.project(&[("default", "app.db")]);
    seed(&first, "app.db", 3);
    seed(&second, "app.db", 2);
    let mut daemon = first.replicate::<_, &str>([]);
    let pid = daemon.pid();
    let limit = Duration::from_secs(30);
    let run = run_bounded(&second, &["replicate", "-once"], limit);
    run.our_error(&["already receives the backup of", &first.p("app.db"), "path-prefix"])
        .stderr_has(&format!("process {pid}"));

    let other = servers::rclone_s3();
    let elsewhere = other.project(&[("default", "app.db")]);
    seed(&elsewhere, "app.db", 2);
    run_bounded(&elsewhere, &["replicate", "-once"], limit).success();
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    assert_eq!(restore(&first, "default", "restored.db"), [1, 2, 3]);
    assert_eq!(restore(&elsewhere, "default", "restored.db"), [1, 2]);

    // With the first stopped (no lock any more), the owner record in the bucket still refuses
    // the second, as it would on another machine, and nothing of the first's backup changes.
    let record = backend.data.path().join(servers::BUCKET).join("dbs/app.db/.cargo-litestream-owner");
    let owner = std::fs::read_to_string(&record).unwrap_or_else(|e| panic!("{}: {e}", record.display()));
    assert!(owner.contains(&first.p("app.db")), "{owner}");
    let run = run_bounded(&second, &["replicate", "-once"], limit);
    run.our_error(&["holds the backup of", &first.p("app.db"), "path-prefix"]);
    assert_eq!(restore(&first, "default", "restored-again.db"), [1, 2, 3]);
}

/// `restore` onto an existing database: refused without `-force`; with `-force` a failing
/// restore leaves the old database and its `-wal`/`-shm` untouched (Litestream 0.5.17 alone
/// deletes them first), a successful one swaps the new file in with one rename and removes
/// the old sidecars, while readers never find the path missing or half-written.
#[test]
fn restore_force_replaces_atomically_and_never_loses_the_old_database() {
    let backend = servers::rclone_s3();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 20);
    project.run(["replicate", "-once"]).success();

    // The target: an app's database with committed rows still in its -wal (copied while
    // the app had it open, as a crash leaves it).
    let target = project.path().join("copy.db");
    {
        let app = project.sqlite("app-copy-source.db");
        app.execute_batch(
            "CREATE TABLE t(x INTEGER PRIMARY KEY); INSERT INTO t VALUES (100); PRAGMA wal_checkpoint(TRUNCATE);
             PRAGMA wal_autocheckpoint = 0; INSERT INTO t VALUES (101);",
        )
        .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            std::fs::copy(project.path().join(format!("app-copy-source.db{suffix}")), with(&target, suffix))
                .unwrap();
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let snapshot = || ["", "-wal", "-shm"].map(|s| std::fs::read(with(&target, s)).unwrap());
    let before = snapshot();
    let out = target.to_string_lossy().into_owned();

    project.run(["restore", "-o", &out, "default"]).code(1).stderr_has("Use -force to overwrite");
    assert_eq!(snapshot(), before, "refused: untouched");

    // Failing restores with -force: Litestream's own error and exit code, nothing lost.
    let failing: [&[&str]; 2] = [
        &["restore", "-force", "-txid", "00000000000fffff", "-o", &out, "default"],
        &["restore", "-force", "-o", &out, &format!("file://{}", project.p("no-such-replica"))],
    ];
    for args in failing {
        project.run(args).code(1).stderr_has("no matching backup files available");
        assert_eq!(snapshot(), before, "a failed restore -force must not touch the old database");
    }

    // A reader keeps opening the path during the replacement.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (stop, target) = (stop.clone(), target.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let uri = format!("file:{}?immutable=1", target.display());
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
                let conn = rusqlite::Connection::open_with_flags(&uri, flags)
                    .unwrap_or_else(|e| panic!("read {reads}: cannot open: {e}"));
                let n: i64 = conn
                    .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                    .unwrap_or_else(|e| panic!("read {reads}: {e}"));
                // The old file alone has 1 row (the 2nd is in its -wal); the new one 20.
                assert!(n == 1 || n == 20, "read {reads}: {n} rows: neither the old nor the new database");
                reads += 1;
            }
            reads
        })
    };
    let run = project.run(["restore", "-force", "-json", "-o", &out, "default"]).success();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = reader.join().expect("the reader saw the old or the new database every time");
    assert_eq!(run.json()["db_path"], out.as_str(), "-json names the real output\n{run}");
    // Before anything opens it (an open creates new sidecars):
    assert!(!with(&target, "-wal").exists() && !with(&target, "-shm").exists(), "old sidecars removed");
    assert_eq!(rows(&target), (1..=20).collect::<Vec<_>>());
    assert_integrity(&target);
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o640, "permissions kept");
    let leftovers: Vec<_> = std::fs::read_dir(project.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".restore-"))
        .collect();
    assert!(leftovers.is_empty(), "staging folder left behind: {leftovers:?}");

    // An app has a database open (WAL mode): replacing it would lose its next writes.
    {
        let busy = project.sqlite("busy.db");
        busy.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY); INSERT INTO t VALUES (7);").unwrap();
        let busy_path = project.p("busy.db");
        project.run(["restore", "-force", "-o", &busy_path, "default"]).our_error(&[
            "is open in process",
            &std::process::id().to_string(),
            "stop it first",
        ]);
        let n: i64 = busy.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
    }
    project.run(["restore", "-force", "-o", &project.p("busy.db"), "default"]).success();
    assert_eq!(rows(&project.path().join("busy.db")).len(), 20, "once it is closed, the restore goes ahead");

    // Restoring over a database while it is being replicated is refused.
    let daemon = project.replicate::<_, &str>([]);
    project
        .run(["restore", "-force", "default"])
        .our_error(&["is being replicated", "stop `cargo litestream replicate` first"]);
    assert_eq!(rows(&project.path().join("app.db")), (1..=20).collect::<Vec<_>>());
    drop(daemon);
    println!(
        "restore -force: 2 failing restores left the old database intact; replaced with 20 rows while a reader opened it {reads} times"
    );
}

fn with(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut text = path.as_os_str().to_owned();
    text.push(suffix);
    text.into()
}

/// `replicate -exec` supervises litestream and the app as its children: litestream shares the
/// lock (its descriptor), the app never gets the descriptor at all (a `flock` it inherited would
/// stay held by a surviving app). When litestream is killed, the app is stopped, the lock is
/// released, and a new `replicate` starts.
#[cfg(target_os = "linux")]
#[test]
fn the_lock_dies_with_litestream_and_the_exec_command_never_holds_it() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    seed(&project, "app.db", 1);
    let mut daemon = project.replicate(["-exec", "sleep 120"]);
    // The command starts once the first sync is done, just after the socket answers.
    let deadline = Instant::now() + Duration::from_secs(20);
    let children = loop {
        let children = children_of(daemon.pid());
        if children.len() == 2 || Instant::now() > deadline {
            break children;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(children.len(), 2, "litestream and the -exec command: {children:?}\n{}", daemon.log());
    let comm = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let (litestream, app): (Vec<u32>, Vec<u32>) =
        children.iter().partition(|pid| comm(**pid).trim() == "litestream");
    let (litestream, app) = (litestream[0], app[0]);
    let lock = std::fs::canonicalize(project.path()).unwrap().join(".app.db-litestream.lock");
    let holds = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .any(|target| target == lock)
    };
    assert!(holds(litestream), "litestream shares the lock");
    assert!(!holds(app), "the app has no descriptor of the lock file");
    // SAFETY: kill(2) on the litestream child of the daemon this test started.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(litestream as libc::pid_t, libc::SIGKILL);
    }
    // Signal 0 sends nothing: the daemon exits by itself, with litestream's status.
    assert_eq!(daemon.stop_with(0), Some(128 + libc::SIGKILL), "{}", daemon.log());
    assert!(daemon.log().contains("litestream exited while the command was running"), "{}", daemon.log());
    let mut again = project.replicate::<_, &str>([]);
    assert_eq!(again.stop(), Some(0));
    println!(
        "replicate -exec: litestream killed, its app (pid {app}, no lock descriptor) stopped, a new replicate started"
    );
}

/// Processes whose parent is `pid`.
#[cfg(target_os = "linux")]
fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        // `pid (comm) state ppid …`: comm may hold spaces, so split after the last ')'.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid == Some(&pid.to_string()) {
            found.push(child);
        }
    }
    found
}

/// A replica that refuses writes: litestream 0.5.17 runs on, logging an ERROR now and then, and
/// `sync -wait` (the CLI, `doctor`) is the only place it shows. `doctor` fails that database.
#[test]
fn doctor_fails_a_replica_that_refuses_writes() {
    let backend = servers::rclone_s3_read_only();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 10);
    let _daemon = project.replicate::<_, &str>([]);
    let doctor = project.run(["doctor", "--timeout", "5"]).code(1);
    let line = doctor
        .stdout
        .lines()
        .find(|l| l.starts_with("FAIL daemon default"))
        .unwrap_or_else(|| panic!("{doctor}"));
    assert!(line.contains("cannot ship it to the replica"), "{doctor}");
    project.run(["sync", "-wait", "-timeout", "5", "default"]).code(1);
}

/// `kill -9` of `restore -force` while litestream downloads (the replica stalls behind a proxy):
/// the litestream child dies with it (it would go on and fill a staging folder nobody removes),
/// and the next `restore -force` removes the dead run's staging folder, decided by its lock.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_restore_force_leaves_no_process_and_its_leftovers_are_removed() {
    let backend = servers::rclone_s3();
    let proxy = super::proxy::Proxy::start(&backend.server.addr());
    let project =
        backend.project_with(&servers::s3_replica(&proxy.endpoint(), SECRET_KEY), &[("default", "app.db")]);
    seed(&project, "app.db", 20);
    project.run(["replicate", "-once"]).success();

    let stagings = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(project.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".app.db.restore-"))
            .map(|e| e.path())
            .collect()
    };
    proxy.hold();
    let mut restore = project.cmd(["restore", "-force", "default"]);
    restore
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut restore = restore.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let litestream = loop {
        if let (Some(&child), false) = (children_of(restore.id()).first(), stagings().is_empty()) {
            break child;
        }
        assert!(Instant::now() < deadline, "restore -force never started litestream");
        std::thread::sleep(Duration::from_millis(20));
    };
    restore.kill().unwrap(); // SIGKILL
    restore.wait().unwrap();
    assert!(procs::wait_gone(litestream, Duration::from_secs(10)), "litestream outlived restore -force");
    let dead = stagings();
    assert_eq!(dead.len(), 1, "{dead:?}");

    proxy.release();
    let run = project.run(["restore", "-force", "default"]).success();
    assert!(run.stderr.contains("left by an interrupted restore"), "{run}");
    assert!(stagings().is_empty(), "{:?}", stagings());
    assert_eq!(rows(&project.path().join("app.db")), (1..=20).collect::<Vec<_>>());
}

/// `restore -force` sees every process that has the database open, not only WAL connections
/// that have used it: one in `locking_mode = EXCLUSIVE` (no `-shm`), and one opened and never
/// used (its first write would go to the replaced file). And a database reached through a
/// symlink is restored where the link points; the link stays a link.
#[cfg(target_os = "linux")]
#[test]
fn restore_force_sees_every_opener_and_keeps_a_symlink() {
    let backend = servers::rclone_s3();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 20);
    project.run(["replicate", "-once"]).success();
    let copy = project.path().join("copy.db");
    std::fs::copy(project.path().join("app.db"), &copy).unwrap();
    let out = copy.to_string_lossy().into_owned();

    {
        let exclusive = rusqlite::Connection::open(&copy).unwrap();
        exclusive.execute_batch("PRAGMA locking_mode = EXCLUSIVE; INSERT INTO t VALUES (1000);").unwrap();
        project.run(["restore", "-force", "-o", &out, "default"]).our_error(&["is open in process"]);
    }
    {
        let _unused = rusqlite::Connection::open(&copy).unwrap();
        project.run(["restore", "-force", "-o", &out, "default"]).our_error(&["is open in process"]);
    }

    let link = project.path().join("link.db");
    std::os::unix::fs::symlink(&copy, &link).unwrap();
    project.run(["restore", "-force", "-o", link.to_str().unwrap(), "default"]).success();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert_eq!(rows(&copy), (1..=20).collect::<Vec<_>>());
}

/// An S3 replica with no credentials anywhere: litestream's error names only the last link of
/// the AWS chain (the instance metadata service); doctor says that none was found and where
/// they go.
#[test]
fn doctor_says_where_s3_credentials_come_from() {
    let backend = servers::rclone_s3();
    let replica = format!(
        "{{ type = \"s3\", bucket = \"{}\", path = \"dbs\", endpoint = \"{}\", region = \"us-east-1\", force-path-style = true }}",
        servers::BUCKET,
        backend.endpoint()
    );
    let project = backend.project_with(&replica, &[("default", "app.db")]);
    seed(&project, "app.db", 1);
    let doctor = project.run(["doctor", "--timeout", "20"]).code(1);
    assert!(doctor.stdout.lines().any(|l| l.starts_with("FAIL replica default")), "{doctor}");
    assert!(doctor.stdout.contains("no S3 credentials were found"), "{doctor}");
}

/// The same read-only S3 replica with no daemon running: doctor's own probe (an object written
/// and deleted) fails it; a writable one passes and keeps nothing of the probe.
#[test]
fn doctor_probes_an_s3_replica_for_writes_without_a_daemon() {
    let backend = servers::rclone_s3_read_only();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 10);
    let doctor = project.run(["doctor", "--timeout", "5"]).code(1);
    let line = doctor
        .stdout
        .lines()
        .find(|l| l.starts_with("FAIL replica default"))
        .unwrap_or_else(|| panic!("{doctor}"));
    assert!(
        line.contains("refuses writes") && line.contains("fix: give the replica's credentials write access"),
        "{doctor}"
    );
    assert_eq!(doctor.stdout.matches("FAIL").count(), 1, "one failing line\n{doctor}");

    let backend = servers::rclone_s3();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 10);
    let doctor = project.run(["doctor", "--timeout", "5"]).success();
    assert!(
        doctor.stdout.lines().any(|l| l.starts_with("ok   replica default") && l.contains("accepts writes")),
        "{doctor}"
    );
    let left: Vec<_> =
        walkdir(backend.data.path()).into_iter().filter(|p| p.to_string_lossy().contains("probe")).collect();
    assert!(left.is_empty(), "probe objects left: {left:?}");
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walkdir(&path));
        }
        found.push(path);
    }
    found
}
