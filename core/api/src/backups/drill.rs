//! `drill`: a timed restore rehearsal. The latest point and one restore point picked at random
//! are restored by litestream itself into a private folder, checked with SQLite's
//! `integrity_check` and the project's own SQL assertions, timed (RTO: duration, bytes, MB/s)
//! and set against the replica's newest file (RPO). Each run is a line of the history that
//! `check`, the metrics and the status page read.
//!
//! The restore is timed alone, as a plain `litestream restore` (so its figure is litestream's
//! own speed), and `integrity_check` runs after it on the restored file.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use cargo_litestream_config::Env;
use cargo_litestream_runner::Litestream;
use jiff::Timestamp;
use serde::Serialize;

use super::{ListError, list, restore_points};
use crate::json::txid;
use crate::process::{BoundedError, last_error_line, output_within};

#[derive(Clone, Debug, Default)]
pub struct DrillOptions {
    /// SQL whose first column of the first row must be true (non-zero, non-empty) on every
    /// restored copy (`[package.metadata.litestream.drill] checks`).
    pub checks: Vec<String>,
    /// How long one restore may take.
    pub timeout: Option<Duration>,
}

/// What `drill` concluded about one database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// The replica could not be listed or read: exit 3.
    Unchecked,
    /// A restore failed, or a restored copy failed `integrity_check` or a check: exit 1.
    Failed,
}

impl Outcome {
    /// Its [`Standing`](crate::assurance::Standing)'s: 0 passed, 1 failed, 3 unchecked.
    pub fn exit_code(self) -> u8 {
        crate::assurance::Verdict::standing(self).exit_code()
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "FAILED",
            Outcome::Unchecked => "could not run",
        }
    }

    pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        crate::assurance::Verdict::worst(outcomes).unwrap_or(Outcome::Passed)
    }
}

/// One restore of the rehearsal.
#[derive(Clone, Debug, Serialize)]
pub struct Rehearsal {
    /// `latest`, or the restore point's TXID.
    pub point: String,
    pub ok: bool,
    /// The restore alone (RTO), and what it wrote.
    pub restore_ms: u64,
    pub bytes: u64,
    pub mb_per_s: f64,
    /// `integrity_check` on the copy.
    pub integrity_ms: u64,
    pub integrity: String,
    pub checks: Vec<SqlCheck>,
    /// Why it failed, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SqlCheck {
    pub sql: String,
    pub ok: bool,
    /// The value found, or the error.
    pub result: String,
}

/// The rehearsal of one database.
#[derive(Clone, Debug, Serialize)]
pub struct DrillReport {
    pub outcome: Outcome,
    pub started: Timestamp,
    pub duration_ms: u64,
    /// Now minus the time of the replica's newest file: what a loss now would cost at most.
    pub rpo_seconds: Option<f64>,
    pub newest_file: Option<Timestamp>,
    pub points: usize,
    pub rehearsals: Vec<Rehearsal>,
}

/// Rehearses the restore of the replica `target` names (see [`list`]) into a private folder
/// under `work_dir`, removed after.
pub fn drill(
    litestream: &Litestream,
    env: &Env,
    target: &[OsString],
    work_dir: &Path,
    options: &DrillOptions,
) -> Result<DrillReport, ListError> {
    let started_at = Instant::now();
    let started = Timestamp::now();
    let timeout = options.timeout.unwrap_or(Duration::from_secs(3600));
    let files = list(litestream, env, target, timeout)?;
    let points = restore_points(&files);
    let newest_file = files.iter().map(|f| f.created).max();
    let rpo_seconds =
        newest_file.map(|t| (started.as_millisecond() - t.as_millisecond()).max(0) as f64 / 1000.0);

    let mut report = DrillReport {
        outcome: Outcome::Passed,
        started,
        duration_ms: 0,
        rpo_seconds,
        newest_file,
        points: points.points.len(),
        rehearsals: Vec::new(),
    };
    let mut chosen: Vec<Option<u64>> = vec![None];
    let others: Vec<u64> = points
        .points
        .iter()
        .map(|p| p.txid)
        .filter(|t| Some(*t) != points.latest.as_ref().ok().copied())
        .collect();
    if !others.is_empty() {
        chosen.push(Some(others[random_below(others.len())]));
    }
    let folder = tempfile::Builder::new()
        .prefix(".drill-")
        .tempdir_in(work_dir)
        .map_err(|e| ListError::Run(format!("cannot create a folder in {}: {e}", work_dir.display())))?;
    for (n, txid) in chosen.into_iter().enumerate() {
        let output = folder.path().join(format!("{n}.db"));
        report.rehearsals.push(rehearse(litestream, env, target, &output, txid, options, timeout));
    }
    let _ = folder.close();
    report.outcome = if report.rehearsals.iter().all(|r| r.ok) { Outcome::Passed } else { Outcome::Failed };
    report.duration_ms = millis(started_at.elapsed());
    Ok(report)
}

