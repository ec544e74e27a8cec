//! `cargo litestream scrub [DB…]`: every file of every level of each replica read and checked
//! (`cargo_litestream_api::backups::scrub`), with the restore points damage breaks.
//!
//! Exit codes: 0 sound, 1 damaged, 3 could not check (with several replicas the worst wins:
//! damaged, then unchecked).

use std::time::Duration;

use cargo_litestream_api::assurance::{Checks, text};
use cargo_litestream_api::backups::scrub::{self, ScrubOptions};
use cargo_litestream_api::targets::Urls;
use cargo_litestream_command::anyhow::{self, bail};
use cargo_litestream_command::assured;
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};

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
    assured::or_unchecked(ctx, || {
        let options = ScrubOptions {
            subset: matches.get_one::<String>("subset").map(|s| parse_subset(s)).transpose()?,
            reread: matches.get_flag("reread"),
            memory: None,
        };
        let timeout = Duration::from_secs(*matches.get_one::<u64>("timeout").unwrap_or(&3600));
        let named: Vec<&str> =
            matches.get_many::<String>("DB").map(|v| v.map(String::as_str).collect()).unwrap_or_default();
        let replicas = ctx.replicas(&named, Urls::Take, false)?;
        // Only replicas this tool cannot read natively need litestream (and maybe its download).
        let litestream = Checks::needs_litestream(&replicas).then(|| ctx.litestream()).transpose()?;
        let checks = assured::checks(ctx, litestream.as_ref())?;
        assured::each(
            ctx,
            json,
            "Scrubbing",
            &replicas,
            |replica| {
                // A bar only for what is read here; a replica litestream restores has none.
                let mut bar = replica.store.is_ok().then(|| ctx.shell.bar("Reading", &replica.name, None));
                let progress: &mut dyn scrub::Progress = match &mut bar {
                    Some(bar) => bar,
                    None => &mut (),
                };
                Ok(checks.scrub(replica, &options, timeout, progress)?)
            },
            |out, name, report, _| text::scrub(out, name, report),
        )
    })
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
