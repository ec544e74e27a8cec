//! `doctor`: is this project ready for production? Each check is one line with a status and,
//! when something is wrong, the fix.
//!
//! - **Databases**: each file exists and is SQLite; it is in WAL mode; it is not on a network
//!   filesystem (SQLite's locks are unreliable there); the connection advice for the app
//!   (WAL, `busy_timeout`, `wal_autocheckpoint = 0`: [`crate::sqlite`]).
//! - **Binary**: the litestream that commands run, hashed and compared with the sha256 pin.
//! - **Environment**: every `$VAR` the configuration references is set (names only, values are
//!   never printed); `AWS_CA_BUNDLE` next to an S3 replica (Litestream 0.5.17 then fails every S3
//!   call); credentials written literally into `Cargo.toml`.
//! - **Replicas**: reachable (`litestream ltx`), and writable (a `file` replica's folder and
//!   free space, an S3 replica by a probe object written and deleted), at most eight
//!   databases at once.
//! - **Daemon**: the control socket, and whether a `replicate` runs and replicates every database.
//!
//! Statuses: [`Status::Pass`], [`Status::Info`] (advice), [`Status::Warn`] (worth a look, does not
//! fail) and [`Status::Fail`]; `cargo litestream doctor` exits non-zero on any failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cargo_litestream_config::{
    Env, Generate, Location, Project, SECRET_KEYS, TomlValue, is_env_reference, parse_go_duration,
    redact_url_password,
};
use cargo_litestream_fetch::{CacheState, Fetcher, HOST_TARGET, Trust, sha256_file};
use cargo_litestream_runner::{BinarySource, Litestream};
use serde::Serialize;

use crate::control::{self, ControlError};
use crate::process::{BoundedError, last_error_line, output_within};

mod writable;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Advice that cannot be checked from outside the application.
    Info,
    /// Worth a look; does not fail `doctor`.
    Warn,
    Fail,
}

impl Status {
    /// `✓`, `ℹ`, `⚠`, `✗`.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Info => "ℹ",
            Status::Warn => "⚠",
            Status::Fail => "✗",
        }
    }

    /// The word printed instead of the symbol when output is not a terminal.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "ok",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// `database`, `binary`, `environment`, `replica` or `daemon`.
    pub area: &'static str,
    /// What was checked: a database alias, a variable name, … (empty for the area as a whole).
    pub subject: String,
    pub status: Status,
    pub message: String,
    /// What to do, when the status is not a pass.
    pub fix: Option<String>,
}

