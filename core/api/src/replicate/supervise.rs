//! `replicate -exec CMD`, supervised: cargo-litestream runs litestream *and* CMD as its
//! children instead of letting litestream run CMD, because litestream 0.5.17
//! - turns every non-zero exit code of CMD into 1 (gotcha 3);
//! - replicates nothing of a CMD that exits within its first second: it opens databases only on
//!   its first tick, and then skips its shutdown sync (#436, gotcha 4).
//!
//! The sequence:
//! 1. termination signals are blocked and read by a thread (before any other thread starts);
//! 2. the replicate lock (shared with the litestream child, so it stays held while litestream
//!    runs even if this process dies), then litestream `replicate` without `exec`, in a process
//!    group of its own (a terminal's Ctrl-C reaches CMD, not litestream) and, on Linux, with
//!    SIGTERM as its parent-death signal;
//! 3. once the control socket answers, `sync -wait` of every database (bounded; when it fails
//!    CMD still starts, with a warning: replication catches up once the replica is reachable);
//! 4. CMD runs in this process's group with its stdin, stdout and stderr; SIGTERM, SIGINT,
//!    SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to this process are passed on to it (not those
//!    a terminal sent to the whole group: CMD already has them);
//! 5. when CMD exits: a final `sync -wait` of every database, then SIGTERM to litestream (whose
//!    own shutdown sync then has nothing left to do), bounded, then SIGKILL;
//! 6. the exit code is CMD's (128 + the signal when a signal ended it).
//!
//! If litestream dies while CMD runs, nothing CMD writes is replicated any more: CMD is
//! stopped (SIGTERM, SIGKILL after 30 s) and the exit code is litestream's.

use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cargo_litestream_config::{Env, Project};
use cargo_litestream_runner::lock::ReplicateLock;
use cargo_litestream_runner::{Litestream, display_command, exit_code};
use cargo_litestream_shell::Shell;

use super::plan::Plan;
use super::{ReplicateError, start_litestream, sync_all, wait_ready, words};
use crate::child::{Child, ChildOptions, signal};
use crate::signals::{self, Signal};

