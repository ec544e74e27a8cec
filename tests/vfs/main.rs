//! In-process VFS tests: `cargo_litestream_api::vfs::open_replica` loading the real
//! litestream-vfs 0.5.17 extension into the test's own process and reading replicas that a
//! running `cargo litestream replicate` writes, on a file replica and on S3.
//!
//! The one exception to the single integration-test binary, because once the extension is
//! loaded every plain SQLite open in the process fails (upstream bug). So this binary has its
//! own small harness (`harness = false`): each scenario runs in a fresh child process of this
//! binary, opens its plain connections before loading the extension, and starts with the S3
//! credentials in its environment (the extension reads its environment only at start-up).

#![allow(clippy::disallowed_methods)] // tests read their own environment

#[allow(dead_code)]
#[path = "../it/s3.rs"]
mod s3;
#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use cargo_litestream_api::vfs::{
    self, EXTENSION_ENV, OpenOptions, VfsError, load_extension, open_configured_replica, open_replica,
};
use cargo_litestream_config::{Env, Project as Config};
use rusqlite::Connection;
use support::{Project, vfs_extension};

const SCENARIO_ENV: &str = "CARGO_LITESTREAM_VFS_SCENARIO";

type Scenario = (&'static str, fn());

const SCENARIOS: &[Scenario] = &[
    ("open_replica_reads_a_file_replica_that_replicate_writes", file_replica),
    ("open_replica_reads_an_s3_replica_that_replicate_writes", s3_replica),
];

fn main() -> ExitCode {
    if let Some(name) = std::env::var_os(SCENARIO_ENV) {
        let Some((_, scenario)) = SCENARIOS.iter().find(|(n, _)| name == *n) else {
            eprintln!("unknown scenario {name:?}");
            return ExitCode::FAILURE;
        };
        scenario(); // a failed assertion panics: a non-zero exit
        return ExitCode::SUCCESS;
    }

    // libtest-like: `--list`, and a name filter.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let selected: Vec<&Scenario> =
        SCENARIOS.iter().filter(|(n, _)| filter.is_none_or(|f| n.contains(f.as_str()))).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }

    println!("\nrunning {} tests", selected.len());
    let exe = std::env::current_exe().expect("own path");
    let results: Vec<(&str, std::process::Output)> = std::thread::scope(|scope| {
        let handles: Vec<_> = selected
            .iter()
            .map(|(name, _)| {
                let exe = &exe;
                scope.spawn(move || {
                    let output = Command::new(exe)
                        .env(SCENARIO_ENV, name)
                        .env("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
                        .env("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY)
                        .env("AWS_EC2_METADATA_DISABLED", "true")
                        .env_remove("AWS_CA_BUNDLE")
                        .output()
                        .expect("run a scenario");
                    (*name, output)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("scenario thread")).collect()
    });
    let mut failed = Vec::new();
    for (name, output) in &results {
        if output.status.success() {
            println!("test {name} ... ok");
        } else {
            println!("test {name} ... FAILED");
            failed.push((name, output));
        }
    }
    for (name, output) in &failed {
        println!(
            "\n---- {name} ({}) ----\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!("\ntest result: {verdict}. {} passed; {} failed\n", results.len() - failed.len(), failed.len());
    if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn options() -> OpenOptions {
    OpenOptions { timeout: Duration::from_secs(20), poll_interval: Some(Duration::from_millis(100)) }
}

fn count(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
}

/// Waits until the reader sees `want` rows: the VFS polls the replica and has no notification,
/// so ask it again until the deadline.
fn wait_for_rows(conn: &Connection, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let have = count(conn);
        if have == want {
            return;
        }
        assert!(Instant::now() < deadline, "the VFS reader still sees {have} rows, not {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A project replicating `app.db` to `replica`, with the VFS alias `main` for its replica; the
/// primary is opened (a plain connection, before any loading) and filled with three rows.
fn primary(replica: &str, extra_vfs: &str) -> (Project, Connection) {
    let project = Project::new(&format!(
        "[package.metadata.litestream]\nreplica = {replica}\n\n\
         [package.metadata.litestream.databases]\ndefault = \"app.db\"\n\n\
         [package.metadata.litestream.vfs]\nmain = \"default\"\n{extra_vfs}\n"
    ));
    let conn = project.sqlite("app.db");
    conn.execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2), (3);").unwrap();
    (project, conn)
}

fn config(project: &Project, env: &Env) -> Config {
    Config::load(Some(&project.path().join("Cargo.toml")), env).unwrap()
}

fn file_replica() {
    let (project, primary) = primary("\"replica\"", "");
    let _daemon = project.replicate::<_, &str>([]);
    project.run(["sync", "-wait", "default"]).success();
    assert!(!vfs::is_loaded());

    let extension = vfs_extension();
    let url = format!("file://{}", project.p("replica/app.db"));
    let replica = open_replica(&extension, &url, &options()).unwrap();
    assert!(vfs::is_loaded());
    assert_eq!(count(&replica), 3);
    let txid: String = replica.query_row("SELECT litestream_txid()", [], |r| r.get(0)).unwrap();
    assert!(txid.len() == 16 && txid.chars().all(|c| c.is_ascii_hexdigit()), "{txid}");
    let error = replica.execute("INSERT INTO t VALUES (9)", []).unwrap_err();
    assert!(error.to_string().contains("readonly"), "{error}");

    // The primary connection, opened before loading, keeps working; new rows reach the reader.
    primary.execute_batch("INSERT INTO t VALUES (4), (5);").unwrap();
    project.run(["sync", "-wait", "default"]).success();
    wait_for_rows(&replica, 5);

    // The same replica through the configured alias, on a second connection of its own.
    let env = Env::empty(project.path()).with(EXTENSION_ENV, &extension);
    let configured = open_configured_replica(&config(&project, &env), &env, "main", &options()).unwrap();
    wait_for_rows(&configured, 5);

    // The documented upstream limitation: plain opens in this process now fail.
    let plain = Connection::open(project.path().join("plain.db"));
    let message = plain.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("automatic extension loading failed"), "plain open after loading: {message:?}");

    // One extension per process.
    let other = load_extension(Path::new("/elsewhere/litestream-vfs.so")).unwrap_err();
    assert!(matches!(other, VfsError::AlreadyLoaded { .. }), "{other}");

    // A replica with nothing in it blocks the VFS forever: the open gives up.
    std::fs::create_dir(project.path().join("empty")).unwrap();
    let bounded = OpenOptions { timeout: Duration::from_secs(1), poll_interval: None };
    let error = open_replica(&extension, &format!("file://{}", project.p("empty")), &bounded).unwrap_err();
    assert!(matches!(error, VfsError::OpenTimedOut { .. }), "{error}");
}

fn s3_replica() {
    let s3 = s3::S3Server::start();
    let url = format!("s3://{}/dbs/app.db?endpoint={}&region=us-east-1", s3::BUCKET, s3.endpoint);
    let (project, primary) = primary(&s3.replica_toml("dbs"), &format!("by-url = \"{url}\""));
    let _daemon = project.replicate::<_, &str>([]);
    project.run(["sync", "-wait", "default"]).success();

    // Credentials come from the environment this process started with (set by the harness).
    let extension = vfs_extension();
    let replica = open_replica(&extension, &url, &options()).unwrap();
    assert_eq!(count(&replica), 3);
    primary.execute_batch("INSERT INTO t VALUES (4), (5);").unwrap();
    project.run(["sync", "-wait", "default"]).success();
    wait_for_rows(&replica, 5);

    // The configured alias needs the replica table's credentials in that start-up environment:
    // they are there, so it opens...
    let env = Env::capture().unwrap().with(EXTENSION_ENV, &extension);
    let configured = open_configured_replica(&config(&project, &env), &env, "main", &options()).unwrap();
    wait_for_rows(&configured, 5);
    // ...and a process without them is told so, instead of connecting with no credentials.
    let bare = Env::empty(project.path()).with(EXTENSION_ENV, &extension);
    let error = open_configured_replica(&config(&project, &bare), &bare, "main", &options()).unwrap_err();
    assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
}
