//! Processes seen from outside, by PID (Linux `/proc`): which children a process has, whether
//! one still runs, and waiting for one to end. A zombie counts as ended: a process whose parent
//! died is reparented to PID 1, which in a container may never reap it.

use std::path::Path;
use std::time::{Duration, Instant};

/// The process's state letter (`R`, `S`, `Z`, …), `None` when there is no such process.
pub fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S …`: comm may hold spaces and parentheses; the state follows the last `)`.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next())
}

/// Whether `pid` is a live process (not gone, not a zombie).
pub fn running(pid: u32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// The PIDs whose parent is `pid`, with their command names.
pub fn children(pid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            let name = head.split_once('(').map(|(_, n)| n.to_owned()).unwrap_or_default();
            found.push((child, name));
        }
    }
    found.sort();
    found
}

/// Waits until `pid` is no longer running, for at most `timeout`: `true` when it ended.
///
/// With a pidfd (Linux ≥ 5.3) the wait is an event (the descriptor becomes readable when the
/// process ends); otherwise `/proc` is polled every 20 ms.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    if let Some(ended) = pidfd_wait(pid, timeout) {
        return ended || !running(pid);
    }
    while running(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// `Some(true)` when the process ended within `timeout`, `Some(false)` when not, `None` when
/// pidfds are unavailable.
#[allow(unsafe_code)]
fn pidfd_wait(pid: u32, timeout: Duration) -> Option<bool> {
    // SAFETY: plain syscalls on integers and a local pollfd; the descriptor is closed below.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0);
        if fd < 0 {
            return if Path::new(&format!("/proc/{pid}")).exists() { None } else { Some(true) };
        }
        let fd = fd as libc::c_int;
        let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        let ready = libc::poll(&mut poll, 1, millis);
        libc::close(fd);
        Some(ready > 0)
    }
}

/// Sends `signal` to `pid`.
#[allow(unsafe_code)]
pub fn kill(pid: u32, signal: i32) {
    // SAFETY: kill(2) on integers; the tests only signal processes they started.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}
