//! Conventions every command follows: `--json` wherever Litestream has `-json` and on
//! cargo-litestream's own commands, and the `cargo binstall` metadata.

use std::path::Path;

use crate::support::{Project, litestream_bin};

/// Every command that prints data has a JSON form: Litestream's `-json` (passed through) and
/// cargo-litestream's own `--json`.
#[test]
fn json_everywhere() {
    let project = Project::new("");
    let json_commands = [
        // Litestream's, passed through.
        "databases",
        "ltx",
        "status",
        "restore",
        "info",
        "list",
        "sync",
        "start",
        "stop",
        "register",
        "unregister",
        // cargo-litestream's own.
        "config",
        "doctor",
        "verify",
        "vfs-status",
        "init",
        "install",
        "restore-points",
        "scrub",
    ];
    for command in json_commands {
        let help = project.run([command, "--help"]).success();
        assert!(help.stdout.contains("--json"), "`{command} --help` lists no --json\n{help}");
    }
}

#[test]
fn config_json_is_the_yaml_as_json_with_secrets_redacted() {
    let project = Project::new(
        "[package.metadata.litestream]\nsecret-access-key = \"very-secret\"\nreplica = { type = \"s3\", bucket = \"b\", access-key-id = \"$KEY\" }\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    let json = project.run(["config", "--json"]).success().json();
    let yaml = project.run(["config"]).success().stdout;
    let from_yaml: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(json, from_yaml);
    assert_eq!(json["secret-access-key"], "<redacted>");
    assert_eq!(json["dbs"][0]["replica"]["access-key-id"], "$KEY");
    let shown = project.run(["config", "--json", "--show-secrets"]).success().json();
    assert_eq!(shown["secret-access-key"], "very-secret");
    project.run(["config", "--json", "-o", "x.yml"]).code(2);
}

#[test]
fn init_json_says_what_was_found_and_added() {
    let project = Project::new("");
    rusqlite::Connection::open(project.path().join("shop.sqlite3"))
        .unwrap()
        .execute_batch("CREATE TABLE t(x)")
        .unwrap();
    let dry = project.run(["init", "--json", "--dry-run", "--replica", "s3://bucket/shop"]).success().json();
    assert_eq!(dry["written"], false);
    assert_eq!(dry["table"], "package.metadata.litestream");
    assert_eq!(dry["replica"], "s3://bucket/shop");
    assert_eq!(dry["databases"][0]["alias"], "shop");
    assert!(dry["snippet"].as_str().unwrap().contains("shop = \"shop.sqlite3\""));
    let before = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    assert!(!before.contains("litestream"), "--dry-run wrote nothing");
    let run = project.run(["init", "--json", "--replica", "s3://bucket/shop"]).success();
    assert_eq!(run.json()["written"], true);
    let after = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    assert!(after.ends_with(dry["snippet"].as_str().unwrap()));
}

#[test]
fn install_json_names_the_verified_file() {
    let mut project = Project::new("");
    project.removed_env.push("CARGO_LITESTREAM_BIN".to_owned());
    // The pinned litestream on PATH is adopted (no network).
    project
        .env
        .push(("PATH".to_owned(), format!("{}:/usr/bin:/bin", litestream_bin().parent().unwrap().display())));
    let to = project.p("image/usr/local/bin");
    let json = project.run(["install", "--json", "--to", &to]).success().json();
    let entry = &json[0];
    assert_eq!(entry["artifact"], "litestream");
    assert_eq!(entry["version"], "0.5.17");
    assert_eq!(entry["verified_by"], "pin");
    assert_eq!(entry["path"], format!("{to}/litestream"));
    assert!(Path::new(&format!("{to}/litestream")).is_file());
    assert_eq!(entry["sha256"].as_str().map(str::len), Some(64));
}

/// The `[package.metadata.binstall]` templates, expanded as cargo-binstall expands them, give
/// the release archive names the README documents.
#[test]
fn binstall_metadata_names_the_documented_archives() {
    let manifest: cargo_litestream_config::TomlTable =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let package = &manifest["package"];
    let binstall = &package["metadata"]["binstall"];
    let repo = manifest["workspace"]["package"]["repository"].as_str().unwrap();
    let expand = |template: &str, target: &str, suffix: &str, ext: &str| {
        template
            .replace("{ repo }", repo)
            .replace("{ name }", "cargo-litestream")
            .replace("{ version }", "0.1.0")
            .replace("{ target }", target)
            .replace("{ archive-suffix }", suffix)
            .replace("{ bin }", "cargo-litestream")
            .replace("{ binary-ext }", ext)
    };
    let url = binstall["pkg-url"].as_str().unwrap();
    let dir = binstall["bin-dir"].as_str().unwrap();
    assert_eq!(binstall["pkg-fmt"].as_str(), Some("tgz"));
    // For `tgz` cargo-binstall tries the suffixes `.tgz` and `.tar.gz`; releases use the latter.
    assert_eq!(
        expand(url, "x86_64-unknown-linux-gnu", ".tar.gz", ""),
        format!("{repo}/releases/download/v0.1.0/cargo-litestream-0.1.0-x86_64-unknown-linux-gnu.tar.gz")
    );
    assert_eq!(
        expand(dir, "x86_64-unknown-linux-gnu", ".tar.gz", ""),
        "cargo-litestream-0.1.0-x86_64-unknown-linux-gnu/cargo-litestream"
    );
    assert_eq!(binstall["overrides"]["x86_64-pc-windows-msvc"]["pkg-fmt"].as_str(), Some("zip"));
    assert_eq!(
        expand(dir, "x86_64-pc-windows-msvc", ".zip", ".exe"),
        "cargo-litestream-0.1.0-x86_64-pc-windows-msvc/cargo-litestream.exe"
    );
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains("cargo-litestream-<version>-<target>.tar.gz"), "README documents the naming");
}

#[test]
fn init_warns_when_the_replica_url_holds_a_password() {
    let project = Project::new("");
    let run = project.run(["init", "--replica", "sftp://backup:hunter2@host/srv/backups"]).success();
    assert!(run.stderr.contains("warning: the replica URL holds a password"), "{run}");
    assert!(!run.stderr.contains("hunter2"), "the password is not printed\n{run}");
}