fn rehearse(
    litestream: &Litestream,
    env: &Env,
    target: &[OsString],
    output: &Path,
    txid: Option<u64>,
    options: &DrillOptions,
    timeout: Duration,
) -> Rehearsal {
    let mut rehearsal = Rehearsal {
        point: txid.map_or_else(|| "latest".to_owned(), self::txid),
        ok: false,
        restore_ms: 0,
        bytes: 0,
        mb_per_s: 0.0,
        integrity_ms: 0,
        integrity: String::new(),
        checks: Vec::new(),
        error: None,
    };
    let timer = Instant::now();
    let done = restore_to(litestream, env, target, output, txid, timeout);
    rehearsal.restore_ms = millis(timer.elapsed());
    if let Err(error) = done {
        rehearsal.error = Some(crate::replicate::plan::one_line(&error));
        return rehearsal;
    }
    rehearsal.bytes = std::fs::metadata(output).map_or(0, |m| m.len());
    rehearsal.mb_per_s = rehearsal.bytes as f64 / 1e6 / (rehearsal.restore_ms.max(1) as f64 / 1000.0);

    let conn = match rusqlite::Connection::open_with_flags(output, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    {
        Ok(conn) => conn,
        Err(error) => {
            rehearsal.error = Some(format!("the restored copy does not open: {error}"));
            return rehearsal;
        }
    };
    let timer = Instant::now();
    rehearsal.integrity = match conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)) {
        Ok(result) => result,
        Err(error) => error.to_string(),
    };
    rehearsal.integrity_ms = millis(timer.elapsed());
    for sql in &options.checks {
        rehearsal.checks.push(run_check(&conn, sql));
    }
    let failed_checks: Vec<&str> =
        rehearsal.checks.iter().filter(|c| !c.ok).map(|c| c.sql.as_str()).collect();
    rehearsal.ok = rehearsal.integrity == "ok" && failed_checks.is_empty();
    if rehearsal.integrity != "ok" {
        rehearsal.error = Some(format!("integrity_check: {}", rehearsal.integrity));
    } else if !failed_checks.is_empty() {
        rehearsal.error = Some(format!("failed: {}", failed_checks.join("; ")));
    }
    rehearsal
}

