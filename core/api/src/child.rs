//! Child processes that a supervisor can signal safely and that never outlive it.
//!
//! A [`Child`] is started by a thread of its own, which then waits for it and reaps it:
//! - **no lost PID**: the monitor thread reaps the child only after recording its exit status
//!   under a lock, and [`Child::signal`] sends a signal only while no status is recorded, so a
//!   signal never reaches a reused PID;
//! - **no orphan** (Linux): with [`ChildOptions::parent_death_signal`] the kernel sends the child
//!   that signal when the thread that started it ends, i.e. when this process dies, even by
//!   `kill -9`. Linux ties `PR_SET_PDEATHSIG` to the *thread* that forked, which is why each
//!   child is started by a thread that lives exactly as long as it does (a tokio blocking thread
//!   that exits after 10 s idle would otherwise kill it). When the whole process dies, Linux
//!   sends the signal once per re-parenting, i.e. possibly once for each of its threads as they
//!   exit: the child may get it more than once;
//! - **exit reported**: observers wait on the status ([`Child::wait_timeout`], [`ExitWatch`]) or
//!   get a callback from the monitor thread.

use std::process::{Command, ExitStatus};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

/// How to start a [`Child`].
#[derive(Debug, Default)]
pub struct ChildOptions {
    /// Put the child in a process group of its own, so a terminal's Ctrl-C (sent to the whole
    /// foreground group) does not reach it: the supervisor decides when it stops.
    pub own_process_group: bool,
    /// Linux: the signal the child gets when this process dies (`PR_SET_PDEATHSIG`). Ignored
    /// elsewhere (no such mechanism).
    pub parent_death_signal: Option<i32>,
    /// Descriptors the child must keep open across `exec` (their close-on-exec flag is cleared
    /// in the child only), e.g. the replicate lock it shares.
    pub keep_fds: Vec<i32>,
}

type OnExit = Box<dyn FnOnce(ExitStatus) + Send>;

#[derive(Debug, Default)]
struct State {
    status: Option<ExitStatus>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    exited: Condvar,
}

/// A running (or exited, not yet dropped) child process.
#[derive(Debug)]
pub struct Child {
    pid: u32,
    shared: Arc<Shared>,
    /// The child's ends of `Stdio::piped()` streams, for the caller to take.
    pub stdin: Option<std::process::ChildStdin>,
    pub stdout: Option<std::process::ChildStdout>,
    pub stderr: Option<std::process::ChildStderr>,
}

/// Watches a [`Child`]'s exit from anywhere (clone it into a thread or a blocking task).
#[derive(Clone, Debug)]
pub struct ExitWatch {
    shared: Arc<Shared>,
}

