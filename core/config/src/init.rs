//! `cargo litestream init`'s work: the commented `[package.metadata.litestream]` table for a
//! Cargo project, with the databases found in it and the replica of the user's choice, and the
//! manifest updated with it.
//!
//! The table is appended as text, so every byte of the existing manifest (formatting,
//! comments, key order) stays as it was; `toml_edit` checks beforehand that no such table
//! exists and afterwards that the result parses and holds exactly the new table, and the
//! project's configuration is loaded from the result before it is written.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{ConfigError, Env, Manifest, Project, find_database_url, sqlite_path, url_scheme};

/// Folders never searched for databases.
const SKIP_DIRS: &[&str] = &["target", "node_modules", ".git", ".tools", "vendor"];
/// How deep below the manifest's folder databases are looked for.
const MAX_DEPTH: usize = 4;

/// What `init` found and would add to a manifest.
#[derive(Debug)]
pub struct Init {
    pub manifest: PathBuf,
    /// `package.metadata.litestream`, or `workspace.metadata.litestream` in a virtual manifest.
    pub table: &'static str,
    pub replica: Option<String>,
    /// The `default` alias `DATABASE_URL` gives, if any.
    pub database_url: Option<FoundUrl>,
    /// The SQLite files found below the manifest's folder, as `(alias, relative path)`.
    pub databases: Vec<(String, PathBuf)>,
    /// The table, as it will be appended.
    pub snippet: String,
    original: String,
}

/// `DATABASE_URL`, where it was found, and the database file it names.
#[derive(Debug)]
pub struct FoundUrl {
    pub url: String,
    pub source: String,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    #[error("{} is not valid TOML; fix it first: {message}", path.display())]
    InvalidToml { path: PathBuf, message: String },
    #[error("{} has neither [package] nor [workspace]; run init in a Cargo project", path.display())]
    NotACargoProject { path: PathBuf },
    #[error("{} already has [{table}]; edit it there (`cargo litestream config` shows what it generates)", path.display())]
    TableExists { path: PathBuf, table: &'static str },
    /// The `--replica` given: what is wrong with it and what to write.
    #[error("{0}")]
    Replica(String),
    #[error(
        "adding [{table}] would make {} invalid ({message}); add it by hand (see `cargo litestream init --dry-run`)",
        path.display()
    )]
    WouldBreak { path: PathBuf, table: &'static str, message: String },
    #[error("internal error: the table init generated is not a valid configuration; please report it")]
    Generated {
        #[source]
        source: ConfigError,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Init {
    /// Reads the manifest at `manifest` and works out the table to add; writes nothing.
    pub fn plan(manifest: &Path, replica: Option<&str>, env: &Env) -> Result<Init, InitError> {
        let original = std::fs::read_to_string(manifest)
            .map_err(|source| ConfigError::Read { path: manifest.to_path_buf(), source })?;
        let document: toml_edit::DocumentMut = original.parse().map_err(|e: toml_edit::TomlError| {
            InitError::InvalidToml { path: manifest.to_path_buf(), message: e.message().to_owned() }
        })?;
        let table = table_name(&document, manifest)?;
        let dir = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
        if let Some(replica) = replica {
            check_replica(replica)?;
        }
        let database_url = find_database_url(env, &dir).ok().flatten().and_then(|(url, source)| {
            let path = dir.join(sqlite_path(&url).ok()?);
            Some(FoundUrl { url, source: source.to_string(), path })
        });
        let databases = find_databases(&dir, database_url.as_ref().map(|found| found.path.as_path()));
        let prefix = path_prefix(&document, &dir);
        let snippet = render(
            table,
            &prefix,
            replica,
            database_url.as_ref().map(|found| (found.url.as_str(), found.source.clone())),
            &databases,
        );
        Ok(Init {
            manifest: manifest.to_path_buf(),
            table,
            replica: replica.map(str::to_owned),
            database_url,
            databases,
            snippet,
            original,
        })
    }

    /// Appends the table to the manifest (atomically, its permissions kept), once the result
    /// has been checked to parse, hold the table and load as a valid configuration.
    pub fn write(&self, env: &Env) -> Result<(), InitError> {
        let original = &self.original;
        let separator = if original.is_empty() || original.ends_with("\n\n") {
            ""
        } else if original.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        };
        let updated = format!("{original}{separator}{}", self.snippet);
        check_result(&updated, self.table, &self.manifest, env)?;
        write_preserving_permissions(&self.manifest, &updated)
            .map_err(|source| ConfigError::Write { path: self.manifest.clone(), source }.into())
    }
}

/// `package.metadata.litestream`, or `workspace.metadata.litestream` in a virtual manifest;
/// refused when it exists already.
fn table_name(document: &toml_edit::DocumentMut, path: &Path) -> Result<&'static str, InitError> {
    let exists = |root: &str| {
        document.get(root).and_then(|p| p.get("metadata")).and_then(|m| m.get("litestream")).is_some()
    };
    let (table, exists) = if document.contains_key("package") {
        ("package.metadata.litestream", exists("package"))
    } else if document.contains_key("workspace") {
        ("workspace.metadata.litestream", exists("workspace"))
    } else {
        return Err(InitError::NotACargoProject { path: path.to_path_buf() });
    };
    if exists {
        return Err(InitError::TableExists { path: path.to_path_buf(), table });
    }
    Ok(table)
}

