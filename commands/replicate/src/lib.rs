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
//! gets its writes replicated. What each run locks and runs is `replicate::plan`'s.

use std::path::Path;

use cargo_litestream_api::replicate::{self, plan};
use cargo_litestream_command::anyhow::{self, bail};
use cargo_litestream_command::clap::parser::ValueSource;
use cargo_litestream_command::clap::{Arg, ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, DatabaseArg, Lookup, register_command};

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
const GUARD_FLAG: &str = replicate::guard::GUARD_FLAG;
#[cfg(not(unix))]
const GUARD_FLAG: &str = "__guard-wal";

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let source = source(matches, ctx)?;
    #[cfg(unix)]
    if let Some(phase) = matches.get_one::<String>(GUARD_FLAG) {
        let databases = match &source {
            Some(source) => plan::locked(source, matches.get_flag("no-expand-env"), &ctx.env, &ctx.shell).0,
            None => Vec::new(),
        };
        return Ok(replicate::guard::serve(phase, ctx.project_if_any()?, &databases, &ctx.env, &ctx.shell)?);
    }
    if let Some(plan::Source::Project(project)) = &source {
        replicate::refuse_unreplicable(project)?;
    }
    #[cfg(unix)]
    if let Some(source) = source.as_ref().filter(|_| !(given(matches, "DB_PATH") && given(matches, "config")))
        && let Some(plan) = plan::supervised(source, &request(matches), &ctx.env, &ctx.shell)?
    {
        let litestream = ctx.litestream()?;
        let supervisor = replicate::supervise::Supervisor {
            env: &ctx.env,
            shell: &ctx.shell,
            project: ctx.project_if_any()?,
            litestream: &litestream,
        };
        return Ok(replicate::supervise::run(plan, &supervisor)?);
    }
    let litestream = ctx.litestream()?;
    let request = replicate::exec::ExecRequest {
        args: LITESTREAM.litestream_args(matches, ctx)?,
        no_expand_env: matches.get_flag("no-expand-env"),
        restore_if_db_not_exists: matches.get_flag("restore-if-db-not-exists"),
        litestreams_to_refuse: given(matches, "DB_PATH") && given(matches, "config"),
    };
    // Held until this process ends; on Unix litestream inherits it through `exec`.
    let ready =
        replicate::exec::prepare_exec(source.as_ref(), request, ctx.project_if_any()?, &ctx.env, &ctx.shell)?;
    let (args, _lock) = (ready.args, ready.lock);
    Ok(litestream.exec(&args, &ctx.env, &ctx.shell)?)
}

/// Where this run's databases are configured: single-database mode's `DB_PATH REPLICA_URL`, the
/// user's own `-config FILE`, else the project. `None`: a replica URL given as `DB_PATH`
/// (litestream's to refuse, in its own words).
fn source<'a>(matches: &ArgMatches, ctx: &'a Ctx) -> anyhow::Result<Option<plan::Source<'a>>> {
    if let Some(text) = matches.get_one::<String>("DB_PATH") {
        let arg = match ctx.project_if_any()? {
            Some(project) => project.resolve_database_arg(text, &ctx.env, Lookup::Any)?,
            None => DatabaseArg::Path { path: ctx.env.absolute(Path::new(text)), alias: None },
        };
        return Ok(match arg {
            DatabaseArg::Path { path, .. } => Some(plan::Source::Database {
                path,
                url: matches.get_one::<String>("REPLICA_URL").cloned().unwrap_or_default(),
            }),
            DatabaseArg::Url(_) if given(matches, "exec") => {
                bail!("DB_PATH takes a database, not a replica URL")
            }
            DatabaseArg::Url(_) => None,
        });
    }
    if given(matches, "config") {
        let file = matches.get_one::<String>("config").map_or("", String::as_str);
        return Ok(Some(plan::Source::OwnConfig(ctx.env.absolute(Path::new(file)))));
    }
    Ok(Some(plan::Source::Project(ctx.project()?)))
}

/// The flags a supervised run takes.
fn request(matches: &ArgMatches) -> plan::Request {
    let given_value = |name: &str| matches.get_one::<String>(name).filter(|_| given(matches, name)).cloned();
    plan::Request {
        exec: given_value("exec"),
        once: matches.get_flag("once"),
        no_expand_env: matches.get_flag("no-expand-env"),
        log_level: given_value("log-level"),
        restore_if_db_not_exists: matches.get_flag("restore-if-db-not-exists"),
        first_sync_timeout: matches.get_one::<String>("first-sync-timeout").cloned(),
    }
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
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
