//! `install` and `vfs-install`, written once: the flags both take ([`args`]) and the run
//! ([`run`]): which release (the project's `version`, else 0.5.17, for `--target`, else this
//! machine), the verified files through the fetcher, the `--to DIR` copies, and the paths on
//! stdout or the `--json` report (README.md, "JSON output": one schema for both commands).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cargo_litestream_fetch::{Installed, copy_to};
use cargo_litestream_runner::Litestream;
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

use crate::Ctx;

/// The schema version of `install --json` and `vfs-install --json`.
pub const JSON_VERSION: u32 = 1;

/// A file `install` can put in the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Artifact {
    /// The litestream command-line binary (`cargo_litestream_release_cli`).
    Litestream,
    /// The Litestream VFS extension, a SQLite loadable extension (`cargo_litestream_release_vfs`).
    Vfs,
}

/// `command` with the flags `install` and `vfs-install` share; each adds its own after these.
pub fn args(command: Command) -> Command {
    command
        .arg(
            Arg::new("version")
                .long("version")
                .value_name("VERSION")
                .help("Litestream version (default: `version` in the configuration, else 0.5.17)"),
        )
        .arg(
            Arg::new("target")
                .long("target")
                .value_name("TRIPLE")
                .help("Platform to fetch for, e.g. x86_64-unknown-linux-gnu (default: this machine's)"),
        )
        .arg(
            Arg::new("to")
                .long("to")
                .value_name("DIR")
                .value_parser(value_parser!(PathBuf))
                .help("Also copy the verified file(s) into DIR and print those paths"),
        )
        .arg(
            Arg::new("verify")
                .long("verify")
                .action(ArgAction::SetTrue)
                .help("Re-hash cached files fully (normally only their size and receipt are checked)"),
        )
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help(
            "Print what was installed as JSON (path, sha256, what it was verified by, where it came from)",
        ))
        .arg(Arg::new("allow-unpinned").long("allow-unpinned").action(ArgAction::SetTrue).help(
            "Accept a version cargo-litestream has no pin for, checked only against upstream's checksums",
        ))
}

/// Makes sure each of `artifacts` is verified in the cache (in that order), copies them with
/// `--to`, and prints their paths on stdout, or the `--json` report.
pub fn run(matches: &ArgMatches, ctx: &Ctx, artifacts: &[Artifact]) -> anyhow::Result<u8> {
    let json = ctx.json(matches, JSON_VERSION);
    let project = ctx.project_if_any()?;
    let version = matches.get_one::<String>("version").map(String::as_str);
    let target = matches.get_one::<String>("target").map(String::as_str);
    let allow_unpinned = matches.get_flag("allow-unpinned");
    let fetcher = ctx.fetcher().verify(matches.get_flag("verify"));

    let mut installed = Vec::with_capacity(artifacts.len());
    for &artifact in artifacts {
        let file = match artifact {
            Artifact::Litestream => {
                let mut request =
                    cargo_litestream_release_cli::Request::for_project(project, version, target);
                request.allow_unpinned = allow_unpinned;
                cargo_litestream_release_cli::ensure(&fetcher, &request)?
            }
            Artifact::Vfs => {
                let mut request =
                    cargo_litestream_release_vfs::Request::for_project(project, version, target);
                request.allow_unpinned = allow_unpinned;
                let file = cargo_litestream_release_vfs::ensure(&fetcher, &request)?;
                ctx.shell.verbose("Entry point", cargo_litestream_release_vfs::ENTRY_POINT);
                file
            }
        };
        installed.push((artifact, file));
    }

    // The extension is loaded from where it is installed; only the binary has an override.
    if artifacts.contains(&Artifact::Litestream)
        && let Some(user) = Litestream::user_binary_source(project, &ctx.env)
    {
        ctx.shell.note(format!("{user} is set: other commands run that binary, not the one installed here"));
    }

    let mut stdout = std::io::stdout().lock();
    let mut report = Vec::with_capacity(installed.len());
    for (artifact, file) in &installed {
        let shown = match matches.get_one::<PathBuf>("to") {
            Some(dir) => copy(ctx, &file.path, &ctx.env.absolute(dir), *artifact == Artifact::Litestream)?,
            None => file.path.clone(),
        };
        if json.is_some() {
            report.push(entry(file, &shown));
        } else {
            writeln!(stdout, "{}", shown.display()).context("could not write to stdout")?;
        }
    }
    if let Some(json) = json {
        json.write(&mut stdout, &serde_json::json!({ "installed": report }))?;
    }
    stdout.flush().context("could not write to stdout")?;
    Ok(0)
}

/// One file's entry in the `--json` report; `shown` is the path printed without `--json`.
fn entry(file: &Installed, shown: &Path) -> serde_json::Value {
    serde_json::json!({
        "artifact": file.receipt.artifact,
        "version": file.receipt.version,
        "target": file.receipt.target,
        "path": shown,
        "cache_path": file.path,
        "sha256": file.receipt.sha256,
        "size": file.receipt.size,
        "verified_by": file.receipt.verified_by,
        "source": cargo_litestream_config::redact_url_password(&file.receipt.source),
    })
}

/// `--to DIR`: a copy of the cached file under its own name, said with a `Copied` status line.
fn copy(ctx: &Ctx, path: &Path, dir: &Path, executable: bool) -> anyhow::Result<PathBuf> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let copied = copy_to(path, dir, &name, executable)?;
    ctx.shell.status("Copied", format!("{} to {}", path.display(), copied.display()));
    Ok(copied)
}
