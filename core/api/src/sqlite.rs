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
//! rusqlite: [`open`] or [`configure`]. sqlx (feature `sqlx`: sqlx 0.9, whose SQLite crate
//! shares rusqlite's `libsqlite3-sys`, and Rust 1.94 as sqlx requires): `configure_sqlx` on its
//! `SqliteConnectOptions`:
//!
//! ```text
//! let options = cargo_litestream_api::sqlite::configure_sqlx(
//!     SqliteConnectOptions::from_str(&database_url)?.create_if_missing(true),
//! );
//! let pool = SqlitePool::connect_with(options).await?;
//! ```
//!
//! Without the feature (sqlx 0.8, whose `libsqlite3-sys` 0.30 cannot share a build with
//! rusqlite 0.37's 0.35), apply [`PRAGMAS`] with `.pragma(name, value)` yourself.

use std::path::Path;

use rusqlite::Connection;

/// The pragmas, in the order they are applied: name and value, as SQLite spells them.
pub const PRAGMAS: [(&str, &str); 3] =
    [("journal_mode", "WAL"), ("busy_timeout", "5000"), ("wal_autocheckpoint", "0")];

/// [`PRAGMAS`]' `busy_timeout`, for the APIs that take a duration.
#[cfg(any(feature = "sqlx", test))]
const BUSY_TIMEOUT_MS: u64 = 5000;

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

/// sqlx's options with [`PRAGMAS`] applied: every connection of a pool built from them is set
/// up as [`configure`] sets up a rusqlite connection. Options the application sets afterwards
/// win, as sqlx's builder methods do.
#[cfg(feature = "sqlx")]
pub fn configure_sqlx(options: sqlx_sqlite::SqliteConnectOptions) -> sqlx_sqlite::SqliteConnectOptions {
    PRAGMAS.iter().fold(options, |options, &(name, value)| match name {
        // sqlx applies its busy timeout through `sqlite3_busy_timeout` (default 5 s), not as a
        // pragma: its own setter keeps a later `.busy_timeout(..)` of the application's working.
        "busy_timeout" => options.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS)),
        _ => options.pragma(name, value),
    })
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
    fn the_busy_timeout_constant_is_the_pragma() {
        let (_, value) = PRAGMAS.iter().find(|(name, _)| *name == "busy_timeout").unwrap();
        assert_eq!(value.parse::<u64>().unwrap(), BUSY_TIMEOUT_MS);
    }

    /// A real sqlx connection (no async runtime needed: sqlx's SQLite driver runs on its own
    /// thread) reports every pragma, and the file is in WAL mode for everyone else.
    #[cfg(feature = "sqlx")]
    #[test]
    fn sqlx_connections_are_configured() {
        use sqlx_core::connection::{ConnectOptions, Connection as _};
        use std::str::FromStr;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let url = format!("sqlite:{}", path.display());
        let options = configure_sqlx(
            sqlx_sqlite::SqliteConnectOptions::from_str(&url).unwrap().create_if_missing(true),
        );
        futures_executor::block_on(async {
            let mut conn = options.connect().await.unwrap();
            let mode: String = sqlx_core::query_scalar::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert!(mode.eq_ignore_ascii_case("wal"), "{mode}");
            let autocheckpoint: i64 = sqlx_core::query_scalar::query_scalar("PRAGMA wal_autocheckpoint")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(autocheckpoint, 0);
            let busy: i64 = sqlx_core::query_scalar::query_scalar("PRAGMA busy_timeout")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(busy, 5000);
            conn.close().await.unwrap();
        });
        // The file itself, as rusqlite (and Litestream) sees it.
        assert!(is_configured(&open(&path).unwrap()).unwrap());
    }

    #[test]
    fn an_in_memory_database_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        let error = configure(&conn).unwrap_err();
        assert!(error.to_string().contains("not WAL"), "{error}");
    }
}
