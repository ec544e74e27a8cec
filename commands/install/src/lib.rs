//! `cargo litestream install`: makes sure the verified litestream binary is in the cache and
//! prints its path on stdout (`--to DIR` copies it there, e.g. into a Docker image layer).
//!
//! Every other command does the same on first use; this one exists for CI caches, container
//! builds and air-gapped machines, and to re-hash a cached binary (`--verify`). The flags it
//! shares with `vfs-install`, and the run, are `cargo_litestream_command::install`.

use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command};
use cargo_litestream_command::install::{self, Artifact};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

fn cli() -> Command {
    install::args(Command::new("install"))
        .arg(
            Arg::new("vfs")
                .long("vfs")
                .action(ArgAction::SetTrue)
                .help("Also install the Litestream VFS extension (as `vfs-install` does)"),
        )
        .after_help(
            "Prints the path of the verified binary on stdout (then the extension's, with --vfs).\n\
             Sources, in order: the cache, a litestream on PATH whose sha256 equals the pin, a download \
             (CARGO_LITESTREAM_MIRROR replaces GitHub; --offline forbids it).",
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    let artifacts: &[Artifact] = if matches.get_flag("vfs") {
        &[Artifact::Litestream, Artifact::Vfs]
    } else {
        &[Artifact::Litestream]
    };
    install::run(matches, ctx, artifacts)
}

register_command!(CommandSpec {
    name: "install",
    about: "Install the verified litestream binary (sha256-pinned) into the cache and print its path",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
