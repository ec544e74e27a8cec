//! The deployment recipes in `examples/`, tried as far as this machine allows: no Docker engine
//! runs here and systemd is not PID 1. So:
//! - the Dockerfile's `cargo litestream` RUN lines and its ENV and ENTRYPOINT are read from the
//!   file and run, with the image's paths mapped into a temporary root;
//! - the systemd unit passes `systemd-analyze verify`, and its ExecStart, read from the file, is
//!   run with its Environment, WorkingDirectory and UnsetEnvironment, then stopped as
//!   `KillMode=mixed` stops it (SIGTERM to the main process only);
//! - the axum example (a workspace member) is started, used over HTTP, stopped with SIGTERM,
//!   and restarted on an empty disk.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::backends::harness::{free_port, system_tool};
use crate::procs;
use crate::support::{Project, Run, cargo_litestream_bin, litestream_bin, rows};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A project replicating `data/app.db` (table `t`) to `backups/`.
fn project() -> Project {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"backups\"\n\n[package.metadata.litestream.databases]\ndefault = \"data/app.db\"\n",
    );
    project.sqlite("data/app.db").execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
    project
}

fn restored(project: &Project) -> Vec<i64> {
    let out = project.path().join("restored.db");
    let _ = std::fs::remove_file(&out);
    project.run(["restore", "-o", out.to_str().unwrap(), "default"]).success();
    rows(&out)
}

fn write_script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Words as systemd (and, for these lines, a shell) splits them: whitespace, `"…"` and `'…'`.
fn split(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn dockerfile_commands_run_in_a_temporary_root() {
    let dockerfile = std::fs::read_to_string(examples().join("docker/Dockerfile")).unwrap();
    let mut project = project();
    let root = project.path().join("image-root");
    let map = |text: &str| {
        text.replace("/usr/local/bin", &root.join("usr/local/bin").to_string_lossy())
            .replace("/etc/litestream.yml", &root.join("etc/litestream.yml").to_string_lossy())
    };
    std::fs::create_dir_all(root.join("etc")).unwrap();

    // The build stage's cargo-litestream commands, as written (network-free here: the pinned
    // litestream on PATH is adopted instead of downloaded, its sha256 checked the same way).
    project.removed_env.push("CARGO_LITESTREAM_BIN".to_owned());
    project
        .env
        .push(("PATH".to_owned(), format!("{}:/usr/bin:/bin", litestream_bin().parent().unwrap().display())));
    let run_lines: Vec<&str> =
        dockerfile.lines().filter_map(|l| l.strip_prefix("RUN cargo litestream ")).collect();
    assert_eq!(run_lines.len(), 2, "install --to and config -o:\n{dockerfile}");
    for line in &run_lines {
        project.run(split(&map(line))).success();
    }
    project.removed_env.clear();
    project.env.clear();
    let litestream = root.join("usr/local/bin/litestream");
    let config = root.join("etc/litestream.yml");
    assert!(litestream.is_file(), "install --to copied the verified binary");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
    // The runtime image has no target/ folder (the socket's folder is created at start).
    std::fs::remove_dir_all(project.path().join("target")).unwrap();

    // The application: adds a row, prints the count, exits 3.
    write_script(
        &root.join("usr/local/bin/app"),
        "sqlite3 data/app.db 'INSERT INTO t SELECT count(*) + 1 FROM t'\nsqlite3 data/app.db 'SELECT count(*) FROM t'\nexit 3",
    );
    let entrypoint = dockerfile.lines().find_map(|l| l.strip_prefix("ENTRYPOINT ")).unwrap();
    let entrypoint: Vec<String> = serde_json::from_str(entrypoint).unwrap();
    assert_eq!(entrypoint[0], "cargo-litestream");
    let mut container = Command::new(cargo_litestream_bin());
    container.args(entrypoint[1..].iter().map(|a| map(a)));
    project.hermetic(&mut container);
    container.env_remove("CARGO_LITESTREAM_BIN");
    for env in dockerfile.lines().filter_map(|l| l.strip_prefix("ENV ")) {
        let (key, value) = env.split_once('=').unwrap();
        container.env(key, map(value));
    }
    container.env("PATH", format!("{}:/usr/bin:/bin", root.join("usr/local/bin").display()));
    let run = Run::of(&mut container).code(3);
    assert_eq!(run.stdout.trim(), "1", "{run}");

    // A fresh volume: the database is restored before the application starts.
    for file in ["data/app.db", "data/app.db-wal", "data/app.db-shm"] {
        let _ = std::fs::remove_file(project.path().join(file));
    }
    let run = Run::of(&mut container).code(3);
    assert_eq!(run.stdout.trim(), "2", "restored, then one more row\n{run}");
    assert_eq!(restored(&project), [1, 2]);
}

#[test]
fn systemd_unit_verifies_and_stops_cleanly_on_sigterm() {
    let unit = std::fs::read_to_string(examples().join("systemd/app.service")).unwrap();
    let project = project();
    let etc = project.path().join("etc-app");
    std::fs::create_dir_all(&etc).unwrap();
    let app = project.path().join("bin/app");
    // Adds a row, says so, then waits: SIGTERM (passed on by cargo-litestream) ends it.
    write_script(&app, "sqlite3 data/app.db 'INSERT INTO t VALUES (7)'\necho ready\nexec sleep 600");
    let map = |text: &str| {
        text.replace("/usr/local/bin/cargo-litestream", &cargo_litestream_bin().to_string_lossy())
            .replace("/usr/local/bin/litestream", &litestream_bin().to_string_lossy())
            .replace("/usr/local/bin/app", &app.to_string_lossy())
            .replace("/etc/app", &etc.to_string_lossy())
            .replace("/srv/app", &project.path().to_string_lossy())
    };
    let mapped = project.path().join("app.service");
    std::fs::write(&mapped, map(&unit)).unwrap();
    let verify = Run::of(Command::new(system_tool("systemd-analyze", "systemd")).arg("verify").arg(&mapped));
    assert!(verify.code == Some(0) && verify.stderr.trim().is_empty(), "systemd-analyze verify\n{verify}");

    project.run(["config", "-o", &etc.join("litestream.yml").to_string_lossy()]).success();
    let value = |key: &str| -> Vec<String> {
        map(&unit).lines().filter_map(|l| l.strip_prefix(key).map(str::to_owned)).collect()
    };
    assert_eq!(value("KillMode="), ["mixed"], "SIGTERM goes to cargo-litestream alone");
    let exec_start = split(&value("ExecStart=")[0]);
    let mut service = Command::new(&exec_start[0]);
    service.args(&exec_start[1..]).current_dir(&value("WorkingDirectory=")[0]);
    project.hermetic(&mut service);
    service.env("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt");
    for assignment in value("Environment=") {
        let (key, val) = assignment.split_once('=').unwrap();
        service.env(key, val);
    }
    for key in value("UnsetEnvironment=") {
        service.env_remove(key);
    }
    let log = tempfile::NamedTempFile::new().unwrap();
    service.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log.reopen().unwrap());
    let mut child = service.spawn().unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    let show = || std::fs::read_to_string(log.path()).unwrap_or_default();
    assert_eq!(ready.trim(), "ready", "{}", show());
    let children: Vec<u32> = procs::children(child.id()).into_iter().map(|(pid, _)| pid).collect();
    assert_eq!(children.len(), 2, "litestream and the app\n{}", show());

    procs::kill(child.id(), libc::SIGTERM); // KillMode=mixed: the main process only
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the service did not stop\n{}", show());
        std::thread::sleep(Duration::from_millis(20));
    };
    let code = status.code().unwrap();
    let clean: Vec<i32> = std::iter::once(0)
        .chain(
            value("SuccessExitStatus=").iter().flat_map(|v| v.split_whitespace().map(|c| c.parse().unwrap())),
        )
        .collect();
    assert!(clean.contains(&code), "exit {code} is a failure to systemd (clean: {clean:?})\n{}", show());
    for pid in children {
        assert!(procs::wait_gone(pid, Duration::from_secs(10)), "process {pid} outlived the service");
    }
    assert!(!show().contains("RootCAs"), "UnsetEnvironment kept AWS_CA_BUNDLE away\n{}", show());
    assert_eq!(restored(&project), [7]);
}