/// Why [`restore_to`] restored nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreToError {
    #[error("no replica to restore from")]
    NoReplica,
    /// Litestream ran and failed; `why` is the last error line it printed.
    #[error("the restore failed: {why}")]
    Failed { why: String },
    #[error("the restore took longer than {} s", .after.as_secs())]
    TimedOut { after: Duration },
    #[error("could not start `{program}`")]
    Start {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// `litestream restore` of the replica `target` names (see [`list`]) into `output` (which
/// must not exist), to `txid` or the latest point, bounded by `timeout`.
pub fn restore_to(
    litestream: &Litestream,
    env: &Env,
    target: &[OsString],
    output: &Path,
    txid: Option<u64>,
    timeout: Duration,
) -> Result<(), RestoreToError> {
    let Some((positional, flags)) = target.split_last() else {
        return Err(RestoreToError::NoReplica);
    };
    let mut command = litestream.command(env);
    command.arg("restore").args(flags).arg("-o").arg(output);
    if let Some(txid) = txid {
        command.args(["-txid", &self::txid(txid)]);
    }
    command.arg(positional);
    match output_within(&mut command, None, timeout) {
        Ok(done) if done.status.success() => Ok(()),
        Ok(done) => Err(RestoreToError::Failed { why: last_error_line(&done.stderr) }),
        Err(BoundedError::TimedOut(after)) => Err(RestoreToError::TimedOut { after }),
        Err(BoundedError::Spawn { program, source }) => Err(RestoreToError::Start { program, source }),
    }
}

/// The first column of the first row, true when a non-zero number or a non-empty text/blob.
fn run_check(conn: &rusqlite::Connection, sql: &str) -> SqlCheck {
    use rusqlite::types::ValueRef;
    let result = conn.query_row(sql, [], |row| {
        Ok(match row.get_ref(0)? {
            ValueRef::Null => (false, "NULL".to_owned()),
            ValueRef::Integer(i) => (i != 0, i.to_string()),
            ValueRef::Real(f) => (f != 0.0, f.to_string()),
            ValueRef::Text(t) => (!t.is_empty(), String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => (!b.is_empty(), format!("a blob of {} bytes", b.len())),
        })
    });
    match result {
        Ok((ok, value)) => SqlCheck { sql: sql.to_owned(), ok, result: value },
        Err(rusqlite::Error::QueryReturnedNoRows) => {
            SqlCheck { sql: sql.to_owned(), ok: false, result: "no rows".to_owned() }
        }
        Err(error) => SqlCheck { sql: sql.to_owned(), ok: false, result: error.to_string() },
    }
}

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

/// A uniform choice in `0..n` from the system's randomness (a drill must not always rehearse
/// the same point); the time, if that fails.
fn random_below(n: usize) -> usize {
    let mut bytes = [0u8; 8];
    let seed = match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => Timestamp::now().as_nanosecond() as u64,
    };
    (seed % n.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_that_cannot_start_names_the_program_and_its_cause_once() {
        let litestream = Litestream {
            path: "/nonexistent/litestream".into(),
            source: cargo_litestream_runner::BinarySource::EnvVar,
        };
        let env = Env::empty("/");
        let output = Path::new("/nonexistent/out.db");
        let no_target = restore_to(&litestream, &env, &[], output, None, Duration::from_secs(5));
        assert!(matches!(no_target, Err(RestoreToError::NoReplica)), "{no_target:?}");

        let error =
            restore_to(&litestream, &env, &["file:///nowhere".into()], output, None, Duration::from_secs(5))
                .unwrap_err();
        let RestoreToError::Start { program, source } = &error else { panic!("{error:?}") };
        assert_eq!(program, "/nonexistent/litestream");
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        let line = crate::replicate::plan::one_line(&error);
        assert_eq!(line, format!("could not start `/nonexistent/litestream`: {source}"));
    }

    #[test]
    fn checks_are_true_values_of_the_first_column() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE users(x); INSERT INTO users VALUES (1), (2);").unwrap();
        let check = |sql: &str| run_check(&conn, sql);
        assert!(check("SELECT count(*) > 0 FROM users").ok);
        assert_eq!(check("SELECT count(*) FROM users").result, "2");
        assert!(!check("SELECT count(*) > 5 FROM users").ok);
        assert!(!check("SELECT x FROM users WHERE x = 9").ok);
        assert_eq!(check("SELECT x FROM users WHERE x = 9").result, "no rows");
        let broken = check("SELECT nope FROM users");
        assert!(!broken.ok && broken.result.contains("no such column"), "{broken:?}");
        assert!(!check("SELECT NULL").ok && check("SELECT 'yes'").ok && !check("SELECT ''").ok);
    }

    #[test]
    fn worst_outcome() {
        assert_eq!(Outcome::worst([Outcome::Passed, Outcome::Unchecked]), Outcome::Unchecked);
        assert_eq!(Outcome::worst([Outcome::Failed, Outcome::Unchecked]), Outcome::Failed);
        assert_eq!([Outcome::Passed, Outcome::Failed, Outcome::Unchecked].map(Outcome::exit_code), [0, 1, 3]);
    }
}
