//! `cargo litestream doctor` against real files, the real litestream 0.5.17, a real daemon and,
//! for the network-filesystem check, a real FUSE mount (`rclone mount`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::backends::harness::{system_tool, tool};
use crate::support::{Project, Run, litestream_bin};

fn healthy() -> Project {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
    project
}

/// The lines of `area subject` in plain (non-terminal) output.
fn line<'a>(run: &'a Run, status: &str, prefix: &str) -> &'a str {
    let wanted = format!("{status:<4} {prefix}");
    run.stdout
        .lines()
        .find(|l| l.starts_with(&wanted))
        .unwrap_or_else(|| panic!("no line starting with {wanted:?}\n{run}"))
}

#[test]
fn doctor_passes_a_healthy_replicating_project() {
    let project = healthy();
    let _daemon = project.replicate::<_, &str>([]);
    project.run(["sync", "-wait", "default"]).success();
    let run = project.run(["doctor"]).success();
    assert!(line(&run, "ok", "database default: ").contains("is a SQLite database"));
    assert!(line(&run, "ok", "database default: in WAL").contains("WAL"));
    assert!(line(&run, "ok", "database default: on a local filesystem").contains("local"));
    let advice = line(&run, "info", "database connections");
    assert!(advice.contains("wal_autocheckpoint = 0") && advice.contains("sqlite::open"), "{advice}");
    assert!(line(&run, "ok", "binary litestream").contains("sha256 equals the pin"), "{run}");
    assert!(line(&run, "ok", "binary version").contains("0.5.17"));
    assert!(line(&run, "ok", "replica default").contains("reachable"));
    assert!(line(&run, "ok", "daemon replicate").contains("running: litestream 0.5.17"));
    assert!(line(&run, "ok", "daemon default").contains("synced now"), "{run}");
    assert!(!run.stdout.contains('✓'), "no symbols when stdout is not a terminal (NO_COLOR)\n{run}");

    let json = project.run(["doctor", "--json"]).success().json();
    assert_eq!(json["version"], 1, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["failures"], 0);
    let checks = json["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["status"] != "fail"), "{json}");
    assert!(checks.iter().any(|c| c["area"] == "replica" && c["status"] == "pass"), "{json}");

    let colored = project.run(["--color", "always", "doctor"]).success();
    assert!(colored.stdout.contains("\x1b[1;32m✓\x1b[0m database default"), "{colored}");
}

/// Everything wrong at once: each problem is one failing line with its fix, the exit code is 1,
/// and no secret value is printed.
#[test]
fn doctor_reports_each_problem_with_its_fix() {
    let project = Project::new(
        r#"[package.metadata.litestream]
endpoint = "http://127.0.0.1:9"
region = "us-east-1"
access-key-id = "AKIADOCTOREXAMPLE"
secret-access-key = "literal-secret-value"
replica = { type = "s3", bucket = "$DOCTOR_BUCKET", path = "dbs" }

[package.metadata.litestream.databases]
notsqlite = "notes.db"
journal = "journal.db"
missing = "missing.db"
deleted = "deleted.db"
"#,
    )
    .with_env("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt");
    project.write("notes.db", "just some text, not a database\n".repeat(10).as_str());
    let journal = rusqlite::Connection::open(project.path().join("journal.db")).unwrap();
    journal.execute_batch("PRAGMA journal_mode = DELETE; CREATE TABLE t(x);").unwrap();
    drop(journal);
    project.write("deleted.db-wal", "the WAL of a database deleted by hand");

    let run = project.run(["doctor", "--timeout", "5"]).code(1);
    let deleted = line(&run, "FAIL", "database deleted");
    assert!(
        deleted.contains("deleted.db-wal of an earlier one remain") && deleted.contains("move them away")
    );
    assert!(line(&run, "FAIL", "database notsqlite").contains("is not a SQLite database"));
    assert!(line(&run, "FAIL", "database journal").contains("PRAGMA journal_mode = WAL"));
    assert!(line(&run, "warn", "database missing").contains("restore"));
    assert!(line(&run, "FAIL", "environment DOCTOR_BUCKET").contains("not set"));
    assert!(line(&run, "FAIL", "environment DOCTOR_BUCKET").contains("fix: set DOCTOR_BUCKET"));
    assert!(
        line(&run, "info", "environment AWS_CA_BUNDLE").contains("leaves it out of litestream's environment")
    );
    for key in ["access-key-id", "secret-access-key"] {
        let literal = format!("warn environment credentials: `{key}` is written literally");
        assert!(run.stdout.lines().any(|l| l.starts_with(&literal)), "{literal}\n{run}");
    }
    assert!(line(&run, "FAIL", "replica journal").contains("fix:"));
    assert!(line(&run, "warn", "daemon replicate").contains("not running"));
    for secret in ["literal-secret-value", "AKIADOCTOREXAMPLE"] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "secret printed\n{run}");
    }
    let json = project.run(["doctor", "--json", "--timeout", "5"]).code(1).json();
    assert_eq!(json["ok"], false);
    assert!(json["failures"].as_u64().unwrap() >= 5, "{json}");

    // A configuration that does not load is one failing line too.
    project.write_manifest("[package.metadata.litestream]\nmonitor_interval = \"1s\"\n");
    let run = project.run(["doctor"]).code(1);
    assert!(line(&run, "FAIL", "configuration").contains("monitor_interval`: unknown key"), "{run}");
}

