//! `restore-points` and `restore --at` against the real litestream 0.5.17 and `file` replicas.
//!
//! The differential test: on replicas with level-0 files and without (compacted, then past
//! `l0-retention`), for every TXID from 1 to the newest, `litestream restore -txid` (run
//! directly, with the same config) succeeds if and only if `restore-points` lists the TXID; its
//! `-dry-run` plan downloads the files and bytes listed; and the restored database holds
//! exactly the rows committed by that TXID.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Project, Run, litestream_bin, rows};

/// A project replicating `app.db` (alias `default`) to `replica/`, with `extra` settings.
fn project(extra: &str) -> Project {
    let project = Project::new(&format!(
        "[package.metadata.litestream]\nreplica = \"replica\"\n{extra}\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n"
    ));
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER);").unwrap();
    project
}

/// Commits one row `n` times, each shipped on its own (`sync -wait`), so each is a TXID.
/// Returns, for every TXID the replica reported, how many rows the database then held.
fn commit_each(project: &Project, n: usize, rows_by_txid: &mut BTreeMap<u64, usize>) {
    let conn = project.sqlite("app.db");
    for _ in 0..n {
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let count: usize = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        let run = project.run(["sync", "-wait", "-json", "default"]).success();
        let txid = run.json()["replica_txid"].as_u64().unwrap_or_else(|| panic!("no replica_txid\n{run}"));
        rows_by_txid.insert(txid, count);
    }
}

