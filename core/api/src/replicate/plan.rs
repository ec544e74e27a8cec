//! What a `replicate` run runs: the configuration litestream gets, its control socket, the
//! databases and replica locations to lock, and, under `-exec CMD`, the command (never given to
//! litestream: the [`supervise`](super::supervise) module runs it).
//!
//! Three sources, as for Litestream itself: the project's table (the usual case, also
//! [`spawn_replicate`](super::spawn_replicate)'s), the user's own `-config FILE` (read here for
//! its socket, databases and `exec`), and single-database mode (`DB_PATH REPLICA_URL`, given a
//! private configuration with a control socket).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cargo_litestream_config::{
    ConfigError, Env, Generate, Project, TomlTable, TomlValue, go_expand, parse_go_duration, yaml,
};
use cargo_litestream_runner::lock::ReplicaClaim;
use cargo_litestream_shell::Shell;

use super::{database_locations, owner_places, replica_claims, shutdown_sync_timeout};

/// Litestream's default socket path, used when a `-config` file enables the socket without one.
const DEFAULT_SOCKET: &str = "/var/run/litestream.sock";

/// Litestream's default `shutdown-sync-timeout`, and the default `-first-sync-timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a run could not be planned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    #[error("could not write the Litestream config for {}", manifest.display())]
    WriteConfig {
        manifest: PathBuf,
        #[source]
        source: ConfigError,
    },

    #[error("could not read the Litestream config {}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} is not valid YAML{}: {message}", file.display(), if *unexpanded { " before $VAR expansion" } else { "" })]
    Yaml { file: PathBuf, unexpanded: bool, message: String },

    #[error(
        "replicate -exec needs the control socket, which {} disables (socket.enabled = false): cargo-litestream waits through it for the first sync before starting the command and for the last one after it; remove that setting",
        manifest.display()
    )]
    ProjectSocketDisabled { manifest: PathBuf },

    #[error(
        "replicate -exec with -config {} needs the control socket: add `socket: {{enabled: true, path: /run/litestream/litestream.sock}}` to it (cargo-litestream waits through it for the first sync before starting the command and for the last one after it)",
        file.display()
    )]
    OwnConfigSocketDisabled { file: PathBuf },

    #[error("could not create {}, the folder of the control socket", dir.display())]
    SocketDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not create a private folder in {tmp}")]
    PrivateDir {
        tmp: String,
        #[source]
        source: std::io::Error,
    },

    #[error("could not write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid value {text:?} for -first-sync-timeout: give whole seconds, more than zero (e.g. 10)")]
    FirstSyncTimeout { text: String },
}

/// Where the databases of a run are configured.
#[derive(Clone, Debug)]
pub enum Source<'a> {
    /// The project's table (its generated configuration).
    Project(&'a Project),
    /// The user's own Litestream YAML (`-config FILE`, an absolute path).
    OwnConfig(PathBuf),
    /// Single-database mode: this database file to this replica URL.
    Database { path: PathBuf, url: String },
}

/// What the command line asks of a supervised run, besides its [`Source`].
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `-exec CMD`, when given on the command line (else the configuration's `exec`).
    pub exec: Option<String>,
    /// `-once`: litestream syncs once and exits; never supervised.
    pub once: bool,
    pub no_expand_env: bool,
    pub log_level: Option<String>,
    pub restore_if_db_not_exists: bool,
    /// `-first-sync-timeout` as given (whole seconds; 30 by default): the bound on
    /// litestream's start and the first sync before CMD starts. Read only when a command runs.
    pub first_sync_timeout: Option<String>,
}

/// A supervised run.
#[derive(Debug)]
pub struct Plan {
    /// The command line to run (split later).
    pub command: String,
    /// litestream's arguments: `replicate -config <file without exec> …`.
    pub litestream_args: Vec<OsString>,
    pub socket: PathBuf,
    pub lock_paths: Vec<PathBuf>,
    /// The replica locations to lock machine-wide and the file replicas' owner records.
    pub replicas: Replicas,
    /// The bound on the final `sync -wait` (the configuration's `shutdown-sync-timeout`).
    pub sync_timeout: Duration,
    /// The bound on litestream's start and the first sync before CMD starts
    /// (`-first-sync-timeout`, 30 s by default).
    pub first_sync_timeout: Duration,
    /// Refuse to start when the socket already answers (a daemon started some other way).
    pub check_live_socket: bool,
    /// The project's own databases are replicated (its generated config), so its scheduled
    /// verify, scrub and drill apply; not with `-config FILE` or a single database.
    pub scheduled: bool,
    /// `-restore-if-db-not-exists`: litestream restores missing databases first (so their
    /// orphaned sidecars are refused before it runs).
    pub restore_if_db_not_exists: bool,
    /// Private files of this run, removed when it ends.
    pub temp: Option<tempfile::TempDir>,
}

