//! The owner record of a file replica: `<replica folder>/.cargo-litestream-owner`.
//!
//! Two databases replicated into one location overwrite each other's backups, and a restore
//! then returns the other database's rows. The machine-wide lock (`runner::lock`) sees two
//! replicators running at once on one machine; this record also sees one that ran before, or
//! runs on another machine sharing the folder, or under a systemd `PrivateTmp=`. Before
//! litestream starts (replicate locks held), each file replica's record is read: none → this
//! database's is written (a replica it replicated before this record existed is taken as its
//! own); another database's → refused, nothing written.
//!
//! The record is JSON: the database's absolute path and the host name. Only the path is
//! compared: a container's host name changes with every deploy, its paths do not. Litestream
//! 0.5.17 keeps a replica's files under `<replica>/ltx/<level>/`; the record sits beside that
//! tree, and replication, `ltx` and `restore` go on with it in place (tests/it/owner.rs, with
//! the real binary). `restore` never looks at the record.
//!
//! S3 replicas get the same record, as the object `<path>/.cargo-litestream-owner` in their
//! bucket, read and written with SigV4-presigned requests (`rusty-s3`, sent by `ureq`) and the
//! credentials Litestream would use when they are in the configuration, the environment or the
//! shared credentials file (`backups::store::S3Location::of`). Without such credentials (an
//! instance role, SSO), or for other stores (GCS, Azure, …), there is no record; only the
//! machine-wide lock applies.

use std::path::{Path, PathBuf};

use cargo_litestream_config::Env;
use serde::{Deserialize, Serialize};

use crate::backups::store::S3Location;

/// The record's file name, in the replica's folder.
pub const RECORD: &str = ".cargo-litestream-owner";

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error(
        "{replica} holds the backup of {owner}{host}, not of {database}; replicating there would overwrite it: give one of the two projects a `path-prefix` (or this database its own `replica`), or, if {owner} is gone for good or moved to {database}, remove {record}",
        host = host.as_deref().map(|h| format!(" on {h}")).unwrap_or_default(),
        database = database.display(),
    )]
    Other { replica: String, owner: String, host: Option<String>, database: PathBuf, record: String },

    #[error(
        "{record} is not an owner record cargo-litestream can read ({problem}); if the replica holds only {}'s backup, remove the file",
        database.display()
    )]
    Unreadable { record: String, database: PathBuf, problem: String },

    #[error(
        "cannot check who owns {replica} ({problem}); check the replica's endpoint and credentials (`cargo litestream doctor`)"
    )]
    Remote { replica: String, problem: String },

    #[error("cannot write the owner record {} ({source}); check that the replica folder is writable", record.display())]
    Io { record: PathBuf, source: std::io::Error },
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    database: PathBuf,
    #[serde(default)]
    host: Option<String>,
}

/// Where a replica's owner record lives.
#[derive(Clone, Debug)]
pub enum Place {
    /// A `file` replica's folder.
    Folder(PathBuf),
    /// An S3 replica's prefix, with what it takes to read and write there.
    S3(Box<S3Place>),
}

/// An S3 replica's record: the object, and where and how to reach it.
#[derive(Clone, Debug)]
pub struct S3Place {
    location: S3Location,
    object: String,
}

/// Where the owner record of the replica `table` lives, if this tool can keep one there:
/// a `file` replica's folder, or an S3 replica with credentials in the configuration or the
/// environment. `globals`: the configuration's top-level keys (replica defaults).
pub fn place_of(
    table: &cargo_litestream_config::TomlTable,
    globals: &cargo_litestream_config::TomlTable,
    env: &Env,
) -> Option<Place> {
    if let Some(dir) = cargo_litestream_config::file_replica_dir(table, env) {
        return Some(Place::Folder(dir));
    }
    let location = S3Location::of(table, globals, env)?;
    let object = location.object(RECORD);
    Some(Place::S3(Box::new(S3Place { location, object })))
}

