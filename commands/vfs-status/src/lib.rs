//! `cargo litestream vfs-status`: how fresh each VFS read replica
//! (`[package.metadata.litestream.vfs]`) is.
//!
//! For each replica, two things happen in parallel with the others: `litestream ltx -level all
//! -json` lists the replica's newest TXID, then a child process (this binary, `vfs-status
//! --probe-child`) loads the VFS extension, opens the replica through it (bounded: an empty
//! replica blocks forever) and reports what a fresh reader sees. This process never loads the
//! extension: after loading it, plain SQLite opens fail (upstream bug), and the child's
//! environment can carry each replica's own credentials, which the extension reads only at
//! process start.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::time::Duration;

use cargo_litestream_api::vfs::{
    self, Assessment, Health, Probe, ProbeRequest, ReplicaPosition, TargetSource, Thresholds, VfsTarget,
};
use cargo_litestream_command::anyhow::{self, Context as _, bail};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use cargo_litestream_command::{CommandSpec, Ctx, json, register_command};
use serde::Serialize;

/// How often the probe's reader polls the replica: short, so the first poll (the reader's
/// `litestream_lag()` is -1 until then) comes quickly.
const PROBE_POLL_INTERVAL_MS: u64 = 200;
/// A probe child's start-up and the loading of the 84 MB extension, on top of `--timeout`.
const PROBE_GRACE: Duration = Duration::from_secs(10);
const NULL_DEVICE: &str = if cfg!(windows) { "NUL" } else { "/dev/null" };

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
        return probe_child();
    }
    let json = ctx.json(matches, JSON_VERSION);
    let project = ctx.project()?;
    let secs = |name: &str| Duration::from_secs(*matches.get_one::<u64>(name).unwrap_or(&1));
    let thresholds = Thresholds { lagging_after: secs("lagging-after"), stale_after: secs("stale-after") };
    if thresholds.lagging_after > thresholds.stale_after {
        bail!(
            "--lagging-after ({} s) is later than --stale-after ({} s); give a smaller --lagging-after",
            thresholds.lagging_after.as_secs(),
            thresholds.stale_after.as_secs()
        );
    }
    let timeout = secs("timeout");

    let mut targets = vfs::vfs_targets(project, &ctx.env);
    if let Some(alias) = matches.get_one::<String>("ALIAS") {
        if !project.vfs.iter().any(|(name, _)| name == alias) {
            let names: Vec<&str> = project.vfs.iter().map(|(name, _)| name.as_str()).collect();
            bail!(
                "`{alias}` is not a VFS alias; configured: {}",
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            );
        }
        targets.retain(|(name, _)| name == alias);
    }
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
    // For listing the replica's newest TXID; without litestream that number is just unknown.
    let litestream = ctx.litestream();
    let config = if targets
        .iter()
        .any(|(_, t)| matches!(t, Ok(VfsTarget { source: TargetSource::Database { .. }, .. })))
    {
        Some(ctx.write_litestream_config(false)?)
    } else {
        None
    };

    let env = &ctx.env;
    let reports: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|(alias, target)| {
                let (litestream, config, exe, extension) = (&litestream, &config, &exe, &extension);
                scope.spawn(move || match target {
                    Err(problem) => Report::unresolved(alias, problem),
                    Ok(target) => {
                        let position = match litestream {
                            // `litestream ltx URL` would show the password to every user of the
                            // machine (command lines are public); the config route keeps it in a
                            // 0600 file.
                            Ok(_)
                                if matches!(target.source, TargetSource::Url)
                                    && target.display_url() != target.url =>
                            {
                                Err("not listed: the replica URL holds a password, which a `litestream ltx` \
                                     command line would show to other users"
                                    .to_owned())
                            }
                            Ok(litestream) => {
                                let args: Vec<OsString> = match (&target.source, config) {
                                    (TargetSource::Database { path, .. }, Some(config)) => {
                                        vec!["-config".into(), config.into(), path.into()]
                                    }
                                    _ => vec![target.url.clone().into()],
                                };
                                vfs::replica_position(litestream, env, &args, &target.env, timeout)
                            }
                            Err(error) => Err(format!("{error:#}")),
                        };
                        let request = ProbeRequest {
                            extension: extension.path.clone(),
                            url: target.url.clone(),
                            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                            poll_interval_ms: PROBE_POLL_INTERVAL_MS,
                        };
                        let mut child = std::process::Command::new(exe);
                        child
                            .args(["litestream", "vfs-status", "--probe-child"])
                            .env_clear()
                            .envs(env.vars())
                            .envs(target.env.iter().map(|(k, v)| (k, v)));
                        // The VFS is litestream's S3 client too: it cannot run with these either.
                        for name in cargo_litestream_api::UNUSABLE_BY_LITESTREAM {
                            child.env_remove(name);
                        }
                        // The extension logs to stdout unless told otherwise, and stdout carries
                        // the child's answer.
                        if env.get_os("LITESTREAM_LOG_FILE").is_none() {
                            child.env("LITESTREAM_LOG_FILE", NULL_DEVICE);
                        }
                        let probe = vfs::probe_in_child(&mut child, &request, PROBE_GRACE);
                        let assessment = vfs::assess(&probe, &position, &thresholds);
                        Report::new(target, probe, position, assessment)
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(&targets)
            .map(|(handle, (alias, _))| {
                handle.join().unwrap_or_else(|_| Report::unresolved(alias, "the check panicked (a bug)"))
            })
            .collect()
    });

    if let Some(json) = json {
        json.print(&serde_json::json!({ "thresholds": thresholds_json, "replicas": reports }))?;
    } else {
        print_text(&reports, ctx.shell.stdout_color())?;
    }
    Ok(if reports.iter().any(|r| r.status.is_failure()) { 1 } else { 0 })
}

/// The child side: one probe, request on stdin, answer on stdout (a private protocol between
/// two copies of this binary: no envelope).
fn probe_child() -> anyhow::Result<u8> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).context("could not read the probe request")?;
    let request: ProbeRequest = serde_json::from_str(&input).context("could not read the probe request")?;
    let probe = vfs::probe(&request);
    print_json(&probe)?;
    Ok(0)
}

