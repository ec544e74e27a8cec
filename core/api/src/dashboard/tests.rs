use std::path::Path;

use super::*;
use crate::backups::ReplicaFile;
use crate::check::Status;

fn file(level: u8, min: u64, max: u64, second: i64) -> ReplicaFile {
    ReplicaFile {
        level,
        min_txid: min,
        max_txid: max,
        size: 100 * (max - min + 1),
        created: jiff::Timestamp::from_second(1_780_000_000 + second).unwrap(),
    }
}

fn report(name: &str) -> Report {
    Report {
        database: name.into(),
        path: "/srv/app.db".into(),
        status: Status::Ok,
        findings: vec![check::Finding {
            check: "lag",
            status: Status::Ok,
            message: "lag 0.0 s <now>".into(),
        }],
        daemon_status: Some("replicating".into()),
        local_txid: Some(9),
        replica_txid: Some(9),
        txid_lag: Some(0),
        replica_reached: None,
        replica_newest_file: None,
        database_mtime: None,
        wal_mtime: None,
        lag_seconds: Some(0.0),
        snapshot: None,
        snapshot_interval_seconds: 86_400,
        recovery_window_start: None,
        restore_points: Some(3),
        levels: Vec::new(),
        assurance: Vec::new(),
    }
}

/// A snapshot at 1, level-0 files 2..=4, then a compaction 6..=9 whose level-0 files are gone
/// (a compaction of 5..=9 is all that is left of them): points 1, 2, 3, 4, 9 and the unreachable range 5..=8.
fn replica() -> Vec<ReplicaFile> {
    vec![file(9, 1, 1, 0), file(0, 2, 2, 10), file(0, 3, 3, 20), file(0, 4, 4, 30), file(1, 5, 9, 60)]
}

