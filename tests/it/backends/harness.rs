//! Real storage servers on 127.0.0.1 for the backend tests: started on a free port, awaited
//! until they accept connections (bounded), and always stopped (SIGTERM to the server's whole
//! process group, SIGKILL after 10 s) when the guard is dropped, a failing test included. On
//! Linux each server also gets SIGKILL if the test thread that started it dies without
//! running its destructors.
//!
//! A component that is not installed fails the test with what to run, never skips it.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::tools_dir;

/// How long a server may take to accept connections (Azurite takes 1–1.5 s unloaded).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A provisioned component under `.tools/`, or a failure naming the fix.
#[track_caller]
pub fn tool(rel: &str) -> PathBuf {
    let path = tools_dir().join(rel);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask provision` (or `cargo xtask test`)",
        path.display()
    );
    path
}

/// A system program from apt (`.ci/run` installs it), found on PATH or in the sbin folders.
#[track_caller]
pub fn system_tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` is not installed: `apt-get install {package}` (`cargo xtask test` does it when run as root)"
    )
}

/// A port nobody listens on right now (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// How to start a server: kept so the same server can be started again (same port, same data).
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Run as this uid/gid (through `setpriv`), for sshd when the tests run as root.
    pub as_user: Option<u32>,
}

impl Spec {
    pub fn new(name: &'static str, program: PathBuf) -> Spec {
        Spec { name, program, args: Vec::new(), as_user: None }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Spec {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Spec {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
}

/// A running server. Dropping it stops it and everything it started.
pub struct Server {
    spec: Spec,
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
    /// Keeps the log's folder alive.
    _log_dir: tempfile::TempDir,
}

impl Server {
    /// Starts `spec` and waits until `port` accepts connections.
    #[track_caller]
    pub fn start(spec: Spec, port: u16) -> Server {
        let log_dir = tempfile::Builder::new().prefix("srvlog").tempdir().unwrap();
        let log = log_dir.path().join(format!("{}.log", spec.name));
        let mut server = Server { spec, child: None, port, log, _log_dir: log_dir };
        server.spawn();
        server.wait_for_port();
        server
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let spec = &self.spec;
        let mut command = match spec.as_user {
            Some(id) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={id}"))
                    .arg(format!("--regid={id}"))
                    .arg("--clear-groups")
                    .arg(&spec.program);
                c
            }
            None => Command::new(&spec.program),
        };
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        command
            .args(&spec.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.log.parent().unwrap())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        own_process_group(&mut command);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({}): {e}", spec.name, spec.program.display()));
        self.child = Some(child);
    }

    #[track_caller]
    fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("server started");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{} exited early ({status})\n{}", self.spec.name, self.log());
        }
    }

    #[track_caller]
    fn wait_for_port(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr: SocketAddr = self.addr().parse().unwrap();
        loop {
            self.assert_running();
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not accept connections on {addr} within {READY_TIMEOUT:?}\n{}",
                self.spec.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGTERM to its process group, SIGKILL after 10 s) and waits for it.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            terminate(child);
        }
    }

    /// Starts the same server again, on the same port and with the same data.
    #[track_caller]
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + READY_TIMEOUT;
        // The port was ours a moment ago; wait until the old socket is gone.
        while TcpListener::bind(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "port {} stayed taken after {} stopped",
                self.port,
                self.spec.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.spawn();
        self.wait_for_port();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM to the child's process group, then SIGKILL after 10 s; always reaped.
fn terminate(mut child: Child) {
    let group = child.id() as libc::pid_t;
    signal_group(group, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            // Whatever the leader started (sshd's per-connection processes) goes too.
            signal_group(group, libc::SIGKILL);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(group, libc::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

fn signal_group(group: libc::pid_t, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals the process group that our own child leads
    // (`process_group(0)` below); the group id stays ours until every member is gone.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(-group, signal);
    }
}

/// The server leads its own process group (so stopping it reaches its helpers), and on Linux
/// is killed if the thread that started it dies without cleaning up.
fn own_process_group(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe and touches no memory of the parent.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// One HTTP/1.1 request on a fresh connection; the status code and body of the answer.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (key, value) in headers {
        request.push_str(&format!("{key}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A private folder for one server's data, under `/tmp` (short paths) and removed on drop.
pub fn data_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir_in(short_tmp()).unwrap()
}

fn short_tmp() -> &'static Path {
    if Path::new("/tmp").is_dir() { Path::new("/tmp") } else { Path::new(".") }
}

#[test]
fn a_missing_component_fails_with_the_command_to_run() {
    let message = |result: std::thread::Result<PathBuf>| {
        let payload = result.expect_err("a missing component must fail the test");
        payload.downcast_ref::<String>().cloned().unwrap_or_default()
    };
    let missing = message(std::panic::catch_unwind(|| tool("venv/bin/no-such-server")));
    assert!(missing.contains("no-such-server is missing: run `cargo xtask provision`"), "{missing}");
    let missing = message(std::panic::catch_unwind(|| system_tool("no-such-daemon", "no-such-package")));
    assert!(missing.contains("`apt-get install no-such-package`"), "{missing}");
}