/// Why supervision could not start or go on (a run that started ends with an exit code).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuperviseError {
    #[error(transparent)]
    Replicate(#[from] ReplicateError),

    /// `-exec`'s command line cannot be run as Litestream would run it.
    #[error(transparent)]
    Command(#[from] super::CommandLineError),

    #[error("could not take the termination signals")]
    Signals(#[source] std::io::Error),

    #[error("the supervisor's event channel closed")]
    Channel,
}

/// What the supervisor works with besides its [`Plan`].
pub struct Supervisor<'a> {
    pub env: &'a Env,
    pub shell: &'a Shell,
    /// The project, when there is one (its `meta-path`s for the WAL check; its schedule when
    /// [`Plan::scheduled`]).
    pub project: Option<&'a Project>,
    pub litestream: &'a Litestream,
}

/// How long CMD gets to exit after SIGTERM when litestream died under it.
const COMMAND_GRACE: Duration = Duration::from_secs(30);

enum Event {
    Signal(Signal),
    LitestreamExited(ExitStatus),
    CommandExited(ExitStatus),
    Ready(Result<usize, String>),
    FinalSync(Result<usize, String>),
}

/// Runs `plan` (see the module) and returns the exit code to exit with.
pub fn run(plan: Plan, ctx: &Supervisor<'_>) -> Result<u8, SuperviseError> {
    if plan.restore_if_db_not_exists {
        super::refuse_orphaned_sidecars(&plan.lock_paths)?;
    }
    let (events, inbox) = mpsc::channel();
    // First, before any thread exists: every later thread inherits the blocked mask.
    signals::listen(&signals::FORWARDED, events.clone(), Event::Signal).map_err(SuperviseError::Signals)?;

    let argv = words::split(&plan.command).map_err(SuperviseError::Command)?;
    let started = super::prepare_start(
        ctx.project,
        &plan.lock_paths,
        &plan.replicas,
        plan.check_live_socket.then_some(plan.socket.as_path()),
        ctx.env,
    )?;
    for warning in &started.unchecked_owners {
        ctx.shell.warn(warning);
    }
    super::print_wal_reports(&started.wal_reports, ctx.shell);
    let (lock, wal_guards) = (started.lock, started.wal_guards);
    let litestream = ctx.litestream;
    let litestream_process = start(litestream, &plan, &lock, ctx, events.clone())?;

    // 1. Ready: the socket answers and every database has been synced once.
    {
        let socket = plan.socket.clone();
        let watch = litestream_process.watch();
        let events = events.clone();
        let timeout = plan.first_sync_timeout;
        std::thread::spawn(move || {
            let result = wait_ready(&socket, &watch, timeout)
                .map_err(|e| e.to_string())
                .and_then(|()| sync_all(&socket, timeout).map(|s| s.len()).map_err(|e| e.to_string()));
            let _ = events.send(Event::Ready(result));
        });
    }
    let ready = wait_until_ready(&inbox, &litestream_process, &plan, ctx);
    // Litestream has opened the databases (or will on its first tick): no more guarding.
    drop(wal_guards);
    if let Some(code) = ready? {
        return Ok(code);
    }

    // Scheduled verify, scrub and drill (the project's `verify-every`, …) while the command runs.
    let assurance = match ctx.project {
        Some(project) if plan.scheduled => crate::assurance::start(
            project,
            ctx.env,
            litestream,
            Box::new(|line| eprintln!("{:>12} {line}", "Assured")),
        ),
        _ => None,
    };
    let metrics = match ctx.project {
        Some(project) if plan.scheduled => project.metrics_addr.as_deref().and_then(|addr| {
            match crate::metrics::serve(project, ctx.env, litestream, addr) {
                Ok(server) => {
                    ctx.shell.status("Serving", format!("metrics at http://{}/metrics", server.addr()));
                    Some(server)
                }
                Err(error) => {
                    ctx.shell.warn(format!("metrics-addr {addr}: not served: {error}; replicating on"));
                    None
                }
            }
        }),
        _ => None,
    };

    // 2. The command.
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).env_clear().envs(ctx.env.vars()).current_dir(ctx.env.cwd());
    ctx.shell.verbose(
        "Running",
        display_command(
            std::path::Path::new(&argv[0]),
            &argv[1..].iter().map(Into::into).collect::<Vec<_>>(),
        ),
    );
    let exited = events.clone();
    let options = ChildOptions { parent_death_signal: Some(signal::SIGTERM), ..ChildOptions::default() };
    let app = match Child::spawn(
        command,
        options,
        Some(Box::new(move |status| {
            let _ = exited.send(Event::CommandExited(status));
        })),
    ) {
        Ok(app) => app,
        Err(error) => {
            let code = if error.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
            stop_litestream(&litestream_process, &inbox, &plan, ctx);
            ctx.shell.error(format!(
                "cannot run `{}`: {error}; check -exec (the command runs without a shell)",
                argv[0]
            ));
            return Ok(code);
        }
    };
    let code = loop {
        match inbox.recv().map_err(|_| SuperviseError::Channel)? {
            Event::Signal(received) => {
                if received.from_terminal {
                    ctx.shell.verbose(
                        "Received",
                        format!("{} from the terminal (the command has it too)", received.name()),
                    );
                } else {
                    ctx.shell.verbose(
                        "Forwarding",
                        format!("{} to the command (process {})", received.name(), app.pid()),
                    );
                    app.signal(received.number);
                }
            }
            Event::CommandExited(status) => break exit_code(status),
            Event::LitestreamExited(status) => {
                ctx.shell.error(format!(
                    "litestream exited while the command was running ({status}): nothing the command writes would be replicated, so it is being stopped"
                ));
                app.stop(signal::SIGTERM, COMMAND_GRACE);
                return Ok(nonzero(exit_code(status)));
            }
            Event::Ready(_) | Event::FinalSync(_) => {}
        }
    };

    // 3. No check starts any more (one in progress ends first), the command's last writes, then
    // litestream.
    drop(assurance);
    drop(metrics);
    {
        let socket = plan.socket.clone();
        let timeout = plan.sync_timeout;
        let events = events.clone();
        std::thread::spawn(move || {
            let result = sync_all(&socket, timeout).map(|s| s.len()).map_err(|e| e.to_string());
            let _ = events.send(Event::FinalSync(result));
        });
    }
    loop {
        match inbox.recv().map_err(|_| SuperviseError::Channel)? {
            Event::FinalSync(Ok(count)) => {
                ctx.shell.verbose("Synced", format!("{count} database(s) after the command exited"));
                break;
            }
            Event::FinalSync(Err(message)) => {
                ctx.shell.warn(format!(
                    "the final sync after the command exited failed ({message}); litestream's shutdown sync retries it"
                ));
                break;
            }
            Event::Signal(received) => {
                ctx.shell.warn(format!("{} received: the final sync is cut short", received.name()));
                break;
            }
            Event::LitestreamExited(status) => {
                ctx.shell.warn(format!("litestream exited before the final sync ({status})"));
                return Ok(code);
            }
            Event::CommandExited(_) | Event::Ready(_) => {}
        }
    }
    stop_litestream(&litestream_process, &inbox, &plan, ctx);
    drop(lock);
    Ok(code)
}