impl Check {
    fn new(
        area: &'static str,
        subject: impl Into<String>,
        status: Status,
        message: impl Into<String>,
    ) -> Check {
        Check { area, subject: subject.into(), status, message: message.into(), fix: None }
    }

    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// How to run the checks.
#[derive(Clone, Debug)]
pub struct DoctorOptions {
    /// The bound on each replica listing and on the daemon's answers.
    pub timeout: Duration,
}

impl Default for DoctorOptions {
    fn default() -> DoctorOptions {
        DoctorOptions { timeout: Duration::from_secs(10) }
    }
}

/// Every check, in a stable order: databases, binary, environment, replicas, daemon.
/// Nothing is downloaded, installed or started but `litestream version` and `litestream ltx`;
/// the only file written is the generated configuration, as by any command, and the only
/// object an S3 probe object, deleted at once.
pub fn doctor(project: &Project, env: &Env, options: &DoctorOptions) -> Vec<Check> {
    let mut checks = Vec::new();
    if project.databases.is_empty() {
        checks.push(
            Check::new(
                "database",
                "databases",
                Status::Fail,
                crate::replicate::nothing_to_replicate(project),
            )
            .fix("add a database alias, or set DATABASE_URL to a SQLite file"),
        );
    }
    for db in &project.databases {
        if let Some(why) = db.path().and_then(cargo_litestream_config::symlinked_database) {
            checks.push(Check::new("database", db.name(), Status::Fail, why).fix("configure the real path"));
        }
        checks.extend(database(db));
    }
    if project.databases.iter().any(|db| db.path().is_some()) {
        checks.push(
            Check::new(
                "database",
                "connections",
                Status::Info,
                "each connection of the application needs journal_mode = WAL, busy_timeout = 5000 (litestream takes brief \
                 write locks) and wal_autocheckpoint = 0 (its own checkpoints can restart the WAL before litestream has \
                 copied it: commits then miss the backup); cannot be seen from outside",
            )
            .fix(
                "open them with `cargo_litestream_api::sqlite::open` (rusqlite), or apply \
                 `cargo_litestream_api::sqlite::PRAGMAS` to sqlx's `SqliteConnectOptions` with `.pragma(name, value)`",
            ),
        );
    }
    let litestream = binary(project, env, &mut checks);
    environment(project, env, &mut checks);
    replicas(project, env, litestream.as_ref(), options.timeout, &mut checks);
    daemon(project, env, options.timeout, &mut checks);
    checks
}

/// The worst status of `checks` (a pass when empty).
pub fn worst(checks: &[Check]) -> Status {
    checks.iter().map(|c| c.status).max().unwrap_or(Status::Pass)
}

// ---------------------------------------------------------------------------------------------
// Databases

fn database(db: &cargo_litestream_config::Database) -> Vec<Check> {
    let name = db.name();
    let path = match &db.location {
        Location::File(path) => path,
        Location::Dir(dir) => {
            let mut checks = vec![Check::new(
                "database",
                &name,
                if dir.is_dir() { Status::Pass } else { Status::Warn },
                if dir.is_dir() {
                    format!(
                        "{} is a folder (`dir` entry: every matching SQLite file below it)",
                        dir.display()
                    )
                } else {
                    format!("{} does not exist", dir.display())
                },
            )];
            if dir.is_dir() {
                checks.push(filesystem_check(&name, dir));
            }
            return checks;
        }
    };
    let mut checks = Vec::new();
    let header = match read_header(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let stale = cargo_litestream_config::orphaned_sidecars(path);
            if stale.is_empty() {
                checks.push(
                    Check::new("database", &name, Status::Warn, format!("{} does not exist yet", path.display())).fix(
                        "nothing is replicated until the application creates it; on a new machine restore it first (`cargo litestream restore -if-replica-exists …`, or `restore_if_missing()` in the app)",
                    ),
                );
            } else {
                let names: Vec<String> = stale.iter().map(|p| p.display().to_string()).collect();
                checks.push(
                    Check::new(
                        "database",
                        &name,
                        Status::Fail,
                        format!("{} does not exist, but {} of an earlier one remain", path.display(), names.join(" and ")),
                    )
                    .fix("move them away before restoring (SQLite would apply the old WAL to the restored file), or restore with `cargo litestream restore -force`"),
                );
            }
            if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
                checks.push(filesystem_check(&name, dir));
            }
            return checks;
        }
        Err(error) => {
            checks.push(
                Check::new(
                    "database",
                    &name,
                    Status::Fail,
                    format!("cannot read {}: {error}", path.display()),
                )
                .fix("make it readable and writable by the user running litestream"),
            );
            return checks;
        }
        Ok(header) => header,
    };
    if header.len() < 100 || !header.starts_with(b"SQLite format 3\0") {
        let what = if header.is_empty() { "is empty" } else { "is not a SQLite database" };
        checks.push(
            Check::new("database", &name, Status::Fail, format!("{} {what}", path.display()))
                .fix("point the alias at the application's SQLite file"),
        );
        return checks;
    }
    checks.push(Check::new(
        "database",
        &name,
        Status::Pass,
        format!("{} is a SQLite database", path.display()),
    ));
    // Bytes 18 and 19: the file format write and read versions, 2 in WAL mode.
    checks.push(if header[18] == 2 && header[19] == 2 {
        Check::new("database", &name, Status::Pass, "in WAL mode")
    } else {
        Check::new("database", &name, Status::Fail, "not in WAL mode (rollback journal)").fix(
            "run `PRAGMA journal_mode = WAL` once (it persists) and never switch it back in the application; litestream replicates only the WAL",
        )
    });
    checks.push(filesystem_check(&name, path));
    checks
}

fn read_header(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut header = Vec::with_capacity(100);
    std::fs::File::open(path)?.take(100).read_to_end(&mut header)?;
    Ok(header)
}

fn filesystem_check(name: &str, path: &Path) -> Check {
    match filesystem(path) {
        Filesystem::Local(kind) => Check::new("database", name, Status::Pass, format!("on a local filesystem ({kind})")),
        Filesystem::Network(kind) => Check::new(
            "database",
            name,
            Status::Fail,
            format!("on a network filesystem ({kind}): SQLite's locks and WAL shared memory do not work reliably there"),
        )
        .fix("keep the database on a local disk (a volume of the machine); replicate it to object storage instead"),
        Filesystem::Unknown(why) => {
            Check::new("database", name, Status::Warn, format!("filesystem not recognised ({why})"))
                .fix("make sure it is a local filesystem: SQLite needs working POSIX locks and shared memory")
        }
    }
}

/// What a path is stored on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filesystem {
    /// A local filesystem: its type (`ext4`, `xfs`, `overlay`, `tmpfs`, …).
    Local(String),
    /// NFS, SMB/CIFS, 9p, sshfs and other network or FUSE-network filesystems.
    Network(String),
    Unknown(String),
}

