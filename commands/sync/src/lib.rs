//! `cargo litestream sync`: Sync a database now through the running replicate daemon (-wait: until the replica has it).
//!
//! Litestream's flags and output, spoken to the daemon directly: see `cargo_litestream_command::sync`.

use cargo_litestream_command::Lookup;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, SocketTimeout};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "sync",
    needs: Needs::Socket(SocketTimeout::ThirtySeconds),
    flags: &[
        Flag::switch("json", "Print JSON"),
        Flag::switch("wait", "Block until the replica has the data"),
    ],
    positionals: &[Positional {
        name: "DB_PATH",
        help: "Database alias or path",
        required: true,
        kind: Kind::Database(Lookup::Any),
    }],
};

fn cli() -> Command {
    LITESTREAM.cli()
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    cargo_litestream_command::sync::run(&LITESTREAM, matches, ctx)
}

register_command!(CommandSpec {
    name: "sync",
    about: "Sync a database now through the running replicate daemon (-wait: until the replica has it)",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
