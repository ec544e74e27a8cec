//! `cargo xtask dist`, checked by installing from what it produced the way `cargo binstall
//! cargo-litestream` would, through a loopback mirror of the GitHub release.
//!
//! cargo-binstall itself is not run: it is not on any registry this machine reaches as a
//! prebuilt binary, and compiling it takes far longer than a test may. So its resolution is
//! redone here from its source (binstalk-fetchers `gh_crate_meta.rs`, binstalk-bins `lib.rs`,
//! binstalk-types `package_formats.rs`), on the metadata as cargo reports it, and on purpose
//! without any of xtask's code: a template rendered wrongly by both would otherwise pass.
//!
//! The archive holds the debug build this suite tests, handed to dist with `--binary`: the same
//! resolving and packing code as a release, minus minutes of optimised compiling, and without a
//! `cargo build` that would relink `target/debug/cargo-litestream` (with other features) under
//! the tests running it in parallel. dist's own build step is what `cargo xtask dist` runs by hand.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::backends::harness::{Server, Spec, free_port, system_tool, tool};
use crate::mirror::sha256;
use crate::support::{Run, cargo_litestream_bin};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cargo() -> Command {
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(repo_root());
    command
}

/// The target folder this test binary was built in (`<it>/debug/cargo-litestream`), so
/// `cargo run -p xtask` finds xtask already built (`cargo xtask test` built it).
fn target_dir() -> PathBuf {
    cargo_litestream_bin()
        .parent()
        .and_then(Path::parent)
        .expect("<target>/debug/cargo-litestream")
        .to_owned()
}

fn host_target() -> String {
    let out = Command::new("rustc").arg("-vV").output().expect("run rustc -vV");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host").to_owned()
}

/// The released package as cargo reads its manifest (binstall reads the same Cargo.toml).
fn package() -> Value {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cargo-litestream")
        .expect("the cargo-litestream package")
        .clone()
}

/// leon's template rendering, as binstall uses it: `{ key }` (spaces optional), `\{`, `\}`,
/// `\\`; a key without a value is an error.
fn render(template: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    let (mut out, mut chars) = (String::new(), template.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('{' | '}' | '\\')) => out.push(e),
                Some(other) => out.extend(['\\', other]),
                None => out.push('\\'),
            },
            '{' => {
                let rest = chars.as_str();
                let end = rest.find('}').unwrap_or_else(|| panic!("an unclosed `{{` in {template}"));
                let key = rest[..end].trim();
                chars = rest[end + 1..].chars();
                out.push_str(
                    &value(key).unwrap_or_else(|| panic!("binstall has no value for `{key}` in {template}")),
                );
            }
            c => out.push(c),
        }
    }
    out
}

/// One GET on a fresh connection: the status and the raw body (python's http.server answers
/// HTTP/1.0 and closes).
fn get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP header");
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer[end + 4..].to_vec())
}

