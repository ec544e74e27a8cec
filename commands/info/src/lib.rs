//! `cargo litestream info`: Show the running replicate daemon (through the control socket).

use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Needs, Passthrough};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "info",
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
    name: "info",
    about: "Show the running replicate daemon (through the control socket)",
    cli,
    run,
});
