//! The binary checks: the litestream commands would run, re-hashed and compared with its pin
//! (the cache only: doctor never downloads or adopts), and `litestream version`.

use std::time::Duration;

use cargo_litestream_config::{Env, Project};
use cargo_litestream_fetch::{CacheState, Fetcher, HOST_TARGET, Trust, sha256_file};
use cargo_litestream_runner::{BinarySource, Litestream};

use super::{Check, Status};
use crate::process::{last_error_line, output_within};

/// The binary commands run, when it can run (the replica listing needs it).
pub(super) fn check(project: &Project, env: &Env, checks: &mut Vec<Check>) -> Option<Litestream> {
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
