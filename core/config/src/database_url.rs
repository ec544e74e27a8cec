//! The `default` alias from `DATABASE_URL`, read the way sqlx and diesel read it.
//!
//! Precedence, as dotenvy (used by sqlx-cli and diesel_cli) applies it: a `DATABASE_URL` in the
//! process environment wins; otherwise the first `.env` file found from the project's folder
//! upward supplies it. (sqlx's compile-time macros also start at the manifest's folder, which is
//! why the search starts there rather than at the working directory: `--manifest-path` then
//! behaves the same from anywhere.)

use std::path::{Path, PathBuf};

use crate::env::Env;

/// Where `DATABASE_URL` came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlSource {
    Environment,
    DotEnv(PathBuf),
}

impl std::fmt::Display for UrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlSource::Environment => f.write_str("DATABASE_URL"),
            UrlSource::DotEnv(path) => write!(f, "DATABASE_URL in {}", path.display()),
        }
    }
}

/// A `.env` that dotenvy cannot read (sqlx and diesel would fail on it too).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DotEnvError {
    #[error("could not read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: dotenvy::Error,
    },
    #[error("could not parse {}: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: dotenvy::Error,
    },
}

/// Why a URL names no SQLite file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteUrlError {
    #[error("`{url}` names a remote host; use file:///absolute/path")]
    RemoteHost { url: String },
    #[error("`{scheme}://` is not a SQLite URL (Litestream replicates SQLite only)")]
    NotSqlite { scheme: String },
    #[error("`{url}` is an in-memory database, which has nothing to replicate")]
    InMemory { url: String },
    #[error("`{url}` has percent-escapes that are not UTF-8")]
    NotUtf8 { url: String },
}

/// `DATABASE_URL` and where it came from, when it is set anywhere.
pub fn find(env: &Env, project_dir: &Path) -> Result<Option<(String, UrlSource)>, DotEnvError> {
    if let Some(url) = env.non_empty("DATABASE_URL") {
        return Ok(Some((url.to_owned(), UrlSource::Environment)));
    }
    for dir in project_dir.ancestors() {
        let candidate = dir.join(".env");
        if !candidate.is_file() {
            continue;
        }
        let entries = dotenvy::from_path_iter(&candidate)
            .map_err(|source| DotEnvError::Read { path: candidate.clone(), source })?;
        for entry in entries {
            let (key, value) =
                entry.map_err(|source| DotEnvError::Parse { path: candidate.clone(), source })?;
            if key == "DATABASE_URL" && !value.is_empty() {
                return Ok(Some((value, UrlSource::DotEnv(candidate))));
            }
        }
        // dotenvy stops at the first `.env` it finds, whatever it holds.
        return Ok(None);
    }
    Ok(None)
}

/// The database file a SQLite URL names, or why it names none.
///
/// Accepted forms: sqlx's `sqlite:PATH`, `sqlite://PATH` and `sqlite:///ABS` (query parameters
/// such as `?mode=rwc` are ignored), diesel's `sqlite://PATH` and SQLite `file:` URIs
/// (`file:PATH`, `file:///ABS`, `file://localhost/ABS`), and a plain path. Percent-escapes are
/// decoded. Relative paths are returned as they are; the caller resolves them.
pub fn sqlite_path(url: &str) -> Result<PathBuf, SqliteUrlError> {
    let (rest, is_uri) = if let Some(rest) = url.strip_prefix("sqlite://") {
        (rest, true)
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        (rest, true)
    } else if let Some(rest) = url.strip_prefix("file://") {
        let rest = rest.strip_prefix("localhost").unwrap_or(rest);
        if !rest.starts_with('/') {
            return Err(SqliteUrlError::RemoteHost { url: url.to_owned() });
        }
        (rest, true)
    } else if let Some(rest) = url.strip_prefix("file:") {
        (rest, true)
    } else if let Some((scheme, _)) = url.split_once("://") {
        return Err(SqliteUrlError::NotSqlite { scheme: scheme.to_owned() });
    } else {
        (url, false)
    };

    let (path, query) = match rest.split_once('?') {
        Some((path, query)) if is_uri => (path, Some(query)),
        _ => (rest, None),
    };
    if path.is_empty() || path == ":memory:" {
        return Err(SqliteUrlError::InMemory { url: url.to_owned() });
    }
    if query.is_some_and(|q| q.split('&').any(|kv| kv == "mode=memory")) {
        return Err(SqliteUrlError::InMemory { url: url.to_owned() });
    }
    let decoded = if is_uri {
        percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| SqliteUrlError::NotUtf8 { url: url.to_owned() })?
            .into_owned()
    } else {
        path.to_owned()
    };
    Ok(PathBuf::from(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlx_and_diesel_forms() {
        let cases = [
            ("sqlite:data.db", "data.db"),
            ("sqlite://data.db", "data.db"),
            ("sqlite:///var/lib/app/data.db", "/var/lib/app/data.db"),
            ("sqlite://data.db?mode=rwc", "data.db"),
            ("sqlite:my%20app.db", "my app.db"),
            ("file:data.db?cache=shared", "data.db"),
            ("file:///srv/app.db", "/srv/app.db"),
            ("file://localhost/srv/app.db", "/srv/app.db"),
            ("db/app.sqlite3", "db/app.sqlite3"),
            ("/abs/app.db", "/abs/app.db"),
        ];
        for (url, path) in cases {
            assert_eq!(sqlite_path(url).unwrap(), PathBuf::from(path), "{url}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_file() {
        for url in [
            "sqlite::memory:",
            "sqlite://",
            "file:x?mode=memory",
            "postgres://u@h/db",
            "mysql://h/db",
            "file://server/share/db",
        ] {
            assert!(sqlite_path(url).is_err(), "{url}");
        }
    }

    #[test]
    fn environment_beats_dotenv() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "DATABASE_URL=sqlite:from-file.db\n").unwrap();
        let env = Env::empty(dir.path()).with("DATABASE_URL", "sqlite:from-env.db");
        let (url, source) = find(&env, dir.path()).unwrap().unwrap();
        assert_eq!((url.as_str(), source), ("sqlite:from-env.db", UrlSource::Environment));

        let env = Env::empty(dir.path());
        let nested = dir.path().join("crates/app");
        std::fs::create_dir_all(&nested).unwrap();
        let (url, source) = find(&env, &nested).unwrap().unwrap();
        assert_eq!(url, "sqlite:from-file.db");
        assert_eq!(source, UrlSource::DotEnv(dir.path().join(".env")));
    }

    #[test]
    fn dotenv_quotes_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "# the app's database\nexport OTHER=1\nDATABASE_URL=\"sqlite:quoted.db\" # trailing\n",
        )
        .unwrap();
        let (url, _) = find(&Env::empty(dir.path()), dir.path()).unwrap().unwrap();
        assert_eq!(url, "sqlite:quoted.db");
    }
}
