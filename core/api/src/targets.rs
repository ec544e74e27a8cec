//! Which databases and replicas a run takes: the DB arguments of `check`, `verify`, `scrub` and
//! `drill` (aliases, paths, a `dir` entry's databases, replica URLs) or, with none, every
//! configured database with each `dir` entry expanded as Litestream's scan finds it.
//!
//! One rule, so that the commands cannot drift: they differ only in [`Urls`] (whether a
//! replica URL is a target) and in what they make of an entry with no database yet
//! ([`Selected::EmptyDir`]).

use std::borrow::Cow;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use cargo_litestream_config::{
    ConfigError, Database, DatabaseArg, Env, Location, Lookup, Project, TomlTable, redact_url_password,
};

use crate::backups::store::{NoNativeStore, Store};

/// What a replica URL among the arguments is.
#[derive(Clone, Copy)]
pub enum Urls {
    /// A target of its own (`scrub`, `drill`: they read the replica alone).
    Take,
    /// Refused with the message this builds from the URL (password redacted): the command
    /// compares the replica with its database (`check`, `verify`).
    Refuse(fn(&str) -> String),
}

/// One target of the run.
#[derive(Debug)]
pub enum Selected<'p> {
    /// A configured database: of a `path` entry, or one of a `dir` entry's.
    Database(Chosen<'p>),
    /// A replica URL, as given.
    Url(String),
    /// A `dir` entry none of whose files matches its pattern yet.
    EmptyDir { entry: &'p Database, dir: &'p Path },
}

/// A configured database picked for the run.
#[derive(Debug)]
pub struct Chosen<'p> {
    /// For status lines and reports: the entry's alias or path, a `dir` entry's database by
    /// its path.
    pub name: String,
    /// The database, absolute.
    pub path: PathBuf,
    /// The entry that configures it (for a `dir` entry's database, the `dir` entry).
    pub entry: &'p Database,
}

impl Chosen<'_> {
    /// The database as Litestream configures it: a `dir` entry's database with its own
    /// replica path and state folder (`DirMember::database`), a `path` entry as it is.
    pub fn database(&self) -> Cow<'_, Database> {
        let Location::Dir(dir) = &self.entry.location else { return Cow::Borrowed(self.entry) };
        match self.path.strip_prefix(dir) {
            Ok(relative) => Cow::Owned(
                cargo_litestream_config::DirMember {
                    entry: self.entry,
                    path: self.path.clone(),
                    relative: relative.to_path_buf(),
                }
                .database(),
            ),
            Err(_) => Cow::Borrowed(self.entry),
        }
    }
}

/// What status lines, reports and the history call a target of a run.
pub trait Named {
    fn name(&self) -> &str;
}

impl Named for Chosen<'_> {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for Replica<'_> {
    fn name(&self) -> &str {
        &self.name
    }
}

/// A replica a command reads (`check`, `scrub`, `drill`, `restore-points`, the schedule): how
/// the user knows it, the database it is the replica of, and the two ways to reach it.
#[derive(Debug)]
pub struct Replica<'p> {
    /// For status lines, reports and the history: the database's name ([`Chosen::name`]), or
    /// the replica URL with its password redacted.
    pub name: String,
    /// The configured database; `None` for a replica URL given alone, or a database of the
    /// user's own `-config` file.
    pub database: Option<Chosen<'p>>,
    /// The replica, when this tool reads it natively (file and S3), else why not.
    pub store: Result<Store, NoNativeStore>,
    /// What `litestream ltx` and `litestream restore` are given to reach it: the URL, or
    /// `-config FILE DB_PATH`.
    pub litestream_target: Vec<OsString>,
}

impl<'p> Replica<'p> {
    /// The replica of the configured database `chosen` (`globals`: the configuration's
    /// top-level keys), which litestream reaches by `litestream_target`
    /// (`-config FILE DB_PATH`: for a `dir` entry's database, a config listing it alone).
    pub fn of_database(
        chosen: Chosen<'p>,
        globals: &TomlTable,
        env: &Env,
        litestream_target: Vec<OsString>,
    ) -> Replica<'p> {
        let store = Store::of(&chosen.database().replica, globals, env);
        Replica { name: chosen.name.clone(), database: Some(chosen), store, litestream_target }
    }

    /// The replica at `url`, given alone.
    pub fn of_url(url: String, env: &Env) -> Replica<'p> {
        let table = TomlTable::from_iter([("url".to_owned(), url.as_str().into())]);
        Replica {
            name: redact_url_password(&url),
            database: None,
            store: Store::of(&table, &TomlTable::new(), env),
            litestream_target: vec![url.into()],
        }
    }

    /// A replica named in the user's own Litestream config, which litestream alone reads:
    /// `litestream_target` is `-config FILE DB_PATH` (or a URL).
    pub fn in_config_file(name: String, litestream_target: Vec<OsString>) -> Replica<'p> {
        Replica { name, database: None, store: Err(NoNativeStore::OwnConfig), litestream_target }
    }
}

