//! Backups that would overwrite each other or themselves ("nothing lost, ever", item 3): two
//! projects in one replica location (the machine-wide lock while one runs, the owner record in
//! a file replica afterwards), a replica inside a database's state folder, `restore -o` into a
//! replica, and a hard link replicated by a second project. Real litestream 0.5.17 throughout.

use std::path::Path;

use cargo_litestream_api::config::{Env, Project as Config};
use cargo_litestream_api::{ReplicateOptions, locate_litestream, spawn_replicate};

use crate::support::{Project, litestream_bin, rows};

/// A project with `default = "app.db"` replicated under the project-wide `replica` (an absolute
/// folder, so two projects can share it), and `extra` keys in its table.
fn project_on(replica: &Path, extra: &str) -> Project {
    Project::new(&format!(
        "[package.metadata.litestream]\nreplica = \"{}\"\n{extra}\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
        replica.display()
    ))
}

fn insert(project: &Project, rows: std::ops::RangeInclusive<i64>) {
    let conn = project.sqlite("app.db");
    conn.execute_batch("CREATE TABLE IF NOT EXISTS t(x INTEGER)").unwrap();
    for x in rows {
        conn.execute("INSERT INTO t VALUES (?1)", [x]).unwrap();
    }
}

fn restored(project: &Project) -> Vec<i64> {
    let out = project.p("restored.db");
    // A read leaves -wal/-shm, which a restore to the same path refuses to sit beside.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{out}{suffix}"));
    }
    project.run(["restore", "-o", &out, "default"]).success();
    rows(Path::new(&out))
}

/// Two projects whose databases are both `app.db`, on one project-wide replica without
/// `path-prefix`, wrote into one location: restoring the second gave the first's 40 rows. Now
/// the second is refused, by `replicate`, `replicate -once`, `-exec` and `spawn_replicate`:
/// while the first runs by the machine-wide lock (naming it and its process), afterwards by the
/// owner record in the replica; restore is never blocked, and litestream's `ltx` and `restore`
/// read the replica with the record in it. A `path-prefix` separates them.
#[test]
fn a_second_project_in_one_replica_location_is_refused() {
    let shared = tempfile::tempdir().unwrap();
    let backups = shared.path().join("backups");
    let first = project_on(&backups, "");
    let second = project_on(&backups, "");
    insert(&first, 1..=40);
    insert(&second, 1..=3);
    let first_db = first.p("app.db");

    let mut daemon = first.replicate::<_, &str>([]);
    let pid = daemon.pid();
    first.run(["sync", "-wait", "default"]).success();
    let record = backups.join("app.db/.cargo-litestream-owner");
    let owner: serde_json::Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert_eq!(owner["database"], first_db.as_str(), "{owner}");
    let replica_before = tree(&backups);

    let by_lock = ["already receives the backup of", first_db.as_str(), "path-prefix"];
    let process = format!("process {pid}");
    for args in [&["replicate", "-once"][..], &["replicate", "-exec", "true"]] {
        second.run(args).our_error(&by_lock).stderr_has(&process);
    }
    let (config, env) = load(&second);
    let litestream = locate_litestream(&config, &env).unwrap();
    let error = spawn_replicate(&config, &env, &litestream, &ReplicateOptions::default()).unwrap_err();
    assert!(error.to_string().contains("already receives the backup of"), "{error}");
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    assert_eq!(tree(&backups), replica_before, "the refused runs wrote nothing into the replica");

    // The first is gone: its record still says whose backup this is.
    let by_record = ["holds the backup of", first_db.as_str(), "path-prefix", ".cargo-litestream-owner"];
    for args in [&["replicate", "-once"][..], &["replicate", "-exec", "true"]] {
        second.run(args).our_error(&by_record);
    }
    let error = spawn_replicate(&config, &env, &litestream, &ReplicateOptions::default()).unwrap_err();
    assert!(error.to_string().contains("holds the backup of"), "{error}");
    assert_eq!(tree(&backups), replica_before, "refused before anything was written");

    // Litestream is not disturbed by the record; restore is not blocked by it.
    first.run(["ltx", "default"]).success().stdout_has("0000000000000001");
    assert_eq!(restored(&first), (1..=40).collect::<Vec<_>>());
    assert_eq!(restored(&second), (1..=40).collect::<Vec<_>>(), "restore reads what is there");
    first.run(["replicate", "-once"]).success();

    // With a path-prefix the second has a location of its own.
    second.write_manifest(&format!(
        "[package.metadata.litestream]\nreplica = \"{}\"\npath-prefix = \"second\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
        backups.display()
    ));
    second.run(["replicate", "-once"]).success();
    assert_eq!(restored(&second), [1, 2, 3]);
    assert_eq!(restored(&first), (1..=40).collect::<Vec<_>>());
}