/// Where this run's databases replicate to: each replica location (locked machine-wide beside
/// the databases) and where each replica's owner record lives (`api::owner`).
#[derive(Debug, Default)]
pub struct Replicas {
    pub claims: Vec<ReplicaClaim>,
    pub files: Vec<(PathBuf, crate::owner::Place)>,
}

impl Replicas {
    /// `globals`: the configuration's top-level keys (an `endpoint` there is every replica's).
    fn of(entries: Vec<(PathBuf, TomlTable)>, globals: &TomlTable, env: &Env) -> Replicas {
        let mut replicas = Replicas::default();
        for (database, table) in entries {
            if let Some(place) = crate::owner::place_of(&table, globals, env) {
                replicas.files.push((database.clone(), place));
            }
            let location = cargo_litestream_config::replica_location(&table, globals, env);
            replicas.claims.push(ReplicaClaim { database, location });
        }
        replicas
    }

    /// A project's replicas (what [`spawn_replicate`](super::spawn_replicate) locks too).
    pub fn of_project(project: &Project, env: &Env) -> Replicas {
        Replicas { claims: replica_claims(project, env), files: owner_places(project, env) }
    }
}

/// What plain `replicate` (litestream exec'd, no supervision) locks: the databases (and `dir`
/// folders) and the replicas. A `-config` file that cannot be read or parsed is litestream's to
/// report, in its own words: nothing is locked for it (`shell` says so with `-v`).
pub fn locked(
    source: &Source<'_>,
    no_expand_env: bool,
    env: &Env,
    shell: &Shell,
) -> (Vec<PathBuf>, Replicas) {
    match source {
        Source::Project(project) => (database_locations(project), Replicas::of_project(project, env)),
        Source::Database { path, url } => {
            let databases = vec![path.clone()];
            let replicas = Replicas::of(single_database_replica(&databases, url), &TomlTable::new(), env);
            (databases, replicas)
        }
        Source::OwnConfig(file) => match read_config(file, no_expand_env, env) {
            Ok(value) => (
                config_databases(&value, env),
                Replicas::of(config_replicas(&value, env), &config_globals(&value), env),
            ),
            Err(error) => {
                shell.verbose("Skipping", format!("the replicate lock: {}", one_line(&error)));
                (Vec::new(), Replicas::default())
            }
        },
    }
}

/// An error and its causes on one line, as the CLI prints them (core/command's `one_line`: a
/// cause whose text is already in the line is not repeated).
pub(crate) fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let said = next.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = next.source();
    }
    text
}

fn single_database_replica(databases: &[PathBuf], url: &str) -> Vec<(PathBuf, TomlTable)> {
    let table = TomlTable::from_iter([("url".to_owned(), TomlValue::from(url))]);
    databases.iter().map(|db| (db.clone(), table.clone())).collect()
}

