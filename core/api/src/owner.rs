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
//! the real binary). `restore` never looks at the record. Other replica kinds (S3, GCS, …) get
//! no record: writing one needs each store's client and credentials, which only litestream
//! has; there only the machine-wide lock applies.

use std::path::{Path, PathBuf};

use cargo_litestream_config::Env;
use serde::{Deserialize, Serialize};

/// The record's file name, in the replica's folder.
pub const RECORD: &str = ".cargo-litestream-owner";

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error(
        "{replica} holds the backup of {owner}{host}, not of {database}; replicating there would overwrite it: give one of the two projects a `path-prefix` (or this database its own `replica`), or, if {owner} is gone for good or moved to {database}, remove {record}",
        replica = replica.display(),
        host = host.as_deref().map(|h| format!(" on {h}")).unwrap_or_default(),
        database = database.display(),
        record = record.display()
    )]
    Other { replica: PathBuf, owner: String, host: Option<String>, database: PathBuf, record: PathBuf },

    #[error(
        "{} is not an owner record cargo-litestream can read ({problem}); if the replica holds only {}'s backup, remove the file",
        record.display(),
        database.display()
    )]
    Unreadable { record: PathBuf, database: PathBuf, problem: String },

    #[error("cannot write the owner record {} ({source}); check that the replica folder is writable", record.display())]
    Io { record: PathBuf, source: std::io::Error },
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    database: PathBuf,
    #[serde(default)]
    host: Option<String>,
}

/// Checks every `(database, file replica folder)` pair and records the owner where there is
/// none yet. The first refusal wins; records are written only once every check has passed,
/// so a refused run writes nothing.
pub fn claim_all(claims: &[(PathBuf, PathBuf)], env: &Env) -> Result<(), OwnerError> {
    let mut missing = Vec::new();
    for (database, replica) in claims {
        if !check(database, replica)? {
            missing.push((database, replica));
        }
    }
    let host = host_name(env);
    for (database, replica) in missing {
        write(database, replica, host.as_deref())?;
    }
    Ok(())
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
    let owner: Record = serde_json::from_slice(&text).map_err(|e| OwnerError::Unreadable {
        record: record.clone(),
        database: database.to_path_buf(),
        problem: e.to_string(),
    })?;
    if owner.database == database {
        return Ok(true);
    }
    Err(OwnerError::Other {
        replica: replica.to_path_buf(),
        owner: owner.database.display().to_string(),
        host: owner.host,
        database: database.to_path_buf(),
        record,
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
        claim_all(&[(a.clone(), replica.clone())], &env).unwrap();
        claim_all(&[(a.clone(), replica.clone())], &env).unwrap();
        let before = std::fs::read(replica.join(RECORD)).unwrap();
        let error = claim_all(&[(b.clone(), replica.clone())], &env).unwrap_err().to_string();
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
        claim_all(&[(dir.path().join("a.db"), taken.clone())], &env).unwrap();
        let claims = [(dir.path().join("b.db"), fresh.clone()), (dir.path().join("b.db"), taken)];
        assert!(claim_all(&claims, &env).is_err());
        assert!(!fresh.exists(), "nothing written for the other replica of a refused run");
    }
}
