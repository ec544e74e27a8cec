//! `cargo litestream vfs-install`: makes sure the verified Litestream VFS extension is in the
//! cache and prints its path on stdout (`--to DIR` copies it there).
//!
//! It is installed as `litestream-vfs.so` (`.dylib` on macOS), so SQLite derives the right
//! entry point, `sqlite3_litestreamvfs_init`, from the name; the release tarball's
//! `litestream.so` would make SQLite look for `sqlite3_litestream_init`, which does not exist.

use std::io::Write as _;
use std::path::PathBuf;

use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_config::DEFAULT_LITESTREAM_VERSION;
use cargo_litestream_fetch::{HOST_TARGET, copy_to};
use cargo_litestream_release_vfs::{ENTRY_POINT, Request};

fn cli() -> Command {
    Command::new("vfs-install")
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
                .help("Platform to fetch for, e.g. aarch64-apple-darwin (default: this machine's)"),
        )
        .arg(
            Arg::new("to")
                .long("to")
                .value_name("DIR")
                .value_parser(value_parser!(PathBuf))
                .help("Also copy the verified extension into DIR and print that path"),
        )
        .arg(
            Arg::new("verify")
                .long("verify")
                .action(ArgAction::SetTrue)
                .help("Re-hash the cached extension fully (normally only its size and receipt are checked)"),
        )
        .arg(Arg::new("allow-unpinned").long("allow-unpinned").action(ArgAction::SetTrue).help(
            "Accept a version cargo-litestream has no pin for, checked only against upstream's .sha256",
        ))
        .after_help(format!(
            "Prints the path of the verified extension on stdout. Load it with the entry point {ENTRY_POINT} \
             (SQLite derives it from the installed name litestream-vfs.*).\n\
             Upstream builds it for Linux (glibc ≥ 2.34) and macOS, x86_64 and aarch64; not Windows or musl."
        ))
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let project = ctx.project_if_any()?;
    let version = matches
        .get_one::<String>("version")
        .map(String::as_str)
        .or(project.map(|p| p.version.as_str()))
        .unwrap_or(DEFAULT_LITESTREAM_VERSION);
    let target = matches.get_one::<String>("target").map_or(HOST_TARGET, String::as_str);
    let fetcher = ctx.fetcher().verify(matches.get_flag("verify"));
    let request = Request { version, target, allow_unpinned: matches.get_flag("allow-unpinned") };
    let installed = cargo_litestream_release_vfs::ensure(&fetcher, &request)?;
    ctx.shell.verbose("Entry point", ENTRY_POINT);
    let shown = match matches.get_one::<PathBuf>("to") {
        Some(dir) => {
            let name =
                installed.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let copied = copy_to(&installed.path, &ctx.env.absolute(dir), &name, false)?;
            ctx.shell.status("Copied", format!("{} to {}", installed.path.display(), copied.display()));
            copied
        }
        None => installed.path,
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", shown.display())
        .and_then(|()| stdout.flush())
        .context("could not write to stdout")?;
    Ok(0)
}

register_command!(CommandSpec {
    name: "vfs-install",
    about: "Install the verified Litestream VFS extension (sha256-pinned) into the cache and print its path",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
