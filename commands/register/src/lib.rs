//! `cargo litestream register`: Add a database to the running replicate daemon.

use cargo_litestream_command::Lookup;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, SocketTimeout};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "register",
    needs: Needs::Socket(SocketTimeout::ThirtySeconds),
    flags: &[
        Flag::switch("json", "Print JSON"),
        Flag::value(
            "replica",
            "URL",
            "Replica URL, e.g. s3://bucket/prefix or file:///backups/app (required)",
        ),
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
    LITESTREAM.run(matches, ctx)
}

register_command!(CommandSpec {
    name: "register",
    about: "Add a database to the running replicate daemon",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
});
