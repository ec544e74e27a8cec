//! `cargo litestream vfs-status`: the real litestream-vfs 0.5.17 extension reading replicas that
//! a running `cargo litestream replicate` writes, on a file replica and on S3. The extension is
//! loaded only by the probe child processes of `cargo-litestream`, never by this test process.

use crate::s3::{self, BlackHole, S3Server};
use crate::support::{Project, vfs_extension};

fn with_extension(project: Project) -> Project {
    project.with_env("CARGO_LITESTREAM_VFS_EXTENSION", &vfs_extension().to_string_lossy())
}

fn insert_rows(project: &Project) {
    project
        .sqlite("app.db")
        .execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2), (3);")
        .unwrap();
}

/// The replica's TXID once it has everything (`sync -wait`).
fn synced_txid(project: &Project) -> u64 {
    let json = project.run(["sync", "-wait", "-json", "default"]).success().json();
    json["replica_txid"].as_u64().unwrap()
}

fn txid(value: &serde_json::Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap_or_else(|| panic!("no txid: {value}")), 16).unwrap()
}

#[test]
fn vfs_status_reads_a_file_replica_that_replicate_writes() {
    let project = Project::empty();
    project.write_manifest(&format!(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n\
         [package.metadata.litestream.databases]\ndefault = \"app.db\"\n\n\
         [package.metadata.litestream.vfs]\nmain = \"default\"\ndirect = \"file://{}\"\n",
        project.p("replica/app.db")
    ));
    let project = with_extension(project);
    insert_rows(&project);
    let _daemon = project.replicate::<_, &str>([]);
    let synced = synced_txid(&project);

    let run = project.run(["vfs-status", "--json"]).success();
    let json = run.json();
    let replicas = json["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 2, "{run}");
    for replica in replicas {
        assert_eq!(replica["status"], "healthy", "{run}");
        assert!(txid(&replica["txid"]) >= synced, "{run}");
        assert_eq!(replica["txids_behind"], 0, "{run}");
        assert!(replica["poll_age_seconds"].as_i64().unwrap() >= 0, "{run}");
        assert!(replica["data_time"].as_str().is_some_and(|t| t.starts_with("20")), "{run}");
        assert!(replica["data_age_seconds"].as_f64().is_some(), "{run}");
    }
    assert_eq!(replicas[0]["alias"], "main");
    assert_eq!(replicas[0]["database"], "default");
    assert_eq!(replicas[0]["replica_url"], format!("file://{}", project.p("replica/app.db")));
    assert_eq!(replicas[1]["alias"], "direct");
    assert!(replicas[1]["database"].is_null());
    assert_eq!(json["thresholds"]["stale_after_seconds"], 300);

    // Text: plain words when stdout is not a terminal (and NO_COLOR is set).
    let text = project.run(["vfs-status", "main"]).success();
    assert!(text.stdout.starts_with("Found 1 VFS replica:\n"), "{text}");
    assert!(text.stdout.contains("  Status:          Healthy: "), "{text}");
    assert!(!text.stdout.contains('\x1b') && !text.stdout.contains('✓'), "{text}");
    // Colour and symbols only when asked for (or on a terminal).
    let colored = project.run(["--color", "always", "vfs-status", "main"]).success();
    assert!(colored.stdout.contains("✓ Healthy"), "{colored}");

    // The thresholds decide, end to end through the real VFS: with Lagging from 0 s on, the
    // same fresh replica is Lagging (exit 0: monitors alert on Stale/Unknown); with Stale from
    // 0 s on, it is Stale and the exit code says so.
    let lagging =
        project.run(["vfs-status", "main", "--json", "--lagging-after", "0", "--stale-after", "3600"]);
    let lagging = lagging.success();
    assert_eq!(lagging.json()["replicas"][0]["status"], "lagging", "{lagging}");
    let stale =
        project.run(["vfs-status", "main", "--json", "--lagging-after", "0", "--stale-after", "0"]).code(1);
    assert_eq!(stale.json()["replicas"][0]["status"], "stale", "{stale}");
    let text = project.run([
        "--color",
        "always",
        "vfs-status",
        "main",
        "--lagging-after",
        "0",
        "--stale-after",
        "0",
    ]);
    assert!(text.code(1).stdout.contains("✗ Stale"), "the Stale symbol");
}

#[test]
fn vfs_status_reads_an_s3_replica_that_replicate_writes() {
    let s3 = S3Server::start();
    let project = Project::empty();
    project.write_manifest(&format!(
        "[package.metadata.litestream]\nreplica = {}\n\n\
         [package.metadata.litestream.databases]\ndefault = \"app.db\"\n\n\
         [package.metadata.litestream.vfs]\nfrom-config = \"default\"\n\
         by-url = \"s3://{}/dbs/app.db?endpoint={}&region=us-east-1\"\n",
        s3.replica_toml("dbs"),
        s3::BUCKET,
        s3.endpoint
    ));
    // `from-config` gets the credentials of the replica table; `by-url` those of the environment.
    let project = with_extension(project)
        .with_env("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
        .with_env("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY);
    insert_rows(&project);
    let _daemon = project.replicate::<_, &str>([]);
    let synced = synced_txid(&project);

    let run = project.run(["vfs-status", "--json"]).success();
    let json = run.json();
    for replica in json["replicas"].as_array().unwrap() {
        assert_eq!(replica["status"], "healthy", "{run}");
        assert!(txid(&replica["txid"]) >= synced, "{run}");
        assert_eq!(replica["txids_behind"], 0, "{run}");
    }
    assert_eq!(
        json["replicas"][0]["replica_url"],
        format!(
            "s3://{}/dbs/app.db?endpoint={}&region=us-east-1&forcePathStyle=true",
            s3::BUCKET,
            s3.endpoint
        )
    );
    assert!(!run.stdout.contains(s3::SECRET_KEY), "{run}");

    // Without credentials in the environment, the URL alias cannot be read: Unknown, exit 1.
    let mut bare = project;
    bare.env.retain(|(key, _)| !key.starts_with("AWS_"));
    let run = bare.run(["vfs-status", "--json", "--timeout", "5", "by-url"]).code(1);
    assert_eq!(run.json()["replicas"][0]["status"], "unknown", "{run}");
}

#[test]
fn vfs_status_on_an_empty_replica_is_unknown_and_bounded() {
    let project = Project::empty();
    std::fs::create_dir(project.path().join("empty")).unwrap();
    project.write_manifest(&format!(
        "[package.metadata.litestream.vfs]\nnothing-yet = \"file://{}\"\n",
        project.p("empty")
    ));
    let project = with_extension(project);

    // The VFS would wait forever for the first backup; the probe gives up after --timeout.
    let run = project.run(["vfs-status", "--json", "--timeout", "1"]).code(1);
    let replica = &run.json()["replicas"][0];
    assert_eq!(replica["status"], "unknown", "{run}");
    assert!(replica["reason"].as_str().unwrap().contains("no backup yet"), "{run}");
    assert!(replica["txid"].is_null(), "{run}");

    let text = project.run(["vfs-status", "--timeout", "1"]).code(1);
    assert!(text.stdout.contains("  Status:          Unknown: "), "{text}");
}

#[test]
fn vfs_status_redacts_passwords_and_explains_what_the_vfs_cannot_read() {
    let hole = BlackHole::start();
    let project = with_extension(Project::new(&format!(
        "[package.metadata.litestream]\n\
         [package.metadata.litestream.databases]\nkeyed = \"keyed.db\"\n\
         [[package.metadata.litestream.dbs]]\npath = \"keyed\"\n\
         replica = {{ type = \"sftp\", host = \"127.0.0.1:{port}\", user = \"lt\", key-path = \"id_ed25519\", path = \"dbs\" }}\n\n\
         [package.metadata.litestream.vfs]\n\
         secret = \"sftp://lt:hunter2@127.0.0.1:{port}/dbs/app.db\"\n\
         keyed = \"keyed\"\n",
        port = hole.port
    )));

    let run = project.run(["vfs-status", "--json", "--timeout", "1"]).code(1);
    assert!(!run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"), "{run}");
    let json = run.json();
    let secret = &json["replicas"][0];
    assert_eq!(secret["replica_url"], format!("sftp://lt:<redacted>@127.0.0.1:{}/dbs/app.db", hole.port));
    assert_eq!(secret["status"], "unknown", "{run}");
    let keyed = &json["replicas"][1];
    assert_eq!(keyed["status"], "unknown", "{run}");
    assert!(keyed["reason"].as_str().unwrap().contains("`key-path`"), "{run}");

    let text = project.run(["vfs-status", "--timeout", "1", "secret"]).code(1);
    assert!(text.stdout.contains("sftp://lt:<redacted>@") && !text.stdout.contains("hunter2"), "{text}");
}

#[test]
fn vfs_status_without_vfs_replicas_says_how_to_add_them() {
    let project = Project::new("[package.metadata.litestream]\n");
    let run = project.run(["vfs-status"]).success();
    assert!(run.stdout.contains("No VFS replicas configured"), "{run}");
    let empty = project.run(["vfs-status", "--json"]).success().json();
    assert_eq!(empty["version"], 1, "{empty}");
    assert_eq!(empty["replicas"], serde_json::json!([]));
    assert_eq!(empty["thresholds"]["lagging_after_seconds"], 60, "the same fields with no replica");
}

#[test]
fn vfs_status_errors_are_one_line() {
    let project = Project::new("[package.metadata.litestream.vfs]\nmain = \"file:///tmp/nowhere\"\n");
    // No extension anywhere: the error names every way to give one.
    project.run(["vfs-status"]).code(1).our_error(&["vfs-extension-path", "CARGO_LITESTREAM_VFS_EXTENSION"]);
    let project = with_extension(project);
    project.run(["vfs-status", "other"]).code(1).our_error(&["`other` is not a VFS alias", "main"]);
    project
        .run(["vfs-status", "--lagging-after", "600", "--stale-after", "300"])
        .code(1)
        .our_error(&["--lagging-after"]);
    let missing = Project::new(
        "[package.metadata.litestream]\nvfs-extension-path = \"nope.so\"\n\n[package.metadata.litestream.vfs]\nmain = \"file:///tmp/x\"\n",
    );
    missing.run(["vfs-status"]).code(1).our_error(&["nope.so", "vfs-extension-path"]);
}
