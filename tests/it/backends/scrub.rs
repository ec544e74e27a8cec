//! `cargo litestream scrub` on replicas the real litestream 0.5.17 wrote, then damaged by hand
//! as disks and buckets damage them: a flipped byte, a missing file, a truncated, empty,
//! zero-filled or random file, a directory in a level folder. Each is found, named, mapped to
//! the restore points it breaks; litestream itself confirms the damage where it can see it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::servers::{self, BUCKET};
use super::workload::{seed, sync_wait};
use crate::support::{Project, Run, litestream_bin};

/// Thousands of rows in several shipped transactions, compacted into level 1 while the
/// level-0 files stay (default `l0-retention`, 5 minutes), a snapshot at level 9.
fn write_and_compact(project: &Project) {
    seed(project, "app.db", 1);
    let mut daemon = project.replicate::<_, &str>([]);
    let conn = project.sqlite("app.db");
    for batch in 0..10 {
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..400 {
            tx.execute("INSERT INTO t VALUES (?1)", [10 + batch * 1000 + i]).unwrap();
        }
        tx.commit().unwrap();
        sync_wait(project, "default");
    }
    let newest = sync_wait(project, "default");
    // Until a compaction at level 1 and a snapshot at level 9 cover the newest TXID.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let ltx = project.run(["ltx", "-level", "all", "-json", "default"]).success().json();
        let covers = |level: u64| {
            ltx.as_array().unwrap().iter().any(|f| {
                f["level"] == level
                    && u64::from_str_radix(f["max_txid"].as_str().unwrap(), 16).unwrap() >= newest
            })
        };
        if covers(1) && covers(9) {
            break;
        }
        assert!(Instant::now() < deadline, "no compaction and snapshot after 40 s: {ltx}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
}

fn scrub(project: &Project, args: &[&str]) -> (Run, serde_json::Value) {
    let mut all = vec!["scrub", "--json"];
    all.extend_from_slice(args);
    let run = project.run(&all);
    let json = run.json();
    assert_eq!(json["version"], 1, "{run}");
    (run, json)
}

/// The level-0 files of a `file` replica folder, oldest first.
fn level0(replica: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(replica.join("ltx/0")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

fn txid_of(file: &Path) -> String {
    file.file_name().unwrap().to_string_lossy()[..16].to_owned()
}

fn findings(json: &serde_json::Value) -> Vec<(String, String)> {
    json["databases"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap().to_owned(), f["problem"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn scrub_finds_damage_that_only_point_in_time_restores_read() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\nlevels = [{ interval = \"1s\" }]\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    write_and_compact(&project);
    let replica = project.path().join("replica/app.db");

    // Sound: every file read, nothing found; a second run reads nothing again.
    let (run, json) = scrub(&project, &[]);
    let run = run.success();
    let db = &json["databases"][0];
    assert_eq!(db["outcome"], "sound", "{run}");
    assert_eq!(db["files_read"], db["files"], "{run}");
    assert!(db["page_bytes"].as_u64().unwrap() > 100_000, "thousands of rows: {run}");
    assert_eq!(db["latest"], "sound", "{run}");
    let (run, json) = scrub(&project, &[]);
    let run = run.success();
    assert_eq!(json["databases"][0]["files_read"], 0, "{run}");
    assert_eq!(json["databases"][0]["files_remembered"], json["databases"][0]["files"], "{run}");

    // One byte flipped in a level-0 file that a compaction covers: restore (latest) still works,
    // a restore to that TXID does not (litestream's own words), and scrub says both.
    let l0 = level0(&replica);
    assert!(l0.len() >= 8, "{l0:?}");
    let flipped = &l0[3];
    let mut bytes = std::fs::read(flipped).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(flipped, &bytes).unwrap();
    let txid = txid_of(flipped);

    let config = project.path().join("scrub-litestream.yml");
    std::fs::write(&config, project.run(["config"]).success().stdout).unwrap();
    let mut raw = std::process::Command::new(litestream_bin());
    raw.arg("restore")
        .arg("-config")
        .arg(&config)
        .args(["-txid", &txid, "-o"])
        .arg(project.path().join("at.db"));
    raw.arg(project.path().join("app.db"));
    project.hermetic(&mut raw);
    let litestream = Run::of(&mut raw);
    assert_ne!(litestream.code, Some(0), "litestream restored over the flipped byte\n{litestream}");
    project.run(["restore", "-o", &project.p("latest.db"), "default"]).success();

    let (run, json) = scrub(&project, &[]);
    let run = run.code(1);
    let db = &json["databases"][0];
    assert_eq!(db["outcome"], "damaged", "{run}");
    let found = findings(&json);
    let name = format!("0/{}", flipped.file_name().unwrap().to_string_lossy());
    assert!(found.iter().any(|(file, _)| *file == name), "{name} not named: {found:?}");
    assert_eq!(db["files_read"], 1, "only the changed file is read again: {run}");
    assert_eq!(db["latest"], "sound", "{run}");
    let broken = db["broken"].as_array().unwrap();
    assert!(
        broken
            .iter()
            .any(|r| r["from"].as_str().unwrap() <= txid.as_str()
                && txid.as_str() <= r["to"].as_str().unwrap()),
        "{txid} not among the broken points: {run}"
    );
    let text = project.run(["scrub", "default"]).code(1);
    assert!(text.stdout.contains("DAMAGED") && text.stdout.contains(": broken"), "{text}");
    assert!(
        text.stdout
            .contains(&format!("latest ({}): sound", json["databases"][0]["latest_txid"].as_str().unwrap())),
        "{text}"
    );

    // A missing file, bad files of every kind, and a directory where files belong.
    std::fs::remove_file(&l0[5]).unwrap();
    std::fs::write(&l0[6], &std::fs::read(&l0[6]).unwrap()[..150]).unwrap();
    std::fs::write(&l0[7], b"").unwrap();
    let size = std::fs::metadata(&l0[1]).unwrap().len() as usize;
    std::fs::write(&l0[1], vec![0u8; size]).unwrap();
    let random: Vec<u8> = (0..size as u64).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
    std::fs::write(&l0[2], random).unwrap();
    std::fs::create_dir(replica.join("ltx/0/0000000000000099-0000000000000099.ltx")).unwrap();
    std::fs::write(replica.join("ltx/0/notes.txt"), "hello").unwrap();

    let (run, json) = scrub(&project, &[]);
    let run = run.code(1);
    let found = findings(&json);
    let named = |path: &Path| format!("0/{}", path.file_name().unwrap().to_string_lossy());
    for bad in [&l0[1], &l0[2], &l0[6], &l0[7]] {
        assert!(
            found.iter().any(|(file, _)| *file == named(bad)),
            "{} not found: {found:?}\n{run}",
            named(bad)
        );
    }
    assert!(found.iter().any(|(file, p)| file == "0/" && p.contains("missing")), "the hole: {found:?}");
    assert!(found.iter().any(|(f, p)| f.ends_with("99.ltx") && p.contains("directory")), "{found:?}");
    assert!(found.iter().any(|(f, p)| f == "0/notes.txt" && p.contains("not an LTX file name")), "{found:?}");
    // Every run that checked something is a line of the history.
    let history =
        std::fs::read_to_string(project.path().join("target/litestream/app/history.jsonl")).unwrap();
    let oks: Vec<bool> = history
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["ok"].as_bool().unwrap())
        .collect();
    assert_eq!(oks, [true, true, false, false, false], "{history}");
    assert!(!run.stderr.contains("panicked"), "{run}");
}

#[test]
fn subsets_split_the_reading_and_bad_values_are_one_line() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\nlevels = [{ interval = \"1s\" }]\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    write_and_compact(&project);
    let (run, first) = scrub(&project, &["--subset", "1/2"]);
    run.success();
    let (run, second) = scrub(&project, &["--subset", "2/2"]);
    run.success();
    let db = |j: &serde_json::Value, key: &str| j["databases"][0][key].as_u64().unwrap();
    assert!(db(&first, "files_read") > 0 && db(&first, "files_in_other_subsets") > 0, "{first}");
    // The second run reads the other half: what the first verified is remembered.
    assert_eq!(db(&second, "files_read") + db(&second, "files_remembered"), db(&second, "files"), "{second}");
    assert_eq!(db(&second, "files_in_other_subsets"), 0, "{second}");
    let (run, again) = scrub(&project, &["--reread"]);
    run.success();
    assert_eq!(db(&again, "files_read"), db(&again, "files"), "{again}");

    project.run(["scrub", "--subset", "3/2"]).our_error(&["--subset", "N/T"]);
    project.run(["scrub", "nosuch"]).our_error(&["nosuch"]);
    // Named by its path, the database is reported under its alias, as check and verify do.
    let by_path = project.run(["scrub", "--json", "app.db"]).success();
    assert_eq!(by_path.json()["databases"][0]["database"], "default", "{by_path}");
}

#[test]
fn scrub_reads_s3_natively_and_finds_a_damaged_object() {
    let backend = servers::rclone_s3();
    let project = backend.project(&[("default", "app.db")]);
    let metadata = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    project.write(
        "Cargo.toml",
        &metadata.replace("replica = {", "levels = [{ interval = \"1s\" }]\nreplica = {"),
    );
    write_and_compact(&project);

    let (run, json) = scrub(&project, &[]);
    let run = run.success();
    let db = &json["databases"][0];
    assert!(db["replica"].as_str().unwrap().starts_with("s3://"), "{run}");
    assert_eq!(db["files_read"], db["files"], "{run}");
    assert!(!run.stderr.contains("not read natively"), "{run}");

    // rclone keeps each object as a file: damage one the way a bad disk under the bucket would.
    let objects = backend.data.path().join(BUCKET).join("dbs/app.db/0000");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&objects).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let target = &files[files.len() / 2];
    let mut bytes = std::fs::read(target).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 0x01;
    std::fs::write(target, &bytes).unwrap();
    let (run, json) = scrub(&project, &["--reread"]);
    let run = run.code(1);
    let name = format!("0/{}", target.file_name().unwrap().to_string_lossy());
    assert!(findings(&json).iter().any(|(file, _)| *file == name), "{name}\n{run}");
}

#[test]
fn a_replica_not_read_natively_is_checked_by_restoring() {
    let backend = servers::rclone_webdav();
    let project = backend.project(&[("default", "app.db")]);
    seed(&project, "app.db", 3);
    let mut daemon = project.replicate::<_, &str>([]);
    sync_wait(&project, "default");
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());

    let (run, json) = scrub(&project, &[]);
    let run = run.success();
    assert!(run.stderr.contains("webdav replicas are not read natively"), "{run}");
    assert_eq!(json["databases"][0]["latest"], "sound", "{run}");
    assert_eq!(json["databases"][0]["files_read"], 0, "{run}");
}

/// Credentials only in `~/.aws/credentials` (as on a developer's machine): litestream reads them,
/// and so do scrub's native reading and the owner record.
#[test]
fn the_shared_credentials_file_is_read_as_litestream_reads_it() {
    let backend = servers::rclone_s3();
    let replica = format!(
        "{{ type = \"s3\", bucket = \"{BUCKET}\", path = \"dbs\", endpoint = \"{}\", region = \"us-east-1\", force-path-style = true }}",
        backend.endpoint()
    );
    let project = backend.project_with(&replica, &[("default", "app.db")]);
    project.write(
        ".aws/credentials",
        &format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            servers::ACCESS_KEY,
            servers::SECRET_KEY
        ),
    );
    seed(&project, "app.db", 3);
    let mut daemon = project.replicate::<_, &str>([]);
    sync_wait(&project, "default");
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    assert!(!daemon.log().contains("could not check who owns"), "{}", daemon.log());
    let record = backend.data.path().join(BUCKET).join("dbs/app.db/.cargo-litestream-owner");
    assert!(record.is_file(), "the owner record is written with the file's credentials");

    let (run, json) = scrub(&project, &[]);
    let run = run.success();
    assert!(!run.stderr.contains("not read natively"), "{run}");
    assert_eq!(json["databases"][0]["files_read"], json["databases"][0]["files"], "{run}");
}

/// A replica whose listing fails: exit 3 (could not check), one line, and the JSON says so.
#[test]
fn a_replica_that_cannot_be_listed_is_unchecked() {
    let project = Project::new("");
    let project = project.with_env("AWS_ACCESS_KEY_ID", "x").with_env("AWS_SECRET_ACCESS_KEY", "y");
    let url = "s3://bucket/db?endpoint=http://127.0.0.1:9&region=us-east-1&forcePathStyle=true";
    let run = project.run(["scrub", url]).code(3);
    assert_eq!(run.stderr.matches("error:").count(), 1, "{run}");
    let run = project.run(["scrub", "--json", url]).code(3);
    assert_eq!(run.json()["databases"][0]["outcome"], "unchecked", "{run}");
    assert!(run.stderr.is_empty() || !run.stderr.contains("error:"), "{run}");
}

/// moto, the other S3 server of the suite (in memory, its own range handling): scrub and
/// verify read it natively too.
#[test]
fn moto_is_read_natively_by_scrub_and_verify() {
    let backend = servers::moto_s3();
    let project = backend.project(&[("default", "app.db")]);
    let metadata = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    project.write(
        "Cargo.toml",
        &metadata.replace("replica = {", "levels = [{ interval = \"1s\" }]\nreplica = {"),
    );
    write_and_compact(&project);
    let (run, json) = scrub(&project, &[]);
    let run = run.success();
    assert!(json["databases"][0]["replica"].as_str().unwrap().starts_with("s3://"), "{run}");
    assert_eq!(json["databases"][0]["files_read"], json["databases"][0]["files"], "{run}");
    let _daemon = project.replicate::<_, &str>([]);
    let verify = project.run(["verify", "--json"]).success().json();
    assert_eq!(verify["databases"][0]["method"], "pages", "{verify}");
}

/// Reading is all scrub does to a replica: every file's bytes and times are as they were.
#[test]
fn scrub_never_writes_to_the_replica() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\nlevels = [{ interval = \"1s\" }]\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    write_and_compact(&project);
    let state = |dir: &Path| -> Vec<(PathBuf, u64, std::time::SystemTime)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    stack.push(entry.path());
                } else {
                    out.push((entry.path(), meta.len(), meta.modified().unwrap()));
                }
            }
        }
        out.sort();
        out
    };
    let replica = project.path().join("replica");
    let before = state(&replica);
    project.run(["scrub", "--reread"]).success();
    project.run(["scrub", "--subset", "1/3"]).success();
    assert_eq!(state(&replica), before);
}
