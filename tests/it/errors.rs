//! Bad input: each case ends in one `error:` line naming what is wrong and what to do, a
//! non-zero exit, no panic, and no change to the user's files.

use crate::support::Project;

/// Runs `args` in a project with `metadata` and checks for one clear error with `fragments`,
/// and that the database and Cargo.toml are untouched.
#[track_caller]
fn refused(metadata: &str, args: &[&str], fragments: &[&str]) {
    let project = Project::new(metadata);
    let conn = project.sqlite("app.db");
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
    drop(conn);
    let before_db = std::fs::read(project.path().join("app.db")).unwrap();
    let before_manifest = std::fs::read(project.path().join("Cargo.toml")).unwrap();
    project.run(args).our_error(fragments);
    assert_eq!(std::fs::read(project.path().join("app.db")).unwrap(), before_db, "the database changed");
    assert_eq!(std::fs::read(project.path().join("Cargo.toml")).unwrap(), before_manifest);
}

const OK: &str = "[package.metadata.litestream]\nreplica = \"file:///tmp/cl-never\"\ndatabases = { default = \"app.db\" }\n";

#[test]
fn malformed_toml_names_line_and_column() {
    refused("[package.metadata.litestream]\ndbs = [\n", &["config"], &["Cargo.toml:", "invalid TOML"]);
}

#[test]
fn unknown_key_with_suggestion() {
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", monitor_interval = \"5s\" }]\n",
        &["config"],
        &["dbs[0].monitor_interval", "unknown key", "did you mean `monitor-interval`?"],
    );
}

#[test]
fn unknown_top_level_key() {
    refused("[package.metadata.litestream]\nsnapshots = 3\n", &["databases"], &["snapshots", "unknown key"]);
}

#[test]
fn retired_keys_say_what_to_use_instead() {
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", max-checkpoint-page-count = 10 }]\n",
        &["config"],
        &["max-checkpoint-page-count", "truncate-page-n"],
    );
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", replica = { type = \"file\", path = \"r\", retention = \"24h\" } }]\n",
        &["config"],
        &["replica.retention", "snapshot.retention"],
    );
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", replica = { type = \"file\", path = \"r\", snapshot-interval = \"1h\" } }]\n",
        &["config"],
        &["snapshot-interval", "snapshot.interval"],
    );
    refused("[package.metadata.litestream]\nretention = \"24h\"\n", &["config"], &["retention", "snapshot"]);
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", replica = { type = \"s3\", bucket = \"b\", age = { recipients = [\"x\"] } } }]\n",
        &["config"],
        &["age", "encryption"],
    );
}

#[test]
fn wrong_types() {
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", monitor-interval = 5 }]\n",
        &["config"],
        &["monitor-interval", "expected a duration", "\"30s\""],
    );
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", checkpoint-interval = \"2 days\" }]\n",
        &["config"],
        &["checkpoint-interval", "not a duration"],
    );
    refused(
        "[package.metadata.litestream]\nsocket = { enabled = \"yes\" }\n",
        &["config"],
        &["socket.enabled", "boolean"],
    );
    refused("[package.metadata.litestream]\ndbs = \"app.db\"\n", &["config"], &["dbs", "expected a list"]);
    refused("[package.metadata.litestream]\nversion = 5\n", &["config"], &["version", "version string"]);
    refused(
        "[package.metadata.litestream]\nlogging = { level = \"loud\" }\n",
        &["config"],
        &["logging.level", "debug"],
    );
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", replica = { type = \"ftp\" } }]\n",
        &["config"],
        &["replica.type", "s3"],
    );
    refused("[package.metadata.litestream]\nsha256 = \"abc\"\n", &["config"], &["sha256", "64 hexadecimal"]);
    refused("[package.metadata]\nlitestream = 3\n", &["config"], &["package.metadata.litestream", "table"]);
}

