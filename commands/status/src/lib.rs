//! `cargo litestream status`: Show the local replication state of each database (no daemon needed).

use cargo_litestream_command::Lookup;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "status",
    needs: Needs::Config,
    flags: &[Flag::switch("json", "Print JSON")],
    positionals: &[Positional {
        name: "DB_PATH",
        help: "Only this database (alias or path)",
        required: false,
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
    name: "status",
    about: "Show the local replication state of each database (no daemon needed)",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
});
