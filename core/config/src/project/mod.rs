//! Loading a project's settings: which table, our own keys, aliases, databases and replicas.
//!
//! One step per file, run in this order by [`Project::from_manifests`]:
//! - `source`: which table the settings come from (the package's, else the workspace root's,
//!   else none) and the folders that follow from it;
//! - `loader`: the table's own keys (`version`, `bin-path`, `check`, `vfs`, …) and Litestream's
//!   top-level ones;
//! - `aliases`: the `databases` table, plus `default` from `DATABASE_URL`;
//! - `databases`: the `dbs` list, each entry's file or folder and its replica (`replicas`: a
//!   replica written as a URL or a table);
//! - `validate`: what is refused across entries (two databases on one replica location, a
//!   replica inside a state folder) and paths Litestream would read as another file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::check::CheckThresholds;
use crate::database_url::UrlSource;
use crate::env::Env;
use crate::error::ConfigError;
use crate::manifest::{self, Manifest};

mod aliases;
mod databases;
mod loader;
mod replicas;
mod source;
mod validate;

pub(crate) use validate::refuse_unreplicable_file;
pub use validate::{SymlinkedDatabase, symlinked_database};

/// The Litestream version used when the configuration names none.
pub const DEFAULT_LITESTREAM_VERSION: &str = "0.5.17";

/// Which table the settings came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// `[package.metadata.litestream]` of this manifest.
    Package(PathBuf),
    /// `[workspace.metadata.litestream]` of the workspace root.
    Workspace(PathBuf),
    /// Neither table exists: only `DATABASE_URL` and the defaults apply.
    Defaults,
}

impl ConfigSource {
    /// The TOML path of the table, for messages: `package.metadata.litestream`.
    pub fn table_name(&self) -> &'static str {
        match self {
            ConfigSource::Package(_) | ConfigSource::Defaults => "package.metadata.litestream",
            ConfigSource::Workspace(_) => "workspace.metadata.litestream",
        }
    }
}

/// A database alias: a short name standing for a file path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub path: PathBuf,
    pub origin: AliasOrigin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AliasOrigin {
    /// The `databases` table.
    Table,
    /// `default`, from `DATABASE_URL`.
    DatabaseUrl(UrlSource),
}

/// Where a replicated database lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// One file.
    File(PathBuf),
    /// Directory mode (`dir` + `pattern`): every matching SQLite file below it.
    Dir(PathBuf),
}

impl Location {
    /// The file, or the folder of a `dir` entry.
    pub fn path(&self) -> &Path {
        match self {
            Location::File(path) | Location::Dir(path) => path,
        }
    }
}

/// How a database's replica was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaOrigin {
    /// Written on the database entry.
    Explicit,
    /// The project-wide `replica`, with this database's sub-path.
    Project,
    /// The S3 default from `LITESTREAM_REPLICA_BUCKET` and friends.
    EnvironmentS3,
}

/// One entry of the generated `dbs:` list.
#[derive(Clone, Debug)]
pub struct Database {
    /// The alias the entry was written with, if any.
    pub alias: Option<String>,
    pub location: Location,
    /// Every other per-database Litestream key, passed through (paths made absolute).
    pub options: toml::Table,
    pub replica: toml::Table,
    pub replica_origin: ReplicaOrigin,
}

impl Database {
    /// The alias, else the path: how messages name this database.
    pub fn name(&self) -> String {
        match &self.alias {
            Some(alias) => alias.clone(),
            None => self.location.path().display().to_string(),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(path) => Some(path),
            Location::Dir(_) => None,
        }
    }
}

/// How often supervised replication runs each assurance check (`None`: never).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    pub verify: Option<Duration>,
    pub scrub: Option<Duration>,
    pub drill: Option<Duration>,
}

impl Schedule {
    pub fn is_empty(&self) -> bool {
        self.verify.is_none() && self.scrub.is_none() && self.drill.is_none()
    }
}

/// A loaded, validated project configuration.
#[derive(Clone, Debug)]
pub struct Project {
    /// The `Cargo.toml` the command runs for.
    pub manifest_path: PathBuf,
    pub source: ConfigSource,
    /// Relative paths in the table resolve against this folder (the table's manifest's).
    pub base_dir: PathBuf,
    pub target_dir: PathBuf,
    /// `<target dir>/litestream/<package>`: generated config, socket, locks.
    pub state_dir: PathBuf,
    /// The Litestream version to run (`version`, default 0.5.17).
    pub version: String,
    /// `bin-path`: the user's own litestream binary, used as is: an absolute path, or a bare
    /// name to look up on `PATH`.
    pub bin_path: Option<PathBuf>,
    /// `sha256`: the user's pin for a version cargo-litestream has no pin for.
    pub sha256: Option<String>,
    pub path_prefix: Option<String>,
    pub aliases: Vec<Alias>,
    /// Why `DATABASE_URL` gives no `default` alias, when it is set but unusable.
    pub database_url_problem: Option<String>,
    pub databases: Vec<Database>,
    /// Litestream's top-level keys, passed through (paths made absolute).
    pub globals: toml::Table,
    /// `[…litestream.vfs]`: alias → replica URL or database alias.
    pub vfs: Vec<(String, String)>,
    /// `vfs-extension-path`: the litestream VFS extension (`litestream-vfs.so`) to load.
    pub vfs_extension_path: Option<PathBuf>,
    /// `[…litestream.drill] checks`: SQL each restored copy of a drill must answer true.
    pub drill_checks: Vec<String>,
    /// `verify-every`, `scrub-every`, `drill-every`: how often a supervised `replicate -exec`
    /// and `spawn_replicate` run each (off when absent).
    pub schedule: Schedule,
    /// `metrics-addr`: where supervised replication serves `/metrics` (`PORT` or `HOST:PORT`,
    /// the host 127.0.0.1 when not given); off when absent.
    pub metrics_addr: Option<String>,
    /// `[…litestream.check]`: when `cargo litestream check` warns and alerts.
    pub check: CheckThresholds,
    /// Problems worth a warning that do not stop anything.
    pub warnings: Vec<String>,
}

