//! `cargo litestream info`: Show the running replicate daemon (through the control socket).

use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Needs, Passthrough, SocketTimeout};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "info",
    needs: Needs::Socket(SocketTimeout::TenSeconds),
    flags: &[Flag::switch("json", "Print JSON")],
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
    passthrough: Some(&LITESTREAM),
});