/// The managed binary: absent (fail, with the command that installs it), on PATH with the pinned
/// hash (pass), installed and re-hashed (pass), corrupted in the cache (fail); and a binary of
/// the user's own that is not the pinned one (warning).
#[test]
fn doctor_checks_the_binary_against_its_pin() {
    let mut project = healthy();
    project.removed_env.push("CARGO_LITESTREAM_BIN".to_owned());
    project.env.push(("PATH".to_owned(), "/usr/bin:/bin".to_owned()));
    let run = project.run(["doctor"]).code(1);
    assert!(line(&run, "FAIL", "binary litestream").contains("run `cargo litestream install`"), "{run}");

    let with_path = format!("{}:/usr/bin:/bin", litestream_bin().parent().unwrap().display());
    project.env.push(("PATH".to_owned(), with_path));
    let run = project.run(["doctor"]);
    assert!(line(&run, "ok", "binary litestream").contains("on PATH is litestream 0.5.17"), "{run}");

    let installed = project.run(["install"]).success().stdout.trim().to_owned();
    let run = project.run(["doctor"]);
    assert!(line(&run, "ok", "binary litestream").contains("pinned and verified"), "{run}");

    // Same size, one byte different, written in place: the changed identity makes doctor (as
    // every run) re-hash it, and the hash is not the pin.
    let mut bytes = std::fs::read(&installed).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&installed, bytes).unwrap();
    let run = project.run(["doctor"]).code(1);
    assert!(line(&run, "FAIL", "binary litestream").contains("does not match its pin"), "{run}");
    assert!(line(&run, "FAIL", "binary litestream").contains("install --verify"), "{run}");

    let own = project.path().join("own-litestream");
    std::fs::write(&own, "#!/bin/sh\necho 0.5.17\n").unwrap();
    std::fs::set_permissions(&own, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    project.env.push(("CARGO_LITESTREAM_BIN".to_owned(), own.to_string_lossy().into_owned()));
    project.removed_env.clear();
    let run = project.run(["doctor"]);
    assert!(line(&run, "warn", "binary litestream").contains("your own binary"), "{run}");
}

/// A database on a FUSE network filesystem (`rclone mount`, which reports itself as
/// `fuse.rclone`) fails the filesystem check.
#[cfg(target_os = "linux")]
#[test]
fn doctor_refuses_a_network_filesystem() {
    let project = healthy();
    let source = project.path().join("remote");
    let mount = project.path().join("mnt");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::create_dir_all(&mount).unwrap();
    rusqlite::Connection::open(source.join("net.db")).unwrap().execute_batch("CREATE TABLE t(x)").unwrap();
    let _mounted = Mount::rclone(&source, &mount);
    project.write_manifest(&format!(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\nnet = \"{}\"\n",
        mount.join("net.db").display()
    ));
    let run = project.run(["doctor"]).code(1);
    assert!(
        line(&run, "FAIL", "database net: on a network filesystem (fuse.rclone)").contains("local disk"),
        "{run}"
    );
}