/// The plan for a supervised `replicate`, or `None` when no command is to be run (no `-exec`
/// and no `exec` key) or `-once` is given (Litestream refuses `-once` with `-exec` itself):
/// then litestream is exec'd as usual.
pub fn supervised(
    source: &Source<'_>,
    request: &Request,
    env: &Env,
    shell: &Shell,
) -> Result<Option<Plan>, PlanError> {
    if request.once {
        return Ok(None);
    }
    let mut extra: Vec<OsString> = Vec::new();
    if request.no_expand_env {
        extra.push("-no-expand-env".into());
    }
    if let Some(level) = &request.log_level {
        extra.extend(["-log-level".into(), level.into()]);
    }
    if request.restore_if_db_not_exists {
        extra.push("-restore-if-db-not-exists".into());
    }
    let args = |config: &Path| -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["replicate".into(), "-config".into(), config.into()];
        args.extend(extra.iter().cloned());
        args
    };
    let first_sync_timeout = || match &request.first_sync_timeout {
        Some(text) => parse_first_sync_timeout(text),
        None => Ok(DEFAULT_TIMEOUT),
    };

    match source {
        Source::Database { path, url } => {
            let Some(command) = request.exec.clone() else { return Ok(None) };
            let temp = private_dir(env)?;
            let socket = temp.path().join("litestream.sock");
            let file = temp.path().join("litestream.yml");
            write_yaml(&file, &single_database_config(path, url, &socket))?;
            let replicas = Replicas::of(
                single_database_replica(std::slice::from_ref(path), url),
                &TomlTable::new(),
                env,
            );
            Ok(Some(Plan {
                command,
                litestream_args: args(&file),
                socket,
                replicas,
                lock_paths: vec![path.clone()],
                sync_timeout: DEFAULT_TIMEOUT,
                first_sync_timeout: first_sync_timeout()?,
                check_live_socket: false,
                scheduled: false,
                restore_if_db_not_exists: request.restore_if_db_not_exists,
                temp: Some(temp),
            }))
        }
        Source::OwnConfig(file) => {
            let plan = own_config(
                file,
                request.exec.clone(),
                request.no_expand_env,
                env,
                &args,
                &first_sync_timeout,
            )?;
            Ok(plan.map(|plan| Plan { restore_if_db_not_exists: request.restore_if_db_not_exists, ..plan }))
        }
        Source::Project(project) => {
            let Some(command) = request.exec.clone().or_else(|| project.exec().map(str::to_owned)) else {
                return Ok(None);
            };
            if !project.socket_enabled() {
                return Err(PlanError::ProjectSocketDisabled { manifest: project.manifest_path.clone() });
            }
            let config = project.supervised_config_path();
            let generate = Generate { no_expand_env: request.no_expand_env, omit_exec: true };
            project.write_config(&config, env, generate).map_err(|source| PlanError::WriteConfig {
                manifest: project.manifest_path.clone(),
                source,
            })?;
            shell.verbose("Generated", config.display());
            Ok(Some(Plan {
                command,
                litestream_args: args(&config),
                socket: project.socket_path(env),
                lock_paths: database_locations(project),
                replicas: Replicas::of_project(project, env),
                sync_timeout: shutdown_sync_timeout(project),
                first_sync_timeout: first_sync_timeout()?,
                check_live_socket: true,
                scheduled: true,
                restore_if_db_not_exists: request.restore_if_db_not_exists,
                temp: None,
            }))
        }
    }
}

/// The user's own YAML: its socket must be enabled; its `exec` (when the flag gives none) is
/// the command, and a copy without it is what litestream reads.
fn own_config(
    file: &Path,
    flag: Option<String>,
    no_expand_env: bool,
    env: &Env,
    args: &dyn Fn(&Path) -> Vec<OsString>,
    first_sync_timeout: &dyn Fn() -> Result<Duration, PlanError>,
) -> Result<Option<Plan>, PlanError> {
    let raw = read_text(file)?;
    let value = parse(file, &expanded(&raw, no_expand_env, env), false)?;
    let exec_key = value.get("exec").and_then(serde_json::Value::as_str).filter(|s| !s.trim().is_empty());
    let Some(command) = flag.or_else(|| exec_key.map(str::to_owned)) else { return Ok(None) };

    let socket = value.get("socket");
    if socket.and_then(|s| s.get("enabled")).and_then(serde_json::Value::as_bool) != Some(true) {
        return Err(PlanError::OwnConfigSocketDisabled { file: file.to_path_buf() });
    }
    let socket = PathBuf::from(
        socket.and_then(|s| s.get("path")).and_then(serde_json::Value::as_str).unwrap_or(DEFAULT_SOCKET),
    );
    // Litestream does not create the socket's folder (without it, it runs without a socket): a
    // file written by `config -o` at build time names a folder the runtime may not have yet.
    if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
        create_private_dir(dir).map_err(|source| PlanError::SocketDir { dir: dir.to_path_buf(), source })?;
    }
    let lock_paths = config_databases(&value, env);
    let replicas = Replicas::of(config_replicas(&value, env), &config_globals(&value), env);
    let sync_timeout = value
        .get("shutdown-sync-timeout")
        .and_then(serde_json::Value::as_str)
        .and_then(parse_go_duration)
        .unwrap_or(DEFAULT_TIMEOUT);

    // Litestream runs a configured `exec` itself: give it a copy without (the unexpanded text,
    // so it still expands `$VAR`s itself), private and removed after the run.
    let (config, temp) = if value.get("exec").is_some() {
        let mut unexpanded = parse(file, &raw, true)?;
        if let Some(map) = unexpanded.as_object_mut() {
            map.remove("exec");
        }
        let temp = private_dir(env)?;
        let copy = temp.path().join("litestream.yml");
        write_yaml(&copy, &json_to_toml(&unexpanded).unwrap_or(TomlValue::Table(Default::default())))?;
        (copy, Some(temp))
    } else {
        (file.to_path_buf(), None)
    };
    Ok(Some(Plan {
        command,
        litestream_args: args(&config),
        socket,
        lock_paths,
        replicas,
        sync_timeout,
        first_sync_timeout: first_sync_timeout()?,
        check_live_socket: true,
        scheduled: false,
        restore_if_db_not_exists: false,
        temp,
    }))
}

