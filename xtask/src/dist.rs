//! `cargo xtask dist`: the release archives that `[package.metadata.binstall]` in the root
//! `Cargo.toml` promises, and a `SHA256SUMS` file for them.
//!
//! Nothing about the archives is written here twice: their names, the binary's path inside them
//! and their formats are rendered from the binstall metadata as `cargo metadata` reports it,
//! with cargo-binstall's template rules (`binstalk-fetchers` `gh_crate_meta.rs`, `binstalk-bins`
//! `lib.rs`), so what is built is what `cargo binstall cargo-litestream` will ask for. The
//! integration test `tests/it/dist.rs` resolves the same metadata on its own, the way
//! cargo-binstall does, and installs from the archives through a loopback mirror.
//!
//! Only targets whose standard library is installed can be built; any other is refused with
//! the `rustup target add` line rather than skipped (an archive set missing a target must be
//! visible, not silent).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{cargo, exec, root};

const USAGE: &str = "\
usage: cargo xtask dist [--target TRIPLE]... [--profile NAME] [--out DIR] [--binary PATH]

Builds cargo-litestream and packs it as `[package.metadata.binstall]` describes (one archive
per target, named and laid out by its `pkg-url`, `bin-dir` and `pkg-fmt`), plus SHA256SUMS.

  --target TRIPLE   a target to build (repeatable; default: the host). Its standard library
                    must be installed (`rustup target add TRIPLE`) and its linker on PATH
  --profile NAME    cargo profile (default: release; `dev` packs a debug build, for trying
                    the packaging quickly: never upload those)
  --out DIR         where the archives go (default: <target dir>/dist, honouring
                    CARGO_TARGET_DIR and build.target-dir); emptied first if it holds an
                    earlier dist (a SHA256SUMS), refused if it holds anything else
  --binary PATH     pack this already-built binary instead of building one (a single target;
                    the integration test packs the debug build it tests this way)
";

/// The file users and release pages verify the archives with (`sha256sum -c SHA256SUMS`).
pub const CHECKSUMS: &str = "SHA256SUMS";

/// Files shipped beside the binary: the licences must travel with it, the rest is courtesy.
const EXTRA_FILES: &[&str] = &["README.md", "LICENSE-MIT", "LICENSE-APACHE", "CHANGELOG.md"];

/// The package whose binary is released.
const PACKAGE: &str = "cargo-litestream";

pub fn run(args: &[String]) -> Result<(), String> {
    let options = match Options::parse(args)? {
        Some(options) => options,
        None => {
            print!("{USAGE}");
            return Ok(());
        }
    };
    let package = Package::from_cargo_metadata()?;
    let host = host_target()?;
    let targets = if options.targets.is_empty() { vec![host.clone()] } else { options.targets.clone() };
    for target in &targets {
        if !target_installed(target)? {
            return Err(format!(
                "target {target}: its standard library is not installed, so nothing was built \
                 (`rustup target add {target}`, and a linker for it on PATH)"
            ));
        }
    }
    let plans = targets.iter().map(|t| package.plan(t)).collect::<Result<Vec<_>, _>>()?;
    if options.binary.is_some() && plans.len() != 1 {
        return Err("dist: --binary packs one binary, for one --target".to_owned());
    }

    let out = options.out.clone().unwrap_or_else(|| package.target_dir.join("dist"));
    prepare_out_dir(&out)?;
    let mut sums = BTreeMap::new();
    for plan in &plans {
        let binary = match &options.binary {
            Some(binary) => {
                eprintln!("     Packing {} (given with --binary, not built here)", binary.display());
                binary.clone()
            }
            None => build(&package, plan, &options.profile, &host)?,
        };

        let archive = out.join(&plan.file_name);
        pack(plan, &binary, &root(), &archive, source_date()?)?;
        let sum = sha256_file(&archive)?;
        let size = std::fs::metadata(&archive).map_err(|e| format!("{}: {e}", archive.display()))?.len();
        eprintln!("    Packaged {} ({:.1} MB, sha256 {sum})", archive.display(), size as f64 / 1e6);
        sums.insert(plan.file_name.clone(), sum);
    }
    let sums_text: String = sums.iter().map(|(name, sum)| format!("{sum}  {name}\n")).collect();
    write_atomic(&out.join(CHECKSUMS), sums_text.as_bytes())?;
    eprintln!("       Wrote {}", out.join(CHECKSUMS).display());
    for plan in &plans {
        println!("{}", out.join(&plan.file_name).display());
    }
    println!("{}", out.join(CHECKSUMS).display());

    let tag = plans.first().and_then(|p| p.release.as_deref());
    if let Some(tag) = tag {
        eprintln!("        Note upload these as the assets of the release `{tag}`");
    }
    if options.targets.is_empty() && options.binary.is_none() {
        eprintln!(
            "        Note built for the host ({host}) only: other targets need `--target TRIPLE`, \
             with their standard library installed (installed here: {})",
            installed_targets().unwrap_or_else(|e| format!("unknown: {e}"))
        );
    }
    if options.binary.is_some() {
        eprintln!("     Warning these archives hold a binary dist did not build: check it before releasing");
    } else if options.profile != "release" {
        eprintln!("     Warning these archives hold a `{}` build: do not release them", options.profile);
    }
    Ok(())
}