/// The files below `dir` with their sizes, to show that nothing was written.
fn tree(dir: &Path) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                found.push((entry.path().display().to_string(), metadata.len()));
            }
        }
    }
    found.sort();
    found
}

fn load(project: &Project) -> (Config, Env) {
    let env = Env::empty(project.path())
        .with("PATH", std::env::var_os("PATH").unwrap_or_default())
        .with("HOME", project.path())
        .with("CARGO_LITESTREAM_BIN", litestream_bin());
    (Config::load(Some(&project.path().join("Cargo.toml")), &env).unwrap(), env)
}

/// A replica inside the database's `.<db>-litestream` folder (which `reset` deletes with the
/// backup in it), directly or through `meta-path`, is refused by every command that loads the
/// configuration, before anything runs.
#[test]
fn a_replica_inside_a_state_folder_is_refused() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \".app.db-litestream/backup\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    insert(&project, 1..=2);
    for args in [&["replicate", "-once"][..], &["config"], &["reset", "default"]] {
        project.run(args).our_error(&["is inside", ".app.db-litestream", "reset", "outside every"]);
    }
    assert!(!project.path().join(".app.db-litestream").exists(), "nothing ran");

    project.write_manifest(
        "[package.metadata.litestream]\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n\n[[package.metadata.litestream.dbs]]\npath = \"default\"\nmeta-path = \"state\"\nreplica = \"state/replica\"\n",
    );
    project.run(["replicate", "-once"]).our_error(&["is inside", "state", "outside every"]);
    assert!(!project.path().join("state").exists());
}

/// `restore -o` into a file replica's folder (`-force` would overwrite a backup file; without it
/// the restored file would sit among them) is refused, for the project's replica and for a
/// `file://` replica URL; the replica is unchanged.
#[test]
fn restore_into_a_replica_is_refused() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"backups\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    insert(&project, 1..=5);
    project.run(["replicate", "-once"]).success();
    let replica = project.path().join("backups/app.db");
    let before = tree(&replica);
    let victim = tree(&replica).into_iter().map(|(p, _)| p).find(|p| p.ends_with(".ltx")).unwrap();
    let url = format!("file://{}", replica.display());
    for args in [
        vec!["restore", "-force", "-o", victim.as_str(), "default"],
        vec!["restore", "-o", "backups/app.db/new.db", "default"],
        vec!["restore", "-force", "-o", victim.as_str(), url.as_str()],
    ] {
        project.run(&args).our_error(&["is inside", "replica", "outside the replica folder"]);
    }
    assert_eq!(tree(&replica), before, "the replica is unchanged");
    assert_eq!(restored(&project), [1, 2, 3, 4, 5]);
}

/// A hard link to a database that one project replicates, replicated by another project under
/// another name and replica, is the same database: refused while the first runs, naming it.
#[test]
fn a_hard_link_replicated_by_a_second_project_is_refused() {
    let first = Project::new(
        "[package.metadata.litestream]\nreplica = \"backups\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    insert(&first, 1..=3);
    let second = Project::new(
        "[package.metadata.litestream]\nreplica = \"backups\"\n\n[package.metadata.litestream.databases]\ndefault = \"linked.db\"\n",
    );
    std::fs::hard_link(first.path().join("app.db"), second.path().join("linked.db")).unwrap();
    let mut daemon = first.replicate::<_, &str>([]);
    let pid = daemon.pid();
    let linked = second.p("linked.db");
    for args in [&["replicate", "-once"][..], &["replicate", "-exec", "true"]] {
        second
            .run(args)
            .our_error(&[linked.as_str(), "is the same file as", &first.p("app.db"), "hard link"])
            .stderr_has(&format!("by process {pid}"));
    }
    assert!(!second.path().join("backups").exists(), "the second replicated nothing");
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
}
