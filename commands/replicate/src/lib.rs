//! `cargo litestream replicate`: run the replication daemon.
//!
//! On Unix the process becomes litestream (`exec`): a supervisor's SIGTERM reaches it directly,
//! its final sync runs, and the exit code is its own. The binary's folder is put first on
//! `PATH`, because Litestream's MCP tools run `litestream` from `PATH`.
//!
//! Before that, a second replicator is refused: two of them corrupt a replica, and Litestream
//! neither notices nor keeps its control socket (gotchas 7 and 24). Each database is locked
//! (`runner::lock`, a lock that litestream keeps across `exec` and the kernel drops when it
//! dies), and a control socket that still answers means a daemon started some other way.
//!
//! With `-exec CMD` (or the configuration's `exec`) on Unix, litestream is not exec'd: this
//! process supervises litestream and CMD (see the `supervise` module), so CMD's exit code is
//! the exit code and a CMD that exits within litestream's first second still gets its writes
//! replicated.

#[cfg(unix)]
mod first_sync;
#[cfg_attr(not(unix), allow(dead_code))]
mod plan;
#[cfg(unix)]
mod supervise;
#[cfg_attr(not(unix), allow(dead_code))]
mod words;

use std::path::PathBuf;

use cargo_litestream_command::anyhow::{self, bail};
use cargo_litestream_command::clap::parser::ValueSource;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, DatabaseArg, Lookup, register_command};
use cargo_litestream_config::Location;
use cargo_litestream_runner::lock::ReplicateLock;

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

/// The hidden flag of the helper that guards the WALs across `exec` (see [`first_sync`]).
const GUARD_FLAG: &str = "__guard-wal";

fn cli() -> Command {
    // Litestream's single-database mode takes both; alone, DB_PATH would be misread.
    LITESTREAM.cli().mut_arg("DB_PATH", |arg| arg.requires("REPLICA_URL")).arg(
        cargo_litestream_command::clap::Arg::new(GUARD_FLAG)
            .long(GUARD_FLAG)
            .value_name("PHASE")
            .hide(true)
            .value_parser(["spawn", "hold"]),
    )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    #[cfg(unix)]
    if let Some(phase) = matches.get_one::<String>(GUARD_FLAG) {
        let databases = databases(matches, ctx)?;
        return first_sync::helper(phase, &databases, socket_of(matches, ctx)?.as_deref(), ctx);
    }
    let restore_first = matches.get_flag("restore-if-db-not-exists");
    refuse_nothing_to_replicate(matches, ctx)?;
    #[cfg(unix)]
    if let Some(plan) = plan::plan(matches, ctx)? {
        if restore_first {
            refuse_orphaned_sidecars(&plan.lock_paths)?;
        }
        return supervise::run(plan, ctx);
    }
    let args = LITESTREAM.litestream_args(matches, ctx)?;
    let databases = databases(matches, ctx)?;
    if restore_first {
        refuse_orphaned_sidecars(&databases)?;
    }
    let replicas = plan::replicas(matches, ctx, &databases)?;
    // Held until this process ends; on Unix litestream inherits it through `exec`.
    let _lock = ReplicateLock::acquire(databases.iter().map(PathBuf::as_path), &replicas.claims)?;
    refuse_live_socket(matches, ctx)?;
    for warning in cargo_litestream_api::owner::claim_all(&replicas.files, &ctx.env)? {
        ctx.shell.warn(warning);
    }
    let litestream = ctx.litestream()?;
    // The WAL check and its guard, in a helper that outlives the `exec` below (on Unix).
    #[cfg(unix)]
    if let Err(error) = first_sync::start_helper(ctx) {
        // Replication matters more than the check: go on, and say what is missing.
        ctx.shell.warn(format!(
            "{error:#}; litestream starts without the WAL check: commits made while it was not running may be \
             missing from the backup until its next snapshot"
        ));
    }
    #[cfg(not(unix))]
    {
        let (reports, _guards) = cargo_litestream_api::close_wal_gaps(ctx.project_if_any()?, &databases);
        cargo_litestream_api::replicate::print_wal_reports(&reports, &ctx.shell);
    }
    Ok(litestream.exec(&args, &ctx.env, &ctx.shell)?)
}

