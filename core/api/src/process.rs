//! Running a child process with a deadline: its pipes are drained by threads that report when
//! the child closes them (it exited, as a rule), and the child is killed when the deadline
//! passes first. A child that closes its pipes and lives on is polled for its exit until the
//! same deadline.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What a bounded child produced.
#[derive(Debug)]
pub(crate) struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BoundedError {
    #[error("could not start `{program}`: {source}")]
    Spawn { program: String, source: std::io::Error },
    /// The deadline passed; the child was killed.
    #[error("did not finish within {} s", .0.as_secs_f64())]
    TimedOut(Duration),
}

/// Runs `command` with `input` on its stdin, collecting stdout and stderr; kills it when it has
/// not finished within `timeout`.
pub(crate) fn output_within(
    command: &mut Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<Finished, BoundedError> {
    let program = command.get_program().to_string_lossy().into_owned();
    command
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| BoundedError::Spawn { program, source })?;

    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // A child that exits without reading its stdin closes the pipe: not our problem here,
        // its exit status tells.
        let _ = stdin.write_all(input);
    }

    let (sender, receiver) = mpsc::channel();
    let mut pipes = 0;
    if let Some(stdout) = child.stdout.take() {
        pipes += 1;
        spawn_reader(stdout, true, sender.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        pipes += 1;
        spawn_reader(stderr, false, sender);
    }

    let deadline = std::time::Instant::now() + timeout;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    for _ in 0..pipes {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        match receiver.recv_timeout(remaining) {
            Ok((true, bytes)) => stdout = bytes,
            Ok((false, bytes)) => stderr = bytes,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BoundedError::TimedOut(timeout));
            }
        }
    }
    // Both pipes closed: the child has exited, is about to, or closed them and lives on; the
    // last is bounded by the same deadline (a short poll: its exit raises no event to wait on).
    let spawn_error = |source| BoundedError::Spawn {
        program: command.get_program().to_string_lossy().into_owned(),
        source,
    };
    let status = loop {
        if let Some(status) = child.try_wait().map_err(spawn_error)? {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BoundedError::TimedOut(timeout));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Finished { status, stdout, stderr })
}

fn spawn_reader(
    mut pipe: impl Read + Send + 'static,
    is_stdout: bool,
    sender: mpsc::Sender<(bool, Vec<u8>)>,
) {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send((is_stdout, bytes));
    });
}

/// The last non-empty line of a child's stderr, without Litestream's `Error: ` prefix: the
/// part worth showing in a one-line message.
pub(crate) fn last_error_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("Try:"))
        .unwrap_or("no error message");
    line.strip_prefix("Error: ").unwrap_or(line).to_owned()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn collects_output_and_status() {
        let done = output_within(
            Command::new("sh").args(["-c", "cat; echo err >&2; exit 3"]),
            Some(b"hello"),
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(done.status.code(), Some(3));
        assert_eq!(done.stdout, b"hello");
        assert_eq!(done.stderr, b"err\n");
    }

    #[test]
    fn kills_a_child_past_its_deadline() {
        // `exec` so the pipes belong to `sleep` itself, and the kill closes them.
        let error = output_within(
            Command::new("sh").args(["-c", "exec sleep 600"]),
            None,
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(matches!(error, BoundedError::TimedOut(_)), "{error}");
    }

    /// Its pipes closed, the child lives on: bounded all the same (this waited for it before).
    #[test]
    fn kills_a_child_that_closed_its_pipes_at_the_deadline() {
        let error = output_within(
            Command::new("sh").args(["-c", "exec >&- 2>&-; sleep 600"]),
            None,
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(matches!(error, BoundedError::TimedOut(_)), "{error}");
    }

    #[test]
    fn error_lines() {
        assert_eq!(
            last_error_line(b"log\nError: no matching backup files available\n"),
            "no matching backup files available"
        );
        assert_eq!(last_error_line(b"Error: x\nTry: y\n"), "x");
        assert_eq!(last_error_line(b""), "no error message");
    }
}
