//! `replicate`'s run around the passthrough: the WAL guard's helper process, the supervised
//! run (`-exec`, the configuration's `exec`), or litestream exec'd with its databases locked
//! and their WALs guarded (`cargo_litestream_api::replicate`). What each run locks and runs is
//! `replicate::plan`'s.

use std::path::Path;

use anyhow::bail;
use cargo_litestream_api::replicate::{self, plan};
use cargo_litestream_config::{DatabaseArg, Lookup};
use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::Ctx;
use crate::passthrough::Passthrough;

/// Runs `replicate` as declared by `spec` (Litestream's flags and positionals, `-exec`,
/// `-first-sync-timeout` and the hidden guard flag).
pub fn run(spec: &Passthrough, matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let source = source(matches, ctx)?;
    #[cfg(unix)]
    if let Some(phase) = matches.get_one::<String>(replicate::guard::GUARD_FLAG) {
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
        args: spec.litestream_args(matches, ctx)?,
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