fn start(
    litestream: &Litestream,
    plan: &Plan,
    lock: &ReplicateLock,
    ctx: &Supervisor<'_>,
    events: mpsc::Sender<Event>,
) -> Result<Child, ReplicateError> {
    ctx.shell.verbose("Running", display_command(&litestream.path, &plan.litestream_args));
    let mut command = litestream.command(ctx.env);
    command.args(&plan.litestream_args).stdin(Stdio::null()).current_dir(ctx.env.cwd());
    let child = start_litestream(command, lock, litestream)?;
    let watch = child.watch();
    // The exit, as an event (the monitor thread's own notification is for `wait`).
    std::thread::spawn(move || {
        let status = watch.wait();
        let _ = events.send(Event::LitestreamExited(status));
    });
    Ok(child)
}

/// SIGTERM, then wait for the exit (passing on further signals, which cut litestream's
/// shutdown retries short), SIGKILL past the grace period.
fn stop_litestream(litestream: &Child, inbox: &mpsc::Receiver<Event>, plan: &Plan, ctx: &Supervisor<'_>) {
    let grace = plan.sync_timeout + Duration::from_secs(10);
    let deadline = std::time::Instant::now() + grace;
    litestream.signal(signal::SIGTERM);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match inbox.recv_timeout(left) {
            Ok(Event::LitestreamExited(status)) => {
                if !status.success() {
                    ctx.shell.warn(format!("litestream did not shut down cleanly ({status})"));
                }
                return;
            }
            Ok(Event::Signal(received)) => {
                litestream.signal(received.number);
            }
            Ok(_) => {}
            Err(_) => {
                ctx.shell.warn(format!(
                    "litestream did not exit within {} s of SIGTERM; killed (its last writes may not be replicated)",
                    grace.as_secs()
                ));
                litestream.signal(signal::SIGKILL);
                litestream.wait();
                return;
            }
        }
    }
}

fn signal_exit(number: i32) -> u8 {
    u8::try_from(128 + number).unwrap_or(1)
}

fn nonzero(code: u8) -> u8 {
    if code == 0 { 1 } else { code }
}

/// Until litestream is ready for the command: `None` to go on, `Some(code)` to exit with.
fn wait_until_ready(
    inbox: &mpsc::Receiver<Event>,
    litestream_process: &Child,
    plan: &Plan,
    ctx: &Supervisor<'_>,
) -> Result<Option<u8>, SuperviseError> {
    // Silent when quick; after a few seconds, say what the command waits for.
    let mut told = false;
    loop {
        let event = match inbox.recv_timeout(Duration::from_secs(3)) {
            Ok(event) => event,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if !told {
                    told = true;
                    ctx.shell.status(
                        "Waiting",
                        format!(
                            "for the first sync to reach the replica before starting the command (at most {} s; \
                             -first-sync-timeout to change that)",
                            plan.first_sync_timeout.as_secs()
                        ),
                    );
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(SuperviseError::Channel),
        };
        match event {
            Event::Ready(Ok(count)) => {
                ctx.shell.verbose("Synced", format!("{count} database(s) before starting the command"));
                return Ok(None);
            }
            Event::Ready(Err(message)) => {
                if litestream_process.try_status().is_some() {
                    continue; // its exit event follows
                }
                ctx.shell.warn(format!(
                    "the first sync did not complete ({message}); starting the command anyway: its writes are replicated once the replica is reachable"
                ));
                return Ok(None);
            }
            Event::LitestreamExited(status) => {
                ctx.shell.error(format!(
                    "litestream exited while starting ({status}); the command was not started"
                ));
                return Ok(Some(nonzero(exit_code(status))));
            }
            Event::Signal(received) => {
                ctx.shell.status(
                    "Stopping",
                    format!("litestream ({}, before the command started)", received.name()),
                );
                stop_litestream(litestream_process, inbox, plan, ctx);
                return Ok(Some(signal_exit(received.number)));
            }
            Event::CommandExited(_) | Event::FinalSync(_) => {}
        }
    }
}
