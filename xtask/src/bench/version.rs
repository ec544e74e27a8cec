//! Measurement 1: `cargo-litestream litestream version` against the same litestream binary run
//! directly. Both sides end in the same `execve` of the same binary; the difference is what
//! cargo-litestream does first (process start, argument parsing, reading Cargo.toml, finding
//! the binary), measured three ways: wall time of the real thing, wall time with a trivial
//! program in litestream's place (so litestream's own variance drops out), and instructions.

use std::path::Path;

use super::fixture::{Bench, Lookup, Project};
use super::measure::{self, Paired};
use super::report::{Section, Status, Verdict, count, num};
use super::samples;

const BAR: f64 = 1.10;

pub fn run(bench: &Bench) -> Result<Section, String> {
    let dir = bench.scratch("version")?;
    let project = Project::new(
        &dir.join("app"),
        "replica = \"s3://my-bucket/my-service\"\n\n[package.metadata.litestream.databases]\ndefault = \"data/app.db\"\n",
    )?;
    let lookup = Lookup::Cache(bench.cache.clone());

    // Same output on both sides, checked once, untimed.
    let direct = output(&mut bench.litestream(&project.dir, &["version"]))?;
    let ours = output(&mut bench.ours(&project.dir, &lookup, &["version"]))?;
    if direct != ours {
        return Err(format!("version differs: litestream printed {direct:?}, cargo-litestream {ours:?}"));
    }
    // And the lookup is the one claimed: `-v` names the binary and where it came from.
    let verbose = bench
        .ours(&project.dir, &lookup, &["-v", "version"])
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    let used = String::from_utf8_lossy(&verbose.stderr)
        .lines()
        .find(|l| l.trim_start().starts_with("Using"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_default();
    let expected = format!("{} (from the verified cache)", bench.litestream.display());
    if matches!(lookup, Lookup::Cache(_)) && !used.ends_with(&expected) {
        return Err(format!("cargo-litestream did not take the warm cache: `-v` said {used:?}"));
    }

    let runs = bench.runs(40);
    super::step(
        "Measuring",
        format!("1. version: {runs} pairs, litestream directly vs through cargo-litestream"),
    );
    let real = Paired::measure(
        runs,
        bench.warmup,
        || measure::run(&mut bench.litestream(&project.dir, &["version"])),
        || measure::run(&mut bench.ours(&project.dir, &lookup, &["version"])),
    )?;

    // The same with /bin/true as "litestream": what is left is cargo-litestream's own cost.
    let trivial = Path::new("/bin/true");
    let true_lookup = Lookup::EnvVar(trivial.to_path_buf());
    let trivial_direct = || {
        let mut command = super::fixture::hermetic(trivial, &project.dir);
        command.arg("version");
        command
    };
    let overhead = Paired::measure(
        runs,
        bench.warmup,
        || measure::run(&mut trivial_direct()),
        || measure::run(&mut bench.ours(&project.dir, &true_lookup, &["version"])),
    )?;

    let scratch = &dir;
    let instr_direct =
        measure::median_instructions(&bench.litestream(&project.dir, &["version"]), scratch, 5);
    let instr_ours =
        measure::median_instructions(&bench.ours(&project.dir, &lookup, &["version"]), scratch, 5);
    let instr_true = measure::median_instructions(&trivial_direct(), scratch, 5);
    let instr_ours_true =
        measure::median_instructions(&bench.ours(&project.dir, &true_lookup, &["version"]), scratch, 5);

    samples::paired(bench, "1-version", &real)?;
    samples::paired(bench, "1-version-overhead", &overhead)?;

    let (a, b) = (measure::ms(&real.a), measure::ms(&real.b));
    let ratios = real.ratios();
    let ratio = measure::median(&ratios);
    let (ratio_low, ratio_high) = measure::median_ci(&ratios);
    let diffs = real.differences_ms();
    let (diff_low, diff_high) = measure::median_ci(&diffs);
    let own = overhead.differences_ms();
    let (own_low, own_high) = measure::median_ci(&own);
    let (ta, tb) = (measure::ms(&overhead.a), measure::ms(&overhead.b));
    let added_instructions = match (instr_ours_true, instr_true) {
        (Some(ours), Some(direct)) => Some(ours.saturating_sub(direct)),
        _ => None,
    };
    let instr = |v: Option<u64>| v.map_or_else(|| "n/a".to_owned(), count);

    let mut body = format!(
        "`litestream version` (A) against `cargo-litestream litestream version` (B), both run from a project \
         folder whose Cargo.toml has a `[package.metadata.litestream]` table (as a user runs it), with a \
         hermetic environment. cargo-litestream finds the binary through {}; both sides then execute the \
         same file (`-v`: `{used}`). {runs} pairs after {} warm-up pairs; stdout and stderr to /dev/null; the \
         output was checked to be identical (`{direct}`).\n\n",
        lookup.describe(),
        bench.warmup,
    );
    body.push_str(
        "| | A: litestream | B: cargo-litestream | B − A | B / A (pair by pair) |\n|---|---|---|---|---|\n",
    );
    body.push_str(&format!(
        "| wall time, median | {} ms | {} ms | {} ms (95 % CI {} – {}) | **{}** (95 % CI {} – {}) |\n",
        num(measure::median(&a)),
        num(measure::median(&b)),
        num(measure::median(&diffs)),
        num(diff_low),
        num(diff_high),
        format_args!("{ratio:.3}"),
        format_args!("{ratio_low:.3}"),
        format_args!("{ratio_high:.3}"),
    ));
    body.push_str(&format!(
        "| wall time, min / p90 | {} / {} ms | {} / {} ms | | |\n",
        num(measure::quantile(&a, 0.0)),
        num(measure::quantile(&a, 0.9)),
        num(measure::quantile(&b, 0.0)),
        num(measure::quantile(&b, 0.9)),
    ));
    body.push_str(&format!(
        "| peak RSS, median | {} MiB | {} MiB | | |\n",
        num(measure::median(&measure::rss_mib(&real.a))),
        num(measure::median(&measure::rss_mib(&real.b))),
    ));
    body.push_str(&format!(
        "| instructions (user space, median of 5) | {} | {} | | |\n\n",
        instr(instr_direct),
        instr(instr_ours)
    ));
    body.push_str(&format!(
        "**cargo-litestream's own cost**, with `/bin/true` in litestream's place (`CARGO_LITESTREAM_BIN=/bin/true`, \
         so without the cache lookup, which 3 measures on its own; A = `/bin/true version`, B = `cargo-litestream \
         litestream version`, {runs} pairs): \
         {} ms against {} ms, **{} ms added** (95 % CI {} – {}), **{} instructions added** \
         ({} against {}); peak RSS {} MiB.\n\n",
        num(measure::median(&tb)),
        num(measure::median(&ta)),
        num(measure::median(&own)),
        num(own_low),
        num(own_high),
        instr(added_instructions),
        instr(instr_ours_true),
        instr(instr_true),
        num(measure::median(&measure::rss_mib(&overhead.b))),
    ));
    let phases = [
        ("the dynamic loader (relocations of cargo-litestream's symbols)", ":_dl_start ["),
        ("building the command tree (every command's clap definition)", ":cargo_litestream_command::cli ["),
        ("parsing the arguments (clap)", ":clap_builder::builder::command::Command::try_get_matches_from ["),
        (
            "reading Cargo.toml, finding litestream (warm cache)",
            ":cargo_litestream_command::ctx::Ctx::litestream [",
        ),
    ];
    match measure::callgrind_phases(&bench.ours(&project.dir, &lookup, &["version"]), Some("execvp"), &phases, scratch)
    {
        Some(table) => body.push_str(&format!(
            "Where cargo-litestream's instructions go before it `exec`s litestream (callgrind up to `execvp`, \
             inclusive counts, warm cache):\n\n{table}\n"
        )),
        None => body.push_str("(valgrind is not installed here: no breakdown by callgrind.)\n\n"),
    }
    body.push_str(
        "What bounds it: B − A is cargo-litestream's process start (dynamic loading of a ~10 MB Rust binary), \
         building the clap command tree, reading Cargo.toml, the lookup and one `execve`; the rest of both sides \
         is litestream's own start-up, a 39 MB static Go binary whose runtime and package initialisation (it \
         links the S3, GCS, Azure, SFTP and NATS clients) dominate. The ratio therefore depends on how slow \
         litestream starts on the machine; the added milliseconds and instructions above do not.\n",
    );

    Ok(Section {
        number: 1,
        title: "`version`: cargo-litestream in front of litestream".to_owned(),
        body,
        summary: vec![Verdict {
            measurement: "`cargo-litestream litestream version` vs `litestream version`".to_owned(),
            result: format!(
                "{} vs {} ms: ratio {ratio:.3} (CI {ratio_low:.3}–{ratio_high:.3}); +{} ms, +{} instructions",
                num(measure::median(&b)),
                num(measure::median(&a)),
                num(measure::median(&own)),
                instr(added_instructions)
            ),
            bar: format!("ratio ≤ {BAR:.2}"),
            status: Status::at_most(BAR, ratio, (ratio_low, ratio_high)),
        }],
    })
}

fn output(command: &mut std::process::Command) -> Result<String, String> {
    let out = command
        .stdout(std::process::Stdio::piped())
        .output()
        .map_err(|e| format!("could not run {command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{command:?} failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