impl Project {
    /// Loads the configuration of the project at `manifest_path` (or the nearest `Cargo.toml`).
    pub fn load(manifest_path: Option<&Path>, env: &Env) -> Result<Project, ConfigError> {
        Project::from_manifest(Manifest::read(&manifest::locate(manifest_path, env)?)?, env)
    }

    /// Loads the configuration from an already parsed manifest (e.g. one about to be written).
    pub fn from_manifest(manifest: Manifest, env: &Env) -> Result<Project, ConfigError> {
        // A manifest that is its own workspace root is neither read again nor copied.
        let root = if manifest.is_workspace_root() { None } else { manifest::workspace_root(&manifest)? };
        Project::from_manifests(manifest, root, env)
    }

    /// Loads the configuration from a manifest and its workspace root, both already read (or
    /// `None`: a package on its own, or a manifest that is its own workspace root). Nothing else
    /// is read from disk but `.env` for `DATABASE_URL`: for a manifest embedded in a binary at
    /// build time.
    pub fn from_manifests(
        mut manifest: Manifest,
        root: Option<Manifest>,
        env: &Env,
    ) -> Result<Project, ConfigError> {
        // Moved out, not cloned: a table of 10 000 databases is not copied.
        let package_value = manifest.take_package_metadata();
        let selected = source::select(package_value, &manifest, root.as_ref(), env)?;
        let loader = loader::Loader {
            file: &selected.file,
            source: &selected.source,
            base_dir: &selected.base_dir,
            env,
        };
        loader.load(selected.table, manifest.path.clone(), selected.target_dir, selected.state_dir)
    }

    /// The alias called `name`.
    pub fn alias(&self, name: &str) -> Option<&Alias> {
        self.aliases.iter().find(|a| a.name == name)
    }

    /// Whether `path` is one of the configured databases, or one a `dir` entry replicates.
    pub fn is_configured(&self, path: &Path) -> bool {
        self.database(path).is_some() || matches!(self.dir_member(path), Ok(Some(_)))
    }

    /// The configured database at `path`.
    pub fn database(&self, path: &Path) -> Option<&Database> {
        self.databases.iter().find(|db| db.path() == Some(path))
    }
}

/// A bare word (`default`, `cache`) rather than a file name or path.
pub fn looks_like_alias(text: &str) -> bool {
    !text.is_empty() && !text.contains(['/', '\\', '.'])
}

/// The suffix of Litestream's state folders (`litestream.MetaDirSuffix`).
pub(crate) const META_SUFFIX: &str = "-litestream";

/// Litestream's default state folder of a database: `<dir>/.<file>-litestream`.
pub fn meta_folder(database: &Path) -> PathBuf {
    let name = database.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    database.with_file_name(format!(".{name}{META_SUFFIX}"))
}

/// Loads `metadata` as the `[package.metadata.litestream]` table of a package in `dir`.
#[cfg(test)]
pub(super) fn load_in(dir: &Path, metadata: &str, env: &Env) -> Result<Project, ConfigError> {
    let text = format!(
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[package.metadata.litestream]\n{metadata}"
    );
    Project::from_manifests(Manifest::parse(&dir.join("Cargo.toml"), &text)?, None, env)
}

/// The error text of loading `metadata` in a folder of its own.
#[cfg(test)]
pub(super) fn refusal(metadata: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    match load_in(dir.path(), metadata, &Env::empty(dir.path())) {
        Ok(project) => panic!("accepted: {metadata}\n{project:?}"),
        Err(error) => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_bare_words() {
        for (text, alias) in
            [("default", true), ("cache_2", true), ("app.db", false), ("data/app", false), ("", false)]
        {
            assert_eq!(looks_like_alias(text), alias, "{text:?}");
        }
    }

    #[test]
    fn the_state_folder_sits_beside_the_database() {
        assert_eq!(meta_folder(Path::new("/srv/app.db")), PathBuf::from("/srv/.app.db-litestream"));
    }
}
