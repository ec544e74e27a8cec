//! `cargo litestream list`: List the databases the running replicate daemon replicates.

use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Needs, Passthrough};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "list",
    needs: Needs::Socket,
    flags: &[
        Flag::value("socket", "PATH", "Control socket of the running replicate (default: the project's)"),
        Flag::value("timeout", "SECONDS", "Give up after this many seconds (default: 10)"),
        Flag::switch("json", "Print JSON"),
    ],
    positionals: &[],
};

fn cli() -> Command {
    LITESTREAM.cli()
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    LITESTREAM.run(matches, ctx)
}

register_command!(CommandSpec {
    name: "list",
    about: "List the databases the running replicate daemon replicates",
    cli,
    run,
});
