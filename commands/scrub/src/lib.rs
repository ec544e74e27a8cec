//! `cargo litestream scrub [DB…]`: every file of every level of each replica read and checked
//! (`cargo_litestream_api::backups::scrub`), with the restore points damage breaks.
//!
//! Exit codes: 0 sound, 1 damaged, 3 could not check (with several replicas the worst wins:
//! damaged, then unchecked).

use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

use cargo_litestream_api::backups::history;
use cargo_litestream_api::backups::report::bytes;
use cargo_litestream_api::backups::scrub::{self, Outcome, ScrubOptions, ScrubReport};
use cargo_litestream_api::backups::store::{NoNativeStore, Store};
use cargo_litestream_api::json;
use cargo_litestream_api::targets::{Selected, TargetsError, Urls};
use cargo_litestream_command::anyhow::{self, Context as _, bail};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_config::TomlTable;

/// The JSON report's schema version (README, "JSON output").
const JSON_VERSION: u32 = 1;

fn cli() -> Command {
    Command::new("scrub")
        .arg(
            Arg::new("DB")
                .value_name("DB")
                .num_args(0..)
                .help("Database aliases or paths, or replica URLs (default: every configured database)"),
        )
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print JSON (schema: README, \"JSON output\")"))
        .arg(
            Arg::new("subset")
                .long("subset")
                .value_name("N/T")
                .help("Read only part N of T of the files (by name), e.g. 1/7 on Mondays, 2/7 on Tuesdays, …"),
        )
        .arg(
            Arg::new("reread")
                .long("reread")
                .action(ArgAction::SetTrue)
                .help("Read every file, also those an earlier scrub verified and that did not change"),
        )
        .arg(
            Arg::new("timeout")
                .long("timeout")
                .value_name("SECONDS")
                .value_parser(cargo_litestream_command::clap::value_parser!(u64).range(1..))
                .default_value("3600")
                .help("How long a replica that is not read natively may take to list and restore"),
        )
        .after_help(
            "Reads each LTX file of every level (file and S3 replicas natively; others are checked by restoring the \
             latest and the oldest point with -integrity-check full) and checks its structure, pages and checksum, \
             that no level has a hole or an overlap, and that level-0 files continue the WAL. Never writes to the \
             replica. Files verified before are remembered (by name, size and ETag or time) and not read again.\n\n\
             Exit codes: 0 sound, 1 damaged, 3 could not check.",
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json = ctx.json(matches, JSON_VERSION);
    let options = ScrubOptions {
        subset: matches.get_one::<String>("subset").map(|s| parse_subset(s)).transpose()?,
        reread: matches.get_flag("reread"),
        memory: None,
    };
    let timeout = Duration::from_secs(*matches.get_one::<u64>("timeout").unwrap_or(&3600));
    let targets = targets(matches, ctx)?;

    let mut results = Vec::with_capacity(targets.len());
    for target in targets {
        ctx.shell.status("Scrubbing", &target.name);
        let result = scrub_one(&target, &options, timeout, ctx);
        // With --json the error is the database's entry in the document: printed once.
        if let (Err(error), None) = (&result, json) {
            ctx.shell.error(format!("{}: {}", target.name, cargo_litestream_command::one_line(error)));
        }
        if let (Ok(report), Some(state_dir)) = (&result, &target.state_dir)
            && report.outcome != Outcome::Unchecked
        {
            let entry = history::Entry::new(
                history::Kind::Scrub,
                &target.name,
                report.outcome == Outcome::Sound,
                report.duration_ms,
                serde_json::to_value(report).unwrap_or_default(),
            );
            if let Some(problem) = history::record(state_dir, &entry) {
                ctx.shell.warn(problem);
            }
        }
        results.push((target.name, result));
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
                    result.as_ref().map_err(cargo_litestream_command::one_line),
                )
            })
            .collect();
        json.write(
            &mut stdout,
            &serde_json::json!({
                "outcome": outcome,
                "exit_code": outcome.exit_code(),
                "databases": databases,
            }),
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

/// A replica to scrub: how the user named it, the store when it is read natively, and what
/// litestream is given to list and restore it otherwise.
struct Target {
    name: String,
    store: Result<Store, NoNativeStore>,
    litestream_target: Vec<OsString>,
    /// Where verified files are remembered, and private restores go (a project's state folder).
    state_dir: Option<std::path::PathBuf>,
}

fn scrub_one(
    target: &Target,
    options: &ScrubOptions,
    timeout: Duration,
    ctx: &Ctx,
) -> anyhow::Result<ScrubReport> {
    match &target.store {
        Ok(store) => {
            let options = ScrubOptions {
                memory: target.state_dir.as_ref().map(|dir| scrub::memory_path(dir, store)),
                ..options.clone()
            };
            let mut bar = Bar::new(ctx, &target.name);
            Ok(scrub::scrub(store, &options, &mut bar)?)
        }
        Err(why) => {
            ctx.shell.note(format!(
                "{}: {why}; checking by restoring the latest and the oldest restore point with -integrity-check full",
                target.name
            ));
            let litestream = ctx.litestream()?;
            let work = target.state_dir.clone().unwrap_or_else(std::env::temp_dir);
            Ok(scrub::by_restoring(&litestream, &ctx.env, &target.litestream_target, &work, timeout)?)
        }
    }
}

fn targets(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Vec<Target>> {
    let named: Vec<&str> =
        matches.get_many::<String>("DB").map(|v| v.map(String::as_str).collect()).unwrap_or_default();
    let selected = ctx.targets(&named, Urls::Take)?;
    let state_dir = ctx.project_if_any()?.map(|p| p.state_dir.clone());
    let mut targets = Vec::with_capacity(selected.len());
    for target in selected {
        targets.push(match target {
            Selected::Database(chosen) => Target {
                store: Store::of(&chosen.database().replica, &ctx.project()?.globals, &ctx.env),
                litestream_target: ctx.litestream_target(false, &chosen.path)?,
                name: chosen.name,
                state_dir: state_dir.clone(),
            },
            Selected::Url(url) => {
                let table = TomlTable::from_iter([("url".to_owned(), url.as_str().into())]);
                Target {
                    name: cargo_litestream_config::redact_url_password(&url),
                    store: Store::of(&table, &TomlTable::new(), &ctx.env),
                    litestream_target: vec![url.into()],
                    state_dir: state_dir.clone(),
                }
            }
            // Nothing to read yet.
            Selected::EmptyDir { .. } => continue,
        });
    }
    if targets.is_empty() {
        return Err(TargetsError::none_configured(ctx.project()?).into());
    }
    Ok(targets)
}

/// `N/T`, 1 ≤ N ≤ T.
fn parse_subset(text: &str) -> anyhow::Result<(u32, u32)> {
    let parsed =
        text.split_once('/').and_then(|(n, t)| Some((n.trim().parse().ok()?, t.trim().parse().ok()?)));
    match parsed {
        Some((n, t)) if n >= 1 && n <= t => Ok((n, t)),
        _ => bail!("invalid value {text:?} for --subset: expected N/T with 1 ≤ N ≤ T, e.g. 1/7"),
    }
}

fn write_human(out: &mut impl Write, name: &str, report: &ScrubReport) -> std::io::Result<()> {
    let verdict = report.outcome.label();
    let mut read = format!("{} read", report.files_read);
    if report.files_remembered > 0 {
        read.push_str(&format!(", {} verified before", report.files_remembered));
    }
    if report.files_in_other_subsets > 0 {
        read.push_str(&format!(", {} left to other subsets", report.files_in_other_subsets));
    }
    writeln!(out, "{name}: {verdict}: {} files ({read}), {} read", report.files, bytes(report.bytes_read))?;
    for finding in &report.findings {
        writeln!(out, "  {}: {}", finding.file, finding.problem)?;
    }
    for finding in &report.unreadable {
        writeln!(out, "  {}: could not be read: {}", finding.file, finding.problem)?;
    }
    let latest = match report.latest_txid {
        Some(txid) => format!("latest ({}): {}", json::txid(txid), report.latest),
        None => format!("latest: {}", report.latest),
    };
    let broken: Vec<String> = report
        .broken
        .iter()
        .map(|r| {
            if r.start() == r.end() {
                json::txid(*r.start())
            } else {
                format!("{} … {}", json::txid(*r.start()), json::txid(*r.end()))
            }
        })
        .collect();
    if broken.is_empty() {
        writeln!(out, "  restore points: {latest}; {} points, none broken", report.points)
    } else {
        writeln!(out, "  restore points: {latest}; {}: broken", broken.join(", "))
    }
}

/// A progress bar on a terminal (bytes to read, rate, ETA); nothing otherwise.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(ctx: &Ctx, name: &str) -> Bar {
        let bar = ctx.shell.progress_bars().then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
            let template = "{prefix:>12} {msg} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})";
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix("Reading");
            bar.set_message(name.to_owned());
            bar
        });
        Bar(bar.filter(|b| !b.is_hidden()))
    }
}

impl scrub::Progress for Bar {
    fn begin(&mut self, _files: usize, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(bytes);
        }
    }

    fn read(&mut self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

register_command!(CommandSpec {
    name: "scrub",
    about: "Read and check every file of each replica; say which restore points damage breaks (exit 0 / 1 damaged / 3 unchecked)",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets() {
        assert_eq!(parse_subset("1/7").unwrap(), (1, 7));
        assert_eq!(parse_subset("7/7").unwrap(), (7, 7));
        for bad in ["0/7", "8/7", "1", "a/b", "1/0", ""] {
            assert!(parse_subset(bad).is_err(), "{bad}");
        }
    }
}
