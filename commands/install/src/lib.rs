//! `cargo litestream install`: makes sure the verified litestream binary is in the cache and
//! prints its path on stdout (`--to DIR` copies it there, e.g. into a Docker image layer).
//!
//! Every other command does the same on first use; this one exists for CI caches, container
//! builds and air-gapped machines, and to re-hash a cached binary (`--verify`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_fetch::copy_to;

/// The schema version of `install --json` (README.md, "JSON output").
const JSON_VERSION: u32 = 1;

fn cli() -> Command {
    Command::new("install")
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
            Arg::new("vfs")
                .long("vfs")
                .action(ArgAction::SetTrue)
                .help("Also install the Litestream VFS extension (as `vfs-install` does)"),
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
        .after_help(
            "Prints the path of the verified binary on stdout (then the extension's, with --vfs).\n\
             Sources, in order: the cache, a litestream on PATH whose sha256 equals the pin, a download \
             (CARGO_LITESTREAM_MIRROR replaces GitHub; --offline forbids it).",
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json = ctx.json(matches, JSON_VERSION);
    let project = ctx.project_if_any()?;
    let mut request = cargo_litestream_release_cli::Request::for_project(
        project,
        matches.get_one::<String>("version").map(String::as_str),
        matches.get_one::<String>("target").map(String::as_str),
    );
    request.allow_unpinned = matches.get_flag("allow-unpinned");
    let fetcher = ctx.fetcher().verify(matches.get_flag("verify"));
    let binary = cargo_litestream_release_cli::ensure(&fetcher, &request)?;
    let mut installed = vec![binary];
    if matches.get_flag("vfs") {
        let request = cargo_litestream_release_vfs::Request {
            version: request.version,
            target: request.target,
            allow_unpinned: request.allow_unpinned,
        };
        installed.push(cargo_litestream_release_vfs::ensure(&fetcher, &request)?);
    }

    if let Some(user) = cargo_litestream_runner::Litestream::user_binary_source(project, &ctx.env) {
        ctx.shell.note(format!("{user} is set: other commands run that binary, not the one installed here"));
    }
    let mut stdout = std::io::stdout().lock();
    let mut report = Vec::new();
    for (index, file) in installed.iter().enumerate() {
        let shown = match matches.get_one::<PathBuf>("to") {
            Some(dir) => copy(ctx, &file.path, &ctx.env.absolute(dir), index == 0)?,
            None => file.path.clone(),
        };
        if json.is_some() {
            report.push(serde_json::json!({
                "artifact": file.receipt.artifact,
                "version": file.receipt.version,
                "target": file.receipt.target,
                "path": shown,
                "cache_path": file.path,
                "sha256": file.receipt.sha256,
                "size": file.receipt.size,
                "verified_by": file.receipt.verified_by,
                "source": cargo_litestream_config::redact_url_password(&file.receipt.source),
            }));
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

fn copy(ctx: &Ctx, path: &Path, dir: &Path, executable: bool) -> anyhow::Result<PathBuf> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let copied = copy_to(path, dir, &name, executable)?;
    ctx.shell.status("Copied", format!("{} to {}", path.display(), copied.display()));
    Ok(copied)
}

register_command!(CommandSpec {
    name: "install",
    about: "Install the verified litestream binary (sha256-pinned) into the cache and print its path",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