/// `restore-points --json default`: TXID → (files, bytes), and the newest TXID.
fn listed(project: &Project) -> (BTreeMap<u64, (u64, u64)>, u64, serde_json::Value) {
    let json = project.run(["restore-points", "--json", "default"]).success().json();
    assert_eq!(json["version"], 1, "{json}");
    let db = &json["databases"][0];
    let hex = |v: &serde_json::Value| u64::from_str_radix(v.as_str().unwrap(), 16).unwrap();
    let points = db["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (hex(&p["txid"]), (p["files"].as_u64().unwrap(), p["bytes"].as_u64().unwrap())))
        .collect();
    (points, hex(&db["newest_txid"]), db.clone())
}

/// litestream itself, with the config `cargo litestream config` shows (what we generate).
fn raw_restore(project: &Project, config: &Path, args: &[&str]) -> Run {
    let mut command = Command::new(litestream_bin());
    command.arg("restore").arg("-config").arg(config).args(args).arg(project.p("app.db"));
    project.hermetic(&mut command);
    Run::of(&mut command)
}

/// For every TXID up to the newest: litestream restores it iff it is listed, with the listed
/// plan, and the result has the rows of that TXID. Returns how many TXIDs were listed.
fn matches_litestream(project: &Project, rows_by_txid: &BTreeMap<u64, usize>, tag: &str) -> usize {
    let (points, newest, _) = listed(project);
    let config = project.path().join(format!("litestream-{tag}.yml"));
    std::fs::write(&config, project.run(["config"]).success().stdout).unwrap();
    for txid in 1..=newest {
        let hex = format!("{txid:016x}");
        let out = project.p(&format!("{tag}-{hex}.db"));
        let plan = raw_restore(project, &config, &["-dry-run", "-json", "-txid", &hex, "-o", &out]);
        let restore = raw_restore(project, &config, &["-txid", &hex, "-o", &out]);
        match points.get(&txid) {
            Some(&(files, bytes)) => {
                let plan = plan.success().json();
                let planned = plan["files"].as_array().unwrap();
                let planned_bytes: u64 = planned.iter().map(|f| f["size"].as_u64().unwrap()).sum();
                assert_eq!((planned.len() as u64, planned_bytes), (files, bytes), "{tag} {hex}: {plan}");
                restore.success();
                if let Some(&count) = rows_by_txid.get(&txid) {
                    assert_eq!(rows(Path::new(&out)).len(), count, "{tag} {hex}: rows of the restore");
                }
            }
            None => {
                assert_ne!(plan.code, Some(0), "{tag} {hex}: not listed, but litestream plans it\n{plan}");
                assert!(plan.stderr.contains("no matching backup files available"), "{tag} {hex}\n{plan}");
                let restore = restore.code(1);
                assert!(!Path::new(&out).exists(), "{tag} {hex}: a failed restore left a file\n{restore}");
            }
        }
    }
    points.len()
}

/// Polls `ltx -level all -json` until `done` holds for its files (bounded).
fn wait_for_files(project: &Project, what: &str, done: impl Fn(&[serde_json::Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let ltx = project.run(["ltx", "-level", "all", "-json", "default"]).success().json();
        let files = ltx.as_array().cloned().unwrap_or_default();
        if done(&files) {
            return;
        }
        assert!(Instant::now() < deadline, "waited 40 s for {what}: {ltx}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn level_count(files: &[serde_json::Value], level: u64) -> usize {
    files.iter().filter(|f| f["level"] == level).count()
}

#[test]
fn every_listed_txid_restores_and_no_other_does() {
    // Phase 1: level-0 files only (compaction every 10 minutes, never reached here).
    let project = project("levels = [{ interval = \"10m\" }]\n");
    let mut rows_by_txid = BTreeMap::new();
    let mut daemon = project.replicate::<_, &str>([]);
    commit_each(&project, 12, &mut rows_by_txid);
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    let with_l0 = matches_litestream(&project, &rows_by_txid, "l0");
    let newest = *rows_by_txid.keys().last().unwrap();
    assert_eq!(with_l0 as u64, newest, "every TXID is a restore point while level-0 files remain");

    // Phase 2: compacted every second, level-0 files removed 1 s after: only chain ends stay.
    project.write_manifest(
        "[package.metadata.litestream]\nreplica = \"replica\"\nlevels = [{ interval = \"1s\" }]\nl0-retention = \"1s\"\nl0-retention-check-interval = \"1s\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    let mut daemon = project.replicate::<_, &str>([]);
    commit_each(&project, 6, &mut rows_by_txid);
    let before = newest;
    wait_for_files(&project, "a compaction and level-0 files removed", |files| {
        level_count(files, 1) > 0
            && files
                .iter()
                .filter(|f| f["level"] == 0)
                .all(|f| u64::from_str_radix(f["min_txid"].as_str().unwrap(), 16).unwrap() > before)
    });
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    let compacted = matches_litestream(&project, &rows_by_txid, "compacted");
    let (_, newest, report) = listed(&project);
    assert!((compacted as u64) < newest, "some TXIDs are gone after compaction: {report}");
    assert!(!report["unreachable"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(report["latest"]["txid"], format!("{newest:016x}"), "{report}");

    // The table says the same for people.
    let text = project.run(["restore-points", "default"]).success();
    assert!(text.stdout.starts_with("TXID"), "{text}");
    assert!(text.stdout.contains(&format!("latest: {newest:016x}")), "{text}");
    assert!(text.stdout.contains("not restorable: "), "{text}");
}

#[test]
fn restore_at_takes_the_newest_point_at_or_before_the_time() {
    let project = project("");
    let mut rows_by_txid = BTreeMap::new();
    let mut daemon = project.replicate::<_, &str>([]);
    commit_each(&project, 3, &mut rows_by_txid);
    // File times are whole seconds: the next commits land at least a second later.
    std::thread::sleep(Duration::from_millis(1100));
    let (points, _, report) = listed(&project);
    let time_of_first_three = report["points"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|p| points.contains_key(&u64::from_str_radix(p["txid"].as_str().unwrap(), 16).unwrap()))
        .map(|p| (p["txid"].as_str().unwrap().to_owned(), p["time"].as_str().unwrap().to_owned()))
        .unwrap();
    commit_each(&project, 3, &mut rows_by_txid);
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());

    let (txid, time) = time_of_first_three;
    let out = project.p("at.db");
    let run = project.run(["restore", "--at", &time, "-o", &out, "default"]).success();
    assert!(
        run.stderr.contains(&format!("Choosing restore point {txid} written {time} (0s before {time})")),
        "{run}"
    );
    assert_eq!(rows(Path::new(&out)).len(), 3, "{run}");

    // "2h ago" lies before this replica began: one line, nothing written.
    let early = project.p("early.db");
    project
        .run(["restore", "--at", "2h ago", "-o", &early, "default"])
        .our_error(&["no restore point at or before"]);
    assert!(!Path::new(&early).exists());
    // Now: the newest point.
    let now = project.p("now.db");
    project.run(["restore", "--at", "0s ago", "-o", &now, "default"]).success();
    assert_eq!(rows(Path::new(&now)).len(), 6);

    for (args, fragment) in [
        (&["--at", "soon"][..], "invalid value \"soon\" for --at"),
        (&["--at", "1h ago", "-txid", "0000000000000001"][..], "--at and -txid"),
        (&["--at", "2999-01-01T00:00:00Z"][..], "lies in the future"),
    ] {
        let mut all = vec!["restore"];
        all.extend_from_slice(args);
        all.extend(["-o", &early, "default"]);
        project.run(&all).our_error(&[fragment]);
    }
}

#[test]
fn an_empty_or_unreachable_replica_is_reported() {
    let project = project("");
    let run = project.run(["restore-points", "default"]).success();
    assert!(run.stdout.contains("no restore points"), "{run}");
    let json = project.run(["restore-points", "--json", "default"]).success().json();
    assert_eq!(json["databases"][0]["points"], serde_json::json!([]), "{json}");
    assert_eq!(json["databases"][0]["latest"]["error"], "no matching backup files available", "{json}");

    // A replica URL nothing answers at: exit 1, and the error once: the database's entry in the
    // JSON (nothing on stderr), or one line without --json.
    let url = "s3://bucket/db?endpoint=http://127.0.0.1:9&region=us-east-1";
    let run = project.with_env("AWS_ACCESS_KEY_ID", "x").with_env("AWS_SECRET_ACCESS_KEY", "y");
    let failed = run.run(["restore-points", "--json", "--timeout", "2", url]).code(1);
    let error = failed.json()["databases"][0]["error"].as_str().map(str::to_owned);
    assert_eq!(
        error.as_deref(),
        Some("the replica did not answer within 2 s (litestream ltx was stopped)"),
        "{failed}"
    );
    assert_eq!(failed.stderr.matches("error:").count(), 0, "{failed}");
    let text = run.run(["restore-points", "--timeout", "2", url]).code(1);
    assert_eq!(text.stderr.matches("error:").count(), 1, "{text}");
}