fn check_replica(replica: &str) -> Result<(), InitError> {
    if replica.trim().is_empty() {
        return Err(InitError::Replica(
            "--replica is empty; give a URL such as s3://bucket/prefix or a folder".to_owned(),
        ));
    }
    if let Some(rest) = replica.strip_prefix("file://")
        && !rest.starts_with('/')
    {
        return Err(InitError::Replica(format!(
            "--replica {replica} means /{rest} to Litestream; write file:///absolute/path or a relative folder"
        )));
    }
    if replica.contains("://") && url_scheme(replica).is_none() {
        return Err(InitError::Replica(format!(
            "--replica {replica} is not a URL; write e.g. s3://bucket/prefix"
        )));
    }
    Ok(())
}

/// SQLite files below `dir` (by header, not only by name), as `(alias, path)` pairs, skipping
/// the one `DATABASE_URL` already names.
fn find_databases(dir: &Path, default: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    walk(dir, 0, &mut files);
    files.sort();
    let default = default.map(crate::normalize);
    let mut taken: BTreeSet<String> = BTreeSet::from(["default".to_owned()]);
    let mut found = Vec::new();
    for path in files {
        if default.as_deref() == Some(path.as_path()) {
            continue;
        }
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let base: String =
            stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
        let base = if base.is_empty() || base == "default" { "db".to_owned() } else { base };
        let mut alias = base.clone();
        let mut n = 2;
        while !taken.insert(alias.clone()) {
            alias = format!("{base}-{n}");
            n += 1;
        }
        let relative = path.strip_prefix(dir).map(Path::to_path_buf).unwrap_or(path);
        found.push((alias, relative));
    }
    found
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if depth < MAX_DEPTH && !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_str()) {
                walk(&path, depth + 1, out);
            }
        } else if kind.is_file()
            && ["db", "sqlite", "sqlite3"].iter().any(|ext| path.extension().is_some_and(|e| e == *ext))
            && is_sqlite(&path)
        {
            out.push(path);
        }
    }
}

fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header)).is_ok()
        && &header == b"SQLite format 3\0"
}

/// The package's name (the folder's in a virtual manifest): the `path-prefix` init writes, so
/// that two projects whose databases share a file name never share a replica location.
fn path_prefix(document: &toml_edit::DocumentMut, dir: &Path) -> String {
    let name = document.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str());
    let folder = || {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "app".to_owned())
    };
    name.map_or_else(folder, str::to_owned)
}

fn render(
    table: &str,
    prefix: &str,
    replica: Option<&str>,
    default: Option<(&str, String)>,
    found: &[(String, PathBuf)],
) -> String {
    let mut text = format!(
        "# Litestream: continuous SQLite backups (`cargo litestream replicate`).\n\
         # Reference: `cargo litestream --help` and cargo-litestream's README.\n\
         [{table}]\n\
         # Where backups go: a URL (s3://bucket/prefix, gs://bucket/prefix, sftp://user@host/path,\n\
         # file:///absolute/dir) or a folder; each database gets its own sub-path.\n"
    );
    match replica {
        Some(replica) => text.push_str(&format!("replica = {}\n", toml_edit::Value::from(replica))),
        None => text.push_str(
            "# Without it: S3 bucket $LITESTREAM_REPLICA_BUCKET, credentials $LITESTREAM_ACCESS_KEY_ID\n\
             # and $LITESTREAM_SECRET_ACCESS_KEY.\n\
             # replica = \"s3://my-bucket/my-service\"\n",
        ),
    }
    text.push_str(&format!(
        "# Backups go to <replica>/{prefix}/<file name>: without a prefix, another project's database\n\
         # of the same file name in the same replica would overwrite this one's backups.\n\
         path-prefix = {}\n",
        toml_edit::Value::from(prefix)
    ));
    text.push_str(
        "# Any Litestream setting can go here too, e.g.:\n\
         # l0-retention = \"10m\"\n\
         # dbs = [{ path = \"default\", monitor-interval = \"1s\" }]   # default: every alias\n\
         \n\
         # Database aliases: use them wherever a command takes a database.\n",
    );
    if let Some((url, source)) = &default {
        text.push_str(&format!("# `default` comes from {source} ({url}).\n"));
    }
    text.push_str(&format!("[{table}.databases]\n"));
    for (alias, path) in found {
        let path = path.to_string_lossy().replace('\\', "/");
        text.push_str(&format!(
            "{} = {}\n",
            toml_edit::Key::new(alias.as_str()),
            toml_edit::Value::from(path)
        ));
    }
    if found.is_empty() && default.is_none() {
        text.push_str("# default = \"data/app.db\"\n");
    }
    text
}