fn render_page(name: &str, files: &[ReplicaFile], selected: Option<(&str, u64)>) -> String {
    let databases = [DatabaseView { report: report(name), points: Ok(Points::of(files)) }];
    page::render(&page::PageView {
        package: "shop".into(),
        base: "/litestream",
        form_token: "f0f0",
        now: jiff::Timestamp::from_second(1_780_000_100).unwrap(),
        databases: &databases,
        selected,
    })
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn the_timeline_has_one_mark_per_restore_point() {
    let html = render_page("default", &replica(), None);
    let points = backups::restore_points(&replica());
    assert_eq!(points.points.iter().map(|p| p.txid).collect::<Vec<_>>(), [1, 2, 3, 4, 9]);
    assert_eq!(count(&html, r#"class="mark "#), 5, "{html}");
    assert_eq!(count(&html, r#"class="mark snapshot""#), 1);
    assert_eq!(count(&html, r#"class="mark incremental""#), 4);
    for point in &points.points {
        assert_eq!(
            count(&html, &format!(r#"<a class="mark snapshot" data-txid="{:016x}""#, point.txid))
                + count(&html, &format!(r#"<a class="mark incremental" data-txid="{:016x}""#, point.txid)),
            1
        );
    }
    // The unreachable TXIDs are one hatched band, with its own title.
    assert_eq!(count(&html, r#"class="gap""#), 1);
    assert!(html.contains("TXIDs 0000000000000005 to 0000000000000008 are unreachable"), "{html}");
    // Hover text: TXID and time.
    assert!(html.contains("<title>TXID 0000000000000009 (incremental), written 2026-05-28T"), "{html}");
    // Marks link to the page with the point selected; buttons post to the mounted path.
    assert!(html.contains(r#"href="/litestream/?db=default&amp;txid=0000000000000009#db-0""#), "{html}");
    assert!(html.contains(r#"action="/litestream/restore""#));
    assert_eq!(count(&html, "Restore to a copy</button>"), 5);
    assert!(html.contains(r#"<svg class="timeline""#) && html.contains(r#"role="img""#));
}

#[test]
fn an_empty_replica_draws_no_marks() {
    let html = render_page("default", &[], None);
    assert_eq!(count(&html, r#"class="mark "#), 0);
    assert!(html.contains("no restore point yet"));
}

#[test]
fn names_are_escaped_everywhere() {
    let name = r#"<script>alert("x")</script>&'"#;
    let html = render_page(name, &replica(), Some((name, 2)));
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"));
    // In the link's query too, percent-encoded and then attribute-escaped.
    assert!(html.contains("?db=%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26%27&amp;txid="), "{html}");
    // The selected point has its row, highlighted, and its marker on the timeline.
    assert!(html.contains(r#"<tr class="selected" data-txid="0000000000000002">"#), "{html}");
    assert!(html.contains(r#"class="selected" d="#));
}

#[test]
fn forms_and_queries_decode() {
    assert_eq!(form_value(b"a=1&db=my+db%2F1&txid=", "db").as_deref(), Some("my db/1"));
    assert_eq!(form_value(b"a=1&txid=", "txid").as_deref(), Some(""));
    assert_eq!(form_value(b"a=1", "db"), None);
}

#[test]
fn requests_are_read_within_bounds() {
    let read = |bytes: &[u8]| crate::httpd::read_request(&mut &bytes[..]);
    let request =
        read(b"POST /restore?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello").unwrap().unwrap();
    assert_eq!(
        (request.method.as_str(), request.path.as_str(), request.query.as_deref()),
        ("POST", "/restore", Some("x=1"))
    );
    assert_eq!((request.header("HOST"), request.body.as_slice()), (Some("a"), &b"hello"[..]));
    assert!(read(b"").unwrap().is_none());
    for (bad, status) in [
        (&b"GET\r\n\r\n"[..], 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET nowhere HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
        (b"POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort", 400),
        (b"GET / HTTP/1.1\r\nHost: a", 400),
    ] {
        assert_eq!(read(bad).unwrap_err().status, status, "{}", String::from_utf8_lossy(bad));
    }
    let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(read(huge.as_bytes()).unwrap_err().status, 431);
}

/// A project of one database whose file replica is an empty folder.
fn dashboard(dir: &Path, options: Options) -> Dashboard {
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"shop\"\nversion = \"0.1.0\"\n\n[package.metadata.litestream]\nreplica = \"backups\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("backups")).unwrap();
    let env = Env::capture().unwrap();
    let project = Project::load(Some(&dir.join("Cargo.toml")), &env).unwrap();
    let litestream = Litestream {
        path: "/nonexistent/litestream".into(),
        source: cargo_litestream_runner::BinarySource::EnvVar,
    };
    Dashboard::new(project, env, litestream, options).unwrap()
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (path.to_owned(), None),
    };
    Request {
        method: "GET".into(),
        path,
        query,
        headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        body: Vec::new(),
    }
}

fn post(body: &str, headers: &[(&str, &str)]) -> Request {
    Request { method: "POST".into(), body: body.as_bytes().to_vec(), ..get("/restore", headers) }
}

#[test]
fn a_token_is_required_of_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { token: Some("s3cret".into()), ..Options::default() };
    assert!(!format!("{options:?}").contains("s3cret"), "{options:?}");
    let dashboard = dashboard(dir.path(), options);
    let host = ("Host", "example.com:9851");

    let refused = dashboard.handle(&get("/", &[host]));
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("needs its token"), "{}", refused.body);
    assert!(!refused.body.contains("s3cret"));
    assert_eq!(dashboard.handle(&get("/?token=wrong", &[host])).status, 401);
    assert_eq!(dashboard.handle(&get("/", &[host, ("Authorization", "Bearer wrong")])).status, 401);
    assert_eq!(dashboard.handle(&post("csrf=x&db=default&txid=0000000000000001", &[host])).status, 401);
    assert_eq!(
        dashboard.handle(&get("/", &[host, ("Cookie", "cargo_litestream_dashboard=s3cret")])).status,
        401
    );

    // ?token= once: a redirect without it, and a session cookie that is not the token.
    let login = dashboard.handle(&get("/?token=s3cret&db=default", &[host]));
    assert_eq!(login.status, 303);
    let header = |r: &Response, n: &str| r.headers.iter().find(|(h, _)| *h == n).map(|(_, v)| v.clone());
    assert_eq!(header(&login, "Location").as_deref(), Some("/?db=default"));
    let cookie = header(&login, "Set-Cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("s3cret"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = dashboard.handle(&get("/", &[host, ("Cookie", &format!("other=1; {session}"))]));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h2 id=\"db-0-h\">default"), "{}", page.body);
    let page = dashboard.handle(&get("/", &[host, ("Authorization", "Bearer s3cret")]));
    assert_eq!(page.status, 200, "{}", page.body);

    // Mounted at /litestream (a framework strips the prefix or not): back to the mounted page.
    let dir = tempfile::tempdir().unwrap();
    let options =
        Options { token: Some("s3cret".into()), base_path: "/litestream/".into(), ..Options::default() };
    let mounted = self::dashboard(dir.path(), options);
    for path in ["/?token=s3cret", "/litestream/?token=s3cret", "/litestream?token=s3cret"] {
        let login = mounted.handle(&get(path, &[host]));
        assert_eq!(header(&login, "Location").as_deref(), Some("/litestream/"), "{path}");
        assert!(header(&login, "Set-Cookie").unwrap().contains("Path=/litestream;"), "{path}");
    }
}

#[test]
fn posts_need_the_form_token_and_the_same_origin() {
    let dir = tempfile::tempdir().unwrap();
    let dashboard = dashboard(dir.path(), Options { loopback_hosts_only: true, ..Options::default() });
    let host = ("Host", "127.0.0.1:9851");
    let form = |txid: &str| format!("csrf={}&db=default&txid={txid}", dashboard.form_token);

    // DNS rebinding: another name for this address.
    let rebound = dashboard.handle(&get("/", &[("Host", "evil.example:9851")]));
    assert_eq!(rebound.status, 403, "{}", rebound.body);
    assert_eq!(dashboard.handle(&get("/", &[])).status, 403);
    for host in ["localhost:1", "127.0.0.1", "[::1]:9851", "127.1.2.3:80"] {
        assert!(auth::is_loopback_host(host), "{host}");
    }

    let no_token = dashboard.handle(&post("db=default&txid=0000000000000001", &[host]));
    assert_eq!(no_token.status, 403);
    assert!(no_token.body.contains("form token"), "{}", no_token.body);
    let stale = dashboard.handle(&post("csrf=0123&db=default&txid=0000000000000001", &[host]));
    assert_eq!(stale.status, 403);
    let cross =
        dashboard.handle(&post(&form("0000000000000001"), &[host, ("Origin", "http://evil.example")]));
    assert_eq!((cross.status, cross.body.contains("cross-origin")), (403, true), "{}", cross.body);
    let site = dashboard.handle(&post(&form("0000000000000001"), &[host, ("Sec-Fetch-Site", "cross-site")]));
    assert_eq!(site.status, 403);

    // Past the guards: bad input is a 4xx with one line, and nothing is written.
    let malformed = dashboard.handle(&post(&form("12"), &[host, ("Origin", "http://127.0.0.1:9851")]));
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    let unknown = dashboard
        .handle(&post(&format!("csrf={}&db=nope&txid=0000000000000001", dashboard.form_token), &[host]));
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(unknown.body.contains("unknown database \"nope\""), "{}", unknown.body);
    let not_a_point = dashboard.handle(&post(&form("0000000000000007"), &[host]));
    assert_eq!(not_a_point.status, 404, "{}", not_a_point.body);
    assert!(
        not_a_point.body.contains("0000000000000007 is not a restore point of default"),
        "{}",
        not_a_point.body
    );
    assert_eq!(not_a_point.body.lines().count(), 1);
    assert!(!dir.path().join("target/litestream/shop/restores").exists());

    assert_eq!(dashboard.handle(&get("/?db=default&txid=zz", &[host])).status, 400);
    assert_eq!(dashboard.handle(&get("/nowhere", &[host])).status, 404);
    assert_eq!(dashboard.handle(&Request { method: "DELETE".into(), ..get("/", &[host]) }).status, 405);
    assert_eq!(dashboard.handle(&get("/restore", &[host])).status, 405);
}
