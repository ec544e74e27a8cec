//! `cargo litestream databases`: List the databases configured in Cargo.toml and their replica types.

use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Needs, Passthrough};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "databases",
    needs: Needs::Config,
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
    name: "databases",
    about: "List the databases configured in Cargo.toml and their replica types",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
});
