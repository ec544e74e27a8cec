//! Conventions every command follows: `--json` wherever Litestream has `-json` and on
//! cargo-litestream's own commands, the JSON contract of our own (README.md, "JSON output"),
//! and the `cargo binstall` metadata.

use std::path::Path;

use serde_json::Value;

use crate::support::{Project, Run, litestream_bin, vfs_extension};

/// cargo-litestream's own `--json` commands, each with its schema version (README.md, "JSON
/// output"). Litestream's `-json` (passthroughs, `sync`) is Litestream's contract, not ours.
const OWN_JSON: [(&str, u64); 11] = [
    ("check", 1),
    ("config", 1),
    ("doctor", 1),
    ("drill", 1),
    ("init", 1),
    ("install", 1),
    ("restore-points", 1),
    ("scrub", 1),
    ("verify", 1),
    ("vfs-install", 1),
    ("vfs-status", 1),
];

fn version_of(command: &str) -> u64 {
    OWN_JSON.iter().find(|(name, _)| *name == command).map(|(_, v)| *v).unwrap()
}

/// One document on stdout whose first field is `version`, the command's schema version.
fn document(run: &Run, command: &str) -> Value {
    let json = run.json();
    let first = json.as_object().and_then(|o| o.keys().next()).map(String::as_str);
    assert_eq!(first, Some("version"), "`version` comes first\n{run}");
    assert_eq!(json["version"], version_of(command), "{run}");
    json
}

/// The managed litestream, with no download: the pinned binary on `PATH` is adopted, and no
/// `CARGO_LITESTREAM_BIN` stands in for it.
fn adopt_the_pinned_litestream(project: &mut Project) {
    project.removed_env.push("CARGO_LITESTREAM_BIN".to_owned());
    project
        .env
        .push(("PATH".to_owned(), format!("{}:/usr/bin:/bin", litestream_bin().parent().unwrap().display())));
}

/// Every TXID in `value` (a key ending in `txid`, and the `from`/`to` of the `unreachable` and
/// `broken` ranges) is Litestream's 16 lowercase hex digits, or null; returns how many were seen.
fn txids_are_hex(value: &Value, context: &str) -> usize {
    let is_hex = |v: &Value| {
        v.as_str().is_some_and(|s| {
            s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    };
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, v)| {
                if key.ends_with("txid") && !v.is_null() {
                    assert!(is_hex(v), "{key} = {v} is not 16 hex digits\n{context}");
                    1
                } else if key == "unreachable" || key == "broken" {
                    for range in v.as_array().into_iter().flatten() {
                        assert!(is_hex(&range["from"]) && is_hex(&range["to"]), "{range}\n{context}");
                    }
                    0
                } else {
                    txids_are_hex(v, context)
                }
            })
            .sum(),
        Value::Array(items) => items.iter().map(|v| txids_are_hex(v, context)).sum(),
        _ => 0,
    }
}

fn hex(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap_or_else(|| panic!("not a TXID: {value}")), 16).unwrap()
}

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
        "check",
        "config",
        "doctor",
        "verify",
        "vfs-install",
        "vfs-status",
        "init",
        "install",
        "restore-points",
        "scrub",
        "drill",
    ];
    for command in json_commands {
        let help = project.run([command, "--help"]).success();
        assert!(help.stdout.contains("--json"), "`{command} --help` lists no --json\n{help}");
    }
    let own: Vec<&str> = OWN_JSON.iter().map(|(name, _)| *name).collect();
    let mut listed = json_commands[json_commands.iter().position(|c| *c == "check").unwrap()..].to_vec();
    listed.sort_unstable();
    assert_eq!(own, listed, "every command with a JSON of our own has a schema version here");
}

/// The README documents each schema of our own, with its version, in one section.
#[test]
fn readme_documents_every_json_schema() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("\n## JSON output\n").nth(1).expect("README has a `## JSON output` section");
    let section = section.split("\n## ").next().unwrap();
    for (command, version) in OWN_JSON {
        let heading = format!("### `{command} --json` (version {version})");
        assert!(section.contains(&heading), "README's JSON output section lacks `{heading}`");
    }
}

