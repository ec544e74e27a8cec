//! The `dbs` list: each entry (an alias, a path, or a table with `path` or `dir` + `pattern`)
//! resolved to its file or folder, with its options and its replica (its own, the project's
//! with its sub-path, or the S3 default from the environment).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use super::loader::{Loader, resolve_paths};
use super::validate::refuse_unreplicable_file;
use super::{Alias, Database, Location, ReplicaOrigin, looks_like_alias};
use crate::error::ConfigError;
use crate::replica;
use crate::schema::{self, Site};

/// What every entry of `dbs` falls back on.
#[derive(Clone, Copy, Debug)]
pub(super) struct EntryDefaults<'a> {
    pub aliases: &'a [Alias],
    /// Why `DATABASE_URL` gives no `default` alias, for the help of an entry naming `default`.
    pub database_url_problem: Option<&'a str>,
    /// The project-wide `replica`.
    pub project_replica: Option<&'a toml::Table>,
    pub path_prefix: Option<&'a str>,
    /// A top-level `bucket`: the S3 default then takes it instead of `$LITESTREAM_REPLICA_BUCKET`.
    pub global_bucket: bool,
    pub strict: bool,
}

/// A `dbs` entry's keys, before they are resolved.
struct EntryParts {
    /// The keys passed through to Litestream.
    options: toml::Table,
    path: Option<toml::Value>,
    dir: Option<toml::Value>,
    replica: Option<toml::Value>,
    replicas: Option<toml::Value>,
}