/// `cargo build` of the binary for `plan`'s target; the path of what it built.
fn build(package: &Package, plan: &Plan, profile: &str, host: &str) -> Result<PathBuf, String> {
    eprintln!("    Building {PACKAGE} {} ({profile} profile, {})", package.version, plan.target);
    let mut build = cargo();
    build.args(["build", "--locked", "--package", PACKAGE, "--bin", &package.bin, "--profile", profile]);
    // The host's build goes where plain `cargo build` puts it, so an earlier build is reused.
    if plan.target != host {
        build.args(["--target", &plan.target]);
    }
    exec(&mut build)?;
    let mut binary = package.target_dir.clone();
    if plan.target != host {
        binary.push(&plan.target);
    }
    binary.push(profile_dir(profile));
    binary.push(format!("{}{}", package.bin, plan.binary_ext));
    Ok(binary)
}

#[derive(Debug)]
struct Options {
    targets: Vec<String>,
    profile: String,
    out: Option<PathBuf>,
    binary: Option<PathBuf>,
}

impl Options {
    /// `None` for `--help`.
    fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut options =
            Options { targets: Vec::new(), profile: "release".to_owned(), out: None, binary: None };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| {
                args.next().cloned().ok_or_else(|| format!("dist: {flag} needs a value\n\n{USAGE}"))
            };
            match arg.as_str() {
                "--target" => options.targets.push(value("--target")?),
                "--profile" => options.profile = value("--profile")?,
                "--out" => options.out = Some(PathBuf::from(value("--out")?)),
                "--binary" => options.binary = Some(PathBuf::from(value("--binary")?)),
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("dist: unexpected argument `{other}`\n\n{USAGE}")),
            }
        }
        Ok(Some(options))
    }
}

/// What `cargo metadata` says about the released package.
#[derive(Debug)]
struct Package {
    name: String,
    version: String,
    repository: Option<String>,
    /// The one binary target (binstall installs each `[[bin]]`; this package has one).
    bin: String,
    binstall: Value,
    target_dir: PathBuf,
}

impl Package {
    fn from_cargo_metadata() -> Result<Package, String> {
        let output = cargo()
            .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
            .output()
            .map_err(|e| format!("could not run cargo metadata: {e}"))?;
        if !output.status.success() {
            return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        let metadata: Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("cargo metadata printed something that is not JSON: {e}"))?;
        let target_dir = metadata["target_directory"]
            .as_str()
            .map(PathBuf::from)
            .ok_or("cargo metadata has no target_directory")?;
        let package = metadata["packages"]
            .as_array()
            .and_then(|packages| packages.iter().find(|p| p["name"] == PACKAGE))
            .ok_or_else(|| format!("cargo metadata lists no package `{PACKAGE}`"))?;
        Package::from_json(package, target_dir)
    }