impl Child {
    /// Starts `command` from a new monitor thread; `on_exit` runs on that thread once the child
    /// has exited and been reaped.
    pub fn spawn(
        mut command: Command,
        options: ChildOptions,
        on_exit: Option<OnExit>,
    ) -> std::io::Result<Child> {
        prepare(&mut command, &options);
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), exited: Condvar::new() });
        let monitor = Arc::clone(&shared);
        let (started, pid) = mpsc::channel();
        std::thread::Builder::new().name("cargo-litestream-child".to_owned()).spawn(move || {
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(error) => {
                    let _ = started.send(Err(error));
                    return;
                }
            };
            let _ =
                started.send(Ok((child.id(), child.stdin.take(), child.stdout.take(), child.stderr.take())));
            // Wait without reaping: until the status is recorded below, the PID stays a
            // zombie of ours and cannot be reused, so `signal` can never hit another process.
            let _ = sys::wait_exit_keeping_zombie(child.id());
            let status = {
                let mut state = monitor.state.lock().unwrap_or_else(PoisonError::into_inner);
                let status = child.wait();
                let status = match status {
                    Ok(status) => status,
                    // Only when someone else reaped it (not done in this crate): report a
                    // failure rather than hang.
                    Err(_) => sys::failed_status(),
                };
                state.status = Some(status);
                status
            };
            monitor.exited.notify_all();
            if let Some(on_exit) = on_exit {
                on_exit(status);
            }
        })?;
        let (pid, stdin, stdout, stderr) =
            pid.recv().map_err(|_| std::io::Error::other("the monitor thread ended early"))??;
        Ok(Child { pid, shared, stdin, stdout, stderr })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` unless the child has already exited (then: `false`).
    pub fn signal(&self, signal: i32) -> bool {
        let state = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.status.is_some() {
            return false;
        }
        // The lock is held: the monitor cannot reap the PID while the signal is sent.
        sys::kill(self.pid, signal).is_ok()
    }

    /// The exit status, if the child has exited.
    pub fn try_status(&self) -> Option<ExitStatus> {
        self.watch().try_status()
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        self.watch().wait_timeout(timeout)
    }

    /// Waits for the child to exit.
    pub fn wait(&self) -> ExitStatus {
        self.watch().wait()
    }

    /// A handle that observes the exit from elsewhere.
    pub fn watch(&self) -> ExitWatch {
        ExitWatch { shared: Arc::clone(&self.shared) }
    }

    /// Asks the child to stop with `signal`, waits up to `grace`, then kills it (SIGKILL).
    /// Returns its status and whether it had to be killed.
    pub fn stop(&self, signal: i32, grace: Duration) -> (ExitStatus, bool) {
        self.signal(signal);
        if let Some(status) = self.wait_timeout(grace) {
            return (status, false);
        }
        self.signal(sys::SIGKILL);
        (self.wait(), true)
    }
}

impl ExitWatch {
    pub fn try_status(&self) -> Option<ExitStatus> {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner).status
    }

    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(status) = state.status {
                return Some(status);
            }
            let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
            state = self.shared.exited.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    pub fn wait(&self) -> ExitStatus {
        let mut state = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(status) = state.status {
                return status;
            }
            state = self.shared.exited.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

fn prepare(command: &mut Command, options: &ChildOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if options.own_process_group {
            command.process_group(0);
        }
        sys::before_exec(command, options.parent_death_signal, options.keep_fds.clone());
    }
    #[cfg(not(unix))]
    let _ = (command, options);
}

/// Signal numbers, for callers that do not depend on libc.
pub mod signal {
    #[cfg(unix)]
    pub const SIGTERM: i32 = libc::SIGTERM;
    #[cfg(unix)]
    pub const SIGINT: i32 = libc::SIGINT;
    #[cfg(unix)]
    pub const SIGKILL: i32 = libc::SIGKILL;
    #[cfg(unix)]
    pub const SIGHUP: i32 = libc::SIGHUP;
    #[cfg(unix)]
    pub const SIGQUIT: i32 = libc::SIGQUIT;
    #[cfg(unix)]
    pub const SIGUSR1: i32 = libc::SIGUSR1;
    #[cfg(unix)]
    pub const SIGUSR2: i32 = libc::SIGUSR2;
    #[cfg(not(unix))]
    pub const SIGTERM: i32 = 15;
    #[cfg(not(unix))]
    pub const SIGINT: i32 = 2;
    #[cfg(not(unix))]
    pub const SIGKILL: i32 = 9;
    #[cfg(not(unix))]
    pub const SIGHUP: i32 = 1;
    #[cfg(not(unix))]
    pub const SIGQUIT: i32 = 3;
    #[cfg(not(unix))]
    pub const SIGUSR1: i32 = 10;
    #[cfg(not(unix))]
    pub const SIGUSR2: i32 = 12;
}

#[cfg(unix)]
pub(crate) mod sys {
    //! The unsafe corner: `pre_exec`, `kill`, `waitid`. Each call is a plain syscall on values
    //! this module owns for the duration of the call.

    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, ExitStatus};

    pub const SIGKILL: i32 = libc::SIGKILL;

    /// Runs in the child between `fork` and `exec`: unblocks every signal (a supervisor blocks
    /// the ones it waits for, and the standard library does not reset the mask: without this
    /// the child would never see a forwarded SIGTERM), clears close-on-exec on `keep_fds`, asks
    /// for `death_signal` when the parent thread ends (Linux), and gives up if the parent has
    /// already died (the signal would never come).
    pub fn before_exec(command: &mut Command, death_signal: Option<i32>, keep_fds: Vec<i32>) {
        let parent = std::process::id();
        #[allow(unsafe_code)]
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (sigemptyset, sigprocmask, fcntl, prctl, getppid); it
        // allocates nothing (the Vec was built before fork and is only read) and takes no lock.
        unsafe {
            command.pre_exec(move || {
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                for &fd in &keep_fds {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags == -1 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                #[cfg(target_os = "linux")]
                if let Some(signal) = death_signal {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // The parent died between fork and prctl: no signal will come.
                    if libc::getppid() as u32 != parent {
                        return Err(std::io::Error::other("the parent process died while starting"));
                    }
                }
                #[cfg(not(target_os = "linux"))]
                let _ = (death_signal, parent);
                Ok(())
            });
        }
    }

    pub fn kill(pid: u32, signal: i32) -> std::io::Result<()> {
        let pid = libc::pid_t::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
        #[allow(unsafe_code)]
        // SAFETY: kill(2) takes plain integers; callers guarantee `pid` is an unreaped child.
        let result = unsafe { libc::kill(pid, signal) };
        if result == -1 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Blocks until the child `pid` has exited, leaving it unreaped (`WNOWAIT`).
    pub fn wait_exit_keeping_zombie(pid: u32) -> std::io::Result<()> {
        let id = libc::id_t::from(pid);
        loop {
            #[allow(unsafe_code)]
            // SAFETY: `info` is a zeroed siginfo_t that waitid fills in and does not keep.
            let result = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT)
            };
            if result == 0 {
                return Ok(());
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    /// A status that reads as "exit code 1", for the impossible case of a vanished child.
    pub fn failed_status() -> ExitStatus {
        ExitStatus::from_raw(1 << 8)
    }
}

#[cfg(not(unix))]
pub(crate) mod sys {
    use std::process::{Command, ExitStatus};

    pub const SIGKILL: i32 = 9;

    pub fn before_exec(_: &mut Command, _: Option<i32>, _: Vec<i32>) {}

    /// Without Unix signals, any signal terminates the child.
    pub fn kill(pid: u32, _signal: i32) -> std::io::Result<()> {
        let status = Command::new("taskkill").args(["/F", "/PID", &pid.to_string()]).status()?;
        if status.success() { Ok(()) } else { Err(std::io::Error::other("taskkill failed")) }
    }

    /// No way to wait without reaping here: the monitor's `wait` does both.
    pub fn wait_exit_keeping_zombie(_pid: u32) -> std::io::Result<()> {
        Ok(())
    }

    pub fn failed_status() -> ExitStatus {
        use std::os::windows::process::ExitStatusExt;
        ExitStatus::from_raw(1)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn exit_is_reported_and_signals_stop_after_it() {
        let (sender, receiver) = mpsc::channel();
        let child = Child::spawn(
            {
                let mut c = Command::new("sh");
                c.args(["-c", "exit 3"]);
                c
            },
            ChildOptions::default(),
            Some(Box::new(move |status| {
                let _ = sender.send(status);
            })),
        )
        .unwrap();
        let reported = receiver.recv().unwrap();
        assert_eq!(reported.code(), Some(3));
        assert_eq!(child.wait().code(), Some(3));
        assert!(!child.signal(signal::SIGTERM), "no signal after the exit was recorded");
    }

    #[test]
    fn stop_escalates_to_kill() {
        let mut command = Command::new("sh");
        // Ignores SIGTERM; `exec` so the PID is the one that ignores it.
        command.args(["-c", "trap '' TERM; echo ready; exec sleep 600"]).stdout(std::process::Stdio::piped());
        let mut child = Child::spawn(command, ChildOptions::default(), None).unwrap();
        // Once it has said so, the trap is set.
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        assert!(child.try_status().is_none());
        let (status, killed) = child.stop(signal::SIGTERM, Duration::from_millis(300));
        assert!(killed);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(signal::SIGKILL));
    }

    #[test]
    fn spawn_errors_are_returned() {
        let error =
            Child::spawn(Command::new("/nonexistent/program"), ChildOptions::default(), None).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    }
}
