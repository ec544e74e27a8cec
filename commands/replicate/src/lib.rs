//! `cargo litestream replicate`: run the replication daemon.
//!
//! On Unix the process becomes litestream (`exec`): a supervisor's SIGTERM reaches it directly,
//! its final sync runs, and the exit code is its own. The binary's folder is put first on
//! `PATH`, because Litestream's MCP tools run `litestream` from `PATH`.

use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional};
use cargo_litestream_command::{CommandSpec, Ctx, Lookup, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "replicate",
    needs: Needs::Config,
    flags: &[
        Flag::value("exec", "CMD", "Run CMD (e.g. your server) while replicating; stop when it exits"),
        Flag::value("log-level", "LEVEL", "Log level: trace, debug, info, warn, error"),
        Flag::switch("restore-if-db-not-exists", "Restore each missing database from its replica first"),
        Flag::switch("once", "Sync every database once, then exit"),
        Flag::switch("force-snapshot", "With -once: write a snapshot"),
        Flag::switch("enforce-retention", "With -once: apply snapshot retention"),
    ],
    positionals: &[
        Positional {
            name: "DB_PATH",
            help: "Replicate only this database (alias or path) to REPLICA_URL, without the config",
            required: false,
            kind: Kind::Database(Lookup::Any),
        },
        Positional { name: "REPLICA_URL", help: "Replica URL for DB_PATH", required: false, kind: Kind::Url },
    ],
};

fn cli() -> Command {
    // Litestream's single-database mode takes both; alone, DB_PATH would be misread.
    LITESTREAM.cli().mut_arg("DB_PATH", |arg| arg.requires("REPLICA_URL"))
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> cargo_litestream_command::anyhow::Result<u8> {
    LITESTREAM.run(matches, ctx)
}

register_command!(CommandSpec {
    name: "replicate",
    about: "Replicate every configured database continuously (the production daemon)",
    cli,
    run,
});