#[test]
fn databases_that_resolve_to_nothing() {
    refused(
        "[package.metadata.litestream]\ndbs = [\"default\"]\n",
        &["config"],
        &["`default` is not a database alias", "DATABASE_URL"],
    );
    refused(
        "[package.metadata.litestream]\ndbs = [\"deafult\"]\ndatabases = { default = \"app.db\" }\n",
        &["config"],
        &["deafult", "did you mean `default`?"],
    );
    refused(OK, &["restore", "-o", "x.db", "other"], &["`other` is not a database alias", "default ("]);
    refused(OK, &["restore", "nope/missing.db"], &["is not a configured database"]);
    refused(
        "[package.metadata.litestream]\ndatabases = { default = \"\" }\n",
        &["config"],
        &["databases.default", "empty"],
    );
    refused(
        "[package.metadata.litestream]\ndatabases = { default = \"s3://b/app\" }\n",
        &["config"],
        &["databases.default", "URL"],
    );
}

#[test]
fn database_url_that_is_not_sqlite() {
    let project = Project::new("[package.metadata.litestream]\nreplica = \"r\"\ndbs = [\"default\"]\n")
        .with_env("DATABASE_URL", "postgres://u@localhost/app");
    project.run(["config"]).our_error(&["postgres://", "not a SQLite URL"]);
}

#[test]
fn a_database_listed_twice() {
    refused(
        "[package.metadata.litestream]\nreplica = \"r\"\ndbs = [\"default\", \"app.db\"]\ndatabases = { default = \"app.db\" }\n",
        &["config"],
        &["dbs[1]", "again", "list each database once"],
    );
}

#[test]
fn two_databases_one_replica_location() {
    refused(
        "[package.metadata.litestream]\nreplica = \"r\"\ndbs = [\"app.db\", \"sub/app.db\"]\n",
        &["config"],
        &["same place", "own `replica`"],
    );
}

#[test]
fn relative_file_url_would_write_to_the_root() {
    refused(
        "[package.metadata.litestream]\nreplica = \"file://backups\"\n",
        &["config"],
        &["file://backups", "/backups"],
    );
}

#[test]
fn more_than_one_replica() {
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", replicas = [{ path = \"a\" }, { path = \"b\" }] }]\n",
        &["config"],
        &["replicas", "one replica per database"],
    );
    refused(
        "[package.metadata.litestream]\ndbs = [{ path = \"app.db\", dir = \"x\" }]\n",
        &["config"],
        &["both `path` and `dir`"],
    );
    refused("[package.metadata.litestream]\ndbs = [{ dir = \"data\" }]\n", &["config"], &["pattern"]);
}

#[test]
fn flags_litestream_0_5_removed() {
    refused(OK, &["restore", "default", "-generation", "abc"], &["-generation", "no generations"]);
    refused(OK, &["restore", "default", "-replica", "s3"], &["-replica", "one replica per database"]);
    refused(OK, &["ltx", "-replica", "s3", "default"], &["-replica", "one replica per database"]);
    refused(OK, &["restore", "-timestamp", "yesterday", "default"], &["-timestamp", "RFC 3339"]);
    refused(OK, &["restore", "-index", "0x1f", "default"], &["-index", "whole number"]);
}

#[test]
fn no_manifest_anywhere() {
    let project = Project::empty();
    project.run(["databases"]).our_error(&["could not find `Cargo.toml`", "--manifest-path"]);
    project.run(["--manifest-path", "nope/Cargo.toml", "config"]).our_error(&["does not exist"]);
    project.run(["--manifest-path", "nope/", "config"]).our_error(&["Cargo.toml"]);
}

#[test]
fn missing_binaries_say_how_to_get_one() {
    // No binary of the user's, an empty cache, nothing on PATH, and no network allowed.
    let mut project = Project::new(OK);
    project.removed_env.push("CARGO_LITESTREAM_BIN".to_owned());
    project.env.push(("PATH".to_owned(), "/nonexistent".to_owned()));
    project.run(["--offline", "version"]).our_error(&[
        "not in the cache",
        "--offline",
        "cargo litestream install",
        "CARGO_LITESTREAM_MIRROR",
        "PATH",
        "CARGO_LITESTREAM_BIN",
    ]);

    let project = Project::new(OK).with_env("CARGO_LITESTREAM_BIN", "/nonexistent/litestream");
    project.run(["version"]).our_error(&["CARGO_LITESTREAM_BIN", "/nonexistent/litestream"]);

    refused(
        "[package.metadata.litestream]\nbin_path = \"bin/litestream\"\n",
        &["version"],
        &["bin-path", "bin/litestream", "does not exist"],
    );
}