/// Filesystem types (statfs `f_type`) that are network filesystems.
#[cfg(target_os = "linux")]
const NETWORK_MAGIC: &[(u64, &str)] = &[
    (0x6969, "nfs"),
    (0x517b, "smb"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
    (0x0102_1997, "9p"),
    (0x5346_414f, "afs"),
    (0x6b41_4653, "kafs"),
    (0x00c3_6400, "ceph"),
    (0x7375_7245, "coda"),
    (0x564c, "ncp"),
    (0x0bd0_0bd0, "lustre"),
    (0x4750_4653, "gpfs"),
    (0x0116_1970, "gfs2"),
    (0x7461_636f, "ocfs2"),
];

#[cfg(target_os = "linux")]
const FUSE_MAGIC: u64 = 0x6573_5546;

/// FUSE filesystems (`fuse.<name>` in /proc/self/mountinfo) that reach the network.
#[cfg(target_os = "linux")]
const NETWORK_FUSE: &[&str] = &[
    "sshfs",
    "s3fs",
    "rclone",
    "gcsfuse",
    "glusterfs",
    "juicefs",
    "goofys",
    "davfs",
    "davfs2",
    "smbnetfs",
    "cephfs",
    "ceph-fuse",
    "mountpoint-s3",
    "blobfuse",
    "blobfuse2",
    "seaweedfs",
    "moosefs",
    "mfs",
];

/// The filesystem `path` lives on (Linux: `statfs`, plus `/proc/self/mountinfo` to name a FUSE
/// filesystem). Elsewhere: unknown.
pub fn filesystem(path: &Path) -> Filesystem {
    #[cfg(target_os = "linux")]
    {
        let magic = match statfs_type(path) {
            Ok(magic) => magic,
            Err(error) => return Filesystem::Unknown(format!("statfs failed: {error}")),
        };
        if let Some((_, name)) = NETWORK_MAGIC.iter().find(|(m, _)| *m == magic) {
            return Filesystem::Network((*name).to_owned());
        }
        let fstype = mount_type(path).unwrap_or_else(|| format!("type {magic:#x}"));
        if magic == FUSE_MAGIC {
            let sub = fstype.strip_prefix("fuse.").unwrap_or(&fstype);
            if NETWORK_FUSE.contains(&sub) {
                return Filesystem::Network(fstype);
            }
        }
        Filesystem::Local(fstype)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Filesystem::Unknown("only checked on Linux".to_owned())
    }
}

#[cfg(target_os = "linux")]
fn statfs_type(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("the path holds a NUL byte"))?;
    #[allow(unsafe_code)]
    // SAFETY: `c_path` is a valid NUL-terminated string for the call; `stat` is a zeroed,
    // properly aligned statfs struct that the call fills in and does not keep.
    let (result, stat) = unsafe {
        let mut stat: libc::statfs = std::mem::zeroed();
        (libc::statfs(c_path.as_ptr(), &mut stat), stat)
    };
    if result == -1 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    Ok((stat.f_type as u64) & 0xffff_ffff)
}

/// The type of the mount holding `path`, from `/proc/self/mountinfo` (longest mount point that
/// contains the canonical path).
#[cfg(target_os = "linux")]
fn mount_type(path: &Path) -> Option<String> {
    let path = std::fs::canonicalize(path).ok()?;
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(usize, String)> = None;
    for line in table.lines() {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = unescape_mount(left.split(' ').nth(4)?);
        let fstype = right.split(' ').next()?.to_owned();
        if path.starts_with(&mount_point) {
            let depth = mount_point.components().count();
            if best.as_ref().is_none_or(|(d, _)| depth >= *d) {
                best = Some((depth, fstype));
            }
        }
    }
    best.map(|(_, fstype)| fstype)
}