    fn from_json(package: &Value, target_dir: PathBuf) -> Result<Package, String> {
        let text = |key: &str| package[key].as_str().map(str::to_owned);
        let bins: Vec<&str> = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin")))
            .filter_map(|t| t["name"].as_str())
            .collect();
        let [bin] = bins[..] else {
            return Err(format!("{PACKAGE} must have exactly one binary target to pack, it has {bins:?}"));
        };
        let binstall = package["metadata"]["binstall"].clone();
        if !binstall.is_object() {
            return Err(format!("{PACKAGE}'s Cargo.toml has no [package.metadata.binstall] table"));
        }
        Ok(Package {
            name: text("name").ok_or("a package without a name")?,
            version: text("version").ok_or("a package without a version")?,
            repository: text("repository"),
            bin: bin.to_owned(),
            binstall,
            target_dir,
        })
    }

    /// The archive binstall expects for `target`.
    fn plan(&self, target: &str) -> Result<Plan, String> {
        let key = |key: &str| -> Result<Option<String>, String> {
            // An exact target override wins over the base table, key by key, as in binstall.
            // `cfg(…)` overrides would need target-lexicon's view of the target: refused rather
            // than half-understood, so an archive is never named by a rule not applied here.
            let overrides = self.binstall["overrides"].as_object();
            if let Some(cfg) = overrides.and_then(|o| o.keys().find(|k| k.starts_with("cfg("))) {
                return Err(format!(
                    "binstall override `{cfg}`: cfg() overrides are not supported by xtask dist"
                ));
            }
            let value = overrides
                .and_then(|o| o.get(target))
                .and_then(|o| o.get(key))
                .or_else(|| self.binstall.get(key));
            match value {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!("binstall `{key}` must be a string, not {other}")),
            }
        };
        let format = match key("pkg-fmt")?.as_deref() {
            // binstall's default format.
            None | Some("tgz") => Format::Tgz,
            Some("zip") => Format::Zip,
            Some(other) => {
                return Err(format!(
                    "binstall pkg-fmt `{other}` for {target}: xtask dist packs tgz and zip only"
                ));
            }
        };
        let pkg_url = key("pkg-url")?.ok_or("[package.metadata.binstall] has no pkg-url")?;
        let bin_dir = key("bin-dir")?.ok_or("[package.metadata.binstall] has no bin-dir")?;
        // binstall strips a `.git` and a trailing `/` from the repository URL.
        let repo = self.repository.as_deref().map(|r| {
            let r = r.trim_end_matches('/');
            r.strip_suffix(".git").unwrap_or(r).to_owned()
        });
        let binary_ext = if target.contains("windows") { ".exe" } else { "" };
        let suffix = format.suffix();
        let url = render(&pkg_url, |name| match name {
            "name" => Some(self.name.clone()),
            "version" => Some(self.version.clone()),
            "repo" => repo.clone(),
            "target" => Some(target.to_owned()),
            "archive-suffix" => Some(suffix.to_owned()),
            "archive-format" | "format" => Some(suffix[1..].to_owned()),
            "binary-ext" => Some(binary_ext.to_owned()),
            _ => None,
        })
        .map_err(|e| format!("pkg-url `{pkg_url}`: {e}"))?;
        let bin_path = render(&bin_dir, |name| match name {
            "name" => Some(self.name.clone()),
            "version" => Some(self.version.clone()),
            "repo" => repo.clone(),
            "target" => Some(target.to_owned()),
            "bin" => Some(self.bin.clone()),
            "binary-ext" | "format" => Some(binary_ext.to_owned()),
            _ => None,
        })
        .map_err(|e| format!("bin-dir `{bin_dir}`: {e}"))?;
        if bin_path.starts_with('/') || bin_path.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(format!(
                "bin-dir `{bin_dir}` renders to `{bin_path}`, not a relative path in the archive"
            ));
        }
        let file_name = url.rsplit('/').next().unwrap_or_default().to_owned();
        if file_name.is_empty() || !file_name.ends_with(suffix) {
            return Err(format!("pkg-url renders to `{url}`, whose file name does not end in {suffix}"));
        }
        // A GitHub release asset URL: `<repo>/releases/download/<tag>/<file>`.
        let release =
            url.rsplit('/').nth(1).filter(|_| url.contains("/releases/download/")).map(str::to_owned);
        Ok(Plan { target: target.to_owned(), format, file_name, bin_path, binary_ext, release })
    }
}

