//! `cargo litestream check` against the real litestream 0.5.17 and `file` replicas: a stall
//! made with SIGSTOP while an application writes, recovery after SIGCONT, the history's
//! verdicts, the Prometheus text read by the real `prometheus-client` parser, and bad input.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Project, Run, tools_dir};

const PROJECT: &str = "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n";

/// An application committing one row every few milliseconds on its own connection, with
/// SQLite's default `wal_autocheckpoint`, until dropped.
struct Writer {
    stop: Arc<AtomicBool>,
    commits: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(project: &Project) -> Writer {
        let conn = project.sqlite("app.db");
        let (stop, commits) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (s, c) = (stop.clone(), commits.clone());
        let thread = std::thread::spawn(move || {
            let mut i = 0i64;
            while !s.load(Ordering::Relaxed) {
                // A busy database (Litestream's checkpoint holds the write lock a moment) is
                // retried, as an application would.
                if conn.execute("INSERT INTO t VALUES (?1)", [i]).is_ok() {
                    c.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                std::thread::sleep(Duration::from_millis(3));
            }
        });
        Writer { stop, commits, thread: Some(thread) }
    }

    fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) on the replicate child the test spawned and has not reaped.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Runs `check` until it exits `code`, at most `within`; the last run.
#[track_caller]
fn until(project: &Project, args: &[&str], code: i32, within: Duration) -> Run {
    until_with(project, args, code, within, |_| true)
}

/// [`until`], also until `also` holds of its JSON document.
#[track_caller]
fn until_with(
    project: &Project,
    args: &[&str],
    code: i32,
    within: Duration,
    also: impl Fn(&Value) -> bool,
) -> Run {
    poll(project, args, code, within, also)
        .unwrap_or_else(|run| panic!("check never exited {code} within {within:?}\n{run}"))
}

/// [`until_with`], giving back the last run when the time is up.
fn poll(
    project: &Project,
    args: &[&str],
    code: i32,
    within: Duration,
    also: impl Fn(&Value) -> bool,
) -> Result<Run, Run> {
    let deadline = Instant::now() + within;
    loop {
        let run = project.run([&["check"][..], args].concat());
        if run.code == Some(code) && also(&run.json()) {
            return Ok(run);
        }
        if Instant::now() >= deadline {
            return Err(run);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn finding<'a>(db: &'a Value, check: &str) -> &'a Value {
    db["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["check"] == check))
        .unwrap_or_else(|| panic!("no {check} finding in {db}"))
}

/// The Prometheus text read by `prometheus_client.parser` (PyPI `prometheus-client`, in the
/// tools venv): every family as name → [(labels, value)].
fn parse_prometheus(text: &str) -> Value {
    let script = "import json, sys\n\
                  from prometheus_client.parser import text_string_to_metric_families as parse\n\
                  out = {}\n\
                  for family in parse(sys.stdin.read()):\n\
                  \x20   assert family.documentation and family.type == 'gauge', family.name\n\
                  \x20   out[family.name] = [[s.labels, s.value] for s in family.samples]\n\
                  print(json.dumps(out))\n";
    let mut child = Command::new(tools_dir().join("venv/bin/python"))
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the tools venv's python (cargo xtask provision)");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus-client refused the text:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sample(metrics: &Value, name: &str, labels: &[(&str, &str)]) -> f64 {
    let samples = metrics[name].as_array().unwrap_or_else(|| panic!("no {name} in {metrics}"));
    samples
        .iter()
        .find(|s| labels.iter().all(|(k, v)| s[0][k] == *v))
        .and_then(|s| s[1].as_f64())
        .unwrap_or_else(|| panic!("no {name}{labels:?} in {metrics}"))
}

#[test]
fn a_stopped_replicate_turns_critical_while_the_app_writes_and_ok_after_sigcont() {
    let project = Project::new(PROJECT);
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
    let daemon = project.replicate::<_, &str>([]);
    let writer = Writer::start(&project);

    let run = until(&project, &["--format", "json"], 0, Duration::from_secs(30));
    let db = &run.json()["databases"][0];
    assert_eq!(
        (db["database"].as_str(), db["daemon_status"].as_str()),
        (Some("default"), Some("replicating")),
        "{run}"
    );
    assert!(db["lag_seconds"].as_f64().unwrap() < 60.0, "{run}");
    let text = project.run(["check", "--format", "prometheus"]).success();
    let metrics = parse_prometheus(&text.stdout);
    assert_eq!(sample(&metrics, "cargo_litestream_check_status", &[("db", "default")]), 0.0);
    assert!(sample(&metrics, "cargo_litestream_replica_txid", &[("db", "default")]) >= 1.0);
    assert!(sample(&metrics, "cargo_litestream_replica_bytes", &[("db", "default"), ("level", "0")]) > 0.0);

    // Stopped: the application's commits go on landing in the WAL, nothing reaches the
    // replica. Should the stop catch Litestream holding the write lock (its checkpoint), the
    // writer blocks; then let it go and stop it again.
    let mut stopped_at = None;
    for _ in 0..5 {
        signal(daemon.pid(), libc::SIGSTOP);
        let (before, since) = (writer.commits(), Instant::now());
        while writer.commits() < before + 20 && since.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(10));
        }
        if writer.commits() >= before + 20 {
            stopped_at = Some(Instant::now());
            break;
        }
        signal(daemon.pid(), libc::SIGCONT);
        std::thread::sleep(Duration::from_millis(300));
    }
    let stopped_at = stopped_at.expect("the application kept writing while litestream was stopped");
    // The daemon's silence on the socket is CRITICAL at once (its --timeout)…
    let run = until(
        &project,
        &["--format", "json", "--max-lag", "2s", "--timeout", "1"],
        2,
        Duration::from_secs(30),
    );
    let first_critical = stopped_at.elapsed();
    assert_eq!(finding(&run.json()["databases"][0], "daemon")["status"], "critical", "{run}");
    // … and the lag itself says it too, once it passes max-lag (the probe looks twice then).
    let run = until_with(
        &project,
        &["--format", "json", "--max-lag", "2s", "--timeout", "1"],
        2,
        Duration::from_secs(30),
        |doc| finding(&doc["databases"][0], "lag")["status"] == "critical",
    );
    let took = stopped_at.elapsed();
    let db = &run.json()["databases"][0];
    assert!(db["lag_seconds"].as_f64().unwrap() > 2.0, "{run}");
    assert_eq!(finding(db, "daemon")["status"], "critical", "{run}");
    let nagios = project.run(["check", "--format", "nagios", "--max-lag", "2s", "--timeout", "1"]).code(2);
    assert!(nagios.stdout.starts_with("LITESTREAM CRITICAL - default: "), "{nagios}");
    assert!(nagios.stdout.contains("'default lag'="), "perfdata: {nagios}");
    let text = project.run(["check", "--format", "prometheus", "--max-lag", "2s", "--timeout", "1"]).code(2);
    let metrics = parse_prometheus(&text.stdout);
    assert_eq!(sample(&metrics, "cargo_litestream_check_status", &[("db", "default")]), 2.0);
    assert!(sample(&metrics, "cargo_litestream_replica_lag_seconds", &[("db", "default")]) > 2.0);
    assert_eq!(sample(&metrics, "cargo_litestream_daemon_replicating", &[("db", "default")]), 0.0);

    signal(daemon.pid(), libc::SIGCONT);
    let run = until(&project, &["--format", "json", "--max-lag", "2s"], 0, Duration::from_secs(30));
    assert_eq!(finding(&run.json()["databases"][0], "lag")["status"], "ok", "{run}");
    eprintln!(
        "CRITICAL {:.1} s after SIGSTOP (daemon), lag CRITICAL {:.1} s after (max-lag 2 s)",
        first_critical.as_secs_f64(),
        took.as_secs_f64()
    );

    // A real verify records its run; a drill with a check that cannot hold records a failure.
    drop(writer);
    project.run(["verify", "default"]).success();
    let run = until(&project, &["--format", "json", "--max-verify-age", "1h"], 0, Duration::from_secs(30));
    assert_eq!(finding(&run.json()["databases"][0], "verify")["status"], "ok", "{run}");
    let run = project.run(["check", "--format", "json", "--max-scrub-age", "1h"]).code(1);
    let db = &run.json()["databases"][0];
    assert_eq!(finding(db, "scrub")["status"], "warning", "no scrub on record: {run}");
    let text = project.run(["check", "--format", "prometheus"]).success();
    let metrics = parse_prometheus(&text.stdout);
    let verified = sample(
        &metrics,
        "cargo_litestream_last_success_timestamp_seconds",
        &[("db", "default"), ("kind", "verify")],
    );
    assert!(verified > 1.7e9, "{text}");
    assert!(
        sample(
            &metrics,
            "cargo_litestream_last_success_duration_seconds",
            &[("db", "default"), ("kind", "verify")]
        ) > 0.0
    );

    project.write_manifest(&format!(
        "{PROJECT}\n[package.metadata.litestream.drill]\nchecks = [\"SELECT 0\"]\n"
    ));
    project.run(["drill", "default"]).code(1);
    let run = project.run(["check", "--format", "json"]).code(2);
    let drill = finding(&run.json()["databases"][0], "drill").clone();
    assert_eq!(drill["status"], "critical", "{run}");
    assert!(drill["message"].as_str().unwrap().contains("the last drill failed"), "{run}");
}

/// A read-only bind mount over a folder (root only), undone when dropped.
struct ReadOnly(std::path::PathBuf);

impl ReadOnly {
    /// `None` where mounting is not possible (not root, no mount(8)).
    fn mount(dir: &std::path::Path) -> Option<ReadOnly> {
        let run = |args: &[&str]| {
            Command::new("mount").args(args).arg(dir).arg(dir).status().is_ok_and(|s| s.success())
        };
        if !run(&["--bind"]) {
            return None;
        }
        let guard = ReadOnly(dir.to_path_buf());
        run(&["-o", "remount,bind,ro"]).then_some(guard)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The stall Litestream does not report: the daemon runs and answers on its socket, the
/// application's commits land in the WAL, but nothing reaches the replica (here a replica
/// folder that turned read-only, as a full or remounted disk does). `check` sees the daemon as
/// fine and the lag as CRITICAL; once the replica takes writes again, OK.
#[test]
fn a_replica_that_takes_no_writes_turns_critical_while_the_daemon_answers() {
    let project = Project::new(PROJECT);
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
    let daemon = project.replicate::<_, &str>([]);
    let writer = Writer::start(&project);
    until(&project, &["--format", "json", "--max-lag", "2s"], 0, Duration::from_secs(90));

    let Some(read_only) = ReadOnly::mount(&project.path().join("replica")) else {
        eprintln!("skipped: a read-only bind mount needs root and mount(8) (CI runs as root)");
        return;
    };
    let since = Instant::now();
    let run = poll(&project, &["--format", "json", "--max-lag", "2s"], 2, Duration::from_secs(90), |doc| {
        finding(&doc["databases"][0], "lag")["status"] == "critical"
    })
    .unwrap_or_else(|run| {
        // This failed twice on a loaded machine and never since: keep everything that tells why.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let replica = project.path().join("replica");
        let mounted: Vec<&str> = mounts.lines().filter(|l| l.contains(&*replica.to_string_lossy())).collect();
        panic!(
            "lag never CRITICAL within 90 s of the replica turning read-only ({} commits)\n{run}\n\
             mounts: {mounted:?}\nlitestream's log:\n{}",
            writer.commits(),
            daemon.log()
        )
    });
    let took = since.elapsed();
    let db = &run.json()["databases"][0];
    assert_eq!(finding(db, "daemon")["status"], "ok", "the daemon still answers: {run}");
    assert!(writer.commits() > 0);
    let nagios = project.run(["check", "--format", "nagios", "--max-lag", "2s"]).code(2);
    assert!(nagios.stdout.starts_with("LITESTREAM CRITICAL - default: lag"), "{nagios}");

    drop(read_only);
    until(&project, &["--format", "json", "--max-lag", "2s"], 0, Duration::from_secs(90));
    assert!(daemon.log().contains("read-only file system"), "litestream's own report: {}", daemon.log());
    eprintln!("lag CRITICAL {:.1} s after the replica turned read-only (max-lag 2 s)", took.as_secs_f64());
}

#[test]
fn without_a_daemon_check_is_critical_and_reads_its_thresholds_from_cargo_toml() {
    let project = Project::new(&format!(
        "{PROJECT}\n[package.metadata.litestream.check]\nmax-verify-age = \"1h\"\nmax-lag = \"off\"\n"
    ));
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(5);
    project.write(
        "target/litestream/app/history.jsonl",
        &format!("{{\"version\":1,\"kind\":\"verify\",\"database\":\"default\",\"time\":\"{old}\",\"ok\":true,\"duration_ms\":40}}\n"),
    );
    let run = project.run(["check", "--format", "json"]).code(2);
    let db = &run.json()["databases"][0];
    assert_eq!(run.json()["status"], "critical", "{run}");
    assert!(finding(db, "daemon")["message"].as_str().unwrap().contains("no replicate is running"), "{run}");
    assert_eq!(finding(db, "verify")["status"], "warning", "5 h old, max 1 h: {run}");
    // `max-lag = "off"`: the lag is only reported.
    assert_eq!(finding(db, "lag")["status"], "ok", "{run}");
    // A flag overrides Cargo.toml for one run.
    let run = project.run(["check", "--format", "json", "--max-verify-age", "6h"]).code(2);
    assert_eq!(finding(&run.json()["databases"][0], "verify")["status"], "ok", "{run}");
    let run = project.run(["check", "--format", "nagios"]).code(2);
    assert!(
        run.stdout.starts_with("LITESTREAM CRITICAL - default: daemon: no replicate is running"),
        "{run}"
    );
    let run = project.run(["check"]).code(2);
    assert!(run.stdout.starts_with("default: CRITICAL\n"), "{run}");
}

#[test]
fn bad_input_is_one_line_and_unknown() {
    let project = Project::new(PROJECT);
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
    project.run(["check", "--format", "xml"]).code(3).our_error(&["--format", "\"xml\"", "nagios"]);
    project.run(["check", "--max-lag", "soon"]).code(3).our_error(&["--max-lag", "\"soon\"", "Go's"]);
    project.run(["check", "--timeout", "0"]).code(3).our_error(&["--timeout"]);
    project.run(["check", "nosuch"]).code(3).our_error(&["`nosuch` is not a database alias"]);
    // A command line the parser refuses is UNKNOWN too (2 would be CRITICAL to a Nagios).
    let run = project.run(["check", "--max-lga", "5s"]).code(3);
    assert!(run.stderr.contains("did you mean -max-lag?"), "{run}");
    project.run(["check", "--max-lag"]).code(3);
    project.run(["verify", "--max-lga"]).code(2);

    let bad = Project::new(&format!("{PROJECT}\n[package.metadata.litestream.check]\nmax-lag = \"soon\"\n"));
    bad.run(["check"]).code(3).our_error(&["check.max-lag", "\"soon\""]);
    let bad = Project::new(&format!("{PROJECT}\n[package.metadata.litestream.check]\nmax-speed = \"1s\"\n"));
    bad.run(["check"]).code(3).our_error(&["check.max-speed", "max-lag"]);

    project.write("target/litestream/app/history.jsonl", "{\"version\": 1, \"kind\":\n");
    project.run(["check"]).code(3).our_error(&["history.jsonl, line 1", "not JSON"]);
    let run = project.run(["check", "--format", "nagios"]).code(3);
    assert!(run.stdout.starts_with("LITESTREAM UNKNOWN - ") && run.stdout.contains("line 1"), "{run}");
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
    let run = project.run(["check", "--format", "prometheus"]).code(3);
    assert!(run.stdout.is_empty(), "a textfile keeps its last good content: {run}");
    let run = project.run(["check", "--format", "json"]).code(3);
    assert!(run.json()["error"].as_str().unwrap().contains("line 1"), "{run}");
    project.write("target/litestream/app/history.jsonl", "{\"version\": 9}\n");
    project.run(["check"]).code(3).our_error(&["newer cargo-litestream"]);
}

/// An S3 replica (`rclone serve s3`) is listed natively: its levels and TXIDs are seen, and
/// commits made while no replicate runs show as lag once the replica lacks them.
#[test]
fn an_s3_replica_is_checked_natively() {
    let s3 = crate::s3::S3Server::start();
    let project = Project::new(&format!(
        "[package.metadata.litestream]\nreplica = {}\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
        s3.replica_toml("dbs")
    ));
    let conn = project.sqlite("app.db");
    conn.execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);").unwrap();
    let mut daemon = project.replicate::<_, &str>([]);
    project.run(["sync", "-wait", "default"]).success();
    let run = until(&project, &["--json"], 0, Duration::from_secs(30));
    let db = &run.json()["databases"][0];
    assert!(db["levels"].as_array().is_some_and(|l| !l.is_empty()), "{run}");
    assert_eq!(db["replica_txid"], db["local_txid"], "{run}");
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());