impl Loader<'_> {
    /// The `dbs` list (without it, every alias), each entry resolved; then what is refused
    /// across entries.
    pub(super) fn databases(
        &self,
        value: Option<toml::Value>,
        defaults: &EntryDefaults<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Database>, ConfigError> {
        // Without `dbs`, every alias is replicated: each was named on purpose.
        let entries: Vec<toml::Value> = match value {
            None => defaults.aliases.iter().map(|a| toml::Value::String(a.name.clone())).collect(),
            Some(toml::Value::Array(items)) => items,
            Some(other) => {
                return Err(self.error(
                    "dbs",
                    format!("expected a list, found {}", schema::describe(&other)),
                    "write it as dbs = [\"default\", { path = \"data/other.db\" }]",
                ));
            }
        };

        // Indexes, so 10 000 databases cost milliseconds, not seconds.
        let by_name: HashMap<&str, &Alias> = defaults.aliases.iter().map(|a| (a.name.as_str(), a)).collect();
        // Locations by their path's bytes: every path here is normalized (absolute, no `.`, `..`
        // or doubled separators), so equal bytes are equal paths, and hashing bytes is several
        // times cheaper than hashing a `Path` component by component.
        let mut listed: HashMap<(bool, OsString), usize> = HashMap::with_capacity(entries.len());
        let mut databases: Vec<Database> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.into_iter().enumerate() {
            // Only errors and table entries need the entry's name: not built for each of 10 000.
            let key = || format!("dbs[{index}]");
            let mut parts = self.entry_parts(entry, &key, defaults.strict, warnings)?;
            let (alias, location) =
                self.entry_location(&mut parts, &by_name, defaults.database_url_problem, &key)?;

            let listed_as = match &location {
                Location::File(path) => (false, path.as_os_str().to_owned()),
                Location::Dir(path) => (true, path.as_os_str().to_owned()),
            };
            if let Some(previous) = listed.get(&listed_as).map(|&i| &databases[i]) {
                return Err(self.error(
                    &key(),
                    format!(
                        "lists `{}` again (already listed as `{}`)",
                        location_display(&location),
                        previous.name()
                    ),
                    "list each database once",
                ));
            }

            let (replica, replica_origin) =
                self.entry_replica(parts.replica, parts.replicas, &location, defaults, &key, warnings)?;
            let mut options = parts.options;
            resolve_paths(&mut options, schema::DB_KEYS, self);
            listed.insert(listed_as, databases.len());
            databases.push(Database { alias, location, options, replica, replica_origin });
        }
        self.refuse_shared_replicas(&databases)?;
        self.refuse_replicas_in_state_folders(&databases)?;
        Ok(databases)
    }

    /// One `dbs` entry taken apart: `"alias"` stands for `{ path = "alias" }`, which the schema
    /// always accepts; a table is checked against the schema, its replica (which may be a URL
    /// string the table schema would refuse) taken out first to be checked on its own.
    fn entry_parts(
        &self,
        entry: toml::Value,
        key: &dyn Fn() -> String,
        strict: bool,
        warnings: &mut Vec<String>,
    ) -> Result<EntryParts, ConfigError> {
        match entry {
            toml::Value::String(path) => Ok(EntryParts {
                options: toml::Table::new(),
                path: Some(toml::Value::String(path)),
                dir: None,
                replica: None,
                replicas: None,
            }),
            toml::Value::Table(mut options) => {
                let replica = options.remove("replica");
                let replicas = options.remove("replicas");
                let site = Site { file: self.file, table: self.key_path(&key()), strict };
                schema::check_table(&options, schema::DB_KEYS, schema::DB_RETIRED, &site, warnings)?;
                let path = options.remove("path");
                let dir = options.remove("dir");
                Ok(EntryParts { options, path, dir, replica, replicas })
            }
            other => Err(self.error(
                &key(),
                format!("expected an alias, a path or a table, found {}", schema::describe(&other)),
                "write it as \"default\" or { path = \"data/app.db\" }",
            )),
        }
    }

    /// The entry's file (`path`: an alias or a path) or folder (`dir` + `pattern`), refused when
    /// Litestream would read it as another file.
    fn entry_location(
        &self,
        parts: &mut EntryParts,
        by_name: &HashMap<&str, &Alias>,
        database_url_problem: Option<&str>,
        key: &dyn Fn() -> String,
    ) -> Result<(Option<String>, Location), ConfigError> {
        let (alias, location) = match (parts.path.take(), parts.dir.take()) {
            (Some(toml::Value::String(path)), None) => {
                let (alias, file) = self.database_path(&path, by_name, database_url_problem, key)?;
                (alias, Location::File(file))
            }
            (None, Some(toml::Value::String(dir))) => {
                if !parts.options.contains_key("pattern") {
                    return Err(self.error(
                        &format!("{}.dir", key()),
                        "directory mode needs a `pattern`",
                        "add pattern = \"*.db\"",
                    ));
                }
                (None, Location::Dir(self.resolve(&dir)))
            }
            (Some(_), Some(_)) => {
                return Err(self.error(
                    &key(),
                    "has both `path` and `dir`",
                    "keep `path` for one database or `dir` + `pattern` for a folder of them",
                ));
            }
            _ => {
                return Err(self.error(
                    &key(),
                    "names no database",
                    "add path = \"<alias or file>\" (or dir + pattern)",
                ));
            }
        };

        // Litestream expands `$` in its whole configuration: a path it would read as another
        // file (`a$HOME.db` → `a/root.db`) would leave this one unreplicated.
        let path = location.path();
        let text = path.to_string_lossy();
        let expanded = crate::go_expand(&text, self.env);
        if expanded != text {
            return Err(self.error(
                &key(),
                format!(
                    "`{text}` holds `$`, which Litestream expands as a variable: it would replicate `{expanded}`, \
                     not this file"
                ),
                "rename the file (or its folder) so that its path has no `$NAME`, `${…}` or `$$`",
            ));
        }
        if let Location::File(path) = &location {
            refuse_unreplicable_file(path).map_err(|(problem, help)| self.error(&key(), problem, help))?;
        }
        Ok((alias, location))
    }

    /// The entry's replica: its own (`replica`, or the deprecated one-item `replicas`), else the
    /// project's with the entry's sub-path, else the S3 default from the environment.
    fn entry_replica(
        &self,
        replica: Option<toml::Value>,
        replicas: Option<toml::Value>,
        location: &Location,
        defaults: &EntryDefaults<'_>,
        key: &dyn Fn() -> String,
        warnings: &mut Vec<String>,
    ) -> Result<(toml::Table, ReplicaOrigin), ConfigError> {
        let strict = defaults.strict;
        match (replica, replicas) {
            (Some(_), Some(_)) => Err(self.error(
                &key(),
                "has both `replica` and `replicas`",
                "keep only `replica` (Litestream 0.5 has one replica per database)",
            )),
            (Some(value), None) => Ok((
                self.replica_table(&value, &format!("{}.replica", key()), strict, warnings)?,
                ReplicaOrigin::Explicit,
            )),
            (None, Some(toml::Value::Array(list))) => match list.as_slice() {
                [one] => {
                    warnings.push(format!(
                        "{}: `{}.replicas` is deprecated; write the single replica as `replica`",
                        self.file.display(),
                        self.key_path(&key())
                    ));
                    Ok((
                        self.replica_table(one, &format!("{}.replicas[0]", key()), strict, warnings)?,
                        ReplicaOrigin::Explicit,
                    ))
                }
                _ => Err(self.error(
                    &format!("{}.replicas", key()),
                    "lists more than one replica",
                    "Litestream 0.5 supports one replica per database: keep one, as `replica`",
                )),
            },
            (None, Some(other)) => Err(self.error(
                &format!("{}.replicas", key()),
                format!("expected a list, found {}", schema::describe(&other)),
                "write the single replica as `replica`",
            )),
            (None, None) => {
                let sub = replica::sub_path(defaults.path_prefix, &location_name(location));
                Ok(match defaults.project_replica {
                    Some(project) => (replica::with_sub_path(project, &sub), ReplicaOrigin::Project),
                    None => {
                        let bucket = (!defaults.global_bucket).then_some("$LITESTREAM_REPLICA_BUCKET");
                        (replica::default_s3(&sub, bucket), ReplicaOrigin::EnvironmentS3)
                    }
                })
            }
        }
    }

    /// A `dbs[].path`: an alias, else a file path relative to the manifest's folder.
    fn database_path(
        &self,
        text: &str,
        aliases: &HashMap<&str, &Alias>,
        database_url_problem: Option<&str>,
        key: &dyn Fn() -> String,
    ) -> Result<(Option<String>, PathBuf), ConfigError> {
        if let Some(alias) = aliases.get(text) {
            return Ok((Some(alias.name.clone()), alias.path.clone()));
        }
        if replica::url_scheme(text).is_some() {
            return Err(self.error(
                &format!("{}.path", key()),
                format!("`{text}` is a URL, not a database file"),
                "give an alias or the local path of the SQLite file",
            ));
        }
        let path = self.resolve(text);
        if looks_like_alias(text) && !path.exists() {
            let help = if text == "default" {
                match database_url_problem {
                    Some(problem) => format!("{problem}; set DATABASE_URL to a SQLite URL or add `default` to the `databases` table"),
                    None => "set DATABASE_URL (or add it to .env), or add `default = \"path/to/db\"` to the `databases` table".to_owned(),
                }
            } else {
                let names = aliases.keys().copied();
                match schema::suggest(text, names) {
                    s if s.starts_with("did you mean") => s,
                    _ => {
                        format!("add `{text} = \"path/to/db\"` to the `databases` table, or give a file path")
                    }
                }
            };
            return Err(self.error(
                &format!("{}.path", key()),
                format!("`{text}` is not a database alias and no file `{}` exists", path.display()),
                help,
            ));
        }
        Ok((None, path))
    }
}