/// One archive to build.
#[derive(Debug, PartialEq)]
struct Plan {
    target: String,
    format: Format,
    /// The asset's name: the last segment of the rendered pkg-url.
    file_name: String,
    /// The binary's path inside the archive: the rendered bin-dir.
    bin_path: String,
    binary_ext: &'static str,
    /// The release tag the pkg-url points into, when it is a GitHub release URL.
    release: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Tgz,
    Zip,
}

impl Format {
    /// The suffix written. binstall tries each of a format's suffixes (`.tgz`, `.tar.gz` for
    /// tgz) in `{ archive-suffix }`; README and the release promise `.tar.gz`.
    fn suffix(self) -> &'static str {
        match self {
            Format::Tgz => ".tar.gz",
            Format::Zip => ".zip",
        }
    }
}

/// Renders a binstall template (leon's syntax): `{ key }` with optional spaces, `\{`, `\}` and
/// `\\` for the literal characters. An unknown key is an error, as in binstall.
fn render(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('{' | '}' | '\\')) => out.push(escaped),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '{' => {
                let mut key = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err("an unclosed `{`".to_owned()),
                        Some(c) => key.push(c),
                    }
                }
                let key = key.trim();
                out.push_str(&value(key).ok_or_else(|| format!("no value for `{{ {key} }}`"))?);
            }
            '}' => return Err("a `}` with no `{`".to_owned()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The archive: every folder on the way to the binary, the binary (mode 0755), and the
/// [`EXTRA_FILES`] beside it, read from `root`. Written to a temporary name, then renamed.
fn pack(plan: &Plan, binary: &Path, root: &Path, archive: &Path, mtime: u64) -> Result<(), String> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let (dir, _) = plan.bin_path.rsplit_once('/').unwrap_or(("", &plan.bin_path));
    let mut dirs = Vec::new();
    let mut prefix = String::new();
    for component in dir.split('/').filter(|c| !c.is_empty()) {
        prefix.push_str(component);
        prefix.push('/');
        dirs.push(prefix.clone());
    }
    let mut files = vec![(plan.bin_path.clone(), read(binary)?, 0o755)];
    for name in EXTRA_FILES {
        files.push((format!("{prefix}{name}"), read(&root.join(name))?, 0o644));
    }

    let temp = archive.with_file_name(format!(".{}.tmp", plan.file_name));
    let file = File::create(&temp).map_err(|e| format!("{}: {e}", temp.display()))?;
    let result = match plan.format {
        Format::Tgz => write_tgz(BufWriter::new(file), &dirs, &files, mtime),
        Format::Zip => write_zip(file, &dirs, &files, mtime),
    };
    result.and_then(|()| std::fs::rename(&temp, archive).map_err(|e| e.to_string())).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("could not write {}: {e}", archive.display())
    })
}

type Entry = (String, Vec<u8>, u32);