    // Nothing replicates now; a commit lands in the WAL after the replica's newest file.
    let run = project.run(["check", "--json"]).code(2);
    let db = &run.json()["databases"][0];
    assert_eq!(finding(db, "daemon")["status"], "critical", "{run}");
    assert_eq!(finding(db, "lag")["status"], "ok", "nothing written since: {run}");
    std::thread::sleep(Duration::from_millis(1500));
    conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
    let run = until_with(&project, &["--json", "--max-lag", "1s"], 2, Duration::from_secs(30), |doc| {
        finding(&doc["databases"][0], "lag")["status"] == "critical"
    });
    assert!(
        finding(&run.json()["databases"][0], "lag")["message"].as_str().unwrap().contains("looked again"),
        "{run}"
    );
}

/// An S3 server that accepts connections and never answers: `--timeout` bounds the native
/// listing too (it waited 30 s before), and the replica's finding says why.
#[test]
fn a_silent_s3_server_is_bounded_by_the_timeout() {
    let port = crate::s3::BlackHole::start().port;
    let project = Project::new(&format!(
        "[package.metadata.litestream]\nreplica = {{ type = \"s3\", bucket = \"b\", path = \"app\", \
         endpoint = \"http://127.0.0.1:{port}\", force-path-style = true, access-key-id = \"k\", \
         secret-access-key = \"s\" }}\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n"
    ));
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
    // The listing's own error, not ureq's 30 s receive timeout (which says "timeout: …").
    let run = project.run(["check", "--json", "--timeout", "1"]).code(2);
    assert!(run.stdout.contains("no answer within the timeout"), "{run}");
}

/// A GET on 127.0.0.1, the response's status line and body (no HTTP client crate in the tests:
/// the request is one line).
fn http_get(addr: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

/// `metrics-addr`: under `replicate -exec`, `/metrics` serves the Prometheus text `check` prints
/// (read by a real Prometheus text parser), fresh at each scrape; it ends with the run.
#[test]
fn metrics_are_served_while_replicate_exec_runs() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let project = Project::new(&format!(
        "[package.metadata.litestream]\nreplica = \"replica\"\nmetrics-addr = \"{port}\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n"
    ));
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
    let _daemon = project.replicate(["-exec", "sleep 60"]);
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        if std::net::TcpStream::connect(&addr).is_ok() {
            break http_get(&addr, "/metrics");
        }
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let families = parse_prometheus(&body);
    let replica_txid = &families["cargo_litestream_replica_txid"];
    assert_eq!(replica_txid[0][0]["db"], "default", "{body}");
    assert!(replica_txid[0][1].as_f64().unwrap() >= 1.0, "{body}");
    assert_eq!(families["cargo_litestream_daemon_replicating"][0][1], 1.0, "{body}");
    assert_eq!(http_get(&addr, "/nope").0, "HTTP/1.1 404 Not Found");
}