fn location_display(location: &Location) -> String {
    location.path().display().to_string()
}

/// The file (or folder) name a default replica path is made from.
fn location_name(location: &Location) -> String {
    location.path().file_name().map_or_else(|| "db".to_owned(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::super::{Location, ReplicaOrigin, load_in, refusal};
    use crate::env::Env;

    #[test]
    fn entries_and_where_their_replica_comes_from() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path());
        let metadata = "replica = \"backups\"\npath-prefix = \"p\"\ndatabases = { default = \"app.db\" }\n\
                        dbs = [\"default\", { path = \"other.db\", replica = \"s3://b/o\" }, { dir = \"data\", pattern = \"*.db\" }]\n";
        let project = load_in(dir.path(), metadata, &env).unwrap();
        let found: Vec<(Option<&str>, &Location, ReplicaOrigin)> =
            project.databases.iter().map(|d| (d.alias.as_deref(), &d.location, d.replica_origin)).collect();
        assert_eq!(
            found,
            [
                (Some("default"), &Location::File(dir.path().join("app.db")), ReplicaOrigin::Project),
                (None, &Location::File(dir.path().join("other.db")), ReplicaOrigin::Explicit),
                (None, &Location::Dir(dir.path().join("data")), ReplicaOrigin::Project),
            ]
        );
        let path = |i: usize| {
            project.databases[i].replica.get("path").and_then(toml::Value::as_str).map(str::to_owned)
        };
        assert_eq!(path(0), Some(dir.path().join("backups/p/app.db").display().to_string()));
        assert_eq!(path(2), Some(dir.path().join("backups/p/data").display().to_string()));
    }

    #[test]
    fn without_a_replica_the_s3_default_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let project =
            load_in(dir.path(), "databases = { default = \"app.db\" }\n", &Env::empty(dir.path())).unwrap();
        assert_eq!(project.databases[0].replica_origin, ReplicaOrigin::EnvironmentS3);
        let bucket = project.databases[0].replica.get("bucket").and_then(toml::Value::as_str);
        assert_eq!(bucket, Some("$LITESTREAM_REPLICA_BUCKET"));
    }

    #[test]
    fn a_single_replicas_entry_is_a_deprecated_replica() {
        let dir = tempfile::tempdir().unwrap();
        let metadata = "dbs = [{ path = \"a.db\", replicas = [\"s3://b/a\"] }]\n";
        let project = load_in(dir.path(), metadata, &Env::empty(dir.path())).unwrap();
        assert_eq!(project.databases[0].replica_origin, ReplicaOrigin::Explicit);
        assert!(
            project.warnings.iter().any(|w| w.contains("replicas` is deprecated")),
            "{:?}",
            project.warnings
        );
    }

    #[test]
    fn refusals() {
        for (metadata, wanted) in [
            ("dbs = \"a.db\"\n", "dbs`: expected a list"),
            ("dbs = [3]\n", "expected an alias, a path or a table"),
            ("dbs = [{ dir = \"data\" }]\n", "directory mode needs a `pattern`"),
            ("dbs = [{ path = \"a.db\", dir = \"d\", pattern = \"*\" }]\n", "has both `path` and `dir`"),
            ("dbs = [{ pattern = \"*\" }]\n", "names no database"),
            ("dbs = [\"a.db\", \"./a.db\"]\n", "lists `"),
            ("dbs = [\"nosuchalias\"]\n", "is not a database alias"),
            ("dbs = [\"s3://b/x\"]\n", "is a URL, not a database file"),
            ("dbs = [\"a$HOME.db\"]\n", "holds `$`"),
            ("dbs = [\"a#b.db\"]\n", "holds `#`"),
            (
                "dbs = [{ path = \"a.db\", replica = \"r\", replicas = [\"s\"] }]\n",
                "has both `replica` and `replicas`",
            ),
            ("dbs = [{ path = \"a.db\", replicas = [\"r\", \"s\"] }]\n", "lists more than one replica"),
            ("dbs = [{ path = \"a.db\", replicas = \"r\" }]\n", "dbs[0].replicas`: expected a list"),
        ] {
            let error = refusal(metadata);
            assert!(error.contains(wanted), "{metadata:?}: {error}");
        }
    }
}
