//! `cargo litestream check [DB…]`: a probe for monitors (`cargo_litestream_api::check`): is
//! each database replicated right now, how far behind is its replica, how old is its newest
//! snapshot, and when did verify, scrub and drill last pass.
//!
//! Exit codes, in every format: Nagios's (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Anything
//! that stops the check itself (a bad flag value, a broken Cargo.toml, an unreadable history)
//! is one line and exit 3: for a probe, "could not tell".

use std::io::Write;
use std::time::Duration;

use cargo_litestream_api::check::{self, Asked, Report, Status, Target};
use cargo_litestream_api::targets::Urls;
use cargo_litestream_command::anyhow::{self, Context as _, bail};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_command::{assured, passthrough};
use cargo_litestream_config::{CheckThresholds, check::CHECK_KEYS};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Human,
    Json,
    Nagios,
    Prometheus,
}

fn cli() -> Command {
    let mut command =
        Command::new("check")
            .arg(
                Arg::new("DB")
                    .value_name("DB")
                    .num_args(0..)
                    .help("Database aliases or paths (default: every configured database)"),
            )
            .arg(Arg::new("format").long("format").value_name("FORMAT").help(
                "human (default), json, nagios (status line and perfdata) or prometheus (textfile collector)",
            ))
            .arg(
                Arg::new("json")
                    .long("json")
                    .action(ArgAction::SetTrue)
                    .help("Same as --format json (schema: README, \"JSON output\")"),
            )
            .arg(Arg::new("timeout").long("timeout").value_name("SECONDS").help(
                "How long the control socket's answer, and each replica's listing, may take (default: 5)",
            ))
            .arg(
                Arg::new("socket")
                    .long("socket")
                    .value_name("PATH")
                    .help("Control socket of the running replicate (default: the project's)"),
            );
    for (key, what) in CHECK_KEYS {
        command =
            command.arg(Arg::new(*key).long(*key).value_name("LIMIT").help(format!(
                "For this run: {what} (Cargo.toml: [package.metadata.litestream.check] {key})"
            )));
    }
    command.after_help(
        "Per database: a replicate answers on the control socket and replicates it; the replica holds \
         what the database's -wal holds (lag, CRITICAL above max-lag, 60s by default); the newest snapshot is \
         younger than max-snapshot-age (2x snapshot.interval by default: WARNING); the last verify, scrub and \
         drill passed (a failed one: CRITICAL) and are younger than their max-*-age (off by default: WARNING). \
         One replica listing per database, no restore.\n\n\
         Exit codes (every format): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the check itself could not run).",
    )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let format = match format(matches) {
        Ok(format) => format,
        Err(error) => {
            ctx.report_error(&error);
            return Ok(Status::Unknown.exit_code());
        }
    };
    let json = ctx.json_if(format == Format::Json, check::JSON_VERSION);
    match check_all(matches, ctx, format) {
        Ok((reports, now, thresholds)) => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let status = check::overall(&reports);
            match (format, json) {
                (Format::Json, Some(json)) => json.write(
                    &mut stdout,
                    &serde_json::json!({
                        "status": status,
                        "exit_code": status.exit_code(),
                        "databases": reports,
                    }),
                )?,
                (Format::Prometheus, _) => stdout
                    .write_all(check::prometheus::render(&reports, now).as_bytes())
                    .context("could not write to stdout")?,
                (Format::Nagios, _) => check::text::nagios(&mut stdout, &reports, &thresholds)
                    .context("could not write to stdout")?,
                _ => check::text::human(&mut stdout, &reports).context("could not write to stdout")?,
            }
            stdout.flush().context("could not write to stdout")?;
            Ok(status.exit_code())
        }
        Err(error) if assured::is_broken_pipe(&error) => Err(error),
        Err(error) => {
            // Nagios shows the first line of stdout: the reason goes there. Prometheus gets
            // nothing on stdout, so a textfile written with `> tmp && mv` keeps its last good
            // content (and its check_timestamp_seconds ages, which an alert can see).
            if format == Format::Nagios {
                println!("LITESTREAM UNKNOWN - {error:#}");
            } else {
                ctx.report_error(&error);
            }
            Ok(Status::Unknown.exit_code())
        }
    }
}

fn format(matches: &ArgMatches) -> anyhow::Result<Format> {
    if matches.get_flag("json") {
        return Ok(Format::Json);
    }
    Ok(match matches.get_one::<String>("format").map(String::as_str) {
        None | Some("human") => Format::Human,
        Some("json") => Format::Json,
        Some("nagios") => Format::Nagios,
        Some("prometheus") => Format::Prometheus,
        Some(other) => {
            bail!("invalid value {other:?} for --format: expected human, json, nagios or prometheus")
        }
    })
}

fn check_all(
    matches: &ArgMatches,
    ctx: &Ctx,
    format: Format,
) -> anyhow::Result<(Vec<Report>, jiff::Timestamp, CheckThresholds)> {
    let timeout = match matches.get_one::<String>("timeout") {
        None => Duration::from_secs(5),
        Some(text) => match text.parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Duration::from_secs_f64(seconds),
            _ => bail!("invalid value {text:?} for --timeout: expected a number of seconds above 0"),
        },
    };
    let project = ctx.project()?;
    let mut thresholds: CheckThresholds = project.check.clone();
    for (key, _) in CHECK_KEYS {
        if let Some(text) = matches.get_one::<String>(key) {
            thresholds
                .set(key, text)
                .map_err(|problem| anyhow::anyhow!("invalid value for --{key}: {problem}"))?;
        }
    }
    let asked = Asked::ask(&project.state_dir, passthrough::socket(matches, ctx)?, timeout)?;
    let targets = targets(matches, ctx)?;
    // Only replicas this tool cannot list natively need litestream (and maybe its download).
    let litestream = targets.iter().any(|t| t.store.is_err()).then(|| ctx.litestream()).transpose()?;
    let cx = asked.context(&thresholds, &project.globals, &ctx.env, litestream.as_ref(), timeout);
    let mut reports = Vec::with_capacity(targets.len());
    for target in &targets {
        if format == Format::Human {
            ctx.shell.status("Checking", &target.name);
        }
        reports.push(check::check(target, &cx));
    }
    Ok((reports, asked.now, thresholds))
}

fn targets(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Vec<Target>> {
    let named: Vec<&str> =
        matches.get_many::<String>("DB").map(|v| v.map(String::as_str).collect()).unwrap_or_default();
    let urls = Urls::Refuse(|url| {
        format!(
            "check takes databases, not the replica URL `{url}`: it compares the replica with the database"
        )
    });
    // URLs are refused, so every replica has its database.
    Ok(ctx.replicas(&named, urls, false)?.into_iter().filter_map(Target::of_replica).collect())
}

register_command!(CommandSpec {
    name: "check",
    about: "Probe replication for monitors: lag, snapshots, last verify/scrub/drill (Nagios exit codes; json, nagios, prometheus)",
    cli,
    run,
    passthrough: None,
    // Nagios reads 2 as CRITICAL: a command line check cannot parse is UNKNOWN, as its other errors are.
    usage_error: Status::Unknown.exit_code(),
});
