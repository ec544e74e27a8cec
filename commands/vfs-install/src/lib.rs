//! `cargo litestream vfs-install`: makes sure the verified Litestream VFS extension is in the
//! cache and prints its path on stdout (`--to DIR` copies it there). The flags, the run and the
//! `--json` report are `install`'s (`cargo_litestream_command::install`).
//!
//! It is installed as `litestream-vfs.so` (`.dylib` on macOS), so SQLite derives the right
//! entry point, `sqlite3_litestreamvfs_init`, from the name; the release tarball's
//! `litestream.so` would make SQLite look for `sqlite3_litestream_init`, which does not exist.

use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::install::{self, Artifact};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_release_vfs::ENTRY_POINT;

fn cli() -> Command {
    install::args(Command::new("vfs-install")).after_help(format!(
        "Prints the path of the verified extension on stdout. Load it with the entry point {ENTRY_POINT} \
         (SQLite derives it from the installed name litestream-vfs.*).\n\
         Upstream builds it for Linux (glibc ≥ 2.34) and macOS, x86_64 and aarch64; not Windows or musl."
    ))
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    install::run(matches, ctx, &[Artifact::Vfs])
}

register_command!(CommandSpec {
    name: "vfs-install",
    about: "Install the verified Litestream VFS extension (sha256-pinned) into the cache and print its path",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