fn write_tgz(out: impl Write, dirs: &[String], files: &[Entry], mtime: u64) -> Result<(), String> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    let header = |kind: tar::EntryType, size: u64, mode: u32| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(mode);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header
    };
    for dir in dirs {
        let mut h = header(tar::EntryType::Directory, 0, 0o755);
        tar.append_data(&mut h, dir, std::io::empty()).map_err(|e| e.to_string())?;
    }
    for (path, bytes, mode) in files {
        let mut h = header(tar::EntryType::Regular, bytes.len() as u64, *mode);
        tar.append_data(&mut h, path, bytes.as_slice()).map_err(|e| e.to_string())?;
    }
    let gz = tar.into_inner().map_err(|e| e.to_string())?;
    let mut out = gz.finish().map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

fn write_zip(out: File, dirs: &[String], files: &[Entry], mtime: u64) -> Result<(), String> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(out);
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip_time(mtime));
    for dir in dirs {
        zip.add_directory(dir.as_str(), options.unix_permissions(0o755)).map_err(|e| e.to_string())?;
    }
    for (path, bytes, mode) in files {
        zip.start_file(path.as_str(), options.unix_permissions(*mode)).map_err(|e| e.to_string())?;
        zip.write_all(bytes).map_err(|e| e.to_string())?;
    }
    zip.finish().map_err(|e| e.to_string())?.sync_all().map_err(|e| e.to_string())
}

/// A Unix time as a zip (DOS) time, UTC; clamped to the format's 1980 start.
fn zip_time(secs: u64) -> zip::DateTime {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    let (h, m, s) = ((rem / 3600) as u8, (rem % 3600 / 60) as u8, (rem % 60) as u8);
    zip::DateTime::from_date_and_time(year, month, day, h, m, s).unwrap_or_default()
}

/// Entry times: `SOURCE_DATE_EPOCH` when set (reproducible archives), else now.
fn source_date() -> Result<u64, String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value.trim().parse().map_err(|_| format!("SOURCE_DATE_EPOCH `{value}` is not a number")),
        Err(_) => Ok(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())),
    }
}

