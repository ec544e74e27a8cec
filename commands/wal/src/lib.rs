//! `cargo litestream wal`: Deprecated name of `ltx` (Litestream prints a warning).

use cargo_litestream_command::Lookup;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const NO_REPLICA_FLAG: &str =
    "Litestream 0.5 has one replica per database; give the database, or the replica URL instead of it";

const LITESTREAM: Passthrough = Passthrough {
    command: "wal",
    needs: Needs::Config,
    flags: &[
        Flag::value("level", "LEVEL", "Compaction level 0-9, or `all` (default: 0)"),
        Flag::switch("json", "Print JSON"),
        Flag::value("replica", "NAME", "").role(Role::Refuse(NO_REPLICA_FLAG)),
    ],
    positionals: &[Positional {
        name: "DB_PATH",
        help: "Database alias or path, or a replica URL",
        required: true,
        kind: Kind::DatabaseOrUrl(Lookup::Configured),
    }],
};

fn cli() -> Command {
    // Deprecated upstream: accepted, not advertised.
    LITESTREAM.cli().hide(true)
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    LITESTREAM.run(matches, ctx)
}

register_command!(CommandSpec {
    name: "wal",
    about: "Deprecated name of `ltx` (Litestream prints a warning)",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
});