/// mountinfo escapes space, tab, newline and backslash as `\040` and so on.
#[cfg(target_os = "linux")]
fn unescape_mount(text: &str) -> PathBuf {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 4], 8)
        {
            out.push(byte);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

// ---------------------------------------------------------------------------------------------
// Binary

fn binary(project: &Project, env: &Env, checks: &mut Vec<Check>) -> Option<Litestream> {
    let request = cargo_litestream_release_cli::Request {
        version: &project.version,
        target: HOST_TARGET,
        config_pin: project.sha256.as_deref().map(|sha| (sha, project.manifest_path.as_path())),
        allow_unpinned: false,
        adopt_from_path: false,
    };
    let pin = match cargo_litestream_release_cli::trust(&request) {
        Ok(Trust::Pin { sha256, origin, .. }) => Some((sha256, origin)),
        Ok(Trust::Upstream) => None,
        Err(error) => {
            checks.push(Check::new("binary", "litestream", Status::Fail, error.to_string()));
            None
        }
    };
    let pin_hash = pin.as_ref().map(|(sha, _)| sha.as_str());
    let version = project.version.trim_start_matches('v');

    let user = match Litestream::user_binary(Some(project), env) {
        Ok(user) => user,
        Err(error) => {
            checks.push(Check::new("binary", "litestream", Status::Fail, error.to_string()));
            return None;
        }
    };
    if let Some(user) = user {
        let hash = sha256_file(&user.path).map(|(sha, _)| sha);
        let check = match (&hash, pin_hash) {
            (Ok(hash), Some(pin)) if hash.eq_ignore_ascii_case(pin) => Check::new(
                "binary",
                "litestream",
                Status::Pass,
                format!(
                    "{} (from {}) is litestream {version}: its sha256 equals the pin",
                    user.path.display(),
                    user.source
                ),
            ),
            (Ok(hash), Some(_)) => Check::new(
                "binary",
                "litestream",
                Status::Warn,
                format!(
                    "{} (from {}) is your own binary, not the pinned litestream {version} (sha256 {hash})",
                    user.path.display(),
                    user.source
                ),
            )
            .fix(format!(
                "fine if you built it yourself; otherwise remove {} and let cargo-litestream use the verified binary (`cargo litestream install`)",
                user.source
            )),
            (Ok(hash), None) => Check::new(
                "binary",
                "litestream",
                Status::Warn,
                format!("{} (from {}) has no pin to check against (sha256 {hash})", user.path.display(), user.source),
            ),
            (Err(error), _) => {
                checks.push(
                    Check::new("binary", "litestream", Status::Fail, format!("cannot read {}: {error}", user.path.display()))
                        .fix(format!("fix {} or remove it", user.source)),
                );
                return None;
            }
        };
        checks.push(check);
        version_check(&user, env, version, checks);
        return Some(user);
    }

    // The managed binary: the cache only (doctor never downloads or adopts), fully re-hashed.
    let Some(pin) = pin_hash else {
        checks.push(
            Check::new("binary", "litestream", Status::Fail, format!("litestream {version} has no pin"))
                .fix("add `sha256 = \"…\"` to the table, or `bin-path`"),
        );
        return None;
    };
    let shell = cargo_litestream_shell::Shell::quiet();
    let fetcher = Fetcher::new(env, &shell, true);
    let asset = match cargo_litestream_release_cli::asset(version, HOST_TARGET) {
        Ok(asset) => asset,
        Err(error) => {
            checks.push(Check::new("binary", "litestream", Status::Fail, error.to_string()));
            return None;
        }
    };
    let trust = Trust::Pin {
        sha256: pin.to_owned(),
        size: None,
        origin: cargo_litestream_fetch::PinOrigin::Compiled,
    };
    match fetcher.check(&asset, &trust) {
        // Changed on disk and no longer the pinned file (or a symlink): refused by every run.
        Ok(CacheState::Mismatch(path)) => {
            let found = match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => "a symlink, never run from the cache".to_owned(),
                _ => match sha256_file(&path) {
                    Ok((hash, _)) => format!("sha256 {hash}, pin {pin}"),
                    Err(error) => format!("cannot read it: {error}"),
                },
            };
            checks.push(
                Check::new(
                    "binary",
                    "litestream",
                    Status::Fail,
                    format!("{} does not match its pin ({found})", path.display()),
                )
                .fix("run `cargo litestream install --verify` to replace it"),
            );
            None
        }
        Ok(CacheState::Hit(installed)) => match sha256_file(&installed.path) {
            Ok((hash, _)) if hash.eq_ignore_ascii_case(pin) => {
                checks.push(Check::new(
                    "binary",
                    "litestream",
                    Status::Pass,
                    format!(
                        "litestream {version} pinned and verified: {} re-hashed, sha256 {hash}",
                        installed.path.display()
                    ),
                ));
                let litestream = Litestream { path: installed.path, source: BinarySource::Cache };
                version_check(&litestream, env, version, checks);
                Some(litestream)
            }
            Ok((hash, _)) => {
                checks.push(
                    Check::new(
                        "binary",
                        "litestream",
                        Status::Fail,
                        format!(
                            "{} does not match its pin (sha256 {hash}, pin {pin})",
                            installed.path.display()
                        ),
                    )
                    .fix("run `cargo litestream install --verify` to replace it"),
                );
                None
            }
            Err(error) => {
                checks.push(Check::new(
                    "binary",
                    "litestream",
                    Status::Fail,
                    format!("cannot read {}: {error}", installed.path.display()),
                ));
                None
            }
        },
        Ok(CacheState::Miss) => {
            let on_path = cargo_litestream_release_cli::on_path(
                env,
                cargo_litestream_release_cli::binary_name(HOST_TARGET),
            )
            .into_iter()
            .find(|candidate| sha256_file(candidate).is_ok_and(|(hash, _)| hash.eq_ignore_ascii_case(pin)));
            match on_path {
                Some(path) => {
                    checks.push(
                        Check::new(
                            "binary",
                            "litestream",
                            Status::Pass,
                            format!(
                                "{} on PATH is litestream {version} (sha256 equals the pin); it is adopted into the cache on first use",
                                path.display()
                            ),
                        ),
                    );
                    let litestream = Litestream { path, source: BinarySource::Adopted };
                    version_check(&litestream, env, version, checks);
                    Some(litestream)
                }
                None => {
                    checks.push(
                        Check::new(
                            "binary",
                            "litestream",
                            Status::Fail,
                            format!("the verified litestream {version} is not installed on this machine"),
                        )
                        .fix("run `cargo litestream install` (downloads it and checks its sha256 against the pin; `--to DIR` for an image)"),
                    );
                    None
                }
            }
        }
        Err(error) => {
            checks.push(Check::new("binary", "litestream", Status::Fail, error.to_string()));
            None
        }
    }
}