/// Each own `--json` output, in a project with a database and no daemon: one document with its
/// schema version first, no error, and the exit code it has without --json.
#[test]
fn own_json_documents_start_with_their_version() {
    let mut project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    project.sqlite("app.db").execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t(x)").unwrap();
    adopt_the_pinned_litestream(&mut project);
    // `init` refuses a project that has a table already: `init_json_says_what_was_found_and_added`.
    // `vfs-install` downloads the extension: `vfs_install_json_names_the_verified_extension`.
    let runs: [(&str, &[&str], i32); 9] = [
        // No daemon: CRITICAL.
        ("check", &[], 2),
        ("config", &[], 0),
        ("doctor", &["--timeout", "5"], 0),
        // Nothing replicated yet: the rehearsal's restore fails, as it must.
        ("drill", &[], 1),
        ("install", &[], 0),
        ("restore-points", &[], 0),
        ("scrub", &[], 0),
        ("verify", &[], 3),
        ("vfs-status", &[], 0),
    ];
    for (command, args, code) in runs {
        let json = project.run([&[command, "--json"][..], args].concat()).code(code);
        let doc = document(&json, command);
        assert!(doc.get("error").is_none(), "{json}");
        txids_are_hex(&doc, &json.to_string());
        let text = project.run([&[command][..], args].concat());
        assert_eq!(text.code, Some(code), "the same exit code without --json\n{text}");
    }
}

/// With a replicate running, every TXID of our own outputs is Litestream's 16-hex string, and
/// they count the same transactions: what `verify` saw the replica reach, the later listings
/// (`restore-points`, `scrub`, `vfs-status`, doctor's sync) reach too, since a replica only grows.
#[test]
fn txids_are_16_hex_digits_in_every_own_json() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n\n[package.metadata.litestream.vfs]\nmain = \"default\"\n",
    )
    .with_env("CARGO_LITESTREAM_VFS_EXTENSION", &vfs_extension().to_string_lossy());
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);").unwrap();
    let _daemon = project.replicate::<_, &str>([]);

    let run = project.run(["verify", "--json"]).success();
    let verify = document(&run, "verify");
    assert_eq!(txids_are_hex(&verify, &run.to_string()), 2, "txid and replica_txid\n{run}");
    let verified = hex(&verify["databases"][0]["replica_txid"]);
    assert!(verified >= hex(&verify["databases"][0]["txid"]), "{run}");

    let run = project.run(["restore-points", "--json", "default"]).success();
    let points = document(&run, "restore-points");
    assert!(txids_are_hex(&points, &run.to_string()) >= 3, "newest, latest, points\n{run}");
    assert!(hex(&points["databases"][0]["newest_txid"]) >= verified, "{run}");

    let run = project.run(["scrub", "--json"]).success();
    let scrub = document(&run, "scrub");
    assert_eq!(txids_are_hex(&scrub, &run.to_string()), 1, "latest_txid\n{run}");
    assert!(hex(&scrub["databases"][0]["latest_txid"]) >= verified, "{run}");

    let run = project.run(["vfs-status", "--json"]).success();
    let status = document(&run, "vfs-status");
    assert_eq!(txids_are_hex(&status, &run.to_string()), 2, "txid and replica_txid\n{run}");
    assert!(hex(&status["replicas"][0]["replica_txid"]) >= verified, "{run}");

    let run = project.run(["check", "--json"]).success();
    let check = document(&run, "check");
    assert_eq!(txids_are_hex(&check, &run.to_string()), 2, "local_txid and replica_txid\n{run}");
    assert!(hex(&check["databases"][0]["replica_txid"]) >= verified, "{run}");

    let run = project.run(["doctor", "--json"]).success();
    let doctor = document(&run, "doctor");
    let daemon = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["area"] == "daemon" && c["subject"] == "default");
    let message =
        daemon.and_then(|c| c["message"].as_str()).unwrap_or_else(|| panic!("no daemon check\n{run}"));
    let shown = message.split("TXID ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap();
    assert_eq!(shown.len(), 16, "doctor names the TXID as Litestream does\n{run}");
    assert!(hex(&Value::from(shown)) >= verified, "{run}");
}

