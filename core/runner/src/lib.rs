//! Finding the litestream binary and running it.
//!
//! Lookup order: `bin-path` in the configuration, `CARGO_LITESTREAM_BIN` (the user's own
//! binary, used as is), then the verified managed binary of `cargo-litestream-release-cli`:
//! the cache, a `litestream` on `PATH` whose sha256 equals the pin (adopted into the cache),
//! or a download checked against the pin.
//!
//! Passthrough commands *exec* litestream on Unix: the process becomes litestream, so signals
//! reach it directly, nothing is left orphaned when a supervisor sends SIGTERM, and the exit
//! code is litestream's own. Elsewhere the child is waited for and its code returned.

pub mod lock;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use cargo_litestream_config::{Env, Project};
use cargo_litestream_fetch::{Fetcher, Provenance};
use cargo_litestream_release_cli::{ReleaseError, Request};
use cargo_litestream_shell::Shell;

/// Variables litestream 0.5.17 (and its VFS extension) cannot run with, removed from their
/// environment: with `AWS_CA_BUNDLE` set, every S3 call fails ("unable to add custom RootCAs
/// HTTPClient"), whatever the bundle holds. Its S3 client verifies against the system roots
/// without it.
pub const UNUSABLE_BY_LITESTREAM: &[&str] = &["AWS_CA_BUNDLE"];
/// Where the binary came from (for `doctor` and `-v` output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BinarySource {
    /// `bin-path` in the project's configuration.
    ConfigBinPath,
    /// `CARGO_LITESTREAM_BIN`.
    EnvVar,
    /// The verified managed binary, already in the cache.
    Cache,
    /// A `litestream` on `PATH` whose sha256 equals the pin, copied into the cache.
    Adopted,
    /// Downloaded (and verified) on this run.
    Downloaded,
}

impl std::fmt::Display for BinarySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BinarySource::ConfigBinPath => "bin-path",
            BinarySource::EnvVar => "CARGO_LITESTREAM_BIN",
            BinarySource::Cache => "the verified cache",
            BinarySource::Adopted => "PATH, adopted into the verified cache",
            BinarySource::Downloaded => "a verified download",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("bin-path `{}` (from {}) does not exist; fix the path or remove bin-path to use the managed binary", path.display(), manifest.display())]
    BinPathMissing { path: PathBuf, manifest: PathBuf },

    #[error("bin-path `{name}` (from {}) is not on PATH; install it, give its full path, or remove bin-path to use the managed, pinned binary", manifest.display())]
    BinPathNotOnPath { name: String, manifest: PathBuf },

    #[error("CARGO_LITESTREAM_BIN=`{}` does not exist; fix or unset it", path.display())]
    EnvBinMissing { path: PathBuf },

    #[error(transparent)]
    Managed(#[from] ReleaseError),

    #[error("could not run `{}`: {source}", path.display())]
    Spawn { path: PathBuf, source: std::io::Error },
}

/// A litestream binary ready to run.
#[derive(Clone, Debug)]
pub struct Litestream {
    pub path: PathBuf,
    pub source: BinarySource,
}

impl Litestream {
    /// Finds the binary: the user's own (see [`Litestream::user_binary`]), else the verified
    /// managed one (cache → pinned `litestream` on `PATH` → download).
    pub fn locate(project: Option<&Project>, fetcher: &Fetcher<'_>) -> Result<Litestream, RunnerError> {
        if let Some(litestream) = Litestream::user_binary(project, fetcher.env)? {
            return Ok(litestream);
        }
        let request = Request::for_project(project, None, None);
        let installed = cargo_litestream_release_cli::ensure(fetcher, &request)?;
        let source = match installed.provenance {
            Provenance::Cached => BinarySource::Cache,
            Provenance::Adopted(_) => BinarySource::Adopted,
            Provenance::Downloaded(_) => BinarySource::Downloaded,
        };
        Ok(Litestream { path: installed.path, source })
    }

    /// Which setting names the user's own binary, if any: `bin-path` in the config, else
    /// `CARGO_LITESTREAM_BIN` (the precedence [`Litestream::user_binary`] follows).
    pub fn user_binary_source(project: Option<&Project>, env: &Env) -> Option<BinarySource> {
        if project.is_some_and(|p| p.bin_path.is_some()) {
            Some(BinarySource::ConfigBinPath)
        } else if env.non_empty("CARGO_LITESTREAM_BIN").is_some() {
            Some(BinarySource::EnvVar)
        } else {
            None
        }
    }

