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
