//! "Restore to a copy": a restore point of one database restored by litestream into a new
//! file of the state folder (`<state dir>/restores/`), then opened read-only for
//! `integrity_check` and the row count of every table. Never over the database: the output is
//! a new name the page chooses, and is refused if it is the database or one of its sidecars,
//! lies inside a file replica, or exists.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cargo_litestream_config::{Env, Project};
use cargo_litestream_runner::Litestream;
use jiff::Timestamp;

use crate::backups::{self, RestorePoint};
use crate::check::{self, Target};
use crate::json::txid;

/// The folder of the state directory restored copies go to.
pub const RESTORES: &str = "restores";

/// A restored copy, as the page reports it.
#[derive(Clone, Debug)]
pub struct RestoredCopy {
    pub database: String,
    pub point: RestorePoint,
    pub path: PathBuf,
    pub restore_ms: u64,
    /// `PRAGMA integrity_check`'s rows, joined: `ok` when sound.
    pub integrity: String,
    /// Every table but SQLite's own, with its rows, by name.
    pub tables: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    #[error("unknown database {0:?}: the status page lists the configured ones")]
    UnknownDatabase(String),
    #[error("{} is not a restore point of {database}: `cargo litestream restore-points` lists them", txid(*.point))]
    NotAPoint { database: String, point: u64 },
    /// The copy's name is taken (a copy is always a new file).
    #[error("refusing to restore to {}: the file exists (a copy is always a new file)", .path.display())]
    Exists { path: PathBuf },
    /// The copy's name is the live database or one of its sidecars.
    #[error("refusing to restore to {}: it is the database {database}{suffix}", .path.display())]
    IsTheDatabase { path: PathBuf, database: String, suffix: &'static str },
    #[error(transparent)]
    Unsafe(crate::restore::RestoreError),
    #[error("cannot list the replica of {database}")]
    List {
        database: String,
        #[source]
        source: check::ReplicaListError,
    },
    /// The folder copies go to could not be made.
    #[error("cannot create {}", .path.display())]
    Folder { path: PathBuf, source: std::io::Error },
    /// The restored copy does not open and read as SQLite.
    #[error("the copy at {} does not open as SQLite", .path.display())]
    NotSqlite { path: PathBuf, source: rusqlite::Error },
    #[error(transparent)]
    Restore(#[from] backups::drill::RestoreToError),
    /// The project's databases could not be listed as check targets.
    #[error(transparent)]
    Targets(#[from] check::CheckError),
}

impl CopyError {
    /// The HTTP status the page answers with.
    pub fn status(&self) -> u16 {
        match self {
            CopyError::UnknownDatabase(_) | CopyError::NotAPoint { .. } => 404,
            CopyError::Exists { .. } | CopyError::IsTheDatabase { .. } | CopyError::Unsafe(_) => 409,
            CopyError::List { .. }
            | CopyError::Folder { .. }
            | CopyError::NotSqlite { .. }
            | CopyError::Restore(_)
            | CopyError::Targets(_) => 500,
        }
    }
}

/// Restores restore point `txid` of the configured database `database` (its alias, else its
/// path, as the page names it) into a new file under `<state dir>/restores/`.
pub fn restore_copy(
    project: &Project,
    env: &Env,
    litestream: &Litestream,
    database: &str,
    txid: u64,
) -> Result<RestoredCopy, CopyError> {
    let targets = check::project_targets(project, env)?;
    let target = targets
        .iter()
        .find(|t| t.name == database)
        .ok_or_else(|| CopyError::UnknownDatabase(database.to_owned()))?;
    let files = target
        .list(Some(litestream), env, Duration::from_secs(60))
        .map_err(|source| CopyError::List { database: database.to_owned(), source })?;
    let points = backups::restore_points(&files);
    let point = points
        .get(txid)
        .cloned()
        .ok_or_else(|| CopyError::NotAPoint { database: database.to_owned(), point: txid })?;

    let folder = project.state_dir.join(RESTORES);
    std::fs::create_dir_all(&folder).map_err(|source| CopyError::Folder { path: folder.clone(), source })?;
    let output = new_name(&folder, database, txid, Timestamp::now());
    refuse_output(&output, target, project, env)?;

    let timer = Instant::now();
    let restored = backups::drill::restore_to(
        litestream,
        env,
        &target.litestream_target,
        &output,
        Some(txid),
        Duration::from_secs(3600),
    );
    if let Err(error) = restored {
        // Litestream restores into `<output>.tmp` and removes it on its own errors, not when it
        // is killed (the timeout): nothing of a failed copy stays behind. Both names are this
        // call's own (`refuse_output` refused an existing file).
        let mut partial = output.clone().into_os_string();
        partial.push(".tmp");
        let _ = std::fs::remove_file(partial);
        let _ = std::fs::remove_file(&output);
        return Err(error.into());
    }
    let restore_ms = u64::try_from(timer.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (integrity, tables) =
        inspect_copy(&output).map_err(|source| CopyError::NotSqlite { path: output.clone(), source })?;
    Ok(RestoredCopy { database: database.to_owned(), point, path: output, restore_ms, integrity, tables })
}

/// `<folder>/<database>-<txid>-<time>.db`, with `-2`, `-3`, … when that name is taken.
fn new_name(folder: &Path, database: &str, point: u64, now: Timestamp) -> PathBuf {
    let slug: String = database
        .rsplit('/')
        .next()
        .unwrap_or(database)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .take(60)
        .collect();
    let stem = format!("{}-{}-{}", slug.trim_start_matches('.'), txid(point), now.strftime("%Y%m%dT%H%M%SZ"));
    let mut n = 1;
    loop {
        let name = if n == 1 { format!("{stem}.db") } else { format!("{stem}-{n}.db") };
        let path = folder.join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            return path;
        }
        n += 1;
    }
}

/// Refuses an output that is the database or one of its sidecars, lies inside the replica of
/// any configured database (a `file` replica's folder), or already exists (litestream would
/// refuse it too; this says so before it starts).
fn refuse_output(output: &Path, target: &Target, project: &Project, env: &Env) -> Result<(), CopyError> {
    if std::fs::symlink_metadata(output).is_ok() {
        return Err(CopyError::Exists { path: output.to_path_buf() });
    }
    let real = resolved(output);
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let live = cargo_litestream_config::sidecar(&target.path, suffix);
        if output == live || real == resolved(&live) {
            let database = target.name.clone();
            return Err(CopyError::IsTheDatabase { path: output.to_path_buf(), database, suffix });
        }
    }
    // `restore -o`'s own rule: no file replica's folder of the project.
    crate::restore::refuse_output_in_a_replica(output, Some(project), None, env).map_err(CopyError::Unsafe)
}

/// `path` with its deepest existing ancestor's symlinks resolved.
fn resolved(path: &Path) -> PathBuf {
    for ancestor in path.ancestors() {
        if let Ok(real) = std::fs::canonicalize(ancestor) {
            return real.join(path.strip_prefix(ancestor).unwrap_or(Path::new("")));
        }
    }
    path.to_path_buf()
}

/// `integrity_check` and each table's row count. The connection may write (`query_only` keeps
/// it from doing so) because the copy is in WAL mode: a read-only one would leave `-wal` and
/// `-shm` files beside it, which the last read-write connection removes as it closes.
fn inspect_copy(path: &Path) -> rusqlite::Result<(String, Vec<(String, u64)>)> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.pragma_update(None, "query_only", true)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let integrity: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )?;
    let names: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let quoted = name.replace('"', "\"\"");
        let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM \"{quoted}\""), [], |r| r.get(0))?;
        tables.push((name, u64::try_from(rows).unwrap_or(0)));
    }
    Ok((integrity.join("; "), tables))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(db: &Path, replica: &Path) -> Target {
        Target {
            name: "default".into(),
            path: db.to_path_buf(),
            meta_path: Target::default_meta_path(db),
            store: Ok(backups::store::Store::Folder(replica.to_path_buf())),
            litestream_target: Vec::new(),
            in_flight: Duration::from_secs(2),
        }
    }

    #[test]
    fn the_database_its_sidecars_the_replica_and_existing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\n\n[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
        )
        .unwrap();
        let env = Env::capture().unwrap();
        let project =
            Project::load(Some(&dir.path().join("Cargo.toml")), &env).unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("app.db");
        let replica = dir.path().join("replica");
        std::fs::create_dir_all(&replica).unwrap();
        let target = target(&db, &replica);
        for (output, why) in [
            (db.clone(), "it is the database"),
            (dir.path().join("app.db-wal"), "it is the database default-wal"),
            (dir.path().join("app.db-shm"), "-shm"),
            // `replica = "replica"` puts each database in a folder of its own.
            (replica.join("app.db/copy.db"), "is inside the replica of `default`"),
        ] {
            let error = refuse_output(&output, &target, &project, &env).unwrap_err().to_string();
            assert!(error.contains(why), "{output:?}: {error}");
        }
        let existing = dir.path().join("existing.db");
        std::fs::write(&existing, b"mine").unwrap();
        let error = refuse_output(&existing, &target, &project, &env).unwrap_err();
        assert_eq!(error.status(), 409);
        assert!(error.to_string().contains("exists"), "{error}");
        assert_eq!(std::fs::read(&existing).unwrap(), b"mine");
        refuse_output(&dir.path().join("restores/new.db"), &target, &project, &env).unwrap();
    }

    #[test]
    fn names_are_new_and_safe() {
        let dir = tempfile::tempdir().unwrap();
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let first = new_name(dir.path(), "../etc/pass wd", 26, now);
        assert_eq!(first, dir.path().join("pass_wd-000000000000001a-20261201T120000Z.db"));
        std::fs::write(&first, b"").unwrap();
        assert_eq!(
            new_name(dir.path(), "../etc/pass wd", 26, now),
            dir.path().join("pass_wd-000000000000001a-20261201T120000Z-2.db")
        );
        assert_eq!(new_name(dir.path(), "/x/.hidden.db", 1, now).parent(), Some(dir.path()));
    }
}
