//! Opening the application's own database the way Litestream needs it.
//!
//! Three settings, on every connection the application opens:
//!
//! | pragma | value | why |
//! |---|---|---|
//! | `journal_mode` | `WAL` | Litestream replicates the write-ahead log; a database in rollback-journal mode is not replicated at all. |
//! | `busy_timeout` | `5000` | Litestream takes the write lock for a moment to checkpoint; without a timeout the application's write fails with `SQLITE_BUSY` instead of waiting those milliseconds. |
//! | `wal_autocheckpoint` | `0` | Litestream checkpoints itself, after it has copied the frames. SQLite's default (a checkpoint by whichever connection commits past 1000 pages) can restart the WAL over frames Litestream has not copied yet: the commits in them are then missing from the backup. Litestream holds a read lock to prevent that, but a lock can be lost (RELIABILITY.md shows where); with `0` no connection of the application ever checkpoints, so the loss cannot happen. Litestream's own guidance since PR #761. |
//!
//! With `wal_autocheckpoint = 0` the WAL is kept small by Litestream only: while no
//! `replicate` runs, it grows with every write (Litestream truncates it once it exceeds
//! `truncate-page-n`, 121 359 pages by default, when it runs again). Run `replicate` (or
//! [`spawn_replicate`](crate::spawn_replicate)) whenever the application writes.
//!
//! rusqlite: [`open`] or [`configure`]. sqlx (whose SQLite crate cannot share a build with
//! rusqlite's): apply [`PRAGMAS`] to its `SqliteConnectOptions`, as the README shows:
//!
//! ```text
//! let options = cargo_litestream_api::sqlite::PRAGMAS
//!     .iter()
//!     .fold(SqliteConnectOptions::from_str(&url)?, |o, (name, value)| o.pragma(*name, *value));
//! ```
//!
//! (sqlx sets `journal_mode` and `busy_timeout` through its own methods too; a `pragma` of the
//! same name replaces its default.)

use std::path::Path;

use rusqlite::Connection;

/// The pragmas, in the order they are applied: name and value, as SQLite spells them.
pub const PRAGMAS: [(&str, &str); 3] =
    [("journal_mode", "WAL"), ("busy_timeout", "5000"), ("wal_autocheckpoint", "0")];

/// Opens (creating if needed) the database at `path`, [`configure`]d.
pub fn open(path: impl AsRef<Path>) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    Ok(conn)
}

/// Applies [`PRAGMAS`] to an open connection, and checks that the database really is in WAL
/// mode afterwards (SQLite keeps the old mode, silently, for an in-memory database or while
/// another connection holds it in an exclusive transaction).
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    for (name, value) in PRAGMAS {
        conn.pragma_update(None, name, value)?;
    }
    let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode is {mode}, not WAL: Litestream cannot replicate this database"
        )));
    }
    Ok(())
}

/// Whether `conn` is set up as [`configure`] does (what `doctor` reports).
pub fn is_configured(conn: &Connection) -> rusqlite::Result<bool> {
    let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    let autocheckpoint: i64 = conn.pragma_query_value(None, "wal_autocheckpoint", |row| row.get(0))?;
    let busy: i64 = conn.pragma_query_value(None, "busy_timeout", |row| row.get(0))?;
    Ok(mode.eq_ignore_ascii_case("wal") && autocheckpoint == 0 && busy > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_sets_every_pragma() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path().join("app.db")).unwrap();
        assert!(is_configured(&conn).unwrap());
        let autocheckpoint: i64 = conn.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0)).unwrap();
        assert_eq!(autocheckpoint, 0);
        // A plain connection has SQLite's defaults.
        let plain = Connection::open(dir.path().join("other.db")).unwrap();
        assert!(!is_configured(&plain).unwrap());
    }

    #[test]
    fn an_in_memory_database_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        let error = configure(&conn).unwrap_err();
        assert!(error.to_string().contains("not WAL"), "{error}");
    }
}