/// The axum example, built as a workspace member (`cargo build -p cargo-litestream-example-axum`;
/// `cargo xtask test` builds it), deployed without its Cargo.toml: it creates and replicates its
/// database, stops cleanly on SIGTERM, and on an empty disk restores before serving.
#[test]
fn axum_example_restores_replicates_and_stops_cleanly() {
    let binary = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("axum-service");
    assert!(
        binary.is_file(),
        "{} is missing: `cargo build -p cargo-litestream-example-axum` (cargo xtask test builds it)",
        binary.display()
    );
    let project = Project::empty();
    let port = free_port();
    let start = || {
        let mut command = Command::new(&binary);
        project.hermetic(&mut command);
        command
            .env("CARGO_LITESTREAM_PROJECT_DIR", project.path())
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("the service exited before listening:\n{seen}");
            }
            seen.push_str(&line);
            if line.starts_with("listening on") {
                break;
            }
        }
        (child, stderr, seen)
    };
    let http = |method: &str, body: &str| -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "{method} /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or(answer)
    };
    let stop = |mut child: std::process::Child,
                mut stderr: BufReader<std::process::ChildStderr>,
                mut seen: String| {
        procs::kill(child.id(), libc::SIGTERM);
        stderr.read_to_string(&mut seen).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{status}\n{seen}");
        seen
    };

    let (child, stderr, seen) = start();
    assert!(seen.contains("starting fresh"), "{seen}");
    for note in ["one", "two", "three"] {
        http("POST", note);
    }
    assert_eq!(http("GET", ""), "one\ntwo\nthree\n");
    // The status page, mounted at /litestream; only for loopback names (the example has no auth).
    let page = |host: &str| -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(stream, "GET /litestream/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let shown = page(&format!("127.0.0.1:{port}"));
    assert!(shown.starts_with("HTTP/1.1 200"), "{shown}");
    assert!(
        shown.contains("<h2 id=\"db-0-h\">default") && shown.contains("action=\"/litestream/restore\""),
        "{shown}"
    );
    assert!(page("evil.example").starts_with("HTTP/1.1 403"));
    // A POST through the tower service: its body read, the missing form token refused.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let form = "db=default&txid=0000000000000001";
    write!(
        stream,
        "POST /litestream/restore HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    let mut refused = String::new();
    stream.read_to_string(&mut refused).unwrap();
    assert!(refused.starts_with("HTTP/1.1 403") && refused.contains("form token"), "{refused}");
    let seen = stop(child, stderr, seen);
    assert!(seen.contains("replication stopped: 1 database(s) synced"), "{seen}");

    std::fs::remove_dir_all(project.path().join("data")).unwrap();
    let (child, stderr, seen) = start();
    assert!(seen.contains("restored"), "{seen}");
    assert_eq!(http("GET", ""), "one\ntwo\nthree\n");
    stop(child, stderr, seen);
}
