//! `cargo litestream doctor`: one line per check (databases, binary, environment, replicas,
//! daemon), each with its fix; exit 1 when any check fails (warnings and advice do not).
//!
//! The checks live in `cargo_litestream_api::doctor`, so an application can run them too.

use std::io::Write as _;
use std::time::Duration;

use cargo_litestream_api::doctor::{Check, DoctorOptions, Status, doctor, worst};
use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

/// The schema version of `doctor --json` (README.md, "JSON output").
const JSON_VERSION: u32 = 1;

fn cli() -> Command {
    Command::new("doctor")
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print the checks as JSON"))
        .arg(
            Arg::new("timeout")
                .long("timeout")
                .value_name("SECS")
                .value_parser(value_parser!(u64).range(1..))
                .default_value("10")
                .help("How long each replica and the daemon may take to answer"),
        )
        .after_help(
            "Checks: each database exists, is SQLite, is in WAL mode and is not on a network filesystem; \
             the litestream binary is the pinned one (re-hashed); every $VAR of the configuration is set, \
             AWS_CA_BUNDLE is not set with an S3 replica, no credential is written into Cargo.toml; each \
             replica answers (`litestream ltx`) and takes writes (a file replica's folder and free space, an \
             S3 replica by a probe object written and deleted); a replicate runs and replicates every database.\n\
             Exit status: 0 when nothing failed (warnings and advice included), 1 otherwise.",
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json = ctx.json(matches, JSON_VERSION);
    let timeout = Duration::from_secs(*matches.get_one::<u64>("timeout").expect("has a default"));
    let checks = match ctx.project() {
        Ok(project) => doctor(project, &ctx.env, &DoctorOptions { timeout }),
        Err(error) => vec![Check {
            area: "configuration",
            subject: String::new(),
            status: Status::Fail,
            message: format!("{error:#}"),
            fix: None,
        }],
    };
    let failed = worst(&checks) == Status::Fail;
    let mut stdout = std::io::stdout().lock();
    if let Some(json) = json {
        let count = |status| checks.iter().filter(|c| c.status == status).count();
        let report = serde_json::json!({
            "ok": !failed,
            "failures": count(Status::Fail),
            "warnings": count(Status::Warn),
            "checks": checks,
        });
        json.write(&mut stdout, &report)?;
    } else {
        let color = ctx.shell.stdout_color();
        for check in &checks {
            writeln!(stdout, "{}", line(check, color)).context("could not write to stdout")?;
        }
        let failures = checks.iter().filter(|c| c.status == Status::Fail).count();
        let warnings = checks.iter().filter(|c| c.status == Status::Warn).count();
        writeln!(stdout, "\n{} check(s): {failures} failed, {warnings} warning(s)", checks.len())
            .context("could not write to stdout")?;
    }
    stdout.flush().context("could not write to stdout")?;
    Ok(u8::from(failed))
}

/// `✓ database default: … ; fix: …` on a terminal (coloured symbol), `ok   database default: …`
/// elsewhere.
fn line(check: &Check, color: bool) -> String {
    let subject = if check.subject.is_empty() { String::new() } else { format!(" {}", check.subject) };
    let fix = check.fix.as_ref().map(|fix| format!("; fix: {fix}")).unwrap_or_default();
    let mark = if color {
        let style = match check.status {
            Status::Pass => "\x1b[1;32m",
            Status::Info => "\x1b[1;36m",
            Status::Warn => "\x1b[1;33m",
            Status::Fail => "\x1b[1;31m",
        };
        format!("{style}{}\x1b[0m", check.status.symbol())
    } else {
        format!("{:<4}", check.status.word())
    };
    format!("{mark} {}{subject}: {}{fix}", check.area, check.message)
}

register_command!(CommandSpec {
    name: "doctor",
    about: "Check that the project is ready to replicate in production (databases, binary, environment, replicas, daemon)",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
