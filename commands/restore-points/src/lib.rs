//! `cargo litestream restore-points [DB]`: the TXIDs and times a restore can reach, computed
//! from the replica's listing by Litestream's own restore plan (`cargo_litestream_api::backups`).
//!
//! Exit codes: 0 listed (even when nothing is restorable: the report says so), 1 a replica
//! could not be listed.

use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

use cargo_litestream_api::backups::{self, report::Report};
use cargo_litestream_command::anyhow::{self, Context as _, bail};
use cargo_litestream_command::clap::{ArgMatches, Command};
use cargo_litestream_command::passthrough::{Flag, Kind, Needs, Passthrough, Positional, Role};
use cargo_litestream_command::{CommandSpec, Ctx, Lookup, register_command};
use cargo_litestream_config::{DatabaseArg, Location};

const REPLICA: Passthrough = Passthrough {
    command: "restore-points",
    needs: Needs::Config,
    flags: &[
        Flag::switch("json", "Print JSON (schema: README, \"JSON output\")").role(Role::Local),
        Flag::value("timeout", "SECONDS", "How long a replica may take to list (default: 30)")
            .role(Role::Local),
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
        "A restore reaches a TXID only where a chain of replica files ends exactly there: after \
         l0-retention removes the level-0 files a compaction covered, the TXIDs inside it are gone. \
         This lists the ones left, as `litestream restore -txid` would find them.",
    )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json = ctx.json(matches, backups::report::JSON_VERSION);
    let timeout = match matches.get_one::<String>("timeout") {
        Some(text) => match text.parse::<u64>() {
            Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
            _ => bail!("invalid value {text:?} for -timeout: expected a whole number of seconds, at least 1"),
        },
        None => Duration::from_secs(30),
    };
    let replicas = replicas(matches, ctx)?;
    let litestream = ctx.litestream()?;

    let mut reports = Vec::with_capacity(replicas.len());
    for (database, target) in replicas {
        ctx.shell.status("Listing", &database);
        let points = backups::list(&litestream, &ctx.env, &target, timeout)
            .map(|files| backups::restore_points(&files));
        // With --json the error is the database's entry in the document: printed once.
        if let (Err(error), None) = (&points, json) {
            ctx.shell.error(format!("{database}: {error}"));
        }
        reports.push(Report { database, points });
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

/// The replicas to list, each with the name the user knows it by and the arguments
/// `litestream ltx` lists it with: the one named, or every configured database.
fn replicas(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Vec<(String, Vec<OsString>)>> {
    if let Some(arg) = matches.get_one::<String>("DB_PATH") {
        let name = match ctx.project_if_any()?.map(|p| p.resolve_database_arg(arg, &ctx.env, Lookup::Any)) {
            Some(Ok(DatabaseArg::Path { alias: Some(alias), .. })) => alias,
            _ => cargo_litestream_config::redact_url_password(arg),
        };
        return Ok(vec![(name, REPLICA.replica_target(matches, ctx)?)]);
    }
    if matches.get_one::<String>("config").is_some() {
        bail!(
            "with -config, name the database to list: `cargo litestream restore-points -config FILE DB_PATH`"
        );
    }
    let project = ctx.project()?;
    let config = ctx.write_litestream_config(matches.get_flag("no-expand-env"))?;
    let mut replicas = Vec::new();
    for db in &project.databases {
        match &db.location {
            Location::File(path) => {
                replicas
                    .push((db.name(), vec!["-config".into(), config.clone().into(), path.clone().into()]));
            }
            // Each database the entry replicates, as Litestream's scan finds them, with the
            // config that lists it alone (Litestream's `ltx` finds `path:` entries only).
            Location::Dir(dir) => {
                let found = db.dir_databases();
                if found.is_empty() {
                    ctx.shell
                        .note(format!("no database in {} matches its entry's pattern yet", dir.display()));
                }
                for path in found {
                    let own =
                        ctx.write_litestream_config_for(matches.get_flag("no-expand-env"), Some(&path))?;
                    replicas
                        .push((path.display().to_string(), vec!["-config".into(), own.into(), path.into()]));
                }
            }
        }
    }
    if replicas.is_empty() {
        bail!(
            "no databases are configured; add them to [{}] in {}",
            project.source.table_name(),
            project.manifest_path.display()
        );
    }
    Ok(replicas)
}

register_command!(CommandSpec {
    name: "restore-points",
    about: "List the TXIDs and times a restore can reach, with what each downloads",
    cli,
    run,
    passthrough: None,
});
