//! Receiving termination signals as events, for a supervisor (`replicate -exec`).
//!
//! [`listen`] blocks the signals in the calling thread (and so in every thread started after it:
//! call it before starting any) and starts a thread that takes them with `sigwaitinfo`, sending
//! each to a channel. Nothing runs in a signal handler. Children get an empty signal mask from
//! the standard library's `Command`, so they receive the signals normally.
//!
//! On Linux each signal says whether the terminal sent it (Ctrl-C, Ctrl-\, hang-up: `si_code`
//! `SI_KERNEL`): the terminal sends those to its whole foreground process group, so a child in
//! the supervisor's group already has it and must not get it twice.

use std::sync::mpsc::Sender;

/// One signal received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal {
    pub number: i32,
    /// Sent by the terminal to the whole foreground process group (Linux only; `false`
    /// elsewhere).
    pub from_terminal: bool,
}

impl Signal {
    /// The conventional name, e.g. `SIGTERM`.
    pub fn name(self) -> String {
        name(self.number)
    }
}

/// `SIGTERM` for 15, and so on.
pub fn name(number: i32) -> String {
    #[cfg(unix)]
    let known = [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGSEGV, "SIGSEGV"),
    ];
    #[cfg(not(unix))]
    let known: [(i32, &str); 0] = [];
    known
        .iter()
        .find(|(n, _)| *n == number)
        .map_or_else(|| format!("signal {number}"), |(_, s)| (*s).to_owned())
}

/// The signals a supervisor passes on to the program it runs: the termination signals and the
/// two user signals (often "reload" or "reopen logs").
#[cfg(unix)]
pub const FORWARDED: [i32; 6] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

/// Blocks `signals` in this thread (and the threads it starts later) and sends each one that
/// arrives to `sender`, from a thread of its own, until the receiver is gone.
///
/// Call it before this process starts any other thread: a thread started earlier keeps the
/// default disposition, and a signal delivered to it would end the process.
#[cfg(unix)]
pub fn listen<T: Send + 'static>(
    signals: &[i32],
    sender: Sender<T>,
    wrap: fn(Signal) -> T,
) -> std::io::Result<()> {
    let set = sys::block(signals)?;
    std::thread::Builder::new().name("cargo-litestream-signals".to_owned()).spawn(move || {
        loop {
            match sys::wait(&set) {
                Ok(signal) => {
                    if sender.send(wrap(signal)).is_err() {
                        return;
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    })?;
    Ok(())
}

#[cfg(unix)]
mod sys {
    use super::Signal;

    pub struct Set(libc::sigset_t);

    #[allow(unsafe_code)]
    // SAFETY: `sigset_t` is a plain bit set with no pointers or thread affinity.
    unsafe impl Send for Set {}

    #[allow(unsafe_code)]
    pub fn block(signals: &[i32]) -> std::io::Result<Set> {
        // SAFETY: `set` is a local sigset_t initialised by sigemptyset before use; the calls
        // read or write only it, and pthread_sigmask changes only this thread's mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signal in signals {
                if libc::sigaddset(&mut set, signal) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let result = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if result != 0 {
                return Err(std::io::Error::from_raw_os_error(result));
            }
            Ok(Set(set))
        }
    }

    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    pub fn wait(set: &Set) -> std::io::Result<Signal> {
        // SAFETY: `info` is a zeroed siginfo_t that sigwaitinfo fills in; `set` is initialised.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let number = libc::sigwaitinfo(&set.0, &mut info);
            if number == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(Signal { number, from_terminal: info.si_code == libc::SI_KERNEL })
        }
    }

    #[cfg(not(target_os = "linux"))]
    #[allow(unsafe_code)]
    pub fn wait(set: &Set) -> std::io::Result<Signal> {
        let mut number: libc::c_int = 0;
        // SAFETY: `set` is initialised; `number` is a local int sigwait writes.
        let result = unsafe { libc::sigwait(&set.0, &mut number) };
        if result != 0 {
            return Err(std::io::Error::from_raw_os_error(result));
        }
        Ok(Signal { number, from_terminal: false })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        #[cfg(unix)]
        assert_eq!(super::name(libc::SIGTERM), "SIGTERM");
        assert_eq!(super::name(99), "signal 99");
    }
}
