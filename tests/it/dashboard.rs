//! `cargo litestream dashboard`: the status page against a real `replicate` and a file replica,
//! opened in a real headless browser (Debian's chromium driven by playwright-core through
//! `tests/browser/dashboard.cjs`); and its refusals, over real HTTP.
//!
//! The browser test's screenshots are kept in `target/tmp/dashboard/` (`CARGO_TARGET_TMPDIR`):
//! `dashboard.png` (the page) and `copy.png` (the page after "restore to a copy"); the test
//! prints their paths.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Daemon, Project, Run, tools_dir};

/// Set to 1 to let the browser test pass without chromium or playwright-core (a developer
/// machine without them); `cargo xtask test` provisions both and never sets it.
const SKIP_VAR: &str = "CARGO_LITESTREAM_SKIP_BROWSER";

fn project() -> Project {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\nsnapshot = { interval = \"3s\" }\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER);").unwrap();
    project
}

/// Starts `dashboard <args>` and returns it with the URL its status line names.
fn serve(project: &Project, args: &[&str]) -> (Daemon, String) {
    let daemon = Project::spawn(project.cmd([&["dashboard"][..], args].concat()));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = daemon.log();
        // Whole lines only: the status line may be read while it is being written.
        let line =
            log.split_inclusive('\n').find(|l| l.ends_with('\n') && l.trim_start().starts_with("Serving"));
        if let Some(line) = line {
            let url = line.split_whitespace().nth(1).unwrap().to_owned();
            assert_eq!(log.lines().count(), 1, "one status line\n{log}");
            return (daemon, url);
        }
        assert!(Instant::now() < deadline, "the dashboard never said where it serves\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.1 request to `url`'s host; the status code, the head and the body.
fn http(url: &str, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String, String) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n", body.len());
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// The TXIDs `restore-points --json default` lists.
fn listed_points(project: &Project) -> Vec<String> {
    let json = project.run(["restore-points", "--json", "default"]).success().json();
    json["databases"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["txid"].as_str().unwrap().to_owned())
        .collect()
}

/// The TXIDs at which the replica holds a snapshot (level 9), as `ltx` lists them.
fn snapshot_txids(project: &Project) -> BTreeSet<String> {
    let ltx = project.run(["ltx", "-level", "all", "-json", "default"]).success().json();
    ltx.as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == 9)
        .map(|f| f["max_txid"].as_str().unwrap().to_owned())
        .collect()
}

fn count_rows(path: &Path) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
}

/// chromium and playwright-core, or `None` when either is absent and skipping is allowed.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()));
    let playwright = tools_dir().join("npm/node_modules/playwright-core");
    let missing: Vec<String> = [
        (!chromium.is_file()).then(|| format!("{} (apt-get install chromium)", chromium.display())),
        (!playwright.join("package.json").is_file())
            .then(|| format!("{} (cargo xtask provision)", playwright.display())),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return Some((chromium, playwright));
    }
    if std::env::var_os(SKIP_VAR).is_some_and(|v| v == "1") {
        eprintln!("SKIPPED the browser test: missing {} ({SKIP_VAR}=1)", missing.join(", "));
        return None;
    }
    panic!(
        "the browser test needs {}; `cargo xtask test` provisions them (or set {SKIP_VAR}=1 to skip it)",
        missing.join(" and ")
    );
}

