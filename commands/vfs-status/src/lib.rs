//! `cargo litestream vfs-status`: how fresh each VFS read replica
//! (`[package.metadata.litestream.vfs]`) is (`cargo_litestream_api::vfs::report`, which also
//! says why each probe runs in a child process: this binary, `vfs-status --probe-child`).

use std::io::Write as _;
use std::time::Duration;

use cargo_litestream_api::vfs::{self, report};
use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

/// The schema version of `vfs-status --json` (README.md, "JSON output").
const JSON_VERSION: u32 = 1;

fn cli() -> Command {
    // A threshold of 0 is allowed (every replica at least Lagging, or Stale): it lets a monitor's
    // alerting be tried end to end. The timeout must leave time to open a replica.
    let seconds = |name: &'static str, default: &'static str, min: u64, help: &'static str| {
        Arg::new(name)
            .long(name)
            .value_name("SECONDS")
            .value_parser(value_parser!(u64).range(min..))
            .default_value(default)
            .help(help)
    };
    Command::new("vfs-status")
        .arg(Arg::new("ALIAS").value_name("ALIAS").help("Only this VFS alias (default: all of them)"))
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print JSON"))
        .arg(seconds("timeout", "10", 1, "Give up opening a replica after this long (an empty replica never opens)"))
        .arg(seconds("lagging-after", "60", 0, "Lagging from this age on"))
        .arg(seconds("stale-after", "300", 0, "Stale from this age on"))
        .arg(Arg::new("probe-child").long("probe-child").action(ArgAction::SetTrue).hide(true))
        .after_help(
            "Status: Healthy below --lagging-after, Lagging below --stale-after, else Stale; Unknown when the \
             replica cannot be opened or was never polled. The age judged is the time since the reader's last \
             poll, or, when it sees fewer TXIDs than the replica holds, the age of the data it serves.\n\n\
             Exit codes: 0 when every replica is Healthy or Lagging, 1 when any is Stale or Unknown (or on an \
             error).",
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    if matches.get_flag("probe-child") {
        let probe = report::serve_probe(std::io::stdin().lock())?;
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &probe).context("could not write to stdout")?;
        writeln!(stdout).context("could not write to stdout")?;
        return Ok(0);
    }
    let json = ctx.json(matches, JSON_VERSION);
    let project = ctx.project()?;
    let secs = |name: &str| Duration::from_secs(*matches.get_one::<u64>(name).unwrap_or(&1));
    let thresholds = report::thresholds(secs("lagging-after"), secs("stale-after"))?;
    let targets =
        report::selected_targets(project, &ctx.env, matches.get_one::<String>("ALIAS").map(String::as_str))?;
    let thresholds_json = serde_json::json!({
        "lagging_after_seconds": thresholds.lagging_after.as_secs(),
        "stale_after_seconds": thresholds.stale_after.as_secs(),
    });
    if targets.is_empty() {
        if let Some(json) = json {
            json.print(&serde_json::json!({ "thresholds": thresholds_json, "replicas": [] }))?;
        } else {
            println!(
                "No VFS replicas configured. Add them to [{}.vfs] in {}: alias = \"s3://bucket/path\" or alias = \"<database alias>\".",
                project.source.table_name(),
                project.manifest_path.display()
            );
        }
        return Ok(0);
    }

    let extension = vfs::locate_extension(Some(project), &ctx.env)?;
    ctx.shell.verbose("Using", format!("{} (from {})", extension.path.display(), extension.source));
    let exe = std::env::current_exe().context("could not find this program's own path to start a probe")?;
    let litestream = ctx.litestream().map_err(|error| format!("{error:#}"));
    let config =
        if report::needs_config(&targets) { Some(ctx.write_litestream_config(false)?) } else { None };
    let run = report::StatusRun {
        env: &ctx.env,
        litestream: litestream.as_ref().map_err(String::clone),
        config: config.as_deref(),
        extension: &extension,
        probe_program: &exe,
        probe_args: &["litestream", "vfs-status", "--probe-child"],
        thresholds,
        timeout: secs("timeout"),
    };
    let reports = report::status(&run, &targets);

    if let Some(json) = json {
        json.print(&serde_json::json!({ "thresholds": thresholds_json, "replicas": reports }))?;
    } else {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(report::render_text(&reports, ctx.shell.stdout_color()).as_bytes())
            .and_then(|()| stdout.flush())
            .context("could not write to stdout")?;
    }
    Ok(if reports.iter().any(|r| r.status.is_failure()) { 1 } else { 0 })
}

register_command!(CommandSpec {
    name: "vfs-status",
    about: "Show how fresh each VFS read replica is (exit 1 when any is Stale or Unknown)",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