/// Checks every `(database, place)` pair and records the owner where there is none yet. The
/// first refusal wins; records are written only once every check has passed, so a refused run
/// writes nothing. An S3 record that cannot be read or written (the store unreachable, the
/// credentials refused, a read-only bucket) does not stop replication, which catches up once the
/// store answers: it is returned as a warning to show, one line per replica.
pub fn claim_all(claims: &[(PathBuf, Place)], env: &Env) -> Result<Vec<String>, OwnerError> {
    let mut warnings = Vec::new();
    let mut missing = Vec::new();
    for (database, place) in claims {
        let present = match place {
            Place::Folder(replica) => check(database, replica)?,
            Place::S3(s3) => match s3_check(database, s3) {
                Err(OwnerError::Remote { replica, problem }) => {
                    warnings.push(unchecked(&replica, &problem));
                    true
                }
                other => other?,
            },
        };
        if !present {
            missing.push((database, place));
        }
    }
    let host = host_name(env);
    for (database, place) in missing {
        match place {
            Place::Folder(replica) => write(database, replica, host.as_deref())?,
            Place::S3(s3) => match s3_write(database, s3, host.as_deref()) {
                Err(OwnerError::Remote { replica, problem }) => warnings.push(unchecked(&replica, &problem)),
                other => other?,
            },
        }
    }
    Ok(warnings)
}

fn unchecked(replica: &str, problem: &str) -> String {
    format!(
        "could not check who owns {replica} ({problem}): replicating on, but a second project writing there would \
         not be seen; `cargo litestream doctor` checks the replica"
    )
}

/// How long an S3 request of the record may take, and its presigned URL live.
const S3_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

fn s3_agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(S3_TIMEOUT))
            .user_agent(concat!("cargo-litestream/", env!("CARGO_PKG_VERSION")))
            .build(),
    )
}

fn s3_error(s3: &S3Place, problem: impl std::fmt::Display) -> OwnerError {
    OwnerError::Remote { replica: s3.location.shown.clone(), problem: problem.to_string() }
}

/// As [`check`], for an S3 replica: the record's object, read.
fn s3_check(database: &Path, s3: &S3Place) -> Result<bool, OwnerError> {
    use rusty_s3::S3Action as _;
    let url = s3.location.bucket.get_object(Some(&s3.location.credentials), &s3.object).sign(S3_TIMEOUT);
    let mut response = s3_agent().get(url.as_str()).call().map_err(|e| s3_error(s3, e))?;
    match response.status().as_u16() {
        404 => Ok(false),
        200 => {
            let text = response.body_mut().read_to_vec().map_err(|e| s3_error(s3, e))?;
            compare(database, &text, &format!("{}/{RECORD}", s3.location.shown), &s3.location.shown)
        }
        status => Err(s3_error(s3, format!("reading {RECORD} answered HTTP {status}"))),
    }
}

/// As [`write`], for an S3 replica (`If-None-Match: *`: never over another machine's record,
/// where the server supports it).
fn s3_write(database: &Path, s3: &S3Place, host: Option<&str>) -> Result<(), OwnerError> {
    use rusty_s3::S3Action as _;
    let text = serde_json::to_vec_pretty(&Record {
        database: database.to_path_buf(),
        host: host.map(str::to_owned),
    })
    .map_err(|e| s3_error(s3, e))?;
    let url = s3.location.bucket.put_object(Some(&s3.location.credentials), &s3.object).sign(S3_TIMEOUT);
    let response = s3_agent()
        .put(url.as_str())
        .header("If-None-Match", "*")
        .header("Content-Type", "application/json")
        .send(&text[..])
        .map_err(|e| s3_error(s3, e))?;
    match response.status().as_u16() {
        200..=299 => Ok(()),
        // Another machine wrote one meanwhile: that one decides.
        412 => s3_check(database, s3).map(|_| ()),
        status => Err(s3_error(s3, format!("writing {RECORD} answered HTTP {status}"))),
    }
}