#[test]
fn the_page_in_a_browser_shows_the_restore_points_and_restores_a_copy() {
    let Some((chromium, playwright)) = browser() else { return };
    let project = project();
    let mut replicate = project.replicate::<_, &str>([]);
    // Thousands of commits over several seconds: litestream ships them as several level-0
    // files (each one's end a restore point), and snapshots every 3 s.
    let conn = project.sqlite("app.db");
    for batch in 0..6 {
        for i in 0..500 {
            conn.execute("INSERT INTO t VALUES (?1)", [batch * 500 + i]).unwrap();
        }
        std::thread::sleep(Duration::from_millis(1100));
    }
    project.run(["sync", "-wait", "default"]).success();
    // A history for the page's assurance rows.
    project.run(["verify", "default"]).success();
    project.run(["scrub", "default"]).success();
    project.run(["drill", "default"]).success();
    // verify deletes its row after the round trip: ship that too, so the replica stands still.
    project.run(["sync", "-wait", "default"]).success();
    let before = listed_points(&project);
    assert!(before.len() >= 4, "several restore points: {before:?}");

    let snapshots_before = snapshot_txids(&project);
    let (mut dashboard, url) = serve(&project, &["--addr", "127.0.0.1:0"]);
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'), "{url}");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    let mut node = Command::new("node");
    project.hermetic(&mut node);
    node.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.cjs"))
        .args([url.as_str(), shots.to_str().unwrap(), "default"])
        .env("PLAYWRIGHT_CORE", &playwright)
        .env("CHROMIUM", &chromium);
    let run = Run::of(&mut node);
    let after = listed_points(&project);
    let run = run.success();
    eprintln!(
        "screenshots: {} and {}",
        shots.join("dashboard.png").display(),
        shots.join("copy.png").display()
    );
    let seen: serde_json::Value =
        serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(before, after, "the replica's points changed while the page loaded");

    // The timeline shows exactly what restore-points lists, snapshots as such.
    let marks = seen["marks"].as_array().unwrap();
    let txids: Vec<String> = marks.iter().map(|m| m["txid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(txids, before, "{seen}");
    // Litestream snapshots the latest state every 3 s: what was a snapshot before the page
    // loaded is drawn as one, and what is drawn as one was a snapshot once it had loaded.
    let snapshots_after = snapshot_txids(&project);
    for mark in marks {
        let txid = mark["txid"].as_str().unwrap();
        let kind = mark["kind"].as_str().unwrap();
        if snapshots_before.contains(txid) {
            assert_eq!(kind, "snapshot", "{mark}");
        }
        if !snapshots_after.contains(txid) {
            assert_eq!(kind, "incremental", "{mark}");
        }
        assert!(
            mark["title"].as_str().unwrap().starts_with(&format!("TXID {txid} ({kind}), written 20")),
            "{mark}"
        );
    }
    assert!(marks.iter().any(|m| m["kind"] == "snapshot"), "a snapshot among the marks: {seen}");
    assert_eq!(seen["heading"], "Litestream status: app", "{seen}");
    assert_eq!(seen["selectedMarker"], 1, "{seen}");

    // The copy: a new file in the state folder, sound, with the rows of that TXID, as the CLI's
    // own `restore -txid` has them.
    let chosen = seen["chosen"].as_str().unwrap();
    assert_ne!(Some(chosen), before.last().map(String::as_str), "an earlier point than the latest");
    let copy = &seen["copy"];
    let path = PathBuf::from(copy["path"].as_str().unwrap());
    let restores = std::fs::canonicalize(project.path().join("target/litestream/app/restores")).unwrap();
    assert_eq!(path.parent().map(|p| std::fs::canonicalize(p).unwrap()), Some(restores), "{copy}");
    assert_eq!(copy["integrity"], "ok", "{copy}");
    let expected = project.p("expected.db");
    project.run(["restore", "-txid", chosen, "-o", &expected, "default"]).success();
    let rows = count_rows(Path::new(&expected));
    assert!(rows > 0 && rows < 3000, "an earlier point holds some of the rows: {rows}");
    assert_eq!(copy["rows"]["t"], rows, "{copy}");
    assert_eq!(count_rows(&path), rows);
    assert_eq!(count_rows(&project.path().join("app.db")), 3000, "the database is untouched");
    assert!(shots.join("dashboard.png").is_file() && shots.join("copy.png").is_file());

    // What the page's form would post, with its form token, for what is not there.
    let (status, _, page) = http(&url, "GET", "/", &[], "");
    assert_eq!(status, 200);
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).map(|s| &s[..32]).unwrap();
    let newest = u64::from_str_radix(before.last().unwrap(), 16).unwrap();
    for (form, fragment) in [
        (format!("csrf={csrf}&db=nosuch&txid={chosen}"), "unknown database \"nosuch\""),
        (format!("csrf={csrf}&db=default&txid={:016x}", newest + 100), "is not a restore point of default"),
    ] {
        let (status, _, body) = http(&url, "POST", "/restore", &[], &form);
        assert_eq!(status, 404, "{body}");
        assert!(body.contains(fragment) && body.lines().count() == 1, "{body}");
    }
    let copies: Vec<String> = std::fs::read_dir(project.path().join("target/litestream/app/restores"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".db"))
        .collect();
    assert_eq!(copies.len(), 1, "the refused requests wrote nothing: {copies:?}");

    dashboard.stop();
    assert_eq!(replicate.stop(), Some(0), "{}", replicate.log());
}

#[test]
fn the_dashboard_refuses_what_it_must() {
    let project = project();
    // A public address without a token: one line, before anything listens.
    project
        .run(["dashboard", "--addr", "0.0.0.0:0"])
        .our_error(&["0.0.0.0:0 is not a loopback address", "--token"]);
    project.run(["dashboard", "--addr", "no such host:x"]).our_error(&["invalid address"]);
    project.run(["dashboard", "--token", " "]).our_error(&["--token is empty"]);

    // With a token (from the environment), every request presents it.
    let project = project.with_env("CARGO_LITESTREAM_DASHBOARD_TOKEN", "tok-3141");
    let (mut dashboard, url) = serve(&project, &["--addr", "127.0.0.1:0"]);
    assert!(!dashboard.log().contains("tok-3141"), "the token is never printed\n{}", dashboard.log());
    let (status, _, body) = http(&url, "GET", "/", &[], "");
    assert_eq!((status, body.lines().count()), (401, 1), "{body}");
    assert_eq!(http(&url, "GET", "/?token=wrong", &[], "").0, 401);
    assert_eq!(http(&url, "GET", "/", &["Authorization: Bearer wrong"], "").0, 401);
    let (status, head, _) = http(&url, "GET", "/?token=tok-3141", &[], "");
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("Set-Cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let (status, _, page) = http(&url, "GET", "/", &[&format!("Cookie: {cookie}")], "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h2 id=\"db-0-h\">default"), "{page}");
    let auth = "Authorization: Bearer tok-3141";
    assert_eq!(http(&url, "GET", "/", &[auth], "").0, 200);

    // Bad requests: a 4xx and one plain line, nothing written.
    let form = "application/x-www-form-urlencoded";
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).map(|s| s[..32].to_owned());
    assert!(csrf.is_none(), "no restore point, no form");
    let (status, _, body) = http(
        &url,
        "POST",
        "/restore",
        &[auth, &format!("Content-Type: {form}")],
        "db=default&txid=0000000000000001",
    );
    assert_eq!(
        (status, body.trim()),
        (403, "the form token is missing or stale: reload the status page and try again")
    );
    assert_eq!(http(&url, "GET", "/?db=default&txid=12", &[auth], "").0, 400);
    assert_eq!(http(&url, "GET", "/elsewhere", &[auth], "").0, 404);
    assert_eq!(http(&url, "GARBAGE", "/", &[auth], "").0, 405);
    let mut stream = TcpStream::connect(url.trim_start_matches("http://").trim_end_matches('/')).unwrap();
    stream.write_all(b"not http at all\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(!project.path().join("target/litestream/app/restores").exists());
    assert!(!dashboard.log().contains("panicked"), "{}", dashboard.log());
    dashboard.stop();
}