/// `litestream version` runs and prints the configured version.
fn version_check(litestream: &Litestream, env: &Env, expected: &str, checks: &mut Vec<Check>) {
    let mut command = litestream.command(env);
    command.arg("version");
    match output_within(&mut command, None, Duration::from_secs(10)) {
        Ok(done) if done.status.success() => {
            let printed = String::from_utf8_lossy(&done.stdout).trim().to_owned();
            if printed.trim_start_matches('v') == expected {
                checks.push(Check::new(
                    "binary",
                    "version",
                    Status::Pass,
                    format!("`litestream version` prints {printed}"),
                ));
            } else {
                checks.push(
                    Check::new(
                        "binary",
                        "version",
                        Status::Warn,
                        format!(
                            "`litestream version` prints {printed}, but the configuration asks for {expected}"
                        ),
                    )
                    .fix("set `version` in the table to the version you run, or run the pinned one"),
                );
            }
        }
        Ok(done) => checks.push(Check::new(
            "binary",
            "version",
            Status::Fail,
            format!("`litestream version` failed: {}", last_error_line(&done.stderr)),
        )),
        Err(error) => checks.push(Check::new(
            "binary",
            "version",
            Status::Fail,
            format!("`litestream version`: {error}"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Environment

/// Keys whose `$VAR` may stay empty: Litestream then uses the AWS credential chain.
const AWS_FALLBACK: &[(&str, &str)] =
    [("access-key-id", "AWS_ACCESS_KEY_ID"), ("secret-access-key", "AWS_SECRET_ACCESS_KEY")].as_slice();

/// Settings Litestream reads as "off" that are a documented choice (so accepted), but rarely
/// the one wanted.
fn switched_off(project: &Project, checks: &mut Vec<Check>) {
    let zero = |key: &str| {
        project
            .globals
            .get(key)
            .and_then(TomlValue::as_str)
            .and_then(parse_go_duration)
            .is_some_and(|d| d.is_zero())
    };
    if zero("l0-retention") {
        checks.push(
            Check::new(
                "environment",
                "l0-retention",
                Status::Warn,
                "l0-retention = \"0s\" switches L0 retention off (db.go skips it): level-0 files are never removed \
                 by age, so the replica and the local state grow with every sync",
            )
            .fix("leave it out (Litestream's default: 5m), or give the window point-in-time restores need"),
        );
    }
}

fn environment(project: &Project, env: &Env, checks: &mut Vec<Check>) {
    switched_off(project, checks);
    // Every `$VAR` of the generated configuration, with the keys that use it.
    let mut references: BTreeMap<String, Vec<String>> = BTreeMap::new();
    match project.litestream_config(env, Generate::default()) {
        Ok(config) => collect_references(&TomlValue::Table(config), "", &mut references),
        Err(error) => {
            checks.push(Check::new("environment", "configuration", Status::Fail, error.to_string()))
        }
    }
    for (name, keys) in &references {
        if name == "PID" {
            continue; // Litestream's own: its process ID
        }
        let used_by = keys.join(", ");
        if env.non_empty(name).is_some() {
            checks.push(Check::new("environment", name, Status::Pass, format!("set (used by {used_by})")));
            continue;
        }
        let fallback = keys.iter().find_map(|key| {
            AWS_FALLBACK.iter().find(|(k, _)| key.rsplit('.').next() == Some(*k)).map(|(_, var)| *var)
        });
        let check = match fallback {
            Some(var) if env.non_empty(var).is_some() => Check::new(
                "environment",
                name,
                Status::Pass,
                format!("not set; litestream uses {var}, which is (used by {used_by})"),
            ),
            Some(var) => Check::new(
                "environment",
                name,
                Status::Warn,
                format!("not set, nor {var} (used by {used_by}): litestream falls back to the AWS credential chain (profile, instance role)"),
            )
            .fix(format!("set {name} where litestream runs, unless the machine has an IAM role")),
            None => Check::new("environment", name, Status::Fail, format!("not set (used by {used_by}): litestream reads it as empty"))
                .fix(format!("set {name} in the environment litestream runs in (e.g. the service's EnvironmentFile)")),
        };
        checks.push(check);
    }

    // Left out of litestream's environment by `Litestream::command` (litestream 0.5.17 fails
    // every S3 call with it): say so, as that is a change to the user's environment.
    for name in Litestream::removed_variables(env) {
        checks.push(Check::new(
            "environment",
            name,
            Status::Info,
            "set: cargo-litestream leaves it out of litestream's environment (litestream 0.5.17 fails every S3 call \
             with it, \"unable to add custom RootCAs HTTPClient\"; it verifies against the system roots instead); an \
             application opening replicas through the VFS in its own process must unset it itself",
        ));
    }

    let mut literal = Vec::new();
    collect_literal_secrets(&TomlValue::Table(project.globals.clone()), "", &mut literal);
    for db in &project.databases {
        collect_literal_secrets(
            &TomlValue::Table(db.replica.clone()),
            &format!("{}.replica", db.name()),
            &mut literal,
        );
    }
    if literal.is_empty() {
        checks.push(Check::new(
            "environment",
            "credentials",
            Status::Pass,
            "no credential is written literally in Cargo.toml",
        ));
    }
    for key in literal {
        checks.push(
            Check::new(
                "environment",
                "credentials",
                Status::Warn,
                format!("`{key}` is written literally in {} (and in its git history)", project.manifest_path.display()),
            )
            .fix("replace the value with a $VARIABLE reference, set that variable where litestream runs, and rotate the credential"),
        );
    }
}

fn collect_references(value: &TomlValue, key: &str, out: &mut BTreeMap<String, Vec<String>>) {
    match value {
        TomlValue::String(text) => {
            for name in references(text) {
                let keys = out.entry(name).or_default();
                if !keys.contains(&key.to_owned()) {
                    keys.push(key.to_owned());
                }
            }
        }
        TomlValue::Array(items) => {
            for item in items {
                collect_references(item, key, out);
            }
        }
        TomlValue::Table(table) => {
            for (k, v) in table {
                // `dbs` entries are named by their path, not their index.
                let name = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
                collect_references(v, &name, out);
            }
        }
        _ => {}
    }
}

/// The variable names `text` references as Litestream expands them (`$NAME`, `${NAME}`).
fn references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let name = if let Some(braced) = rest.strip_prefix('{') {
            braced.split_once('}').map(|(name, _)| name).unwrap_or("")
        } else {
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        };
        if !name.is_empty() && is_env_reference(&format!("${name}")) {
            names.push(name.to_owned());
        }
    }
    names
}

fn collect_literal_secrets(value: &TomlValue, key: &str, out: &mut Vec<String>) {
    let TomlValue::Table(table) = value else { return };
    for (k, v) in table {
        let path = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
        match v {
            TomlValue::String(text)
                if SECRET_KEYS.contains(&k.as_str()) && !text.is_empty() && references(text).is_empty() =>
            {
                out.push(path)
            }
            TomlValue::String(text)
                if redact_url_password(text) != *text && text.contains("://") && !text.contains('$') =>
            {
                out.push(format!("{path} (a password in the URL)"));
            }
            TomlValue::Table(_) => collect_literal_secrets(v, &path, out),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replicas

fn replicas(
    project: &Project,
    env: &Env,
    litestream: Option<&Litestream>,
    timeout: Duration,
    checks: &mut Vec<Check>,
) {
    let config = project.config_path();
    if litestream.is_some()
        && let Err(error) = project.write_config(&config, env, Generate::default())
    {
        checks.push(Check::new("replica", "", Status::Fail, error.to_string()));
        return;
    }
    let results = bounded_map(&project.databases, PARALLEL_CHECKS, |db| {
        // Listed by litestream when there is one to run; probed for writes either way.
        let listed = litestream
            .zip(db.path())
            .map(|(litestream, path)| replica_check(&db.name(), path, &config, env, litestream, timeout));
        // An unreachable replica is said once, by its listing.
        let reachable = listed.as_ref().is_none_or(|check| check.status != Status::Fail);
        let writable = reachable.then(|| writable::check(db, &project.globals, env, timeout)).flatten();
        listed.into_iter().chain(writable).collect::<Vec<Check>>()
    });
    for result in results {
        match result {
            Some(found) => checks.extend(found),
            None => checks.push(Check::new("replica", "", Status::Fail, "the check panicked")),
        }
    }
}

/// How many replicas doctor lists at once: each is a `litestream ltx` process, and a project
/// may have thousands of databases.
const PARALLEL_CHECKS: usize = 8;

/// `f` over `items` on at most `workers` threads, results in the items' order (`None` where `f`
/// panicked).
fn bounded_map<T: Sync, R: Send>(items: &[T], workers: usize, f: impl Fn(&T) -> R + Sync) -> Vec<Option<R>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<R>>> =
        items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(items.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item))).ok();
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = result;
                    }
                }
            });
        }
    });
    results.into_iter().map(|slot| slot.into_inner().ok().flatten()).collect()
}

