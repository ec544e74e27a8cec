//! How the tool is invoked: as a cargo subcommand, directly, with `--manifest-path`.

use std::process::Command;

use crate::support::{Project, Run, cargo_litestream_bin};

/// `cargo` with our binary's folder first on PATH, as after `cargo install`.
fn cargo(project: &Project) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    project.hermetic(&mut command);
    let dir = cargo_litestream_bin().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    command.env("PATH", path);
    // cargo needs its home to find itself under rustup.
    for key in ["CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    if std::env::var_os("CARGO_HOME").is_none()
        && let Some(home) = std::env::var_os("HOME")
    {
        command.env("CARGO_HOME", std::path::Path::new(&home).join(".cargo"));
        command.env("RUSTUP_HOME", std::path::Path::new(&home).join(".rustup"));
    }
    command
}

#[test]
fn cargo_runs_it_as_a_subcommand() {
    let project = Project::new("");
    let run = Run::of(cargo(&project).args(["litestream", "version"])).success();
    assert_eq!(run.stdout.trim(), "0.5.17", "{run}");
    let help = Run::of(cargo(&project).args(["help", "litestream"])).success();
    assert!(help.stdout.contains("Usage: cargo litestream"), "{help}");
    assert!(help.stdout.contains("restore"), "{help}");
}

#[test]
fn direct_invocation_without_the_cargo_word() {
    let project = Project::new("");
    let mut command = Command::new(cargo_litestream_bin());
    project.hermetic(&mut command);
    let run = Run::of(command.arg("version")).success();
    assert_eq!(run.stdout.trim(), "0.5.17");
}

#[test]
fn help_lists_every_command_but_the_deprecated_one() {
    let run = Project::empty().run(["--help"]).success();
    for name in [
        "config",
        "databases",
        "info",
        "list",
        "ltx",
        "register",
        "replicate",
        "reset",
        "restore",
        "start",
        "status",
        "stop",
        "sync",
        "unregister",
        "version",
    ] {
        assert!(run.stdout.contains(&format!("\n  {name} ")), "{name} missing\n{run}");
    }
    assert!(!run.stdout.contains("\n  wal "), "{run}");
    // No arguments at all: help on stderr, usage exit code.
    let run = Project::empty().run::<_, &str>([]).code(2);
    assert!(run.stderr.contains("Usage"), "{run}");
}

#[test]
fn manifest_path_picks_the_project_from_anywhere() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"r\"\ndatabases = { default = \"app.db\" }\n",
    );
    let elsewhere = Project::empty();
    let mut command = project.cmd(["databases", "--manifest-path", &project.p("Cargo.toml")]);
    command.current_dir(elsewhere.path());
    let run = Run::of(&mut command).success();
    assert!(run.stdout.contains(&project.p("app.db")), "{run}");

    // From a subfolder, the nearest Cargo.toml upward is used.
    std::fs::create_dir_all(project.path().join("src/deep")).unwrap();
    let mut command = project.cmd(["databases"]);
    command.current_dir(project.path().join("src/deep"));
    let run = Run::of(&mut command).success();
    assert!(run.stdout.contains(&project.p("app.db")), "{run}");
}

#[test]
fn our_version_flag_and_litestreams_version_command() {
    let run = Project::empty().run(["--version"]).success();
    assert!(run.stdout.starts_with("cargo-litestream "), "{run}");
}

/// Flags as Go's flag package takes them (Litestream's), each checked by the command line that
/// reaches the real litestream (`-v`) or by what it does: `-bool=true|false`, `--o x`, `--f`.
#[test]
fn go_flag_spellings_reach_litestream_as_it_reads_them() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
    let running = |run: &Run| -> String {
        run.stderr.lines().find(|l| l.contains("Running")).unwrap_or_else(|| panic!("{run}")).to_owned()
    };

    let run = project.run(["-v", "databases", "-json=true"]).success();
    assert!(running(&run).ends_with(" -json"), "{run}");
    assert!(run.stdout.trim_start().starts_with('['), "JSON: {run}");
    let run = project.run(["-v", "databases", "-json=false"]).success();
    assert!(!running(&run).contains("-json"), "{run}");
    project.run(["version", "--verbose=true"]).success().stdout_has("Go Version");

    project.run(["replicate", "-once=true"]).success();
    let out = project.p("copy.db");
    let run = project.run(["-v", "restore", "--o", &out, "-if-replica-exists=false", "default"]).success();
    assert!(
        running(&run).contains(&format!("-o {out}")) && !running(&run).contains("if-replica-exists"),
        "{run}"
    );
    project.run(["restore", "-force=true", "-o", &out, "default"]).success();
    assert_eq!(crate::support::rows(std::path::Path::new(&out)).len(), 1);

    // Mistyped: named as typed (not `-o uput`), with a suggestion.
    for (args, line) in [
        (
            &["restore", "-ouput", "x", "default"][..],
            "flag provided but not defined: -ouput; did you mean -o?",
        ),
        (&["sync", "-wiat", "default"], "flag provided but not defined: -wiat; did you mean -wait?"),
    ] {
        let run = project.run(args).code(2);
        assert_eq!(run.stderr.lines().count(), 1, "one line\n{run}");
        assert!(run.stderr.starts_with(&format!("error: {line}")), "{run}");
    }
}