#[test]
fn binstall_resolves_and_installs_the_host_archive_from_a_loopback_mirror() {
    let work = tempfile::tempdir().unwrap();
    let dist = work.path().join("dist");

    // 1. The archives, by the task itself (of the debug build: see the module's comment).
    let mut xtask = cargo();
    xtask
        .args(["run", "--quiet", "--locked", "--package", "xtask", "--", "dist", "--out"])
        .arg(&dist)
        .arg("--binary")
        .arg(cargo_litestream_bin())
        .env("CARGO_TARGET_DIR", target_dir());
    let run = Run::of(&mut xtask).success();
    assert!(run.stderr.contains("Packaged"), "{run}");

    // 2. What binstall reads: the package's name, version, repository, binaries and metadata.
    let package = package();
    let name = package["name"].as_str().unwrap().to_owned();
    assert_eq!(package["version"], VERSION);
    let bins: Vec<&str> = package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(bins, ["cargo-litestream"]);
    let target = host_target();
    let meta = &package["metadata"]["binstall"];
    // An exact-target override replaces the base table's keys.
    let key = |key: &str| {
        meta["overrides"][target.as_str()][key].as_str().or_else(|| meta[key].as_str()).map(str::to_owned)
    };
    let pkg_fmt = key("pkg-fmt").unwrap_or_else(|| "tgz".to_owned());
    // binstall tries every suffix of the format when pkg-url uses { archive-suffix }.
    let suffixes: &[&str] = match pkg_fmt.as_str() {
        "tgz" => &[".tgz", ".tar.gz"],
        "zip" => &[".zip"],
        other => panic!("pkg-fmt {other}: this test knows tgz and zip"),
    };
    // binstall strips `.git` and a trailing `/` from the repository.
    let repository = package["repository"].as_str().expect("a repository for { repo }");
    let repo = repository.trim_end_matches('/');
    let repo = repo.strip_suffix(".git").unwrap_or(repo).to_owned();
    let binary_ext = if target.contains("windows") { ".exe" } else { "" };
    let pkg_url = key("pkg-url").expect("pkg-url");
    let candidates: Vec<String> = suffixes
        .iter()
        .map(|suffix| {
            render(&pkg_url, &|k| match k {
                "name" => Some(name.clone()),
                "version" => Some(VERSION.to_owned()),
                "repo" => Some(repo.clone()),
                "target" => Some(target.clone()),
                "archive-suffix" => Some((*suffix).to_owned()),
                "archive-format" | "format" => Some(suffix[1..].to_owned()),
                "binary-ext" => Some(binary_ext.to_owned()),
                _ => None,
            })
        })
        .collect();

    // 3. The mirror: a GitHub release's layout (`<repo>/releases/download/v<version>/<asset>`,
    // README: Install) holding everything dist wrote, served by a real HTTP server.
    let (_, repo_path) = repo.split_once("://").and_then(|(_, rest)| rest.split_once('/')).expect("repo URL");
    let root = work.path().join("mirror");
    let release = root.join(repo_path).join("releases/download").join(format!("v{VERSION}"));
    std::fs::create_dir_all(&release).unwrap();
    let mut produced: Vec<String> =
        std::fs::read_dir(&dist).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    produced.sort();
    for file in &produced {
        std::fs::copy(dist.join(file), release.join(file)).unwrap();
    }
    let port = free_port();
    let spec = Spec::new("dist-mirror", tool("venv/bin/python"))
        .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
        .arg(&root)
        .arg(port.to_string());
    let server = Server::start(spec, port);

    // 4. binstall asks for each candidate with only the host changed; exactly one exists, and
    // it is the name README and Cargo.toml promise.
    let path_of = |url: &str| {
        let rest = url.split_once("://").expect("an absolute URL").1;
        rest[rest.find('/').expect("a path")..].to_owned()
    };
    let found: Vec<(String, Vec<u8>)> = candidates
        .iter()
        .filter_map(|url| match get(&server.addr(), &path_of(url)) {
            (200, body) => Some((url.clone(), body)),
            (404, _) => None,
            (status, _) => panic!("{url}: HTTP {status}"),
        })
        .collect();
    let asset = format!("{name}-{VERSION}-{target}.tar.gz");
    assert_eq!(
        found.iter().map(|(url, _)| url.rsplit('/').next().unwrap()).collect::<Vec<_>>(),
        [asset.as_str()],
        "candidates {candidates:?}, produced {produced:?}"
    );
    assert_eq!(produced, ["SHA256SUMS", asset.as_str()], "one archive for the host, and the checksums");
    let (url, archive) = &found[0];
    assert!(url.starts_with(&format!("{repo}/releases/download/v{VERSION}/")), "{url}");

    // 5. The checksums file, from the mirror: the archive's line matches its bytes, and
    // coreutils' `sha256sum -c` (what a user runs) accepts the file as written.
    let (status, sums) = get(&server.addr(), &path_of(&url.replace(&asset, "SHA256SUMS")));
    assert_eq!(status, 200);
    let sums = String::from_utf8(sums).unwrap();
    let listed: Vec<(&str, &str)> =
        sums.lines().map(|l| l.split_once("  ").expect("`<sha256>  <file>`")).collect();
    assert_eq!(listed, [(sha256(archive).as_str(), asset.as_str())], "{sums}");
    let check = Command::new(system_tool("sha256sum", "coreutils"))
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(&release)
        .output()
        .unwrap();
    assert!(check.status.success(), "sha256sum -c: {}", String::from_utf8_lossy(&check.stdout));

    // 6. Extract as binstall does (tgz: gunzip, then tar), then take the binary at bin-dir.
    let unpacked = work.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let mut entries = Vec::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive.as_slice()));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        entries.push(entry.path().unwrap().to_string_lossy().into_owned());
        assert!(entry.unpack_in(&unpacked).unwrap(), "an entry outside the folder: {entries:?}");
    }
    let bin_dir = render(&key("bin-dir").expect("bin-dir"), &|k| match k {
        "name" => Some(name.clone()),
        "version" => Some(VERSION.to_owned()),
        "repo" => Some(repo.clone()),
        "target" => Some(target.clone()),
        "bin" => Some(bins[0].to_owned()),
        "binary-ext" | "format" => Some(binary_ext.to_owned()),
        _ => None,
    });
    assert_eq!(bin_dir, format!("{name}-{VERSION}-{target}/cargo-litestream"), "README: Install");
    // One folder, named like the archive, holding the binary and the licences it ships under.
    let folder = format!("{name}-{VERSION}-{target}/");
    entries.sort();
    assert_eq!(
        entries,
        ["", "CHANGELOG.md", "LICENSE-APACHE", "LICENSE-MIT", "README.md", "cargo-litestream"]
            .map(|f| format!("{folder}{f}")),
    );
    let source = unpacked.join(&bin_dir);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&source).map(|m| m.permissions().mode()).unwrap_or(0);
    assert_eq!(mode & 0o777, 0o755, "{} is an executable file", source.display());

    // 7. Installed where binstall puts binaries (a bin folder on PATH): cargo finds the
    // subcommand there, and both spellings report the workspace's version.
    let bin = work.path().join("cargo-home/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(&source, bin.join("cargo-litestream")).unwrap();
    let direct = Run::of(Command::new(bin.join("cargo-litestream")).arg("--version")).success();
    assert_eq!(direct.stdout.trim(), format!("cargo-litestream {VERSION}"), "{direct}");
    let path = std::env::join_paths(
        std::iter::once(bin.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let through_cargo =
        Run::of(Command::new(env!("CARGO")).args(["litestream", "--version"]).env("PATH", path));
    assert_eq!(through_cargo.success().stdout.trim(), format!("cargo-litestream {VERSION}"));
}
