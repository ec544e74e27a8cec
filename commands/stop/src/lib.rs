//! `cargo litestream stop`: Stop replicating a database in the running replicate daemon (after a final sync).

use cargo_litestream_command::Lookup;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "stop",
    needs: Needs::Socket,
    flags: &[
        Flag::value("socket", "PATH", "Control socket of the running replicate (default: the project's)"),
        Flag::value("timeout", "SECONDS", "Give up after this many seconds (default: 30)"),
        Flag::switch("json", "Print JSON"),
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
    name: "stop",
    about: "Stop replicating a database in the running replicate daemon (after a final sync)",
    cli,
    run,
});
