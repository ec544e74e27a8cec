//! The history of assurance runs: `verify`, `scrub` and `drill` each append one JSON line per
//! database per run to `<state dir>/history.jsonl` (the project's `target/litestream/<package>/`),
//! which monitors, metrics and the status page read ("when did the backup last prove itself?").
//!
//! Appending is one `write` of one line to a file opened with `O_APPEND`, so runs at the same
//! time never interleave within a line. Reading skips nothing silently: a line that does not
//! parse, or is of a newer version, is an error naming the line.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The file's name in the state folder.
pub const FILE: &str = "history.jsonl";
/// The version of the lines this build writes and reads.
pub const VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Verify,
    Scrub,
    Drill,
}

/// One run of one database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub version: u32,
    pub kind: Kind,
    /// The alias, path or replica URL the run was for.
    pub database: String,
    pub time: Timestamp,
    pub ok: bool,
    pub duration_ms: u64,
    /// The run's own report (its `--json` form for that database).
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl Entry {
    pub fn new(kind: Kind, database: &str, ok: bool, duration_ms: u64, detail: serde_json::Value) -> Entry {
        Entry {
            version: VERSION,
            kind,
            database: database.to_owned(),
            time: Timestamp::now(),
            ok,
            duration_ms,
            detail,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}, line {line}: {problem}; move the file away to start a new history")]
    Unreadable { path: PathBuf, line: usize, problem: String },
}

/// Appends `entry` to the history in `state_dir`.
pub fn append(state_dir: &Path, entry: &Entry) -> Result<(), HistoryError> {
    let path = state_dir.join(FILE);
    let io = |source| HistoryError::Io { path: path.clone(), source };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let mut line = serde_json::to_vec(entry).map_err(|e| io(std::io::Error::other(e)))?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
    file.write_all(&line).map_err(io)
}

/// Appends a run to the history, or says in one line why it could not (the run itself stands).
pub fn record(state_dir: &Path, entry: &Entry) -> Option<String> {
    append(state_dir, entry).err().map(|error| format!("the run was not recorded in the history: {error}"))
}

/// Every entry of the history in `state_dir`, oldest first (none when there is no file).
pub fn read(state_dir: &Path) -> Result<Vec<Entry>, HistoryError> {
    let path = state_dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(HistoryError::Io { path, source }),
    };
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let unreadable =
            |problem: String| HistoryError::Unreadable { path: path.clone(), line: n + 1, problem };
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| unreadable(format!("not JSON ({e})")))?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v > u64::from(VERSION) => {
                return Err(unreadable(format!(
                    "written by a newer cargo-litestream (history version {v}; this one reads {VERSION})"
                )));
            }
            _ => {}
        }
        entries.push(serde_json::from_value(value).map_err(|e| unreadable(e.to_string()))?);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back_and_refuses_what_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_empty());
        let first = Entry::new(Kind::Drill, "default", true, 120, serde_json::json!({"rpo_seconds": 1.5}));
        append(dir.path(), &first).unwrap();
        append(dir.path(), &Entry::new(Kind::Scrub, "default", false, 9, serde_json::Value::Null)).unwrap();
        let entries = read(dir.path()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], first);
        assert_eq!((entries[1].kind, entries[1].ok), (Kind::Scrub, false));

        let path = dir.path().join(FILE);
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{good}{{not json\n")).unwrap();
        let error = read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("line 3") && error.contains("not JSON"), "{error}");
        std::fs::write(&path, format!("{good}{{\"version\": 7}}\n")).unwrap();
        let error = read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("newer cargo-litestream"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{good}{{\"version\": 7}}\n"),
            "nothing changed"
        );
    }
}
