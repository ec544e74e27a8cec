//! `init` (a commented table added to Cargo.toml) and `completions`.

use std::process::Command;

use crate::support::{Project, Run};

fn sqlite_file(project: &Project, rel: &str) {
    let conn = project.sqlite(rel);
    conn.execute_batch("CREATE TABLE t(x);").unwrap();
}

#[test]
fn init_appends_a_table_and_keeps_every_byte() {
    let project = Project::empty();
    let original = "# the service\n[package]\nname = \"svc\"   # keep this comment\nversion = \"0.1.0\"\n\n[dependencies]\n";
    project.write("Cargo.toml", original);
    sqlite_file(&project, "data/app.db");
    sqlite_file(&project, "data/jobs.sqlite3");
    sqlite_file(&project, "target/debug/ignored.db");
    project.write("data/notes.db", "not a database");
    project.write(".env", "DATABASE_URL=sqlite:data/app.db\n");

    let run = project.run(["init", "--replica", "file:///var/backups/svc"]).success();
    assert!(run.stderr.contains("Added [package.metadata.litestream]"), "{run}");
    assert!(run.stderr.contains("wal_autocheckpoint = 0") && run.stderr.contains("sqlite::open"), "{run}");
    let text = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    assert!(text.starts_with(original), "the original manifest is kept byte for byte\n{text}");
    assert!(text.contains("replica = \"file:///var/backups/svc\""), "{text}");
    // The package's name as path-prefix: another project's `app.db` on the same replica gets a
    // location of its own.
    assert!(text.contains("\npath-prefix = \"svc\"\n"), "{text}");
    assert!(text.contains("jobs = \"data/jobs.sqlite3\""), "{text}");
    assert!(text.contains("`default` comes from DATABASE_URL"), "{text}");
    assert!(
        !text.contains("ignored.db") && !text.contains("notes"),
        "target/ and non-SQLite files are skipped\n{text}"
    );
    assert!(!text.contains("app = "), "DATABASE_URL's file is `default`, not listed twice\n{text}");

    // The result is a working configuration that Litestream accepts.
    let dbs = project.run(["databases", "-json"]).success().json();
    let paths: Vec<&str> = dbs.as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert!(
        paths.contains(&project.p("data/jobs.sqlite3").as_str())
            && paths.contains(&project.p("data/app.db").as_str()),
        "{dbs}"
    );

    // A second init refuses and changes nothing.
    let before = std::fs::read(project.path().join("Cargo.toml")).unwrap();
    project.run(["init"]).our_error(&["already has [package.metadata.litestream]"]);
    assert_eq!(std::fs::read(project.path().join("Cargo.toml")).unwrap(), before);
}

#[test]
fn init_dry_run_and_default_replica() {
    let project = Project::new("");
    sqlite_file(&project, "app.db");
    let before = std::fs::read(project.path().join("Cargo.toml")).unwrap();
    let run = project.run(["init", "--dry-run"]).success();
    assert!(run.stdout.contains("[package.metadata.litestream.databases]\napp = \"app.db\""), "{run}");
    assert!(run.stdout.contains("# replica = "), "no replica given: only an example\n{run}");
    assert_eq!(std::fs::read(project.path().join("Cargo.toml")).unwrap(), before, "--dry-run writes nothing");

    project.run(["init"]).success();
    let yaml = project.run(["config"]).success();
    assert!(yaml.stdout.contains("bucket: $LITESTREAM_REPLICA_BUCKET"), "{yaml}");
}

#[test]
fn init_in_a_virtual_workspace_uses_the_workspace_table() {
    let project = Project::empty();
    project.write("Cargo.toml", "[workspace]\nmembers = []\n");
    project.run(["init", "--replica", "backups"]).success();
    let text = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    assert!(text.contains("[workspace.metadata.litestream]\n"), "{text}");
    let folder = std::fs::canonicalize(project.path()).unwrap();
    let folder = folder.file_name().unwrap().to_str().unwrap();
    assert!(
        text.contains(&format!("\npath-prefix = \"{folder}\"\n")),
        "no package: the folder's name\n{text}"
    );
    assert!(text.contains("# default = \"data/app.db\""), "nothing found: an example alias\n{text}");
}

#[test]
fn init_refuses_bad_replicas_and_keeps_permissions() {
    let project = Project::new("");
    let before = std::fs::read(project.path().join("Cargo.toml")).unwrap();
    project.run(["init", "--replica", "file://backups"]).our_error(&["file://backups", "/backups"]);
    assert_eq!(std::fs::read(project.path().join("Cargo.toml")).unwrap(), before);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let manifest = project.path().join("Cargo.toml");
        std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o640)).unwrap();
        project.run(["init", "--replica", "backups"]).success();
        assert_eq!(std::fs::metadata(&manifest).unwrap().permissions().mode() & 0o777, 0o640);
    }
}

#[test]
fn completion_scripts() {
    let project = Project::empty();
    let bash = project.run(["completions", "bash"]).success();
    for name in ["restore", "replicate", "init", "completions"] {
        assert!(bash.stdout.contains(name), "{name} missing");
    }
    project.write("completions.bash", &bash.stdout);
    // The script is valid bash.
    Run::of(Command::new("bash").arg("-n").arg(project.path().join("completions.bash"))).success();
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let run = project.run(["completions", shell]).success();
        assert!(run.stdout.contains("restore"), "{shell}\n{run}");
    }
    project.run(["completions", "tcsh"]).code(2);
}
