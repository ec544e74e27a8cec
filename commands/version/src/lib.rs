//! `cargo litestream version`: Print the version of the litestream binary.

use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Needs, Passthrough};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "version",
    needs: Needs::Nothing,
    flags: &[Flag::switch("verbose", "Print build details (Go version, commit, OS/arch)")],
    positionals: &[],
};

fn cli() -> Command {
    LITESTREAM.cli()
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    LITESTREAM.run(matches, ctx)
}

register_command!(CommandSpec {
    name: "version",
    about: "Print the version of the litestream binary",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
});