/// A failed command under --json prints `{"version", "error"}` on stdout, with the exit code it
/// has without --json, and the cause once: nothing on stderr.
fn json_error(project: &Project, args: &[&str], code: i32, fragment: &str) {
    let run = project.run(args).code(code);
    let json = document(&run, args[0]);
    let error = json["error"].as_str().unwrap_or_else(|| panic!("no error\n{run}"));
    assert!(error.contains(fragment), "{run}");
    assert_eq!(json.as_object().unwrap().len(), 2, "only version and error\n{run}");
    assert!(!run.stderr.contains("error"), "the cause is printed once, on stdout\n{run}");
    let text = project.run(args.iter().filter(|a| **a != "--json")).code(code);
    assert!(text.stdout.is_empty() && text.stderr.contains(&format!("error: {error}")), "{text}");
}

#[test]
fn errors_under_json_are_json_on_stdout() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    json_error(&project, &["verify", "--json", "nosuch"], 3, "`nosuch` is not a database alias");
    json_error(&project, &["restore-points", "--json", "nosuch"], 1, "`nosuch` is not a database alias");
    // verify, scrub and drill: nothing was checked (3), not a failed check (1).
    json_error(&project, &["scrub", "--json", "nosuch"], 3, "`nosuch` is not a database alias");
    json_error(&project, &["drill", "--json", "nosuch"], 3, "`nosuch` is not a database alias");
    json_error(&project, &["check", "--json", "nosuch"], 3, "`nosuch` is not a database alias");
    json_error(&project, &["vfs-status", "--json", "nosuch"], 1, "`nosuch` is not a VFS alias");

    let broken = Project::new("[package.metadata.litestream\n");
    for (command, code) in [
        ("check", 3),
        ("vfs-status", 1),
        ("verify", 3),
        ("config", 1),
        ("restore-points", 1),
        ("scrub", 3),
        ("drill", 3),
        ("install", 1),
        ("vfs-install", 1),
    ] {
        json_error(&broken, &[command, "--json"], code, "invalid TOML");
    }
    // `init --json` refuses a manifest it cannot parse, as JSON too.
    let run = broken.run(["init", "--json", "--dry-run"]).code(1);
    assert!(document(&run, "init")["error"].as_str().unwrap().contains("not valid TOML"), "{run}");
    // doctor reports a broken Cargo.toml as its failed check: still its document, exit 1.
    let run = broken.run(["doctor", "--json"]).code(1);
    let doctor = document(&run, "doctor");
    assert_eq!(doctor["ok"], false, "{run}");
    assert_eq!(doctor["checks"][0]["area"], "configuration", "{run}");
    assert!(doctor["checks"][0]["message"].as_str().unwrap().contains("invalid TOML"), "{run}");

    // Usage errors stay clap's (exit 2, stderr): the command line itself is wrong.
    let run = project.run(["verify", "--json", "--timeout", "0"]).code(2);
    assert!(run.stdout.is_empty(), "{run}");
}

