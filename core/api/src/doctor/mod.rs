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
//! One file per concern: `database` (files, WAL), `filesystem` (what a path is
//! stored on), `binary` (the binary and its pin), `environment` (variables and literal
//! secrets), `replica` (listing and writability, on the bounded pool of `pool`), `daemon`.
//!
//! Statuses: [`Status::Pass`], [`Status::Info`] (advice), [`Status::Warn`] (worth a look, does not
//! fail) and [`Status::Fail`]; `cargo litestream doctor` exits non-zero on any failure.

use std::time::Duration;

use cargo_litestream_config::{Env, Project};
use serde::Serialize;

mod binary;
mod daemon;
mod database;
mod environment;
mod filesystem;
mod pool;
mod replica;
mod writable;

pub use filesystem::{Filesystem, filesystem};

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
    let mut checks = database::checks(project);
    let litestream = binary::check(project, env, &mut checks);
    environment::check(project, env, &mut checks);
    replica::check(project, env, litestream.as_ref(), options.timeout, &mut checks);
    daemon::check(project, env, options.timeout, &mut checks);
    checks
}

/// The worst status of `checks` (a pass when empty).
pub fn worst(checks: &[Check]) -> Status {
    checks.iter().map(|c| c.status).max().unwrap_or(Status::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_status_decides() {
        let check = |status| Check::new("database", "x", status, "m");
        assert_eq!(worst(&[check(Status::Pass), check(Status::Warn)]), Status::Warn);
        assert_eq!(worst(&[check(Status::Info), check(Status::Fail)]), Status::Fail);
        assert_eq!(worst(&[]), Status::Pass);
    }
}