/// A fresh output folder. An earlier dist's folder (it has a SHA256SUMS) is emptied so no stale
/// archive of another version sits beside the new checksums; any other non-empty folder is
/// refused, since emptying it could destroy someone's files.
fn prepare_out_dir(out: &Path) -> Result<(), String> {
    let entries = match std::fs::read_dir(out) {
        Ok(entries) => {
            entries.collect::<Result<Vec<_>, _>>().map_err(|e| format!("{}: {e}", out.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{}: {e}", out.display())),
    };
    if !entries.is_empty() {
        if !out.join(CHECKSUMS).is_file() {
            return Err(format!(
                "{} is not empty and holds no {CHECKSUMS} (not an earlier dist): choose another --out",
                out.display()
            ));
        }
        std::fs::remove_dir_all(out).map_err(|e| format!("could not empty {}: {e}", out.display()))?;
    }
    std::fs::create_dir_all(out).map_err(|e| format!("could not create {}: {e}", out.display()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|e| format!("could not write {}: {e}", path.display()))
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buffer).map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The folder cargo puts a profile's output in.
fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

fn rustc() -> Command {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

fn host_target() -> Result<String, String> {
    let output = rustc().arg("-vV").output().map_err(|e| format!("could not run rustc -vV: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV named no host target".to_owned())
}

/// Whether `target`'s standard library is in the sysroot (what `rustup target add` installs).
fn target_installed(target: &str) -> Result<bool, String> {
    let output = rustc()
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .map_err(|e| format!("could not run rustc: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "target {target}: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .map_or("unknown to rustc", |l| l.trim_start_matches("error: "))
        ));
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let has_std = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
        .unwrap_or(false);
    Ok(has_std)
}

/// The targets with a standard library in the sysroot, for the closing note.
fn installed_targets() -> Result<String, String> {
    let output = rustc().args(["--print", "sysroot"]).output().map_err(|e| e.to_string())?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let entries = std::fs::read_dir(sysroot.join("lib/rustlib")).map_err(|e| e.to_string())?;
    let mut targets: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("lib").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    targets.sort();
    Ok(targets.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root package's binstall table, read from the checked-in Cargo.toml by cargo.
    fn package() -> Package {
        Package::from_cargo_metadata().unwrap()
    }

    #[test]
    fn templates_render_as_binstall_renders_them() {
        let values = |k: &str| (k == "name").then(|| "x".to_owned());
        assert_eq!(render("{ name }-{name}-{  name  }", values).unwrap(), "x-x-x");
        assert_eq!(render(r"\{ name \}\\", values).unwrap(), r"{ name }\");
        assert!(render("{ nope }", values).unwrap_err().contains("nope"));
        assert!(render("{ name", values).is_err());
        assert!(render("name }", values).is_err());
    }

    #[test]
    fn the_host_and_windows_archives_are_the_ones_readme_promises() {
        let package = package();
        let v = &package.version;
        let linux = package.plan("x86_64-unknown-linux-gnu").unwrap();
        assert_eq!(linux.format, Format::Tgz);
        assert_eq!(linux.file_name, format!("cargo-litestream-{v}-x86_64-unknown-linux-gnu.tar.gz"));
        assert_eq!(linux.bin_path, format!("cargo-litestream-{v}-x86_64-unknown-linux-gnu/cargo-litestream"));
        assert_eq!(linux.release.as_deref(), Some(format!("v{v}").as_str()));
        let windows = package.plan("x86_64-pc-windows-msvc").unwrap();
        assert_eq!(windows.format, Format::Zip);
        assert_eq!(windows.file_name, format!("cargo-litestream-{v}-x86_64-pc-windows-msvc.zip"));
        assert_eq!(
            windows.bin_path,
            format!("cargo-litestream-{v}-x86_64-pc-windows-msvc/cargo-litestream.exe")
        );
        // No override for the GNU ABI: binstall expects a tgz there, and so is it planned.
        assert_eq!(package.plan("x86_64-pc-windows-gnu").unwrap().format, Format::Tgz);
    }

    /// The zip path, which a Linux host can only exercise here (no Windows toolchain).
    #[test]
    fn a_zip_archive_holds_the_binary_at_bin_dir() {
        let dir = std::env::temp_dir().join(format!("xtask-dist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("cargo-litestream.exe");
        std::fs::write(&binary, b"MZ fake binary").unwrap();
        let plan = package().plan("aarch64-pc-windows-msvc").unwrap();
        let archive = dir.join(&plan.file_name);
        pack(&plan, &binary, &root(), &archive, 1_764_547_200).unwrap();

        let mut zip = zip::ZipArchive::new(File::open(&archive).unwrap()).unwrap();
        let top = plan.bin_path.rsplit_once('/').unwrap().0;
        let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
        names.sort();
        let mut expected: Vec<String> = EXTRA_FILES.iter().map(|f| format!("{top}/{f}")).collect();
        expected.extend([format!("{top}/"), plan.bin_path.clone()]);
        expected.sort();
        assert_eq!(names, expected);
        let mut entry = zip.by_name(&plan.bin_path).unwrap();
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        assert_eq!(entry.last_modified().map(|t| (t.year(), t.month(), t.day())), Some((2025, 12, 1)));
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, b"MZ fake binary");
        drop(entry);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unknown_target_or_format_is_refused() {
        let mut package = package();
        package.binstall["pkg-fmt"] = Value::String("txz".to_owned());
        assert!(package.plan("x86_64-unknown-linux-gnu").unwrap_err().contains("txz"));
        package.binstall["pkg-fmt"] = Value::String("tgz".to_owned());
        package.binstall["overrides"]["cfg(unix)"] = serde_json::json!({"pkg-fmt": "zip"});
        assert!(package.plan("x86_64-unknown-linux-gnu").unwrap_err().contains("cfg(unix)"));
    }
}
