//! `cargo litestream drill [DB]`: a timed restore rehearsal (`cargo_litestream_api::backups::drill`)
//! of each database's latest point and one random restore point, with `integrity_check` and
//! the project's `[package.metadata.litestream.drill] checks`. Each run is appended to the
//! history (`target/litestream/<package>/history.jsonl`).
//!
//! Exit codes: 0 passed, 1 failed (a restore, `integrity_check` or a check), 3 could not run
//! (the replica could not be listed).

use std::io::Write;
use std::time::Duration;

use cargo_litestream_api::backups::drill::{self, DrillOptions, DrillReport, Outcome};
use cargo_litestream_api::backups::history::{self, Entry, Kind as HistoryKind};
use cargo_litestream_api::backups::report::bytes;
use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, Lookup, register_command};

/// The JSON report's schema version (README, "JSON output").
const JSON_VERSION: u32 = 1;

const REPLICA: Passthrough = Passthrough {
    command: "drill",
    needs: Needs::Config,
    flags: &[
        Flag::switch("json", "Print JSON (schema: README, \"JSON output\")").role(Role::Local),
        Flag::value("timeout", "SECONDS", "How long one restore may take (default: 3600)").role(Role::Local),
    ],
    positionals: &[Positional {
        name: "DB_PATH",
        help: "Database alias or path, or a replica URL (default: every configured database)",
        required: false,
        kind: Kind::DatabaseOrUrl(Lookup::Configured),
    }],
};

fn cli() -> Command {
    REPLICA.cli().after_help(
        "Restores the latest point and one restore point picked at random into a private temporary folder \
         (litestream restore, timed alone), runs PRAGMA integrity_check and the SQL of \
         [package.metadata.litestream.drill] checks on each copy, and reports the restore time, bytes and \
         MB/s (RTO) and the age of the replica's newest file (RPO). Nothing is written to the database or the \
         replica; the folder is removed after. Each run is appended to target/litestream/<package>/history.jsonl.\n\n\
         Exit codes: 0 passed, 1 failed, 3 could not run.",
    )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json = ctx.json(matches, JSON_VERSION);
    let timeout = match matches.get_one::<String>("timeout") {
        Some(text) => match text.parse::<u64>() {
            Ok(seconds) if seconds > 0 => Some(Duration::from_secs(seconds)),
            _ => anyhow::bail!(
                "invalid value {text:?} for -timeout: expected a whole number of seconds, at least 1"
            ),
        },
        None => None,
    };
    let project = ctx.project_if_any()?;
    let options =
        DrillOptions { checks: project.map(|p| p.drill_checks.clone()).unwrap_or_default(), timeout };
    let work_dir = project.map_or_else(std::env::temp_dir, |p| p.state_dir.clone());
    std::fs::create_dir_all(&work_dir).with_context(|| format!("cannot create {}", work_dir.display()))?;
    let replicas = REPLICA.replica_targets(matches, ctx)?;
    let litestream = ctx.litestream()?;

    let mut results = Vec::with_capacity(replicas.len());
    for (database, target) in replicas {
        ctx.shell.status("Drilling", &database);
        let result = drill::drill(&litestream, &ctx.env, &target, &work_dir, &options);
        match &result {
            Ok(report) => {
                let entry = Entry::new(
                    HistoryKind::Drill,
                    &database,
                    report.outcome == Outcome::Passed,
                    report.duration_ms,
                    serde_json::to_value(report).unwrap_or_default(),
                );
                if let Some(project) = project
                    && let Err(error) = history::append(&project.state_dir, &entry)
                {
                    ctx.shell.warn(format!("the drill was not recorded: {error}"));
                }
            }
            Err(error) if json.is_none() => ctx.shell.error(format!("{database}: {error}")),
            Err(_) => {}
        }
        results.push((database, result));
    }

    let outcome =
        Outcome::worst(results.iter().map(|(_, r)| r.as_ref().map_or(Outcome::Unchecked, |r| r.outcome)));
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    if let Some(json) = json {
        let databases: Vec<serde_json::Value> = results
            .iter()
            .map(|(name, result)| {
                cargo_litestream_command::json::database_entry(
                    name,
                    result.as_ref().map_err(|error| error.to_string()),
                )
            })
            .collect();
        json.write(
            &mut stdout,
            &serde_json::json!({ "outcome": outcome, "exit_code": outcome.exit_code(), "databases": databases }),
        )?;
    } else {
        for (name, result) in &results {
            if let Ok(report) = result {
                write_human(&mut stdout, name, report).context("could not write to stdout")?;
            }
        }
    }
    stdout.flush().context("could not write to stdout")?;
    Ok(outcome.exit_code())
}

fn write_human(out: &mut impl Write, name: &str, report: &DrillReport) -> std::io::Result<()> {
    let verdict = report.outcome.label();
    let rpo = report.rpo_seconds.map_or_else(|| "no backup yet".to_owned(), |s| format!("{s:.1} s"));
    writeln!(
        out,
        "{name}: {verdict}: RPO {rpo} (the newest replica file's age), {} restore points",
        report.points
    )?;
    for r in &report.rehearsals {
        let mut line = format!(
            "  {:<16}  restore {:.2} s, {} ({:.1} MB/s); integrity_check {} ({} ms)",
            r.point,
            r.restore_ms as f64 / 1000.0,
            bytes(r.bytes),
            r.mb_per_s,
            if r.integrity.is_empty() { "not run" } else { &r.integrity },
            r.integrity_ms
        );
        if !r.checks.is_empty() {
            let passed = r.checks.iter().filter(|c| c.ok).count();
            line.push_str(&format!("; checks {passed}/{}", r.checks.len()));
        }
        writeln!(out, "{line}")?;
        if let Some(error) = &r.error {
            writeln!(out, "    {error}")?;
        }
    }
    Ok(())
}

register_command!(CommandSpec {
    name: "drill",
    about: "Rehearse a restore of the latest and a random restore point: time it, check it (exit 0 / 1 failed / 3)",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
