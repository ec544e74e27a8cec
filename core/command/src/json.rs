//! `--json` on cargo-litestream's own commands: the contract is [`cargo_litestream_api::json`]
//! (README.md, "JSON output"); this is how a command prints it, and how the dispatcher learns
//! that the command's errors must be JSON too ([`Ctx::json`]).

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context as _;
use clap::ArgMatches;
use serde::Serialize;

pub use cargo_litestream_api::json::{serialize_optional_txid, serialize_txid, txid};

use crate::Ctx;

/// The schema version errors are printed with, once the command said `--json` was given; 0
/// (no schema has it) until then. Process-wide rather than in [`Ctx`] because the panic hook,
/// which has no `Ctx`, reports a bug as JSON too. One command runs per process.
static ERROR_VERSION: AtomicU32 = AtomicU32::new(0);

fn error_version() -> Option<u32> {
    Some(ERROR_VERSION.load(Ordering::Relaxed)).filter(|&version| version != 0)
}

/// Prints `message` as the JSON error document on stdout when the command runs with `--json`;
/// false when it does not, or when stdout cannot take it (the caller then prints it on stderr,
/// so the cause is never lost).
pub(crate) fn print_error(message: &str) -> bool {
    let Some(version) = error_version() else { return false };
    let mut stdout = std::io::stdout().lock();
    cargo_litestream_api::json::write_error(&mut stdout, version, message)
        .and_then(|()| stdout.flush())
        .is_ok()
}

/// A run with `--json`: prints documents of one schema version.
#[derive(Clone, Copy, Debug)]
pub struct Json {
    pub version: u32,
}

impl Json {
    /// Prints `{"version": …, …body}` on stdout; `body` serializes as an object.
    pub fn print(self, body: &(impl Serialize + ?Sized)) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        self.write(&mut stdout, body)?;
        stdout.flush().context("could not write to stdout")
    }

    /// [`print`](Json::print) into `out` (e.g. a buffered stdout).
    pub fn write(self, out: &mut impl Write, body: &(impl Serialize + ?Sized)) -> anyhow::Result<()> {
        cargo_litestream_api::json::write(out, self.version, body).context("could not write to stdout")
    }
}

impl Ctx {
    /// Whether `--json` was given to a command whose own JSON has schema `version`. When it was,
    /// every error the command returns from here on (a broken Cargo.toml, an unknown database)
    /// is printed by the dispatcher as `{"version": version, "error": "…"}` on stdout, so a
    /// monitor reading stdout always gets a document. Call it before anything can fail.
    pub fn json(&self, matches: &ArgMatches, version: u32) -> Option<Json> {
        // `try_get_one`: a command without a `json` switch is a command without `--json`, not a panic.
        let given = matches.try_get_one::<bool>("json").ok().flatten().copied().unwrap_or(false);
        self.json_if(given, version)
    }

    /// [`Ctx::json`] for a command that says JSON its own way (`check --format json`).
    pub fn json_if(&self, given: bool, version: u32) -> Option<Json> {
        given.then(|| {
            ERROR_VERSION.store(version, Ordering::Relaxed);
            Json { version }
        })
    }

    /// Prints an error that ends the command, once: as the JSON error document on stdout after
    /// [`Ctx::json`] said `--json` was given (nothing on stderr: a monitor logs stderr and parses
    /// stdout, and would otherwise see each cause twice), else as one `error:` line on stderr.
    pub fn report_error(&self, error: &anyhow::Error) {
        let message = crate::one_line(error);
        if !print_error(&message) {
            self.shell.error(message);
        }
    }
}
