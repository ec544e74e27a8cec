//! `cargo litestream reset`: Delete a database's local Litestream state; the next sync takes a fresh snapshot.

use cargo_litestream_command::Lookup;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "reset",
    needs: Needs::Config,
    flags: &[Flag::switch("dry-run", "Print what would be removed without deleting")],
    positionals: &[Positional {
        name: "DB_PATH",
        help: "Database alias or path",
        required: true,
        kind: Kind::Database(Lookup::Configured),
    }],
};

fn cli() -> Command {
    LITESTREAM.cli()
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    LITESTREAM.run(matches, ctx)
}

register_command!(CommandSpec {
    name: "reset",
    about: "Delete a database's local Litestream state; the next sync takes a fresh snapshot",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
});
