//! How `verify`, `scrub` and `drill` run on the databases and replicas a command line names
//! ([`cargo_litestream_api::assurance::Checks`] does each check): a status line each, the report
//! recorded in the project's history, the error of a replica that could not be checked printed
//! once, the report on stdout as each ends (or one JSON document at the end), and the worst
//! outcome's exit code.

use std::io::Write;

use anyhow::Context as _;
use cargo_litestream_api::Litestream;
use cargo_litestream_api::assurance::{self, Assured, Checks, Verdict};
use cargo_litestream_api::targets::Named;
use serde::Serialize;

use crate::Ctx;
use crate::json::Json;

/// What the checks of this run share: the project (when there is one), the environment, the
/// shell, and `litestream` where the checks need it.
pub fn checks<'c>(ctx: &'c Ctx, litestream: Option<&'c Litestream>) -> anyhow::Result<Checks<'c>> {
    Ok(Checks { env: &ctx.env, project: ctx.project_if_any()?, litestream, shell: &ctx.shell })
}

/// One check command's run over `targets` (replicas, or `verify`'s databases): `check` checks
/// one, `print` writes its human report (the target's name, the report, and whether stdout
/// takes colour).
pub fn each<T: Named, R: Assured>(
    ctx: &Ctx,
    json: Option<Json>,
    verb: &str,
    targets: &[T],
    mut check: impl FnMut(&T) -> anyhow::Result<R>,
    print: impl Fn(&mut dyn Write, &str, &R, bool) -> std::io::Result<()>,
) -> anyhow::Result<u8> {
    let state_dir = ctx.project_if_any()?.map(|p| p.state_dir.as_path());
    let mut results = Vec::with_capacity(targets.len());
    for target in targets {
        let name = target.name();
        ctx.shell.status(verb, name);
        let result = check(target);
        match (&result, state_dir) {
            (Ok(report), Some(state_dir)) => {
                if let Some(problem) = assurance::record(state_dir, name, report) {
                    ctx.shell.warn(problem);
                }
            }
            (Ok(_), None) => {}
            // With --json the error is the replica's entry in the document: printed once.
            (Err(error), _) if json.is_none() => {
                ctx.shell.error(format!("{name}: {}", crate::one_line(error)))
            }
            (Err(_), _) => {}
        }
        if let (Ok(report), None) = (&result, json) {
            let mut stdout = std::io::stdout().lock();
            print(&mut stdout, name, report, ctx.shell.stdout_color())
                .and_then(|()| stdout.flush())
                .context("could not write to stdout")?;
        }
        results.push((name, result));
    }

    let outcomes = results.iter().map(|(_, r)| r.as_ref().map_or(R::Outcome::UNCHECKED, R::outcome));
    let outcome = R::Outcome::worst(outcomes).unwrap_or(R::Outcome::UNCHECKED);
    let exit_code = outcome.standing().exit_code();
    if let Some(json) = json {
        let databases: Vec<serde_json::Value> = results
            .iter()
            .map(|(name, result)| {
                database_entry(name, result.as_ref().map_err(crate::one_line), R::Outcome::UNCHECKED)
            })
            .collect();
        json.print(
            &serde_json::json!({ "outcome": outcome, "exit_code": exit_code, "databases": databases }),
        )?;
    }
    Ok(exit_code)
}

/// One replica's entry in the JSON report: its report with `database` added, or
/// `{"database", "outcome": <unchecked>, "error"}` when it could not be checked.
fn database_entry(
    name: &str,
    result: Result<&impl Serialize, String>,
    unchecked: impl Serialize,
) -> serde_json::Value {
    match result {
        Ok(report) => {
            let mut value = serde_json::to_value(report).unwrap_or_default();
            value["database"] = name.into();
            value
        }
        Err(error) => serde_json::json!({ "database": name, "outcome": unchecked, "error": error }),
    }
}

/// Runs a check command's `body` so that whatever stops it before a verdict (a database that
/// is not configured, a litestream that cannot be had) is one error and exit 3, "could not
/// check": a monitor must not read it as a failed check (1). A closed stdout (`verify | head`)
/// stays an error, which the dispatcher ends quietly.
pub fn or_unchecked(ctx: &Ctx, body: impl FnOnce() -> anyhow::Result<u8>) -> anyhow::Result<u8> {
    match body() {
        Ok(code) => Ok(code),
        Err(error) if is_broken_pipe(&error) => Err(error),
        Err(error) => {
            ctx.report_error(&error);
            Ok(assurance::Standing::Unchecked.exit_code())
        }
    }
}

/// Whether `error` is stdout closed under the command (`| head`).
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