    /// The user's own binary, used as is: `bin-path` in the config, else `CARGO_LITESTREAM_BIN`.
    pub fn user_binary(project: Option<&Project>, env: &Env) -> Result<Option<Litestream>, RunnerError> {
        let source = Litestream::user_binary_source(project, env);
        if let (Some(BinarySource::ConfigBinPath), Some(project)) = (&source, project)
            && let Some(path) = &project.bin_path
        {
            if path.is_relative() && path.components().count() == 1 {
                let name = path.to_string_lossy();
                let found = find_on_path(env, &name).ok_or_else(|| RunnerError::BinPathNotOnPath {
                    name: name.clone().into_owned(),
                    manifest: project.manifest_path.clone(),
                })?;
                return Ok(Some(Litestream { path: found, source: BinarySource::ConfigBinPath }));
            }
            if !path.is_file() {
                return Err(RunnerError::BinPathMissing {
                    path: path.clone(),
                    manifest: project.manifest_path.clone(),
                });
            }
            return Ok(Some(Litestream { path: path.clone(), source: BinarySource::ConfigBinPath }));
        }
        if source == Some(BinarySource::EnvVar)
            && let Some(path) = env.non_empty("CARGO_LITESTREAM_BIN")
        {
            let path = env.absolute(Path::new(path));
            if !path.is_file() {
                return Err(RunnerError::EnvBinMissing { path });
            }
            return Ok(Some(Litestream { path, source: BinarySource::EnvVar }));
        }
        Ok(None)
    }

    /// A `Command` for this binary with its folder first on `PATH`: Litestream's MCP tools
    /// run `litestream` from `PATH`, and must find this one.
    pub fn command(&self, env: &Env) -> Command {
        let mut command = Command::new(&self.path);
        command.env_clear().envs(env.vars());
        for name in UNUSABLE_BY_LITESTREAM {
            command.env_remove(name);
        }
        if let Some(path) = self.path_with_binary_first(env) {
            command.env("PATH", path);
        }
        command
    }

    /// The variables [`command`](Self::command) leaves out that `env` has, for the one note
    /// that says so.
    pub fn removed_variables(env: &Env) -> Vec<&'static str> {
        UNUSABLE_BY_LITESTREAM.iter().copied().filter(|name| env.get_os(name).is_some()).collect()
    }

    fn path_with_binary_first(&self, env: &Env) -> Option<OsString> {
        let dir = self.path.parent()?;
        let rest =
            env.get_os("PATH").map(|p| std::env::split_paths(p).collect::<Vec<_>>()).unwrap_or_default();
        let paths = std::iter::once(dir.to_path_buf()).chain(rest.into_iter().filter(|p| p != dir));
        std::env::join_paths(paths).ok()
    }

    /// Hands the process over to litestream (Unix `exec`) and, where that is impossible,
    /// runs it and returns its exit code.
    pub fn exec(&self, args: &[OsString], env: &Env, shell: &Shell) -> Result<u8, RunnerError> {
        shell.verbose("Running", display_command(&self.path, args));
        let mut command = self.command(env);
        command.args(args);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // `exec` only returns on failure.
            let source = command.exec();
            Err(RunnerError::Spawn { path: self.path.clone(), source })
        }
        #[cfg(not(unix))]
        {
            let status =
                command.status().map_err(|source| RunnerError::Spawn { path: self.path.clone(), source })?;
            Ok(exit_code(status))
        }
    }
}

/// The exit code a shell would report: the child's code, or 128 + the signal that killed it.
pub fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(1);
        }
    }
    1
}

/// The first executable `name` on `PATH`.
fn find_on_path(env: &Env, name: &str) -> Option<PathBuf> {
    let path = env.get_os("PATH")?;
    std::env::split_paths(path).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// `litestream restore -config /p/litestream.yml app.db`, quoted where needed and URL passwords
/// redacted, for `-v` output.
pub fn display_command(program: &Path, args: &[OsString]) -> String {
    std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(word: &OsStr) -> String {
    // A replica URL typed with its password is shown without it (`-v` output ends up in logs).
    let text = cargo_litestream_config::redact_url_password(&word.to_string_lossy());
    let plain =
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain { text } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_for_display() {
        let args: Vec<OsString> = vec!["restore".into(), "-o".into(), "my db.sqlite".into()];
        assert_eq!(
            display_command(Path::new("/bin/litestream"), &args),
            "/bin/litestream restore -o 'my db.sqlite'"
        );
    }

    #[cfg(unix)]
    #[test]
    fn exit_codes_follow_the_shell() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(exit_code(ExitStatus::from_raw(15)), 143);
    }

    #[test]
    fn path_lookup_order() {
        let env = Env::empty("/");
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("litestream");
        std::fs::write(&bin, "").unwrap();
        let missing = Env::empty("/").with("CARGO_LITESTREAM_BIN", dir.path().join("nope"));
        assert!(matches!(Litestream::user_binary(None, &missing), Err(RunnerError::EnvBinMissing { .. })));
        let set = env.clone().with("CARGO_LITESTREAM_BIN", &bin);
        let shell = Shell::quiet();
        let fetcher = Fetcher::new(&set, &shell, true);
        assert_eq!(Litestream::locate(None, &fetcher).unwrap().source, BinarySource::EnvVar);
        // Neither: the managed binary, which offline and with an empty cache is an error
        // saying how to fill the cache.
        let cache = tempfile::tempdir().unwrap();
        let none = env.with("CARGO_LITESTREAM_CACHE_DIR", cache.path()).with("PATH", "/nonexistent");
        assert!(Litestream::user_binary(None, &none).unwrap().is_none());
        let fetcher = Fetcher::new(&none, &shell, true);
        let error = Litestream::locate(None, &fetcher).unwrap_err().to_string();
        assert!(error.contains("--offline") && error.contains("CARGO_LITESTREAM_BIN"), "{error}");
    }
}
