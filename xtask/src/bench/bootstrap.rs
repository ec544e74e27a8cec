//! Measurement 3: the zero-install bootstrap.
//!
//! - Cold: `cargo-litestream litestream install` into an empty cache, downloading the
//!   upstream-shaped archive of the real 0.5.17 binary from a loopback mirror
//!   (`CARGO_LITESTREAM_MIRROR`), against the shell's way to do the same:
//!   `curl | tee archive | sha256sum`, then `tar x` of the binary.
//! - Peak RSS of the cold install (streamed: the archive is never held in memory).
//! - Warm: what the cache lookup adds to a command, against naming the same file with
//!   `CARGO_LITESTREAM_BIN`; measured with the real litestream, and with a stand-in of the
//!   same size that exits at once, so litestream's own start-up (and its variance) drops out.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest as _, Sha256};

use super::fixture::{self, Bench, Lookup, Project};
use super::measure::{self, Paired};
use super::mirror::Mirror;
use super::report::{Section, Status, Verdict, count, num};
use super::samples;

const BAR_COLD: f64 = 1.3;
const BAR_RSS_MIB: f64 = 20.0;
const BAR_WARM_MS: f64 = 2.0;
const VERSION: &str = "0.5.17";

pub fn run(bench: &Bench) -> Result<Section, String> {
    let dir = bench.scratch("bootstrap")?;
    let project = Project::new(
        &dir.join("app"),
        "replica = \"s3://my-bucket/my-service\"\n\n[package.metadata.litestream.databases]\ndefault = \"data/app.db\"\n",
    )?;

    // The mirror: upstream's layout and file name, the real binary inside.
    let asset = asset_name()?;
    let releases = dir.join("mirror/releases");
    let archive = releases.join(format!("v{VERSION}")).join(&asset);
    build_archive(&bench.litestream, &dir.join("stage"), &archive)?;
    let archive_bytes = std::fs::metadata(&archive).map_err(|e| e.to_string())?.len();
    let binary_bytes = std::fs::metadata(&bench.litestream).map_err(|e| e.to_string())?.len();
    let binary_sha = sha256_file(&bench.litestream)?;
    let mirror = Mirror::start(&dir.join("mirror"))?;
    let base = format!("{}/releases", mirror.url());
    let url = format!("{base}/v{VERSION}/{asset}");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;

    let shell_way = |out: &Path| {
        let mut command = fixture::hermetic(Path::new("/bin/sh"), &project.dir);
        command
            .arg("-c")
            .arg(r#"curl -fsS "$1" | tee "$2/archive.tar.gz" | sha256sum > "$2/archive.sha256" && tar -xzf "$2/archive.tar.gz" -C "$2" litestream"#)
            .arg("sh")
            .arg(&url)
            .arg(out);
        command
    };
    // The same in one stream, closer to what `install` does: extract while downloading, then
    // hash the extracted binary (the pin is the binary's hash).
    let streamed = |out: &Path| {
        let mut command = fixture::hermetic(Path::new("/bin/sh"), &project.dir);
        command
            .arg("-c")
            .arg(r#"curl -fsS "$1" | tar -xzf - -C "$2" litestream && sha256sum "$2/litestream" > "$2/litestream.sha256""#)
            .arg("sh")
            .arg(&url)
            .arg(out);
        command
    };
    let transfer = || {
        let mut command = fixture::hermetic(Path::new("/usr/bin/curl"), &project.dir);
        command.args(["-fsS", "-o", "/dev/null", &url]);
        command
    };
    let ours_cold = |cache: &Path| {
        let mut command = bench.ours(&project.dir, &Lookup::Cache(cache.to_path_buf()), &["install"]);
        command.env("CARGO_LITESTREAM_MIRROR", &base);
        command
    };

    // Both ways checked once, untimed: the same bytes come out, and ours really downloaded.
    let check = work.join("check-a");
    std::fs::create_dir_all(&check).map_err(|e| e.to_string())?;
    measure::run(&mut shell_way(&check))?;
    if sha256_file(&check.join("litestream"))? != binary_sha {
        return Err("the shell way extracted a different binary".to_owned());
    }
    let check_cache = work.join("check-b");
    let out = ours_cold(&check_cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    let installed = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let status_lines = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() || sha256_file(&installed)? != binary_sha {
        return Err(format!("`install` from the mirror failed or installed other bytes:\n{status_lines}"));
    }
    if !status_lines.contains("Downloading") {
        return Err(format!("`install` did not download (adopted or cached?):\n{status_lines}"));
    }
    let _ = std::fs::remove_dir_all(&check);
    let _ = std::fs::remove_dir_all(&check_cache);

    let runs = bench.runs(15);
    super::step("Measuring", format!("3. cold bootstrap: {runs} pairs, curl | sha256sum + tar x vs install"));
    let round = std::cell::Cell::new(0usize);
    let next = || {
        round.set(round.get() + 1);
        round.get()
    };
    // Our side, the same in both comparisons: a cold install into a cache of its own.
    let ours_cold_once = || {
        let cache = work.join(format!("b{}", next()));
        let run = measure::run(&mut ours_cold(&cache));
        let _ = std::fs::remove_dir_all(&cache);
        run
    };
    let cold = Paired::measure(
        runs,
        bench.warmup.min(2),
        || {
            let out = work.join(format!("a{}", next()));
            std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
            let run = measure::run(&mut shell_way(&out));
            let _ = std::fs::remove_dir_all(&out);
            run
        },
        ours_cold_once,
    )?;
    samples::paired(bench, "3-bootstrap-cold", &cold)?;
    let cold_streamed = Paired::measure(
        runs,
        bench.warmup.min(2),
        || {
            let out = work.join(format!("s{}", next()));
            std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
            let run = measure::run(&mut streamed(&out));
            let _ = std::fs::remove_dir_all(&out);
            run
        },
        ours_cold_once,
    )?;
    samples::paired(bench, "3-bootstrap-cold-streamed", &cold_streamed)?;
    let mut transfers = Vec::with_capacity(runs);
    for _ in 0..runs {
        transfers.push(measure::run(&mut transfer())?);
    }

    // Warm, with the real binary: CARGO_LITESTREAM_BIN naming the cached file vs the cache.
    let warm_runs = bench.runs(40);
    super::step("Measuring", format!("3. warm lookup: 2 × {warm_runs} pairs"));
    let env_lookup = Lookup::EnvVar(bench.litestream.clone());
    let cache_lookup = Lookup::Cache(bench.cache.clone());
    let warm_real = Paired::measure(
        warm_runs,
        bench.warmup,
        || measure::run(&mut bench.ours(&project.dir, &env_lookup, &["version"])),
        || measure::run(&mut bench.ours(&project.dir, &cache_lookup, &["version"])),
    )?;
    samples::paired(bench, "3-bootstrap-warm-real", &warm_real)?;

    // Warm, with a stand-in: a copy of the cache whose binary is /bin/true padded to the
    // pinned size, its identity on disk written into the copy's receipt (the warm path compares
    // the receipt's identity with one `lstat`, by design, not the hash).
    let stand_in_cache = dir.join("stand-in-cache");
    copy_tree(&bench.cache, &stand_in_cache)?;
    let relative = bench.litestream.strip_prefix(&bench.cache).map_err(|e| e.to_string())?;
    let stand_in = stand_in_cache.join(relative);
    write_stand_in(&stand_in, binary_bytes)?;
    record_identity(&stand_in)?;
    let env_stand_in = Lookup::EnvVar(stand_in.clone());
    let cache_stand_in = Lookup::Cache(stand_in_cache.clone());
    let used = verbose_source(bench, &project.dir, &cache_stand_in)?;
    if !used.ends_with(&format!("{} (from the verified cache)", stand_in.display())) {
        return Err(format!("the stand-in cache was not used: `-v` said {used:?}"));
    }
    let warm = Paired::measure(
        warm_runs,
        bench.warmup,
        || measure::run(&mut bench.ours(&project.dir, &env_stand_in, &["version"])),
        || measure::run(&mut bench.ours(&project.dir, &cache_stand_in, &["version"])),
    )?;
    samples::paired(bench, "3-bootstrap-warm-stand-in", &warm)?;
    let instr_env =
        measure::median_instructions(&bench.ours(&project.dir, &env_stand_in, &["version"]), &dir, 5);
    let instr_cache =
        measure::median_instructions(&bench.ours(&project.dir, &cache_stand_in, &["version"]), &dir, 5);
    drop(mirror);

    // Figures.
    let (a, b) = (measure::ms(&cold.a), measure::ms(&cold.b));
    let ratios = cold.ratios();
    let ratio = measure::median(&ratios);
    let ratio_ci = measure::median_ci(&ratios);
    let rss_b = measure::rss_mib(&cold.b);
    let rss_a = measure::rss_mib(&cold.a);
    let rss_max = rss_b.iter().copied().fold(0.0, f64::max);
    let warm_diff = warm.differences_ms();
    let warm_ms = measure::median(&warm_diff);
    let warm_ci = measure::median_ci(&warm_diff);
    let real_diff = warm_real.differences_ms();
    let real_ci = measure::median_ci(&real_diff);
    let added = match (instr_cache, instr_env) {
        (Some(c), Some(e)) => count(c.saturating_sub(e)),
        _ => "n/a".to_owned(),
    };
    let mib = |bytes: u64| num(bytes as f64 / f64::from(1 << 20));

    let mut body = format!(
        "**Cold.** A = the shell's way: `curl -fsS URL | tee archive.tar.gz | sha256sum`, then `tar -xzf archive.tar.gz \
         litestream` (one `sh -c`, into a new folder each run); B = `cargo-litestream litestream install` into an empty \
         cache (`CARGO_LITESTREAM_CACHE_DIR`, new each run) from `CARGO_LITESTREAM_MIRROR`. Both fetch `{asset}` \
         ({} MiB; upstream's name and flat layout, built with `tar -czf` around the real {VERSION} binary of \
         {} MiB) from a loopback HTTP server in the harness (127.0.0.1, file in the page cache). B streams the body \
         through gunzip and tar, hashes the binary as it writes it, compares with the compiled pin, fsyncs, renames \
         into place and writes its receipt; A hashes the archive and writes both the archive and the binary, \
         without fsync. Both were checked once to produce the pinned bytes (B's status lines say `Downloading`). \
         {runs} pairs after {} warm-up pairs.\n\n\
         | | A: curl + sha256sum + tar x | B: install | B / A (pair by pair) |\n|---|---|---|---|\n\
         | wall time, median | {} ms | {} ms | **{ratio:.3}** (95 % CI {:.3} – {:.3}) |\n\
         | wall time, min / p90 | {} / {} ms | {} / {} ms | |\n\
         | peak RSS, median (max) | {} MiB (largest process of the pipeline) | **{} MiB** ({} MiB) | |\n\n\
         For comparison, not the bar: the same in one stream (`curl URL | tar -xzf - litestream`, then `sha256sum` \
         of the binary, as `install` hashes the binary) took {} ms against `install`'s {} ms in its own {runs} pairs \
         (ratio {:.3}, CI {:.3} – {:.3}); the transfer alone (`curl -o /dev/null`) {} ms.\n\n",
        mib(archive_bytes),
        mib(binary_bytes),
        bench.warmup.min(2),
        num(measure::median(&a)),
        num(measure::median(&b)),
        ratio_ci.0,
        ratio_ci.1,
        num(measure::quantile(&a, 0.0)),
        num(measure::quantile(&a, 0.9)),
        num(measure::quantile(&b, 0.0)),
        num(measure::quantile(&b, 0.9)),
        num(measure::median(&rss_a)),
        num(measure::median(&rss_b)),
        num(rss_max),
        num(measure::median(&measure::ms(&cold_streamed.a))),
        num(measure::median(&measure::ms(&cold_streamed.b))),
        measure::median(&cold_streamed.ratios()),
        measure::median_ci(&cold_streamed.ratios()).0,
        measure::median_ci(&cold_streamed.ratios()).1,
        num(measure::median(&measure::ms(&transfers))),
    );
    body.push_str(&format!(
        "**Warm.** What the cache lookup adds to a command: `cargo-litestream litestream version` finding the binary \
         in its warm cache (B) against the same command with `CARGO_LITESTREAM_BIN` naming the same cached file (A); \
         {warm_runs} pairs each.\n\n\
         | executed binary | A: `CARGO_LITESTREAM_BIN` | B: warm cache | B − A, median (95 % CI) | instructions added |\n|---|---|---|---|---|\n\
         | a stand-in: `/bin/true` padded to the pinned size, in a copy of the cache | {} ms | {} ms | **{} ms** ({} – {}) | {added} |\n\
         | the real litestream | {} ms | {} ms | {} ms ({} – {}) | |\n\n\
         The stand-in takes litestream's own start-up ({} ms and its spread) out of the difference; the warm path \
         reads the receipt and compares the identity it records (device, inode, size, mtime, ctime) with one \
         `lstat` of the file, hashing only a file whose identity changed (a full re-hash is `install --verify`), \
         so the stand-in, its identity written into the copy's receipt, is accepted, which is what makes it \
         possible.\n\n",
        num(measure::median(&measure::ms(&warm.a))),
        num(measure::median(&measure::ms(&warm.b))),
        num(warm_ms),
        num(warm_ci.0),
        num(warm_ci.1),
        num(measure::median(&measure::ms(&warm_real.a))),
        num(measure::median(&measure::ms(&warm_real.b))),
        num(measure::median(&real_diff)),
        num(real_ci.0),
        num(real_ci.1),
        num(measure::median(&measure::ms(&warm_real.a))),
    ));
    body.push_str(
        "What bounds it: cold, both sides move the same bytes over loopback and inflate them; the rest is hashing \
         (sha256 of the 39 MB binary for B, of the smaller archive for A) and writing 39 MB, which B also fsyncs \
         (a durable install: a crash never leaves a half-written binary that its receipt vouches for). Warm, the \
         lookup is one small JSON file read and one `lstat`.\n",
    );

    Ok(Section {
        number: 3,
        title: "Zero-install bootstrap: cold download and warm lookup".to_owned(),
        body,
        summary: vec![
            Verdict {
                measurement: "cold `install` from a loopback mirror vs `curl | sha256sum` + `tar x`"
                    .to_owned(),
                result: format!(
                    "{} vs {} ms: ratio {ratio:.3} (CI {:.3}–{:.3})",
                    num(measure::median(&b)),
                    num(measure::median(&a)),
                    ratio_ci.0,
                    ratio_ci.1
                ),
                bar: format!("ratio ≤ {BAR_COLD}"),
                status: Status::at_most(BAR_COLD, ratio, ratio_ci),
            },
            Verdict {
                measurement: "peak RSS of the cold install".to_owned(),
                result: format!("{} MiB (max of {runs} runs)", num(rss_max)),
                bar: format!("≤ {BAR_RSS_MIB} MiB"),
                status: Status::check(rss_max <= BAR_RSS_MIB),
            },
            Verdict {
                measurement: "warm cache lookup, added to a command".to_owned(),
                result: format!(
                    "{} ms (CI {}–{}), {added} instructions",
                    num(warm_ms),
                    num(warm_ci.0),
                    num(warm_ci.1)
                ),
                bar: format!("≤ {BAR_WARM_MS} ms"),
                status: Status::at_most(BAR_WARM_MS, warm_ms, warm_ci),
            },
        ],
    })
}

/// goreleaser's name for this machine: `litestream-0.5.17-linux-x86_64.tar.gz`.
fn asset_name() -> Result<String, String> {
    let os = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        other => return Err(format!("measurement 3 runs on Linux and macOS, not {other}")),
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "arm64",
        other => return Err(format!("no litestream release for {other}")),
    };
    Ok(format!("litestream-{VERSION}-{os}-{arch}.tar.gz"))
}

/// Upstream's flat layout (`litestream`, `LICENSE`, `README.md`, `etc/…`), gzip level 6 as
/// `tar -z` writes it.
fn build_archive(binary: &Path, stage: &Path, archive: &Path) -> Result<(), String> {
    std::fs::create_dir_all(stage.join("etc")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(archive.parent().ok_or("archive without folder")?).map_err(|e| e.to_string())?;
    std::fs::copy(binary, stage.join("litestream")).map_err(|e| e.to_string())?;
    fixture::write(&stage.join("LICENSE"), "Apache License 2.0 (bench fixture)\n")?;
    fixture::write(&stage.join("README.md"), "# Litestream (bench fixture)\n")?;
    fixture::write(&stage.join("etc/litestream.yml"), "dbs: []\n")?;
    fixture::write(
        &stage.join("etc/litestream.service"),
        "[Service]\nExecStart=/usr/bin/litestream replicate\n",
    )?;
    crate::exec(
        Command::new("tar")
            .args(["--owner=0", "--group=0", "--numeric-owner", "-czf"])
            .arg(archive)
            .arg("-C")
            .arg(stage)
            .args(["LICENSE", "README.md", "etc", "litestream"]),
    )
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(to);
    crate::exec(Command::new("cp").arg("-a").arg(from).arg(to))
}

/// `/bin/true` followed by zeros up to `size` bytes: an executable that exits at once, of the
/// size the cache's receipt expects.
fn write_stand_in(path: &Path, size: u64) -> Result<(), String> {
    let mut bytes = std::fs::read("/bin/true").map_err(|e| format!("/bin/true: {e}"))?;
    let size = usize::try_from(size).map_err(|e| e.to_string())?;
    if bytes.len() > size {
        return Err("/bin/true is larger than litestream".to_owned());
    }
    bytes.resize(size, 0);
    let _ = std::fs::remove_file(path);
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    measure::run(&mut fixture::hermetic(path, Path::new("/")))?;
    Ok(())
}

/// Writes `path`'s identity (device, inode, size, mtime, ctime) into the `receipt.json` beside
/// it, as the cache records it at install time, so the warm path takes the stand-in for the
/// installed file. (Text surgery: the receipt's `identity` object is flat, and xtask has no
/// JSON library.)
fn record_identity(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let identity = format!(
        "\"identity\": {{\"dev\": {}, \"ino\": {}, \"size\": {}, \"mtime\": {}, \"mtime_nsec\": {}, \"ctime\": {}, \"ctime_nsec\": {}}}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    let receipt = path.with_file_name("receipt.json");
    let text = std::fs::read_to_string(&receipt).map_err(|e| format!("{}: {e}", receipt.display()))?;
    let start = text.find("\"identity\"").ok_or_else(|| format!("{} has no identity", receipt.display()))?;
    let end = text[start..].find('}').map(|i| start + i + 1).ok_or("an unterminated identity")?;
    let text = format!("{}{identity}{}", &text[..start], &text[end..]);
    std::fs::write(&receipt, text).map_err(|e| format!("{}: {e}", receipt.display()))
}

/// The `Using …` line of `-v`.
fn verbose_source(bench: &Bench, cwd: &Path, lookup: &Lookup) -> Result<String, String> {
    let out = bench
        .ours(cwd, lookup, &["-v", "version"])
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out.stderr)
        .lines()
        .find(|l| l.trim_start().starts_with("Using"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_default())
}