/// One replica's line in the output.
#[derive(Serialize)]
struct Report {
    alias: String,
    /// With any password redacted.
    replica_url: Option<String>,
    /// The database alias whose replica this is, when it is one.
    database: Option<String>,
    txid: Option<String>,
    replica_txid: Option<String>,
    txids_behind: Option<u64>,
    poll_age_seconds: Option<i64>,
    data_time: Option<String>,
    data_age_seconds: Option<f64>,
    status: Health,
    reason: String,
}

impl Report {
    fn unresolved(alias: &str, problem: &str) -> Report {
        Report {
            alias: alias.to_owned(),
            replica_url: None,
            database: None,
            txid: None,
            replica_txid: None,
            txids_behind: None,
            poll_age_seconds: None,
            data_time: None,
            data_age_seconds: None,
            status: Health::Unknown,
            reason: problem.to_owned(),
        }
    }

    fn new(
        target: &VfsTarget,
        probe: Probe,
        position: Result<Option<ReplicaPosition>, String>,
        assessment: Assessment,
    ) -> Report {
        Report {
            alias: target.alias.clone(),
            replica_url: Some(target.display_url()),
            database: match &target.source {
                TargetSource::Database { alias, .. } => Some(alias.clone()),
                TargetSource::Url => None,
            },
            txid: probe.txid,
            replica_txid: position.ok().flatten().map(|p| json::txid(p.txid)),
            txids_behind: assessment.txids_behind,
            poll_age_seconds: probe.poll_age_seconds,
            data_time: probe.data_time,
            data_age_seconds: probe.data_age_seconds.map(|a| (a * 10.0).round() / 10.0),
            status: assessment.health,
            reason: assessment.reason,
        }
    }
}

fn print_text(reports: &[Report], color: bool) -> anyhow::Result<()> {
    let mut out = String::new();
    let plural = if reports.len() == 1 { "" } else { "s" };
    out.push_str(&format!("Found {} VFS replica{plural}:\n", reports.len()));
    for report in reports {
        let unknown = || "unknown".to_owned();
        out.push_str(&format!("\n{}\n", report.alias));
        if let Some(url) = &report.replica_url {
            let of = report.database.as_ref().map(|d| format!(" (the replica of `{d}`)")).unwrap_or_default();
            out.push_str(&format!("  Replica URL:     {url}{of}\n"));
        }
        let behind = match (&report.txids_behind, &report.replica_txid) {
            (Some(n), Some(latest)) => format!(" ({n} behind; the replica's newest when listed: {latest})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  Transaction ID:  {}{behind}\n",
            report.txid.clone().unwrap_or_else(unknown)
        ));
        let poll = match report.poll_age_seconds {
            Some(-1) => "never (-1)".to_owned(),
            Some(age) => format!("{} ago", vfs::seconds(age as f64)),
            None => unknown(),
        };
        out.push_str(&format!("  Last poll:       {poll}\n"));
        let data = match (report.data_age_seconds, &report.data_time) {
            (Some(age), Some(time)) => format!("{} (written {time})", vfs::seconds(age)),
            _ => unknown(),
        };
        out.push_str(&format!("  Data age:        {data}\n"));
        out.push_str(&format!("  Status:          {}: {}\n", status(report.status, color), report.reason));
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()).context("could not write to stdout")
}

/// `✓ Healthy` in colour on a terminal, `Healthy` elsewhere.
fn status(health: Health, color: bool) -> String {
    if !color {
        return health.label().to_owned();
    }
    let style = match health {
        Health::Healthy => "\x1b[1;32m",
        Health::Lagging => "\x1b[1;33m",
        Health::Stale => "\x1b[1;31m",
        Health::Unknown => "\x1b[1;35m",
    };
    format!("{style}{} {}\x1b[0m", health.symbol(), health.label())
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value).context("could not write to stdout")?;
    writeln!(stdout).context("could not write to stdout")
}

register_command!(CommandSpec {
    name: "vfs-status",
    about: "Show how fresh each VFS read replica is (exit 1 when any is Stale or Unknown)",
    cli,
    run,
    passthrough: None,
});
