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

    #[error("could not write {}: {message}", path.display())]
    Render { path: PathBuf, message: String },

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

/// An error and its causes on one line, as the CLI prints them.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
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
                temp: Some(temp),
            }))
        }
        Source::OwnConfig(file) => {
            own_config(file, request.exec.clone(), request.no_expand_env, env, &args, &first_sync_timeout)
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
    let text =
        yaml::to_string(value).map_err(|message| PlanError::Render { path: path.to_path_buf(), message })?;
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
        assert_eq!(plan.lock_paths, [db.clone()]);
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
