//! What is refused across a project's entries, and paths Litestream would read as another file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::loader::Loader;
use super::{Database, Location, meta_folder};
use crate::env::normalize;
use crate::error::ConfigError;
use crate::replica;

impl Loader<'_> {
    /// Two databases writing into one replica location corrupt each other's backups. Compared
    /// as Litestream reads them: `$VAR`s expanded (`…/shared$A` and `…/shared$B` are one place
    /// when A and B are equal).
    pub(super) fn refuse_shared_replicas(&self, databases: &[Database]) -> Result<(), ConfigError> {
        let mut targets: HashMap<String, usize> = HashMap::with_capacity(databases.len());
        for (index, db) in databases.iter().enumerate() {
            let target = crate::go_expand(&replica::target(&db.replica), self.env);
            if let Some(&other) = targets.get(&target) {
                return Err(self.error(
                    "dbs",
                    format!(
                        "`{}` and `{}` would replicate to the same place ({target})",
                        databases[other].name(),
                        db.name(),
                    ),
                    "give one of them its own `replica`, or rename one of the files",
                ));
            }
            targets.insert(target, index);
        }
        Ok(())
    }

    /// A `file` replica inside a database's Litestream state folder (`.<file>-litestream`, or
    /// its `meta-path`) is deleted with that folder: by `cargo litestream reset`, or by hand
    /// since its name says it is disposable. Refused before anything runs.
    pub(super) fn refuse_replicas_in_state_folders(&self, databases: &[Database]) -> Result<(), ConfigError> {
        let state_folders: Vec<(&Database, PathBuf)> = databases
            .iter()
            .filter_map(|db| {
                let meta = db.options.get("meta-path").and_then(toml::Value::as_str);
                match (&db.location, meta) {
                    (_, Some(meta)) => {
                        Some((db, normalize(&self.base_dir.join(crate::go_expand(meta, self.env)))))
                    }
                    (Location::File(path), None) => Some((db, meta_folder(path))),
                    (Location::Dir(_), None) => None,
                }
            })
            .collect();
        for (index, db) in databases.iter().enumerate() {
            let Some(replica) = replica::local_dir(&db.replica, self.env) else { continue };
            let inside = state_folders
                .iter()
                .find(|(_, meta)| replica.starts_with(meta))
                .map(|(owner, meta)| (owner.name(), meta.clone()));
            // In `dir` mode each database's state folder is `.<file>-litestream` beside it.
            let inside = inside.or_else(|| {
                databases.iter().find_map(|other| match &other.location {
                    Location::Dir(dir) => replica
                        .ancestors()
                        .take_while(|a| a.starts_with(dir) && a != dir)
                        .find(|a| {
                            a.file_name()
                                .map(|n| n.to_string_lossy())
                                .is_some_and(|n| n.starts_with('.') && n.ends_with("-litestream"))
                        })
                        .map(|a| (other.name(), a.to_path_buf())),
                    _ => None,
                })
            });
            if let Some((owner, meta)) = inside {
                return Err(self.error(
                    &format!("dbs[{index}]"),
                    format!(
                        "the replica of `{}` ({}) is inside {}, the Litestream state folder of `{owner}`, which `cargo litestream reset` deletes with the backup in it",
                        db.name(),
                        replica.display(),
                        meta.display()
                    ),
                    "move it to a folder of its own, outside every `.<database>-litestream` folder, and point `replica` there",
                ));
            }
        }
        Ok(())
    }
}

/// A database file Litestream would open as another file: `(problem, help)`.
///
/// Litestream 0.5.17 opens each database as the SQLite URI `file:<path>?_pragma=…`, the path
/// unescaped (`db.go`, `init`): a `#` ends the name there, a `?` starts the parameters, and
/// `%xx` is decoded, so it opens (and creates) another database.
pub(crate) fn refuse_unreplicable_file(path: &Path) -> Result<(), (String, String)> {
    let text = path.to_string_lossy();
    if let Some(c) = text.chars().find(|c| matches!(c, '#' | '?' | '%')) {
        return Err((
            format!(
                "`{text}` holds `{c}`: Litestream opens its databases as SQLite `file:` URIs without escaping them, \
                 so it would open another file (`#` ends the name, `?` starts parameters, `%xx` is decoded)"
            ),
            "rename the file (or its folder) so that its path has no `#`, `?` or `%`".to_owned(),
        ));
    }
    Ok(())
}

/// A database configured by a symlink: SQLite keeps the WAL beside the link's target, where
/// Litestream never looks, so nothing would be replicated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} is a symlink: SQLite keeps its WAL beside {target}, where Litestream never looks, so nothing would be \
     replicated; configure the real path ({target}) instead of the link",
    path.display(),
    target = target.as_ref().map_or_else(|| "its target".to_owned(), |t| format!("`{}`", t.display()))
)]
pub struct SymlinkedDatabase {
    pub path: PathBuf,
    /// Where the link leads, when it resolves.
    pub target: Option<PathBuf>,
}

/// [`SymlinkedDatabase`] when the database at `path` is configured by a symlink. Checked where
/// litestream is started (and by `doctor`), not on every load: it costs a system call per
/// database.
pub fn symlinked_database(path: &Path) -> Option<SymlinkedDatabase> {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return None;
    }
    Some(SymlinkedDatabase { path: path.to_path_buf(), target: std::fs::canonicalize(path).ok() })
}

#[cfg(test)]
mod tests {
    use super::super::refusal;
    use super::{refuse_unreplicable_file, symlinked_database};

    /// Locations compared as Litestream expands them, and replicas inside a state folder.
    #[test]
    fn refusals_across_entries() {
        // `$A` and `$B` are both unset: both paths expand to `r/shared`.
        for (metadata, wanted) in [
            (
                "dbs = [{ path = \"a.db\", replica = \"r/shared$A\" }, { path = \"b.db\", replica = \"r/shared$B\" }]\n",
                "would replicate to the same place",
            ),
            ("dbs = [{ path = \"a.db\", replica = \".a.db-litestream/backup\" }]\n", "is inside"),
            (
                "dbs = [{ path = \"a.db\", replica = \"m/r\", meta-path = \"m\" }]\n",
                "the Litestream state folder of",
            ),
        ] {
            let error = refusal(metadata);
            assert!(error.contains(wanted), "{metadata:?}: {error}");
        }
    }

    #[test]
    fn names_litestream_would_read_as_another_file() {
        for name in ["a#b.db", "a?b.db", "a%41.db"] {
            assert!(refuse_unreplicable_file(std::path::Path::new(name)).is_err(), "{name}");
        }
        assert!(refuse_unreplicable_file(std::path::Path::new("/srv/app-1.db")).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_database_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real.db"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real.db"), dir.path().join("link.db")).unwrap();
        assert!(symlinked_database(&dir.path().join("real.db")).is_none());
        let why = symlinked_database(&dir.path().join("link.db")).unwrap();
        assert_eq!(why.target, Some(dir.path().canonicalize().unwrap().join("real.db")));
        let why = why.to_string();
        assert!(why.contains("is a symlink") && why.contains("real.db"), "{why}");
    }
}