#[test]
fn usage_errors_are_clap_errors() {
    let project = Project::new(OK);
    let run = project.run(["restore"]).code(2);
    assert!(run.stderr.contains("DB_PATH"), "{run}");
    project.run(["frobnicate"]).code(2);
    project.run(["replicate", "default"]).code(2).stderr_has("REPLICA_URL");
}

/// Litestream 0.5.17 reads `monitor-interval = "0s"` as "no monitor": nothing is replicated
/// while `verify` says in sync. Zero and negative intervals are refused before anything runs;
/// `l0-retention = "0s"` (Litestream's documented "disabled") still passes.
#[test]
fn intervals_that_switch_replication_off_are_refused() {
    for (key, value) in [
        ("monitor-interval", "0s"),
        ("monitor-interval", "-1s"),
        ("monitor-interval", "0"),
        ("busy-timeout", "0s"),
        ("checkpoint-interval", "-5m"),
    ] {
        refused(
            &format!(
                "[package.metadata.litestream]\nreplica = \"replica\"\ndbs = [{{ path = \"app.db\", {key} = \"{value}\" }}]\n"
            ),
            &["replicate"],
            &[key, "not more than zero"],
        );
    }
    refused(
        "[package.metadata.litestream]\nreplica = { type = \"file\", path = \"replica\", sync-interval = \"0s\" }\ndatabases = { default = \"app.db\" }\n",
        &["config"],
        &["sync-interval", "not more than zero"],
    );
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\nl0-retention = \"0s\"\ndbs = [{ path = \"app.db\", monitor-interval = \"250ms\" }]\n",
    );
    project.run(["config"]).success().stdout_has("monitor-interval: 250ms");
    // Accepted, but doctor says what it switches off.
    let doctor = project.run(["doctor"]);
    assert!(doctor.stdout.lines().any(|l| l.starts_with("warn environment l0-retention")), "{doctor}");
}

/// No database at all (an in-memory `DATABASE_URL`, no `databases` table): `replicate` would run a
/// litestream that replicates nothing and `doctor` would be green. Both fail, in one line.
#[test]
fn nothing_to_replicate_is_refused_and_doctor_fails() {
    let project = Project::new("[package.metadata.litestream]\nreplica = \"replica\"\n")
        .with_env("DATABASE_URL", "sqlite::memory:");
    project.run(["replicate"]).our_error(&["nothing to replicate", "in-memory", "DATABASE_URL"]);
    project.run(["replicate", "-exec", "true"]).our_error(&["nothing to replicate"]);
    let doctor = project.run(["doctor"]).code(1);
    assert!(doctor.stdout.lines().any(|l| l.starts_with("FAIL database databases")), "{doctor}");
}

/// A `.env` dotenvy cannot parse may be what sets `DATABASE_URL`: refused, not ignored.
#[test]
fn an_unparsable_dotenv_is_an_error() {
    for text in ["DATABASE_URL=\"sqlite:app.db\n", "this is not a dotenv file\n"] {
        let project = Project::new("[package.metadata.litestream]\nreplica = \"replica\"\n");
        project.write(".env", text);
        project.run(["config"]).our_error(&[".env", "DATABASE_URL"]);
    }
}