#[test]
fn config_json_is_the_yaml_as_json_with_secrets_redacted() {
    let project = Project::new(
        "[package.metadata.litestream]\nsecret-access-key = \"very-secret\"\nreplica = { type = \"s3\", bucket = \"b\", access-key-id = \"$KEY\" }\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    // The YAML's tree is kept whole under `config` (no key of ours inside Litestream's format).
    let run = project.run(["config", "--json"]).success();
    let document = document(&run, "config");
    assert_eq!(document["litestream_version"], "0.5.17");
    let json = &document["config"];
    let yaml = project.run(["config"]).success().stdout;
    let from_yaml = cargo_litestream_config::yaml::parse(&yaml).unwrap();
    assert_eq!(*json, from_yaml);
    assert_eq!(json["secret-access-key"], "<redacted>");
    assert_eq!(json["dbs"][0]["replica"]["access-key-id"], "$KEY");
    let shown = project.run(["config", "--json", "--show-secrets"]).success().json();
    assert_eq!(shown["config"]["secret-access-key"], "very-secret");
    project.run(["config", "--json", "-o", "x.yml"]).code(2);
}

#[test]
fn init_json_says_what_was_found_and_added() {
    let project = Project::new("");
    rusqlite::Connection::open(project.path().join("shop.sqlite3"))
        .unwrap()
        .execute_batch("CREATE TABLE t(x)")
        .unwrap();
    let dry = project.run(["init", "--json", "--dry-run", "--replica", "s3://bucket/shop"]).success();
    let dry = document(&dry, "init");
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
    adopt_the_pinned_litestream(&mut project);
    let to = project.p("image/usr/local/bin");
    let run = project.run(["install", "--json", "--to", &to]).success();
    let json = document(&run, "install");
    assert_eq!(json["installed"].as_array().map(Vec::len), Some(1), "{run}");
    let entry = &json["installed"][0];
    assert_eq!(entry["artifact"], "litestream");
    assert_eq!(entry["version"], "0.5.17");
    assert_eq!(entry["verified_by"], "pin");
    assert_eq!(entry["path"], format!("{to}/litestream"));
    assert!(Path::new(&format!("{to}/litestream")).is_file());
    assert_eq!(entry["sha256"].as_str().map(str::len), Some(64));
}

/// `vfs-install --json` is `install --json`'s document (the same fields, schema and version),
/// with one entry: the extension, downloaded from the loopback mirror, its password redacted.
#[cfg(all(target_os = "linux", target_env = "gnu", any(target_arch = "x86_64", target_arch = "aarch64")))]
#[test]
fn vfs_install_json_names_the_verified_extension() {
    use cargo_litestream_fetch::{HOST_TARGET, find_pin};

    use crate::mirror::{self, Mirror, Reply};

    let mirror = Mirror::start();
    let asset = cargo_litestream_release_vfs::asset("0.5.17", HOST_TARGET).unwrap().file_name;
    mirror.route(&format!("v0.5.17/{asset}"), vec![], Reply::Body(mirror::vfs_archive()));
    let mut project = Project::new("")
        .with_env("CARGO_LITESTREAM_MIRROR", &mirror.url().replacen("http://", "http://ci:hunter2@", 1));
    adopt_the_pinned_litestream(&mut project);
    let to = project.p("image/usr/local/lib");

    let run = project.run(["vfs-install", "--json", "--to", &to]).success();
    let json = document(&run, "vfs-install");
    assert_eq!(json.as_object().unwrap().keys().collect::<Vec<_>>(), ["version", "installed"], "{run}");
    assert_eq!(json["installed"].as_array().map(Vec::len), Some(1), "{run}");
    let entry = &json["installed"][0];
    assert_eq!(entry["artifact"], "litestream-vfs", "{run}");
    assert_eq!(entry["version"], "0.5.17");
    assert_eq!(entry["target"], HOST_TARGET);
    assert_eq!(entry["verified_by"], "pin");
    assert_eq!(entry["path"], format!("{to}/litestream-vfs.so"));
    let pin = find_pin(cargo_litestream_release_vfs::PINS, "0.5.17", HOST_TARGET).unwrap();
    assert_eq!(entry["sha256"], pin.sha256);
    assert_eq!(entry["size"], pin.size);
    assert_eq!(mirror::sha256_file(Path::new(&format!("{to}/litestream-vfs.so"))), pin.sha256);
    let cached = entry["cache_path"].as_str().unwrap();
    assert_eq!(mirror::sha256_file(Path::new(cached)), pin.sha256);
    let source = entry["source"].as_str().unwrap();
    assert!(source.contains("<redacted>@127.0.0.1") && source.ends_with(&asset), "{run}");
    assert!(!run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"), "{run}");

    // `install --json`'s entries have the same fields, in the same order.
    let install = project.run(["install", "--json"]).success();
    let install = document(&install, "install");
    let fields = |entry: &Value| entry.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(fields(entry), fields(&install["installed"][0]));
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