/// What litestream is given to reach configured databases, writing each configuration once:
/// the project's for a `path` entry, one listing a `dir` entry's database alone for it
/// ([`Project::write_config_for`]: Litestream's `ltx` and `restore` find `path:` entries only).
pub struct LitestreamTargets<'p> {
    project: &'p Project,
    env: &'p Env,
    options: cargo_litestream_config::Generate,
    project_config: Option<PathBuf>,
}

impl<'p> LitestreamTargets<'p> {
    pub fn new(project: &'p Project, env: &'p Env, options: cargo_litestream_config::Generate) -> Self {
        LitestreamTargets { project, env, options, project_config: None }
    }

    /// `-config FILE PATH` for the configured database at `path`.
    pub fn of(&mut self, path: &Path) -> Result<Vec<OsString>, ConfigError> {
        let config = match (self.project.database(path), &self.project_config) {
            (Some(_), Some(written)) => written.clone(),
            (Some(_), None) => {
                let config = self.project.config_path();
                self.project.write_config(&config, self.env, self.options)?;
                self.project_config.insert(config).clone()
            }
            (None, _) => self.project.write_config_for(path, self.env, self.options)?,
        };
        Ok(vec!["-config".into(), config.into(), path.into()])
    }
}

/// The replica of every configured database (what no argument selects, without the `dir`
/// entries that hold no database yet), each with a configuration litestream reaches it by.
pub fn configured_replicas<'p>(project: &'p Project, env: &'p Env) -> Result<Vec<Replica<'p>>, ConfigError> {
    let mut litestream = LitestreamTargets::new(project, env, Default::default());
    let mut replicas = Vec::new();
    for selected in configured(project) {
        let Selected::Database(chosen) = selected else { continue };
        let target = litestream.of(&chosen.path)?;
        replicas.push(Replica::of_database(chosen, &project.globals, env, target));
    }
    Ok(replicas)
}

/// Why the arguments select nothing to run on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetsError {
    /// An argument that names no configured database.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A replica URL where the command takes databases only (the message of [`Urls::Refuse`]).
    #[error("{0}")]
    UrlRefused(String),
    /// A replica URL Litestream could not parse (and would print with its password).
    #[error("{0}")]
    UnparsableUrl(String),
    /// No argument, and every entry is a `dir` entry none of whose files matches its pattern
    /// yet: nothing to read (the only way a selection holds no database or URL).
    #[error("no database in {} matches its entry's pattern yet: there is nothing to read", display_paths(.0))]
    NoDatabaseYet(Vec<PathBuf>),
    /// No argument, and the project configures no database.
    #[error("no databases are configured; add them to [{table}] in {}", manifest.display())]
    NoneConfigured { table: String, manifest: PathBuf },
    /// A bare path or alias without a project to look it up in.
    #[error(
        "`{0}` is not a replica URL, and there is no Cargo.toml here to name databases in: run in the \
         project, or give the replica URL (file://… or s3://…)"
    )]
    NoProject(String),
}

impl TargetsError {
    /// [`TargetsError::NoneConfigured`] for `project`.
    pub fn none_configured(project: &Project) -> TargetsError {
        TargetsError::NoneConfigured {
            table: project.source.table_name().to_string(),
            manifest: project.manifest_path.clone(),
        }
    }
}

/// The targets `args` name in `project`, in their order; with no argument, every configured
/// database in the configuration's order, a `dir` entry's as Litestream's scan finds them
/// (or [`Selected::EmptyDir`]). Never empty.
pub fn select<'p>(
    project: &'p Project,
    args: &[&str],
    env: &Env,
    urls: Urls,
) -> Result<Vec<Selected<'p>>, TargetsError> {
    if args.is_empty() {
        let selected = configured(project);
        if selected.is_empty() {
            return Err(TargetsError::none_configured(project));
        }
        return Ok(selected);
    }
    args.iter()
        .map(|arg| match project.resolve_database_arg(arg, env, Lookup::Configured)? {
            DatabaseArg::Url(url) => url_target(url, urls),
            DatabaseArg::Path { path, alias } => {
                let entry = match project.database(&path) {
                    Some(entry) => entry,
                    // Resolved, so one of a `dir` entry's databases.
                    None => project.dir_member(&path)?.map(|m| m.entry).ok_or_else(|| {
                        TargetsError::Config(ConfigError::Argument {
                            problem: format!("`{}` is not a configured database", path.display()),
                            help: format!("configured: {}", project.configured_list()),
                        })
                    })?,
                };
                let name = match (&entry.location, alias) {
                    (_, Some(alias)) => alias,
                    (Location::File(_), None) => entry.name(),
                    (Location::Dir(_), None) => path.display().to_string(),
                };
                Ok(Selected::Database(Chosen { name, path, entry }))
            }
        })
        .collect()
}