fn replica_check(
    name: &str,
    path: &Path,
    config: &Path,
    env: &Env,
    litestream: &Litestream,
    timeout: Duration,
) -> Check {
    let mut command = litestream.command(env);
    command.arg("ltx").arg("-config").arg(config).args(["-level", "all", "-json"]).arg(path);
    match output_within(&mut command, None, timeout) {
        Ok(done) if done.status.success() => match crate::backups::parse_listing(&done.stdout) {
            Err(error) => Check::new("replica", name, Status::Fail, error.to_string())
                .fix("report it: litestream's listing is not what cargo-litestream reads"),
            Ok(files) => match files.iter().max_by_key(|f| f.max_txid) {
                Some(newest) => Check::new(
                    "replica",
                    name,
                    Status::Pass,
                    format!(
                        "reachable: {} LTX files, newest TXID {} written {}",
                        files.len(),
                        crate::json::txid(newest.max_txid),
                        newest.created
                    ),
                ),
                None => Check::new("replica", name, Status::Warn, "reachable, but it holds no backup yet")
                    .fix("start `cargo litestream replicate` (the first sync writes a snapshot)"),
            },
        },
        Ok(done) => {
            let error = last_error_line(&done.stderr);
            // The AWS SDK's chain ends at the instance metadata service: its error hides that no
            // credentials were found anywhere before it.
            let fix = if ["IMDS", "ec2imds", "no EC2 IMDS role", "failed to refresh cached credentials"]
                .iter()
                .any(|needle| error.contains(needle))
            {
                "no S3 credentials were found: set the replica's `access-key-id` and `secret-access-key` (best as \
                 \"$VAR\" references), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials) for \
                 litestream; the instance metadata service is only the last resort, on EC2/ECS"
            } else {
                "check the replica's address, bucket and credentials (`cargo litestream config` shows what litestream gets)"
            };
            Check::new("replica", name, Status::Fail, format!("cannot be listed: {error}")).fix(fix)
        }
        Err(BoundedError::TimedOut(after)) => Check::new(
            "replica",
            name,
            Status::Fail,
            format!("did not answer within {} s", after.as_secs()),
        )
        .fix("check that the endpoint is reachable from this machine (firewall, DNS, endpoint URL); raise --timeout for a slow one"),
        Err(error) => Check::new("replica", name, Status::Fail, error.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Daemon

/// Whether the running daemon can ship `path` now: a sync until the replica has it (the request
/// that keeps Litestream's read lock: `control::sync`). A replica that is read-only or full
/// makes Litestream log an ERROR and nothing else; this turns it into a failure.
fn shipping(socket: &Path, path: &Path, db: &cargo_litestream_config::Database, timeout: Duration) -> Check {
    match control::sync_wait(socket, path, timeout) {
        Ok(reply) => Check::new(
            "daemon",
            db.name(),
            Status::Pass,
            format!(
                "replicated by the running daemon; the replica has TXID {} (synced now)",
                crate::json::txid(reply.replica_txid)
            ),
        ),
        Err(ControlError::Refused { message, .. }) if message.contains("no position") => {
            Check::new("daemon", db.name(), Status::Pass, "replicated by the running daemon (nothing written yet)")
        }
        Err(error) => Check::new(
            "daemon",
            db.name(),
            Status::Fail,
            format!("the running daemon cannot ship it to the replica: {error}"),
        )
        .fix("make the replica writable and give it space (see the replicate log for litestream's ERROR lines)"),
    }
}

fn daemon(project: &Project, env: &Env, timeout: Duration, checks: &mut Vec<Check>) {
    if !project.socket_enabled() {
        checks.push(
            Check::new(
                "daemon",
                "socket",
                Status::Warn,
                "the control socket is disabled (socket.enabled = false)",
            )
            .fix("remove that setting: `sync`, `verify`, `doctor` and `replicate -exec` need it"),
        );
        return;
    }
    let socket = project.socket_path(env);
    if socket.as_os_str().len() > if cfg!(target_os = "linux") { 107 } else { 103 } {
        checks.push(
            Check::new(
                "daemon",
                "socket",
                Status::Fail,
                format!("{} is longer than the OS allows: litestream runs without it", socket.display()),
            )
            .fix("choose a shorter socket.path"),
        );
        return;
    }
    match control::info(&socket, timeout) {
        Ok(info) => {
            checks.push(Check::new(
                "daemon",
                "replicate",
                Status::Pass,
                format!(
                    "running: litestream {} (process {}, up {} s) answers on {}",
                    info.version,
                    info.pid,
                    info.uptime_seconds.round(),
                    socket.display()
                ),
            ));
            match control::list(&socket, timeout) {
                Ok(listed) => {
                    for db in &project.databases {
                        let Some(path) = db.path() else { continue };
                        let entry = listed.iter().find(|l| l.path == path);
                        checks.push(match entry.map(|l| l.status.as_str()) {
                            Some("replicating") | Some("open") if path.is_file() => {
                                shipping(&socket, path, db, timeout)
                            }
                            Some("replicating") | Some("open") => Check::new(
                                "daemon",
                                db.name(),
                                Status::Pass,
                                "replicated by the running daemon (no file yet)",
                            ),
                            Some(status) => Check::new(
                                "daemon",
                                db.name(),
                                Status::Fail,
                                format!("{status} in the running daemon"),
                            )
                            .fix(format!("`cargo litestream start {}`", db.name())),
                            None => Check::new(
                                "daemon",
                                db.name(),
                                Status::Fail,
                                "not replicated by the running daemon (started with another configuration?)",
                            )
                            .fix("restart `cargo litestream replicate`"),
                        });
                    }
                }
                Err(error) => checks.push(Check::new(
                    "daemon",
                    "replicate",
                    Status::Fail,
                    format!("cannot list its databases: {error}"),
                )),
            }
        }
        Err(ControlError::NotRunning { .. }) => {
            let holder = project
                .databases
                .iter()
                .filter_map(|db| match &db.location {
                    Location::File(p) | Location::Dir(p) => cargo_litestream_runner::lock::replicator(p),
                })
                .next();
            let stale =
                if socket.exists() { " (the socket file is left from a daemon that died)" } else { "" };
            checks.push(match holder {
                Some(holder) => Check::new(
                    "daemon",
                    "replicate",
                    Status::Warn,
                    format!(
                        "a replicator{} holds the replicate lock, but nothing answers on {}{stale}",
                        holder.pid().map(|pid| format!(" (process {pid})")).unwrap_or_default(),
                        socket.display()
                    ),
                )
                .fix("it was started with another configuration or socket; `sync`, `verify` and `doctor` cannot reach it"),
                None => Check::new("daemon", "replicate", Status::Warn, format!("not running: nothing answers on {}{stale}", socket.display()))
                    .fix("start `cargo litestream replicate` (or the service that runs it)"),
            });
        }
        Err(error) => checks.push(
            Check::new(
                "daemon",
                "replicate",
                Status::Fail,
                format!("the daemon on {} does not answer properly: {error}", socket.display()),
            )
            .fix("see its log; it may be stuck shipping to an unreachable replica"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_map_keeps_order_and_bounds_the_threads() {
        let running = std::sync::atomic::AtomicUsize::new(0);
        let most = std::sync::atomic::AtomicUsize::new(0);
        let items: Vec<usize> = (0..50).collect();
        let out = bounded_map(&items, 4, |&i| {
            let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(2));
            running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| Some(i * 2)).collect::<Vec<_>>());
        assert!(most.load(std::sync::atomic::Ordering::SeqCst) <= 4);
        assert!(bounded_map(&[1], 4, |_: &i32| -> i32 { panic!("no") })[0].is_none());
    }

    #[test]
    fn variable_references() {
        assert_eq!(references("$A/${B_1}/$$/x$"), ["A", "B_1"]);
        assert_eq!(references("no vars"), Vec::<String>::new());
        assert_eq!(references("${1}"), Vec::<String>::new());
    }

    #[test]
    fn worst_status_decides() {
        let check = |status| Check::new("database", "x", status, "m");
        assert_eq!(worst(&[check(Status::Pass), check(Status::Warn)]), Status::Warn);
        assert_eq!(worst(&[check(Status::Info), check(Status::Fail)]), Status::Fail);
        assert_eq!(worst(&[]), Status::Pass);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn filesystems_and_mountinfo_escapes() {
        assert!(matches!(filesystem(Path::new("/")), Filesystem::Local(_)));
        assert!(matches!(filesystem(Path::new("/nonexistent/x")), Filesystem::Unknown(_)));
        assert_eq!(unescape_mount(r"/mnt/my\040disk"), PathBuf::from("/mnt/my disk"));
    }
}
