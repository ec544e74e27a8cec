//! `cargo litestream drill` against the real litestream 0.5.17 and `file` replicas: restore
//! rehearsals timed and checked, SQL checks from Cargo.toml, the history line, failures.

use crate::support::Project;

fn project(drill: &str) -> Project {
    let project = Project::new(&format!(
        "[package.metadata.litestream]\nreplica = \"replica\"\n{drill}\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n"
    ));
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
    project
}

/// A few thousand rows over several shipped transactions, then replication stopped.
fn replicate_some(project: &Project) {
    let mut daemon = project.replicate::<_, &str>([]);
    let conn = project.sqlite("app.db");
    for batch in 0..5 {
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..500 {
            tx.execute("INSERT INTO t VALUES (?1)", [batch * 1000 + i]).unwrap();
        }
        tx.commit().unwrap();
        project.run(["sync", "-wait", "default"]).success();
    }
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
}

fn history(project: &Project) -> Vec<serde_json::Value> {
    let path = project.path().join("target/litestream/app/history.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_drill_restores_two_points_checks_them_and_records_the_run() {
    // Checks hold at every restore point (the random one may be the first, before any row).
    let project = project(
        "drill = { checks = [\"SELECT count(*) = 1 FROM sqlite_master WHERE name = 't'\", \"SELECT 'yes'\"] }",
    );
    replicate_some(&project);

    let run = project.run(["drill", "--json", "default"]).success();
    let json = run.json();
    assert_eq!(json["version"], 1, "{run}");
    let db = &json["databases"][0];
    assert_eq!(db["outcome"], "passed", "{run}");
    let rehearsals = db["rehearsals"].as_array().unwrap();
    assert_eq!(rehearsals.len(), 2, "the latest and a random point: {run}");
    assert_eq!(rehearsals[0]["point"], "latest");
    assert_ne!(rehearsals[1]["point"], "latest");
    for r in rehearsals {
        assert_eq!(r["ok"], true, "{run}");
        assert_eq!(r["integrity"], "ok", "{run}");
        assert!(r["bytes"].as_u64().unwrap() > 8192, "{run}");
        assert!(r["mb_per_s"].as_f64().unwrap() > 0.0, "{run}");
        assert_eq!(r["checks"].as_array().unwrap().len(), 2, "{run}");
    }
    assert!(db["rpo_seconds"].as_f64().unwrap() >= 0.0, "{run}");
    // Nothing left behind but the history line.
    let leftovers: Vec<_> = std::fs::read_dir(project.path().join("target/litestream/app"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".drill-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let lines = history(&project);
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0]["kind"].as_str(), lines[0]["ok"].as_bool()), (Some("drill"), Some(true)));
    assert_eq!(lines[0]["database"], "default");

    let text = project.run(["drill"]).success();
    assert!(text.stdout.starts_with("default: passed: RPO "), "{text}");
    assert!(text.stdout.contains("integrity_check ok") && text.stdout.contains("checks 2/2"), "{text}");
    assert_eq!(history(&project).len(), 2);
}

#[test]
fn a_failed_check_or_a_damaged_replica_fails_the_drill() {
    let project = project("drill = { checks = [\"SELECT count(*) > 1000000 FROM t\"] }");
    replicate_some(&project);
    let run = project.run(["drill", "default"]).code(1);
    assert!(
        run.stdout.contains("FAILED") && run.stdout.contains("failed: SELECT count(*) > 1000000 FROM t"),
        "{run}"
    );
    assert_eq!(history(&project)[0]["ok"], false);

    for level in std::fs::read_dir(project.path().join("replica/app.db/ltx")).unwrap() {
        for file in std::fs::read_dir(level.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        }
    }
    let run = project.run(["drill", "--json", "default"]).code(1);
    let json = run.json();
    assert!(
        json["databases"][0]["rehearsals"][0]["error"].as_str().unwrap().contains("the restore failed"),
        "{run}"
    );
}

#[test]
fn bad_drill_settings_and_an_unreachable_replica_are_one_line() {
    for (setting, fragment) in [
        ("drill = { checks = \"SELECT 1\" }", "drill.checks"),
        ("drill = { checks = [\"\"] }", "drill.checks"),
        ("drill = { every = \"1h\" }", "drill.every"),
        ("drill = 3", "drill"),
        ("verify-every = \"0s\"", "verify-every"),
        ("scrub-every = \"often\"", "scrub-every"),
        ("drill-every = 3600", "drill-every"),
    ] {
        project(setting).run(["drill"]).our_error(&[fragment]);
    }
    let project = project("");
    let url = "s3://bucket/db?endpoint=http://127.0.0.1:9&region=us-east-1";
    let project = project.with_env("AWS_ACCESS_KEY_ID", "x").with_env("AWS_SECRET_ACCESS_KEY", "y");
    let run = project.run(["drill", "--json", "--timeout", "2", url]).code(3);
    assert!(
        run.json()["databases"][0]["error"].as_str().unwrap().contains("did not answer within 2 s"),
        "{run}"
    );
}

/// verify, scrub and drill say 3, "could not check", for whatever stops them before a verdict
/// (a monitor reads 1 as a failed check): one error line each, and with `--json` the error
/// document.
#[test]
fn a_check_that_cannot_start_is_unchecked_not_failed() {
    let project = project("");
    for command in ["verify", "scrub", "drill"] {
        project.run([command, "mian"]).code(3).our_error(&["mian"]);
        let run = project.run([command, "--json", "mian"]).code(3);
        assert!(run.json()["error"].as_str().unwrap().contains("mian"), "{command}\n{run}");
    }
    // Only a `dir` entry that holds no database yet: nothing to read, said so.
    let empty = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\ndbs = [{ dir = \"tenants\", pattern = \"*.db\" }]\n",
    );
    std::fs::create_dir_all(empty.path().join("tenants")).unwrap();
    for command in ["verify", "scrub", "drill"] {
        empty.run([command]).code(3).our_error(&["matches its entry's pattern yet"]);
    }
    // A password with a raw `/` Litestream cannot parse: refused, the password never printed.
    let run = project.run(["scrub", "s3://key:pa/ss@bucket/db"]).code(3).our_error(&["percent-encode"]);
    assert!(!run.stderr.contains("pa/ss"), "{run}");
}
