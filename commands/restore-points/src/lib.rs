//! `cargo litestream restore-points [DB]`: the TXIDs and times a restore can reach, computed
//! from the replica's listing by Litestream's own restore plan (`cargo_litestream_api::backups`).
//!
//! Exit codes: 0 listed (even when nothing is restorable: the report says so), 1 a replica
//! could not be listed.

use std::io::Write;
use std::time::Duration;

use cargo_litestream_api::backups::{self, report::Report};
use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{self, Flag, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

const REPLICA: Passthrough = Passthrough {
    command: "restore-points",
    needs: Needs::Config,
    flags: &[
        Flag::switch("json", "Print JSON (schema: README, \"JSON output\")").role(Role::Local),
        Flag::value("timeout", "SECONDS", "How long a replica may take to list (default: 30)")
            .role(Role::Local),
    ],
    positionals: &[Positional::REPLICA],
};

fn cli() -> Command {
    REPLICA.cli().after_help(
        "A restore reaches a TXID only where a chain of replica files ends exactly there: after \
         l0-retention removes the level-0 files a compaction covered, the TXIDs inside it are gone. \
         This lists the ones left, as `litestream restore -txid` would find them.",
    )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json = ctx.json(matches, backups::report::JSON_VERSION);
    let timeout = passthrough::seconds(matches, "timeout")?.unwrap_or(Duration::from_secs(30));
    let replicas = REPLICA.replicas(matches, ctx)?;
    let litestream = ctx.litestream()?;

    let mut reports = Vec::with_capacity(replicas.len());
    for replica in replicas {
        ctx.shell.status("Listing", &replica.name);
        let points = backups::list(&litestream, &ctx.env, &replica.litestream_target, timeout)
            .map(|files| backups::restore_points(&files));
        // With --json the error is the database's entry in the document: printed once.
        if let (Err(error), None) = (&points, json) {
            ctx.shell.error(format!("{}: {error}", replica.name));
        }
        reports.push(Report { database: replica.name, points });
    }

    // Thousands of lines: one write per line (stdout's line buffering) would dominate.
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    if let Some(json) = json {
        let databases: Vec<_> = reports.iter().map(Report::to_json).collect();
        json.write(&mut stdout, &serde_json::json!({ "databases": databases }))?;
    } else {
        let headings = reports.len() > 1;
        for report in &reports {
            report.write_human(&mut stdout, headings).context("could not write to stdout")?;
        }
    }
    stdout.flush().context("could not write to stdout")?;
    Ok(if reports.iter().any(|r| r.points.is_err()) { 1 } else { 0 })
}

register_command!(CommandSpec {
    name: "restore-points",
    about: "List the TXIDs and times a restore can reach, with what each downloads",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