fn read_text(file: &Path) -> Result<String, PlanError> {
    std::fs::read_to_string(file).map_err(|source| PlanError::Read { file: file.to_path_buf(), source })
}

fn expanded(raw: &str, no_expand_env: bool, env: &Env) -> String {
    if no_expand_env { raw.to_owned() } else { go_expand(raw, env) }
}

fn parse(file: &Path, text: &str, unexpanded: bool) -> Result<serde_json::Value, PlanError> {
    yaml::parse(text).map_err(|e| PlanError::Yaml {
        file: file.to_path_buf(),
        unexpanded,
        message: e.to_string(),
    })
}

fn read_config(file: &Path, no_expand_env: bool, env: &Env) -> Result<serde_json::Value, PlanError> {
    parse(file, &expanded(&read_text(file)?, no_expand_env, env), false)
}

/// A Litestream config file's top-level keys, as a table.
fn config_globals(config: &serde_json::Value) -> TomlTable {
    match json_to_toml(config) {
        Some(TomlValue::Table(table)) => table,
        _ => TomlTable::new(),
    }
}

/// Each database of a Litestream config file with its replica (`replica`, or the first of the
/// older `replicas` list), as a table.
fn config_replicas(config: &serde_json::Value, env: &Env) -> Vec<(PathBuf, TomlTable)> {
    let dbs = config.get("dbs").and_then(serde_json::Value::as_array).into_iter().flatten();
    dbs.filter_map(|db| {
        let path = db.get("path").or_else(|| db.get("dir")).and_then(serde_json::Value::as_str)?;
        let replica = db.get("replica").or_else(|| db.get("replicas").and_then(|r| r.get(0)))?;
        let Some(TomlValue::Table(table)) = json_to_toml(replica) else { return None };
        Some((litestream_path(path, env), table))
    })
    .collect()
}

/// The databases (and `dir`-mode folders) a Litestream config names, as Litestream will
/// resolve them.
fn config_databases(config: &serde_json::Value, env: &Env) -> Vec<PathBuf> {
    let dbs = config.get("dbs").and_then(serde_json::Value::as_array).into_iter().flatten();
    dbs.filter_map(|db| db.get("path").or_else(|| db.get("dir")).and_then(serde_json::Value::as_str))
        .map(|path| litestream_path(path, env))
        .collect()
}

fn single_database_config(db: &Path, url: &str, socket: &Path) -> TomlValue {
    let mut replica = TomlTable::new();
    replica.insert("url".into(), url.into());
    let mut entry = TomlTable::new();
    entry.insert("path".into(), db.to_string_lossy().into_owned().into());
    entry.insert("replica".into(), replica.into());
    let mut config = TomlTable::new();
    config.insert("logging".into(), TomlTable::from_iter([("stderr".to_owned(), true.into())]).into());
    config.insert("socket".into(), socket_table(socket).into());
    config.insert("dbs".into(), vec![TomlValue::Table(entry)].into());
    TomlValue::Table(config)
}

fn socket_table(socket: &Path) -> TomlTable {
    TomlTable::from_iter([
        ("enabled".to_owned(), true.into()),
        ("path".to_owned(), socket.to_string_lossy().into_owned().into()),
    ])
}

fn write_yaml(path: &Path, value: &TomlValue) -> Result<(), PlanError> {
    let Ok(text) = yaml::to_string(value);
    cargo_litestream_config::write_private(path, text.as_bytes())
        .map_err(|source| PlanError::Write { path: path.to_path_buf(), source })
}