/// [`select`] without a project (no Cargo.toml here): only replica URLs, where the command
/// takes them, name anything.
pub fn select_without_project<'p>(args: &[&str], urls: Urls) -> Result<Vec<Selected<'p>>, TargetsError> {
    args.iter()
        .map(|arg| match arg.contains("://") {
            true => url_target((*arg).to_owned(), urls),
            false => Err(TargetsError::NoProject((*arg).to_owned())),
        })
        .collect()
}

/// Every configured database of `project` (what no argument selects; empty when none is).
pub fn configured(project: &Project) -> Vec<Selected<'_>> {
    let mut selected = Vec::new();
    for entry in &project.databases {
        match &entry.location {
            Location::File(path) => {
                selected.push(Selected::Database(Chosen { name: entry.name(), path: path.clone(), entry }));
            }
            Location::Dir(dir) => {
                let found = entry.dir_databases();
                if found.is_empty() {
                    selected.push(Selected::EmptyDir { entry, dir });
                }
                selected.extend(found.into_iter().map(|path| {
                    Selected::Database(Chosen { name: path.display().to_string(), path, entry })
                }));
            }
        }
    }
    selected
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

fn url_target<'p>(url: String, urls: Urls) -> Result<Selected<'p>, TargetsError> {
    if let Some(problem) = cargo_litestream_config::raw_password_problem(&url) {
        return Err(TargetsError::UnparsableUrl(problem));
    }
    match urls {
        Urls::Take => Ok(Selected::Url(url)),
        Urls::Refuse(message) => Err(TargetsError::UrlRefused(message(&redact_url_password(&url)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project with an aliased `path` entry, a `dir` entry holding two databases (one left
    /// out by its pattern) and a `dir` entry holding none yet.
    fn project(dir: &Path, table: &str) -> Project {
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[package]\nname = \"p\"\nversion = \"0.1.0\"\n\n[package.metadata.litestream]\n{table}"),
        )
        .unwrap();
        for file in ["tenants/a.db", "tenants/b.db", "tenants/notes.txt"] {
            std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
            // Litestream's scan takes a file for a database by its header.
            std::fs::write(dir.join(file), b"SQLite format 3\0").unwrap();
        }
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        Project::load(Some(&dir.join("Cargo.toml")), &Env::capture().unwrap())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    const TABLE: &str = "replica = \"replica\"\ndbs = [\"main\", { dir = \"tenants\", pattern = \"*.db\" }, { dir = \"empty\", \
                         pattern = \"*.db\" }]\n\n[package.metadata.litestream.databases]\nmain = \"app.db\"\n";

    fn names(selected: &[Selected<'_>]) -> Vec<String> {
        selected
            .iter()
            .map(|s| match s {
                Selected::Database(chosen) => chosen.name.clone(),
                Selected::Url(url) => format!("url {url}"),
                Selected::EmptyDir { dir, .. } => format!("empty {}", dir.display()),
            })
            .collect()
    }

    const REFUSE: Urls = Urls::Refuse(|url| format!("no URLs here: `{url}`"));

    #[test]
    fn no_argument_takes_every_database_with_dir_entries_expanded() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().canonicalize().unwrap();
        let project = project(&dir, TABLE);
        let env = Env::capture().unwrap();
        let selected = select(&project, &[], &env, REFUSE).unwrap();
        let tenants = dir.join("tenants");
        assert_eq!(
            names(&selected),
            [
                "main".to_owned(),
                tenants.join("a.db").display().to_string(),
                tenants.join("b.db").display().to_string(),
                format!("empty {}", dir.join("empty").display()),
            ]
        );
        assert_eq!(names(&configured(&project)), names(&selected));
    }

    #[test]
    fn arguments_name_aliases_paths_and_dir_members_in_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().canonicalize().unwrap();
        let project = project(&dir, TABLE);
        let env = Env::capture().unwrap();
        let member = dir.join("tenants/b.db");
        let app = dir.join("app.db");
        let args = [member.to_str().unwrap(), "main", app.to_str().unwrap()];
        let selected = select(&project, &args, &env, REFUSE).unwrap();
        // A path entry's database goes by its alias however it was named.
        assert_eq!(names(&selected), [member.display().to_string(), "main".to_owned(), "main".to_owned()]);
        let Selected::Database(chosen) = &selected[0] else { panic!("{selected:?}") };
        assert_eq!(chosen.path, member);
        // A `dir` entry's database has a replica path of its own.
        assert_ne!(chosen.database().replica, chosen.entry.replica);
        let Selected::Database(main) = &selected[1] else { panic!("{selected:?}") };
        assert_eq!(main.path, app);
        assert!(matches!(main.database(), Cow::Borrowed(_)));
    }

    /// Every configured database's replica, read natively where it can be, reached by the
    /// project's config (a `path` entry) or one listing a `dir` entry's database alone.
    #[test]
    fn configured_replicas_are_reached_by_their_own_configs() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().canonicalize().unwrap();
        let project = project(&dir, TABLE);
        let env = Env::capture().unwrap();
        let replicas = configured_replicas(&project, &env).unwrap();
        let names: Vec<&str> = replicas.iter().map(|r| r.name.as_str()).collect();
        let (a, b) = (dir.join("tenants/a.db"), dir.join("tenants/b.db"));
        assert_eq!(names, ["main", a.to_str().unwrap(), b.to_str().unwrap()], "the empty entry has none");
        let config = |r: &Replica<'_>| PathBuf::from(&r.litestream_target[1]);
        assert_eq!(config(&replicas[0]), project.config_path());
        assert!(config(&replicas[0]).is_file(), "written");
        assert_ne!(config(&replicas[1]), config(&replicas[2]), "a dir entry's database has its own");
        assert_eq!(replicas[1].litestream_target[2], a.as_os_str());
        // `replica = "replica"`: file replicas, each database in a folder of its own.
        let folders: Vec<PathBuf> = replicas
            .iter()
            .map(|r| match &r.store {
                Ok(Store::Folder(folder)) => folder.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(folders[0], dir.join("replica/app.db"));
        assert!(folders[1] != folders[2] && folders[1].starts_with(dir.join("replica")), "{folders:?}");
    }

    #[test]
    fn a_name_the_project_does_not_configure_is_its_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().canonicalize().unwrap();
        let project = project(&dir, TABLE);
        let env = Env::capture().unwrap();
        let error = select(&project, &["mian"], &env, Urls::Take).unwrap_err();
        assert!(matches!(error, TargetsError::Config(_)), "{error}");
        let notes = dir.join("tenants/notes.txt");
        let error = select(&project, &[notes.to_str().unwrap()], &env, Urls::Take).unwrap_err();
        assert!(error.to_string().contains("does not match its pattern"), "{error}");
    }

    #[test]
    fn replica_urls_are_targets_or_refused_without_their_password() {
        let dir = tempfile::tempdir().unwrap();
        let project = project(dir.path(), TABLE);
        let env = Env::capture().unwrap();
        let url = "s3://key:hunter2@bucket/app.db";
        let selected = select(&project, &[url], &env, Urls::Take).unwrap();
        assert_eq!(names(&selected), [format!("url {url}")]);
        let error = select(&project, &[url], &env, REFUSE).unwrap_err().to_string();
        assert!(error.starts_with("no URLs here: `s3://"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn a_project_without_databases_says_where_to_add_them() {
        let dir = tempfile::tempdir().unwrap();
        let project = project(dir.path(), "");
        let env = Env::capture().unwrap();
        let error = select(&project, &[], &env, Urls::Take).unwrap_err().to_string();
        assert!(
            error.starts_with("no databases are configured; add them to [package.metadata.litestream]"),
            "{error}"
        );
    }

    #[test]
    fn without_a_project_only_replica_urls_name_anything() {
        let selected = select_without_project(&["file:///srv/replica"], Urls::Take).unwrap();
        assert_eq!(names(&selected), ["url file:///srv/replica"]);
        let error = select_without_project(&["main"], Urls::Take).unwrap_err();
        assert!(matches!(error, TargetsError::NoProject(_)), "{error}");
        assert!(matches!(select_without_project(&["file:///r"], REFUSE), Err(TargetsError::UrlRefused(_))));
    }
}