/// The updated manifest parses, holds the new table, and loads as a valid configuration.
fn check_result(updated: &str, table: &'static str, path: &Path, env: &Env) -> Result<(), InitError> {
    let would_break = |message: String| InitError::WouldBreak { path: path.to_path_buf(), table, message };
    let document: toml_edit::DocumentMut =
        updated.parse().map_err(|e: toml_edit::TomlError| would_break(e.message().to_owned()))?;
    let mut item = document.as_item();
    for part in table.split('.') {
        item = item.get(part).ok_or_else(|| would_break(format!("[{table}] is missing from the result")))?;
    }
    let manifest = Manifest::parse(path, updated).map_err(|source| InitError::Generated { source })?;
    Project::from_manifest(manifest, env).map(|_| ()).map_err(|source| InitError::Generated { source })
}

/// Replaces the manifest atomically, keeping its permissions.
fn write_preserving_permissions(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(path)?.permissions();
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().set_permissions(permissions)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_file(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut bytes = b"SQLite format 3\0".to_vec();
        bytes.resize(512, 0);
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn databases_are_found_by_header_with_unique_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        sqlite_file(&root.join("data/app.db"));
        sqlite_file(&root.join("other/app.sqlite"));
        sqlite_file(&root.join("data/default.db"));
        sqlite_file(&root.join("target/skipped.db"));
        sqlite_file(&root.join(".hidden/skipped.db"));
        sqlite_file(&root.join("url.db"));
        std::fs::write(root.join("notes.db"), "not a database").unwrap();
        let found = find_databases(root, Some(&root.join("url.db")));
        let aliases: Vec<(&str, &Path)> = found.iter().map(|(a, p)| (a.as_str(), p.as_path())).collect();
        assert_eq!(
            aliases,
            [
                ("app", Path::new("data/app.db")),
                // `default` is DATABASE_URL's alias: a file of that name is `db`.
                ("db", Path::new("data/default.db")),
                ("app-2", Path::new("other/app.sqlite")),
            ]
        );
    }

    #[test]
    fn the_table_is_the_package_or_the_workspace_one_and_never_added_twice() {
        let table = |text: &str| table_name(&text.parse().unwrap(), Path::new("Cargo.toml"));
        assert_eq!(table("[package]\nname = \"a\"\n").unwrap(), "package.metadata.litestream");
        assert_eq!(table("[workspace]\nmembers = []\n").unwrap(), "workspace.metadata.litestream");
        assert!(matches!(table("[dependencies]\n"), Err(InitError::NotACargoProject { .. })));
        let exists = table("[package]\nname = \"a\"\n[package.metadata.litestream]\nreplica = \"r\"\n");
        assert!(matches!(exists, Err(InitError::TableExists { .. })));
    }

    #[test]
    fn replicas_litestream_would_misread_are_refused() {
        assert!(check_replica("s3://bucket/prefix").is_ok());
        assert!(check_replica("backups").is_ok());
        assert!(check_replica("file:///srv/backups").is_ok());
        for (replica, says) in
            [(" ", "is empty"), ("file://srv/b", "means /srv/b"), ("my bucket://x", "is not a URL")]
        {
            let error = check_replica(replica).unwrap_err().to_string();
            assert!(error.contains(says), "{replica}: {error}");
        }
    }

    /// The manifest keeps every byte it had, gains the table, keeps its mode, and loads.
    #[test]
    fn write_appends_the_table_and_keeps_the_manifest() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        let original = "[package]\nname = \"svc\"  # keep me\nversion = \"0.1.0\"\nedition = \"2021\"\n";
        std::fs::write(&manifest, original).unwrap();
        std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o640)).unwrap();
        sqlite_file(&dir.path().join("data/app.db"));
        let env = Env::empty(dir.path());

        let init = Init::plan(&manifest, Some("s3://bucket/svc"), &env).unwrap();
        assert_eq!(init.databases, [("app".to_owned(), PathBuf::from("data/app.db"))]);
        assert!(init.snippet.contains("path-prefix = \"svc\""), "{}", init.snippet);
        assert_eq!(std::fs::read_to_string(&manifest).unwrap(), original, "plan writes nothing");
        init.write(&env).unwrap();

        let written = std::fs::read_to_string(&manifest).unwrap();
        assert!(written.starts_with(original) && written.ends_with(&init.snippet), "{written}");
        assert_eq!(std::fs::metadata(&manifest).unwrap().permissions().mode() & 0o777, 0o640);
        let project = Project::from_manifest(Manifest::parse(&manifest, &written).unwrap(), &env).unwrap();
        assert_eq!(project.databases.len(), 1);
        // A second init refuses: the table exists now.
        assert!(matches!(Init::plan(&manifest, None, &env), Err(InitError::TableExists { .. })));
    }
}