/// A private (0700) folder for this run's files, under a short temp path (socket paths are
/// limited to 107 bytes).
fn private_dir(env: &Env) -> Result<tempfile::TempDir, PlanError> {
    let tmp = env.non_empty("TMPDIR").filter(|t| t.len() < 60).unwrap_or("/tmp");
    tempfile::Builder::new()
        .prefix("cargo-litestream-")
        .tempdir_in(tmp)
        .map_err(|source| PlanError::PrivateDir { tmp: tmp.to_owned(), source })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A database path as Litestream reads it from a config: `sqlite://` prefixes stripped, `~/`
/// expanded, relative to the working directory.
fn litestream_path(text: &str, env: &Env) -> PathBuf {
    let text = text.strip_prefix("sqlite3://").or_else(|| text.strip_prefix("sqlite://")).unwrap_or(text);
    if let (Some(rest), Some(home)) = (text.strip_prefix("~/"), env.non_empty("HOME")) {
        return Path::new(home).join(rest);
    }
    env.absolute(Path::new(text))
}

/// YAML read as JSON, back to the tree the YAML writer takes (nulls dropped: to Litestream a
/// key set to null and an absent key are the same).
fn json_to_toml(value: &serde_json::Value) -> Option<TomlValue> {
    Some(match value {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => TomlValue::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => TomlValue::Integer(i),
            None => TomlValue::Float(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => TomlValue::String(s.clone()),
        serde_json::Value::Array(items) => TomlValue::Array(items.iter().filter_map(json_to_toml).collect()),
        serde_json::Value::Object(map) => TomlValue::Table(
            map.iter().filter_map(|(k, v)| json_to_toml(v).map(|v| (k.clone(), v))).collect(),
        ),
    })
}

/// How plain `replicate` (litestream exec'd) lets the WAL guard ([`guard`](super::guard)) wait
/// for the daemon's first sync: through the project's control socket, the user's own, or a
/// private one in a generated configuration. Without a socket to sync on, the guard would end
/// before Litestream holds its own read lock, and the application's checkpoint could restart
/// the WAL over frames not yet shipped (RELIABILITY.md).
#[derive(Debug, Default)]
pub struct Plain {
    /// The control socket litestream will answer on, if any.
    pub socket: Option<PathBuf>,
    /// The configuration litestream reads instead of its own arguments' (single-database
    /// mode, or a copy of `-config FILE` with a socket added), in a private folder that the
    /// guard removes once the first sync is done (litestream reads it only at start).
    pub config: Option<(PathBuf, tempfile::TempDir)>,
    /// For single-database mode: litestream's positional `DB_PATH REPLICA_URL` become the
    /// generated configuration's entry.
    single: bool,
    /// Why the guard cannot wait for the first sync, when it cannot (a warning).
    pub unguarded: Option<String>,
}

impl Plain {
    /// litestream's argv (`replicate …`, as the command line gave it) for this run.
    pub fn litestream_args(&self, mut args: Vec<OsString>) -> Vec<OsString> {
        let Some((config, _)) = &self.config else { return args };
        if self.single {
            // `replicate [flags] DB_PATH REPLICA_URL`: the two positionals come last. The
            // generated file holds them verbatim, and Litestream reads its arguments without
            // expanding `$VAR`s: so must it read the file.
            args.truncate(args.len().saturating_sub(2));
            let mut with: Vec<OsString> = vec!["-config".into(), config.into()];
            if !args.iter().any(|a| a == "-no-expand-env") {
                with.push("-no-expand-env".into());
            }
            args.splice(1..1, with);
        } else if let Some(at) = args.iter().position(|a| a == "-config")
            && let Some(value) = args.get_mut(at + 1)
        {
            *value = config.into();
        }
        args
    }
}

/// The top-level key a copy of the user's `-config FILE` gets when it has no `socket`.
fn socket_block(socket: &Path) -> String {
    let Ok(block) = yaml::to_string(&TomlValue::Table(TomlTable::from_iter([(
        "socket".to_owned(),
        socket_table(socket).into(),
    )])));
    block
}

/// The [`Plain`] plan of `source`.
pub fn plain(source: &Source<'_>, no_expand_env: bool, env: &Env) -> Result<Plain, PlanError> {
    match source {
        Source::Project(project) => Ok(Plain {
            socket: project.socket_enabled().then(|| project.socket_path(env)),
            ..Plain::default()
        }),
        Source::Database { path, url } => {
            let temp = private_dir(env)?;
            let socket = temp.path().join("litestream.sock");
            let file = temp.path().join("litestream.yml");
            write_yaml(&file, &single_database_config(path, url, &socket))?;
            Ok(Plain { socket: Some(socket), config: Some((file, temp)), single: true, unguarded: None })
        }
        Source::OwnConfig(file) => {
            // One that cannot be read or parsed is litestream's to report, in its own words.
            let Ok(raw) = read_text(file) else { return Ok(Plain::default()) };
            let Ok(value) = parse(file, &expanded(&raw, no_expand_env, env), false) else {
                return Ok(Plain::default());
            };
            if let Some(socket) = value.get("socket") {
                if socket.get("enabled").and_then(serde_json::Value::as_bool) == Some(true) {
                    let path =
                        socket.get("path").and_then(serde_json::Value::as_str).unwrap_or(DEFAULT_SOCKET);
                    return Ok(Plain { socket: Some(PathBuf::from(path)), ..Plain::default() });
                }
                return Ok(Plain {
                    unguarded: Some(unguarded(file, "its control socket is disabled")),
                    ..Plain::default()
                });
            }
            own_config_with_socket(file, &raw, &value, no_expand_env, env)
        }
    }
}

fn unguarded(file: &Path, why: &str) -> String {
    format!(
        "{}: {why}, so the WAL guard ends before litestream's first sync and the application's checkpoint may restart the WAL over commits not yet replicated; enable it (`socket: {{enabled: true, path: /run/litestream/litestream.sock}}`)",
        file.display()
    )
}

/// A copy of the user's file with a private socket appended as one more top-level key: the
/// user's text itself is kept byte for byte (Litestream expands it as before). Used only when
/// reading the copy gives exactly the user's configuration plus that socket; otherwise (a
/// flow-style or multi-document file, a trailing construct that would swallow the key) the
/// user's file is used as it is, and the guard cannot wait.
fn own_config_with_socket(
    file: &Path,
    raw: &str,
    value: &serde_json::Value,
    no_expand_env: bool,
    env: &Env,
) -> Result<Plain, PlanError> {
    let temp = private_dir(env)?;
    let socket = temp.path().join("litestream.sock");
    let socket_text = socket.to_string_lossy();
    if socket_text.contains('$') {
        return Ok(Plain {
            unguarded: Some(unguarded(
                file,
                "it has no control socket, and the private one's path holds a `$`",
            )),
            ..Plain::default()
        });
    }
    let block = socket_block(&socket);
    let separator = if raw.is_empty() || raw.ends_with('\n') { "" } else { "\n" };
    let text = format!("{raw}{separator}{block}");
    let mut wanted = value.clone();
    let read_back = parse(file, &expanded(&text, no_expand_env, env), false).ok();
    let same = match wanted.as_object_mut() {
        Some(map) => {
            map.insert("socket".to_owned(), serde_json::json!({"enabled": true, "path": socket_text}));
            read_back.as_ref() == Some(&wanted)
        }
        None => false,
    };
    if !same {
        return Ok(Plain {
            unguarded: Some(unguarded(
                file,
                "it has no control socket, and one cannot be added to a copy of it safely",
            )),
            ..Plain::default()
        });
    }
    let copy = temp.path().join("litestream.yml");
    cargo_litestream_config::write_private(&copy, text.as_bytes())
        .map_err(|source| PlanError::Write { path: copy.clone(), source })?;
    Ok(Plain { socket: Some(socket), config: Some((copy, temp)), single: false, unguarded: None })
}

/// `-first-sync-timeout`: whole seconds, more than zero.
pub fn parse_first_sync_timeout(text: &str) -> Result<Duration, PlanError> {
    match text.trim().parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
        _ => Err(PlanError::FirstSyncTimeout { text: text.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_prints_a_cause_already_in_the_message_once() {
        let spawn = crate::process::BoundedError::Spawn {
            program: "litestream".to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let line = one_line(&spawn);
        assert_eq!(line, spawn.to_string(), "{line}");
        let copy = crate::dashboard::CopyError::List {
            database: "default".to_owned(),
            source: crate::check::ReplicaListError::NoLitestream,
        };
        assert_eq!(
            one_line(&copy),
            "cannot list the replica of default: no litestream to list the replica with"
        );
    }

    fn shell() -> Shell {
        Shell::quiet()
    }

    #[test]
    fn paths_as_litestream_reads_them() {
        let env = Env::empty("/srv/app").with("HOME", "/home/u");
        assert_eq!(litestream_path("data/app.db", &env), PathBuf::from("/srv/app/data/app.db"));
        assert_eq!(litestream_path("~/app.db", &env), PathBuf::from("/home/u/app.db"));
        assert_eq!(litestream_path("sqlite:///abs/app.db", &env), PathBuf::from("/abs/app.db"));
    }

    #[test]
    fn yaml_round_trip_drops_nulls() {
        let value = yaml::parse("a: 1\nb: null\nc: [x, ~]\nd: {e: true, f: 1.5}\n").unwrap();
        let toml = json_to_toml(&value).unwrap();
        let text = yaml::to_string(&toml).unwrap();
        assert_eq!(
            yaml::parse(&text).unwrap(),
            serde_json::json!({"a": 1, "c": ["x"], "d": {"e": true, "f": 1.5}})
        );
    }

    #[test]
    fn first_sync_timeouts() {
        for (text, expected) in
            [("10", Some(10)), (" 3 ", Some(3)), ("0", None), ("-1", None), ("1.5", None), ("", None)]
        {
            assert_eq!(parse_first_sync_timeout(text).ok(), expected.map(Duration::from_secs), "{text:?}");
        }
    }

    /// `-once`, or no command anywhere: litestream is exec'd, nothing is planned.
    #[test]
    fn no_supervision_without_a_command_or_with_once() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path());
        let own = dir.path().join("own.yml");
        std::fs::write(&own, "exec: server\ndbs:\n  - path: app.db\n").unwrap();
        let database = Source::Database { path: dir.path().join("app.db"), url: "file:///r".to_owned() };
        let with_exec = Request { exec: Some("server".to_owned()), ..Request::default() };
        let cases: [(&Source<'_>, Request); 3] = [
            (&database, Request::default()),
            (&database, Request { once: true, ..with_exec.clone() }),
            (&Source::OwnConfig(own.clone()), Request { once: true, ..Request::default() }),
        ];
        for (source, request) in cases {
            assert!(
                supervised(source, &request, &env, &shell()).unwrap().is_none(),
                "{source:?} {request:?}"
            );
        }
    }

    /// Single-database mode: a private 0600 config with a control socket, the one database
    /// locked with its replica, the flags passed on.
    #[test]
    fn single_database_mode_gets_a_private_config_with_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path()).with("TMPDIR", dir.path());
        let db = dir.path().join("app.db");
        let source = Source::Database { path: db.clone(), url: "file:///replica".to_owned() };
        let request = Request {
            exec: Some("server --port 1".to_owned()),
            log_level: Some("debug".to_owned()),
            first_sync_timeout: Some("5".to_owned()),
            ..Request::default()
        };
        let plan = supervised(&source, &request, &env, &shell()).unwrap().unwrap();
        assert_eq!(plan.command, "server --port 1");
        assert_eq!(plan.lock_paths, std::slice::from_ref(&db));
        assert_eq!(plan.replicas.claims.len(), 1);
        assert_eq!(plan.first_sync_timeout, Duration::from_secs(5));
        assert!(!plan.check_live_socket && !plan.scheduled);
        let args: Vec<String> =
            plan.litestream_args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args[..2], ["replicate", "-config"]);
        assert_eq!(args[3..], ["-log-level", "debug"]);
        let written = yaml::parse(&std::fs::read_to_string(&args[2]).unwrap()).unwrap();
        assert_eq!(written["socket"]["path"], plan.socket.to_string_lossy().as_ref());
        assert_eq!(written["dbs"][0]["path"], db.to_string_lossy().as_ref());
        assert_eq!(written["dbs"][0]["replica"]["url"], "file:///replica");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&args[2]).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    /// The user's own YAML: its `exec` is the command and litestream reads a copy without it;
    /// a socket it does not enable is refused; the flag's command wins over the key.
    #[test]
    fn own_config_files() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path()).with("TMPDIR", dir.path()).with("R", "replica");
        let socket = dir.path().join("run/ls.sock");
        let own = dir.path().join("own.yml");
        std::fs::write(
            &own,
            format!(
                "exec: server\nsocket:\n  enabled: true\n  path: {}\nshutdown-sync-timeout: 7s\ndbs:\n  - path: app.db\n    replica:\n      url: file:///srv/$R\n",
                socket.display()
            ),
        )
        .unwrap();
        let plan = supervised(&Source::OwnConfig(own.clone()), &Request::default(), &env, &shell())
            .unwrap()
            .unwrap();
        assert_eq!(plan.command, "server");
        assert_eq!(plan.socket, socket);
        assert!(socket.parent().unwrap().is_dir(), "the socket's folder is created");
        assert_eq!(plan.lock_paths, [dir.path().join("app.db")]);
        assert_eq!(plan.sync_timeout, Duration::from_secs(7));
        assert!(plan.check_live_socket && !plan.scheduled);
        let copy = PathBuf::from(&plan.litestream_args[2]);
        assert_ne!(copy, own);
        let copied = std::fs::read_to_string(&copy).unwrap();
        assert!(!copied.contains("exec") && copied.contains("$R"), "unexpanded, without exec:\n{copied}");

        let flag = Request { exec: Some("other".to_owned()), ..Request::default() };
        assert_eq!(
            supervised(&Source::OwnConfig(own.clone()), &flag, &env, &shell()).unwrap().unwrap().command,
            "other"
        );

        std::fs::write(&own, "exec: server\ndbs:\n  - path: app.db\n").unwrap();
        let error =
            supervised(&Source::OwnConfig(own.clone()), &Request::default(), &env, &shell()).unwrap_err();
        assert!(matches!(error, PlanError::OwnConfigSocketDisabled { .. }), "{error}");
        std::fs::write(&own, "exec: [unclosed\n").unwrap();
        let error = supervised(&Source::OwnConfig(own), &Request::default(), &env, &shell()).unwrap_err();
        assert!(error.to_string().contains("is not valid YAML"), "{error}");
    }

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    /// Single-database mode: a generated config with a private socket replaces the
    /// positionals, read without `$VAR` expansion as Litestream reads its arguments.
    #[test]
    fn plain_single_database_mode_gets_a_private_socket() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path()).with("TMPDIR", dir.path());
        let db = dir.path().join("a$HOME.db");
        let source = Source::Database { path: db.clone(), url: "file:///r".to_owned() };
        let plain = plain(&source, false, &env).unwrap();
        let socket = plain.socket.clone().unwrap();
        let (config, _) = plain.config.as_ref().unwrap();
        let given: Vec<OsString> = ["replicate", "-log-level", "debug", db.to_str().unwrap(), "file:///r"]
            .map(OsString::from)
            .to_vec();
        assert_eq!(
            strings(&plain.litestream_args(given)),
            ["replicate", "-config", config.to_str().unwrap(), "-no-expand-env", "-log-level", "debug"]
        );
        let written = yaml::parse(&std::fs::read_to_string(config).unwrap()).unwrap();
        assert_eq!(written["socket"]["path"], socket.to_string_lossy().as_ref());
        assert_eq!(written["dbs"][0]["path"], db.to_string_lossy().as_ref());
    }

    /// `-config FILE`: its own enabled socket is used; without one, a copy gets a private
    /// socket appended, the user's text kept byte for byte; a disabled one, or a file whose
    /// copy would read differently, leaves the guard unable to wait, said once.
    #[test]
    fn plain_own_config_files() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path()).with("TMPDIR", dir.path()).with("R", "replica");
        let own = dir.path().join("own.yml");
        let args = |plain: &Plain| {
            strings(&plain.litestream_args(
                ["replicate", "-config", own.to_str().unwrap()].map(OsString::from).to_vec(),
            ))
        };

        std::fs::write(&own, "socket:\n  enabled: true\n  path: /run/x.sock\ndbs:\n  - path: a.db\n")
            .unwrap();
        let theirs = plain(&Source::OwnConfig(own.clone()), false, &env).unwrap();
        assert_eq!(theirs.socket, Some(PathBuf::from("/run/x.sock")));
        assert!(theirs.config.is_none() && theirs.unguarded.is_none());
        assert_eq!(args(&theirs)[2], own.to_str().unwrap());

        let text =
            "# mine\ndbs:\n  - path: a.db\n    replica:\n      url: file:///srv/$R\n    monitor-interval: 1h";
        std::fs::write(&own, text).unwrap();
        let added = plain(&Source::OwnConfig(own.clone()), false, &env).unwrap();
        let (copy, _) = added.config.as_ref().unwrap();
        assert_eq!(args(&added), ["replicate", "-config", copy.to_str().unwrap()]);
        let copied = std::fs::read_to_string(copy).unwrap();
        assert!(copied.starts_with(text), "{copied}");
        let read = yaml::parse(&go_expand(&copied, &env)).unwrap();
        assert_eq!(read["socket"]["path"], added.socket.as_ref().unwrap().to_string_lossy().as_ref());
        assert_eq!(read["dbs"][0]["replica"]["url"], "file:///srv/replica");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(copy).unwrap().permissions().mode() & 0o777, 0o600);
        }

        for (text, why) in [
            ("socket:\n  enabled: false\ndbs:\n  - path: a.db\n", "disabled"),
            ("{dbs: [{path: a.db}]}\n", "cannot be added"),
        ] {
            std::fs::write(&own, text).unwrap();
            let left = plain(&Source::OwnConfig(own.clone()), false, &env).unwrap();
            assert!(left.socket.is_none() && left.config.is_none(), "{text}");
            assert!(
                left.unguarded.as_deref().is_some_and(|w| w.contains(why)),
                "{text}: {:?}",
                left.unguarded
            );
            assert_eq!(args(&left)[2], own.to_str().unwrap());
        }
    }

    #[test]
    fn what_plain_replicate_locks() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path());
        let own = dir.path().join("own.yml");
        std::fs::write(&own, "dbs:\n  - path: a.db\n    replica: {url: 'file:///r/a'}\n  - dir: tenants\n    replica: {url: 'file:///r/t'}\n").unwrap();
        let (databases, replicas) = locked(&Source::OwnConfig(own), false, &env, &shell());
        assert_eq!(databases, [dir.path().join("a.db"), dir.path().join("tenants")]);
        assert_eq!(replicas.claims.len(), 2);
        assert_eq!(replicas.files.len(), 2);
        let (databases, _) =
            locked(&Source::OwnConfig(dir.path().join("missing.yml")), false, &env, &shell());
        assert!(databases.is_empty(), "litestream reports an unreadable file");
    }
}
