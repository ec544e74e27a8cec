//! `cargo litestream replicate`: run the replication daemon.
//!
//! On Unix the process becomes litestream (`exec`): a supervisor's SIGTERM reaches it directly,
//! its final sync runs, and the exit code is its own. The binary's folder is put first on
//! `PATH`, because Litestream's MCP tools run `litestream` from `PATH`.
//!
//! Before that, a second replicator is refused: two of them corrupt a replica, and Litestream
//! neither notices nor keeps its control socket (gotchas 7 and 24). Each database is locked
//! (`runner::lock`, a lock that litestream keeps across `exec` and the kernel drops when it
//! dies), and a control socket that still answers means a daemon started some other way. A
//! helper process guards the WALs across the `exec` (`cargo_litestream_api::replicate::guard`).
//!
//! With `-exec CMD` (or the configuration's `exec`) on Unix, litestream is not exec'd: this
//! process supervises litestream and CMD (`cargo_litestream_api::replicate::supervise`), so
//! CMD's exit code is the exit code and a CMD that exits within litestream's first second still
//! gets its writes replicated. The run is `cargo_litestream_command::replicate`'s.

use cargo_litestream_command::anyhow;
use cargo_litestream_command::clap::{Arg, ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, Lookup, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "replicate",
    needs: Needs::Config,
    flags: &[
        Flag::value(
            "exec",
            "CMD",
            "Run CMD (e.g. your server) while replicating; exit with CMD's exit code once its last writes are replicated",
        ),
        Flag::value("log-level", "LEVEL", "Log level: trace, debug, info, warn, error"),
        Flag::switch("restore-if-db-not-exists", "Restore each missing database from its replica first"),
        Flag::value(
            "first-sync-timeout",
            "SECONDS",
            "With -exec: how long to wait for litestream and the first sync before starting CMD anyway (default 30)",
        )
        .role(Role::Local),
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
    LITESTREAM.cli().mut_arg("DB_PATH", |arg| arg.requires("REPLICA_URL")).arg(
        Arg::new(GUARD_FLAG).long(GUARD_FLAG).value_name("PHASE").hide(true).value_parser(["spawn", "hold"]),
    )
}

#[cfg(unix)]
const GUARD_FLAG: &str = cargo_litestream_api::replicate::guard::GUARD_FLAG;
#[cfg(not(unix))]
const GUARD_FLAG: &str = "__guard-wal";

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    cargo_litestream_command::replicate::run(&LITESTREAM, matches, ctx)
}

register_command!(CommandSpec {
    name: "replicate",
    about: "Replicate every configured database continuously (the production daemon)",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