/// Litestream expands `$` in its whole configuration: locations are compared as it reads them,
/// and a database path it would read as another file is refused.
#[test]
fn dollar_signs_are_read_as_litestream_reads_them() {
    let project = Project::new(
        "[package.metadata.litestream]\ndbs = [\n  { path = \"one.db\", replica = { type = \"file\", path = \"shared$A\" } },\n  \
         { path = \"two.db\", replica = { type = \"file\", path = \"shared${B}\" } },\n]\n",
    )
    .with_env("A", "x")
    .with_env("B", "x");
    project.run(["config"]).our_error(&["would replicate to the same place", "sharedx"]);
    // Different values: two places.
    let project = Project::new(
        "[package.metadata.litestream]\ndbs = [\n  { path = \"one.db\", replica = { type = \"file\", path = \"shared$A\" } },\n  \
         { path = \"two.db\", replica = { type = \"file\", path = \"shared$B\" } },\n]\n",
    )
    .with_env("A", "x")
    .with_env("B", "y");
    project.run(["config"]).success();

    refused(
        "[package.metadata.litestream]\nreplica = \"replica\"\ndatabases = { default = \"a$HOME.db\" }\n",
        &["replicate"],
        &["a$HOME.db", "expands as a variable", "rename"],
    );
    // A `$` Litestream leaves alone is fine.
    Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\ndatabases = { default = \"cost$.db\" }\n",
    )
    .run(["config"])
    .success();
}

/// Names Litestream would open as another file (it passes the path unescaped in a SQLite
/// `file:` URI), and a database that is a symlink (Litestream looks for the WAL beside the
/// link; SQLite writes it beside the target): refused, with the reason.
#[test]
fn paths_litestream_would_open_as_another_file_are_refused() {
    for name in ["a#b.db", "a?b.db", "a%41b.db"] {
        refused(
            &format!(
                "[package.metadata.litestream]\nreplica = \"replica\"\ndatabases = {{ default = \"{name}\" }}\n"
            ),
            &["replicate"],
            &[name, "file:", "rename"],
        );
    }
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\ndatabases = { default = \"link.db\" }\n",
    );
    project.sqlite("real.db").execute_batch("CREATE TABLE t(x)").unwrap();
    std::os::unix::fs::symlink(project.path().join("real.db"), project.path().join("link.db")).unwrap();
    project.run(["replicate"]).our_error(&["link.db", "is a symlink", "real.db"]);
}

/// A TXID Litestream cannot parse: one line, not its 70-line usage text.
#[test]
fn a_bad_txid_is_one_line() {
    let run = Project::new(OK).run(["restore", "-txid", "zz", "-o", "/tmp/never.db", "default"]);
    let run = run.our_error(&["-txid", "16 hexadecimal digits"]);
    assert!(run.stderr.lines().count() <= 2, "{run}");
}

/// `-v` shows the litestream command line: a password typed in a replica URL is not in it.
#[test]
fn verbose_output_hides_a_password_in_a_url() {
    let project = Project::new(OK);
    let url = "sftp://user:s3cret-pw@127.0.0.1:1/backups/app.db";
    let run = project.run(["-v", "restore", "-o", &project.p("x.db"), url]);
    let running: Vec<&str> = run.stderr.lines().filter(|l| l.contains("Running")).collect();
    assert!(!running.is_empty(), "{run}");
    assert!(running.iter().all(|l| l.contains("user:<redacted>@127.0.0.1:1")), "{run}");

    // One Litestream cannot parse (it would print the password in its error): refused first.
    let url = "sftp://user:s3cr/et-pw@127.0.0.1:1/backups/app.db";
    let run = project.run(["-v", "restore", "-o", &project.p("x.db"), url]).our_error(&["percent-encode"]);
    assert!(!run.stderr.contains("s3cr/et-pw") && !run.stderr.contains("Running"), "{run}");
}

/// A cause is said once: an error whose message already shows its cause (here the OS error of
/// a binary that cannot be run) is not followed by it again.
#[test]
fn each_cause_is_printed_once() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    project.write("not-executable", "#!/bin/sh\n");
    let bin = project.p("not-executable");
    let project = project.with_env("CARGO_LITESTREAM_BIN", &bin);
    let run = project.run(["version"]);
    assert_ne!(run.code, Some(0), "{run}");
    assert_eq!(run.stderr.matches("error:").count(), 1, "{run}");
    assert_eq!(run.stderr.matches("Permission denied").count(), 1, "{run}");
}
