//! `cargo litestream drill [DB]`: a timed restore rehearsal (`cargo_litestream_api::backups::drill`)
//! of each database's latest point and one random restore point, with `integrity_check` and
//! the project's `[package.metadata.litestream.drill] checks`. Each run is appended to the
//! history (`target/litestream/<package>/history.jsonl`).
//!
//! Exit codes: 0 passed, 1 failed (a restore, `integrity_check` or a check), 3 could not run
//! (the replica could not be listed).

use cargo_litestream_api::assurance::text;
use cargo_litestream_api::backups::drill::DrillOptions;
use cargo_litestream_command::anyhow;
use cargo_litestream_command::assured;
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{self, Flag, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

/// The JSON report's schema version (README, "JSON output").
const JSON_VERSION: u32 = 1;

const REPLICA: Passthrough = Passthrough {
    command: "drill",
    needs: Needs::Config,
    flags: &[
        Flag::switch("json", "Print JSON (schema: README, \"JSON output\")").role(Role::Local),
        Flag::value("timeout", "SECONDS", "How long one restore may take (default: 3600)").role(Role::Local),
    ],
    positionals: &[Positional::REPLICA],
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
    assured::or_unchecked(ctx, || {
        let timeout = passthrough::seconds(matches, "timeout")?;
        let project = ctx.project_if_any()?;
        let options =
            DrillOptions { checks: project.map(|p| p.drill_checks.clone()).unwrap_or_default(), timeout };
        let replicas = REPLICA.replicas(matches, ctx)?;
        let litestream = ctx.litestream()?;
        let checks = assured::checks(ctx, Some(&litestream))?;
        assured::each(
            ctx,
            json,
            "Drilling",
            &replicas,
            |replica| Ok(checks.drill(replica, &options)?),
            |out, name, report, _| text::drill(out, name, report),
        )
    })
}

register_command!(CommandSpec {
    name: "drill",
    about: "Rehearse a restore of the latest and a random restore point: time it, check it (exit 0 / 1 failed / 3)",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