/// `rclone mount :local:SOURCE MOUNT` in the foreground, unmounted (and killed) on drop.
struct Mount {
    child: Child,
    mount: PathBuf,
    fusermount: PathBuf,
}

impl Mount {
    fn rclone(source: &Path, mount: &Path) -> Mount {
        let fusermount = system_tool("fusermount3", "fuse3");
        let mut child = Command::new(tool("venv/bin/rclone"))
            .arg("mount")
            .arg(format!(":local:{}", source.display()))
            .arg(mount)
            .args(["--config", "/dev/null"])
            .env("PATH", format!("{}:/usr/bin:/bin", fusermount.parent().unwrap().display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Nothing announces the mount but the mount table: poll it, bounded.
        let deadline = Instant::now() + Duration::from_secs(20);
        let target = mount.to_string_lossy().into_owned();
        loop {
            let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            if table.lines().any(|l| l.split(' ').nth(4) == Some(target.as_str())) {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let mut error = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut error).unwrap();
                panic!(
                    "`rclone mount` failed ({status}): {error}\nit needs FUSE: `apt-get install fuse3` and permission to mount (root, or CAP_SYS_ADMIN)"
                );
            }
            assert!(Instant::now() < deadline, "`rclone mount` did not mount {target} within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Mount { child, mount: mount.to_path_buf(), fusermount }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new(&self.fusermount).arg("-u").arg(&self.mount).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `file` replica that cannot take writes, with no daemon running (Litestream would only log
/// an ERROR once one ran): a full filesystem, then a read-only one, each one failing line naming
/// the replica and the fix. Real filesystems: a 64 KiB tmpfs mounted on the replica folder.
#[cfg(target_os = "linux")]
#[test]
fn doctor_fails_a_full_or_read_only_replica_folder_without_a_daemon() {
    let project = healthy();
    let replica = project.path().join("replica");
    std::fs::create_dir_all(&replica).unwrap();
    let Some(_mounted) = Tmpfs::mount(&replica) else { return };
    let run = project.run(["doctor"]).success();
    assert!(line(&run, "ok", "replica default").contains("is writable"), "{run}");

    // Full: the filler takes every block.
    let mut filler = std::fs::File::create(replica.join("filler")).unwrap();
    while std::io::Write::write_all(&mut filler, &[0u8; 4096]).is_ok() {}
    drop(filler);
    let run = project.run(["doctor"]).code(1);
    let full = line(&run, "FAIL", "replica default");
    assert!(full.contains(&replica.join("app.db").display().to_string()), "{run}");
    assert!(full.contains("full filesystem") && full.contains("fix: free space"), "{run}");
    assert_eq!(run.stdout.matches("FAIL").count(), 1, "one failing line\n{run}");

    // Read-only: space again, but no writes.
    std::fs::remove_file(replica.join("filler")).unwrap();
    Tmpfs::remount(&replica, "remount,ro");
    let run = project.run(["doctor"]).code(1);
    let read_only = line(&run, "FAIL", "replica default");
    assert!(
        read_only.contains("read-only filesystem") && read_only.contains("fix: mount it read-write"),
        "{run}"
    );
    assert_eq!(run.stdout.matches("FAIL").count(), 1, "one failing line\n{run}");
}

/// A 64 KiB tmpfs over a folder, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None`, with the reason on stderr, where this process may not mount (not root, no
    /// CAP_SYS_ADMIN): the test is then skipped.
    fn mount(dir: &Path) -> Option<Tmpfs> {
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"]).arg(dir).output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs(dir.to_path_buf())),
            other => {
                eprintln!(
                    "skipped: cannot mount a tmpfs on {} (needs root or CAP_SYS_ADMIN): {other:?}",
                    dir.display()
                );
                None
            }
        }
    }

    fn remount(dir: &Path, options: &str) {
        let status = Command::new("mount").args(["-o", options]).arg(dir).status().unwrap();
        assert!(status.success(), "mount -o {options} {}", dir.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