/// The databases this run replicates: the one of single-database mode, those the user's own
/// `-config` file names, else every database of the project.
fn databases(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Vec<PathBuf>> {
    if let Some(text) = matches.get_one::<String>("DB_PATH") {
        let arg = match ctx.project_if_any()? {
            Some(project) => project.resolve_database_arg(text, &ctx.env, Lookup::Any)?,
            None => DatabaseArg::Path { path: ctx.env.absolute(std::path::Path::new(text)), alias: None },
        };
        return Ok(match arg {
            DatabaseArg::Path { path, .. } => vec![path],
            DatabaseArg::Url(_) => Vec::new(),
        });
    }
    if given(matches, "config") {
        let file = ctx
            .env
            .absolute(std::path::Path::new(matches.get_one::<String>("config").map_or("", String::as_str)));
        // A file that cannot be read or parsed is litestream's to report, in its own words.
        return Ok(plan::own_config_databases(&file, matches.get_flag("no-expand-env"), &ctx.env)
            .unwrap_or_else(|e| {
                ctx.shell.verbose("Skipping", format!("the replicate lock: {e:#}"));
                Vec::new()
            }));
    }
    let project = ctx.project()?;
    Ok(project
        .databases
        .iter()
        .map(|db| match &db.location {
            Location::File(path) | Location::Dir(path) => path.clone(),
        })
        .collect())
}

/// `-restore-if-db-not-exists` restores a missing database beside whatever `-wal`/`-shm` it
/// left, and the first open applies that old WAL over the restored file: refused, nothing run.
fn refuse_orphaned_sidecars(databases: &[PathBuf]) -> anyhow::Result<()> {
    for database in databases {
        let stale = cargo_litestream_config::orphaned_sidecars(database);
        if !stale.is_empty() {
            bail!(cargo_litestream_config::orphaned_sidecars_message(
                database,
                &stale,
                ", or restore it first with `cargo litestream restore -force`"
            ));
        }
    }
    Ok(())
}

/// A project with no database, or one whose WAL litestream would never find (a symlink), would
/// run a litestream that replicates nothing, silently.
fn refuse_nothing_to_replicate(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<()> {
    if matches.get_one::<String>("DB_PATH").is_some() || given(matches, "config") {
        return Ok(());
    }
    let project = ctx.project()?;
    if project.databases.is_empty() {
        bail!(cargo_litestream_api::replicate::nothing_to_replicate(project));
    }
    if let Some(why) = project
        .databases
        .iter()
        .filter_map(|db| db.path())
        .find_map(cargo_litestream_config::symlinked_database)
    {
        bail!(why);
    }
    Ok(())
}

/// A project socket that accepts a connection belongs to a live daemon (one not started by
/// this tool, or it would hold the lock). A socket file that refuses is left by a killed one
/// (gotcha 25): Litestream replaces it.
fn refuse_live_socket(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<()> {
    if let Some(socket) = socket_of(matches, ctx)?
        && cargo_litestream_api::replicate::socket_answers(&socket)
    {
        bail!(
            "a Litestream daemon already answers on {}; a second replicator would corrupt the replica: stop that one first (`cargo litestream info` shows its PID)",
            socket.display()
        );
    }
    Ok(())
}

/// The project's control socket, when this run uses it (not with `-config` or a single database).
fn socket_of(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Option<PathBuf>> {
    if matches.get_one::<String>("DB_PATH").is_some() || given(matches, "config") {
        return Ok(None);
    }
    let project = ctx.project()?;
    Ok(project.socket_enabled().then(|| project.socket_path(&ctx.env)))
}

fn given(matches: &ArgMatches, name: &str) -> bool {
    matches.value_source(name) == Some(ValueSource::CommandLine)
}

register_command!(CommandSpec {
    name: "replicate",
    about: "Replicate every configured database continuously (the production daemon)",
    cli,
    run,
    passthrough: Some(&LITESTREAM),
});