/// `Ok(true)`: the record names `database`; `Ok(false)`: there is none.
fn check(database: &Path, replica: &Path) -> Result<bool, OwnerError> {
    let record = replica.join(RECORD);
    let text = match std::fs::read(&record) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        // A replica "folder" that is a file is litestream's to report.
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(true),
        Err(source) => return Err(OwnerError::Io { record, source }),
    };
    compare(database, &text, &record.display().to_string(), &replica.display().to_string())
}

/// A record's text against `database`: `Ok(true)` when it names it, else the refusal.
fn compare(database: &Path, text: &[u8], record: &str, replica: &str) -> Result<bool, OwnerError> {
    let owner: Record = serde_json::from_slice(text).map_err(|e| OwnerError::Unreadable {
        record: record.to_owned(),
        database: database.to_path_buf(),
        problem: e.to_string(),
    })?;
    if owner.database == database {
        return Ok(true);
    }
    Err(OwnerError::Other {
        replica: replica.to_owned(),
        owner: owner.database.display().to_string(),
        host: owner.host,
        database: database.to_path_buf(),
        record: record.to_owned(),
    })
}

/// Writes the record without ever replacing one: a temp file linked into place (fails if a
/// record appeared meanwhile, e.g. written by another machine; that one is then checked).
fn write(database: &Path, replica: &Path, host: Option<&str>) -> Result<(), OwnerError> {
    let record = replica.join(RECORD);
    let io = |source| OwnerError::Io { record: record.clone(), source };
    std::fs::create_dir_all(replica).map_err(io)?;
    let text = serde_json::to_vec_pretty(&Record {
        database: database.to_path_buf(),
        host: host.map(str::to_owned),
    })
    .map_err(|e| io(std::io::Error::other(e)))?;
    let mut temp =
        tempfile::Builder::new().prefix(".cargo-litestream-owner.").tempfile_in(replica).map_err(io)?;
    std::io::Write::write_all(&mut temp, &text).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    match temp.persist_noclobber(&record) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => check(database, replica).map(|_| ()),
        Err(e) => Err(io(e.error)),
    }
}

/// This machine's name, for the record (people read it; nothing compares it).
fn host_name(env: &Env) -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| env.non_empty("HOSTNAME").map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_database_owns_the_replica_and_another_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let replica = dir.path().join("replica/app.db");
        let (a, b) = (dir.path().join("a/app.db"), dir.path().join("b/app.db"));
        let env = Env::empty(dir.path());
        claim_all(&[(a.clone(), Place::Folder(replica.clone()))], &env).unwrap();
        claim_all(&[(a.clone(), Place::Folder(replica.clone()))], &env).unwrap();
        let before = std::fs::read(replica.join(RECORD)).unwrap();
        let error = claim_all(&[(b.clone(), Place::Folder(replica.clone()))], &env).unwrap_err().to_string();
        assert!(error.contains(&format!("holds the backup of {}", a.display())), "{error}");
        assert!(error.contains("path-prefix") && error.contains(RECORD), "{error}");
        assert_eq!(std::fs::read(replica.join(RECORD)).unwrap(), before, "the record is unchanged");
        // Only what was left after the refusal: the record, no temp file.
        assert_eq!(std::fs::read_dir(&replica).unwrap().count(), 1);
    }

    #[test]
    fn a_refusal_writes_no_record_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        let (taken, fresh) = (dir.path().join("taken"), dir.path().join("fresh"));
        let env = Env::empty(dir.path());
        claim_all(&[(dir.path().join("a.db"), Place::Folder(taken.clone()))], &env).unwrap();
        let claims = [
            (dir.path().join("b.db"), Place::Folder(fresh.clone())),
            (dir.path().join("b.db"), Place::Folder(taken)),
        ];
        assert!(claim_all(&claims, &env).is_err());
        assert!(!fresh.exists(), "nothing written for the other replica of a refused run");
    }
}
