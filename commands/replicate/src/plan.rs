//! What a supervised `replicate -exec CMD` runs: the configuration litestream gets (never
//! with `exec`: the supervisor runs CMD itself), its control socket, the databases to lock.
//!
//! Three sources, as for plain `replicate`: the project's table (the usual case), the user's
//! own `-config FILE` (read here for its socket, databases and `exec`), and single-database mode
//! (`DB_PATH REPLICA_URL`, given a private configuration with a control socket).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cargo_litestream_api::replicate::{
    database_locations, owner_places, replica_claims, shutdown_sync_timeout,
};
use cargo_litestream_command::anyhow::{self, Context as _, bail};
use cargo_litestream_command::clap::ArgMatches;
use cargo_litestream_command::clap::parser::ValueSource;
use cargo_litestream_command::{Ctx, DatabaseArg, Lookup};
use cargo_litestream_config::{Env, Generate, TomlTable, TomlValue, go_expand, parse_go_duration, yaml};
use cargo_litestream_runner::lock::ReplicaClaim;

/// Litestream's default socket path, used when a `-config` file enables the socket without one.
const DEFAULT_SOCKET: &str = "/var/run/litestream.sock";

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
    pub _temp: Option<tempfile::TempDir>,
}

/// Where this run's databases replicate to: each replica location (locked machine-wide beside
/// the databases) and where each replica's owner record lives (`api::owner`).
#[derive(Debug, Default)]
pub struct Replicas {
    pub claims: Vec<ReplicaClaim>,
    pub files: Vec<(PathBuf, cargo_litestream_api::owner::Place)>,
}

impl Replicas {
    /// `globals`: the configuration's top-level keys (an `endpoint` there is every replica's).
    fn of(entries: Vec<(PathBuf, TomlTable)>, globals: &TomlTable, env: &Env) -> Replicas {
        let mut replicas = Replicas::default();
        for (database, table) in entries {
            if let Some(place) = cargo_litestream_api::owner::place_of(&table, globals, env) {
                replicas.files.push((database.clone(), place));
            }
            let location = cargo_litestream_config::replica_location(&table, globals, env);
            replicas.claims.push(ReplicaClaim { database, location });
        }
        replicas
    }

    fn of_project(project: &cargo_litestream_config::Project, env: &Env) -> Replicas {
        Replicas { claims: replica_claims(project, env), files: owner_places(project, env) }
    }
}

/// The replicas of plain `replicate` (no supervision): single-database mode's URL, those of the
/// user's own `-config` file (one that cannot be read is litestream's to report), else the
/// project's.
pub fn replicas(matches: &ArgMatches, ctx: &Ctx, databases: &[PathBuf]) -> anyhow::Result<Replicas> {
    if let (Some(_), Some(url)) =
        (matches.get_one::<String>("DB_PATH"), matches.get_one::<String>("REPLICA_URL"))
    {
        return Ok(Replicas::of(single_database_replica(databases, url), &TomlTable::new(), &ctx.env));
    }
    if given(matches, "config") {
        let file =
            ctx.env.absolute(Path::new(matches.get_one::<String>("config").map_or("", String::as_str)));
        let no_expand_env = matches.get_flag("no-expand-env");
        let Ok(value) = read_config(&file, no_expand_env, &ctx.env) else { return Ok(Replicas::default()) };
        return Ok(Replicas::of(config_replicas(&value, &ctx.env), &config_globals(&value), &ctx.env));
    }
    Ok(Replicas::of_project(ctx.project()?, &ctx.env))
}

fn single_database_replica(databases: &[PathBuf], url: &str) -> Vec<(PathBuf, TomlTable)> {
    let table = TomlTable::from_iter([("url".to_owned(), TomlValue::from(url))]);
    databases.iter().map(|db| (db.clone(), table.clone())).collect()
}

/// The plan for `replicate` with these arguments, or `None` when no command is to be run
/// (no `-exec` and no `exec` key) or `-once` is given (Litestream refuses `-once` with `-exec`
/// itself): then litestream is exec'd as usual.
pub fn plan(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<Option<Plan>> {
    if matches.get_flag("once") {
        return Ok(None);
    }
    let flag = matches.get_one::<String>("exec").filter(|_| given(matches, "exec")).cloned();
    let no_expand_env = matches.get_flag("no-expand-env");
    let mut extra: Vec<OsString> = Vec::new();
    if no_expand_env {
        extra.push("-no-expand-env".into());
    }
    if let Some(level) = matches.get_one::<String>("log-level").filter(|_| given(matches, "log-level")) {
        extra.extend(["-log-level".into(), level.into()]);
    }
    if matches.get_flag("restore-if-db-not-exists") {
        extra.push("-restore-if-db-not-exists".into());
    }
    let args = |config: &Path| -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["replicate".into(), "-config".into(), config.into()];
        args.extend(extra.iter().cloned());
        args
    };

    if let Some(db) = matches.get_one::<String>("DB_PATH") {
        let Some(command) = flag else { return Ok(None) };
        if given(matches, "config") {
            return Ok(None); // Litestream's own error: a replica URL and -config together
        }
        let url = matches.get_one::<String>("REPLICA_URL").cloned().unwrap_or_default();
        let path = match ctx.project_if_any()? {
            Some(project) => project.resolve_database_arg(db, &ctx.env, Lookup::Any)?,
            None => DatabaseArg::Path { path: ctx.env.absolute(Path::new(db)), alias: None },
        };
        let DatabaseArg::Path { path, .. } = path else {
            bail!("DB_PATH takes a database, not a replica URL");
        };
        let temp = private_dir(&ctx.env)?;
        let socket = temp.path().join("litestream.sock");
        let config = single_database_config(&path, &url, &socket);
        let file = temp.path().join("litestream.yml");
        write_yaml(&file, &config)?;
        let replicas = Replicas::of(
            single_database_replica(std::slice::from_ref(&path), &url),
            &TomlTable::new(),
            &ctx.env,
        );
        return Ok(Some(Plan {
            command,
            litestream_args: args(&file),
            socket,
            replicas,
            lock_paths: vec![path],
            sync_timeout: Duration::from_secs(30),
            first_sync_timeout: first_sync_timeout(matches)?,
            check_live_socket: false,
            scheduled: false,
            _temp: Some(temp),
        }));
    }

    if given(matches, "config") {
        let file =
            ctx.env.absolute(Path::new(matches.get_one::<String>("config").map_or("", String::as_str)));
        return own_config(&file, flag, no_expand_env, &ctx.env, &args, first_sync_timeout(matches)?);
    }

    let project = ctx.project()?;
    let Some(command) = flag.or_else(|| project.exec().map(str::to_owned)) else { return Ok(None) };
    if !project.socket_enabled() {
        bail!(
            "replicate -exec needs the control socket, which {} disables (socket.enabled = false): cargo-litestream waits through it for the first sync before starting the command and for the last one after it; remove that setting",
            project.manifest_path.display()
        );
    }
    let config = project.supervised_config_path();
    project.write_config(&config, &ctx.env, Generate { no_expand_env, omit_exec: true }).with_context(
        || format!("could not write the Litestream config for {}", project.manifest_path.display()),
    )?;
    ctx.shell.verbose("Generated", config.display());
    Ok(Some(Plan {
        command,
        litestream_args: args(&config),
        socket: project.socket_path(&ctx.env),
        lock_paths: database_locations(project),
        replicas: Replicas::of_project(project, &ctx.env),
        sync_timeout: shutdown_sync_timeout(project),
        first_sync_timeout: first_sync_timeout(matches)?,
        check_live_socket: true,
        scheduled: true,
        _temp: None,
    }))
}

/// The user's own YAML: its socket must be enabled; its `exec` (when the flag gives none) is
/// the command, and a copy without it is what litestream reads.
fn own_config(
    file: &Path,
    flag: Option<String>,
    no_expand_env: bool,
    env: &Env,
    args: &dyn Fn(&Path) -> Vec<OsString>,
    first_sync_timeout: Duration,
) -> anyhow::Result<Option<Plan>> {
    let raw = std::fs::read_to_string(file)
        .with_context(|| format!("could not read the Litestream config {}", file.display()))?;
    let text = if no_expand_env { raw.clone() } else { go_expand(&raw, env) };
    let value =
        yaml::parse(&text).map_err(|e| anyhow::anyhow!("{} is not valid YAML: {e}", file.display()))?;
    let exec_key = value.get("exec").and_then(serde_json::Value::as_str).filter(|s| !s.trim().is_empty());
    let Some(command) = flag.or_else(|| exec_key.map(str::to_owned)) else { return Ok(None) };

    let socket = value.get("socket");
    if socket.and_then(|s| s.get("enabled")).and_then(serde_json::Value::as_bool) != Some(true) {
        bail!(
            "replicate -exec with -config {} needs the control socket: add `socket: {{enabled: true, path: /run/litestream/litestream.sock}}` to it (cargo-litestream waits through it for the first sync before starting the command and for the last one after it)",
            file.display()
        );
    }
    let socket = PathBuf::from(
        socket.and_then(|s| s.get("path")).and_then(serde_json::Value::as_str).unwrap_or(DEFAULT_SOCKET),
    );
    // Litestream does not create the socket's folder (without it, it runs without a socket): a
    // file written by `config -o` at build time names a folder the runtime may not have yet.
    if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
        create_private_dir(dir).with_context(|| {
            format!("could not create {}, the folder of the control socket", dir.display())
        })?;
    }
    let lock_paths = config_databases(&value, env);
    let replicas = Replicas::of(config_replicas(&value, env), &config_globals(&value), env);
    let sync_timeout = value
        .get("shutdown-sync-timeout")
        .and_then(serde_json::Value::as_str)
        .and_then(parse_go_duration)
        .unwrap_or(Duration::from_secs(30));

    // Litestream runs a configured `exec` itself: give it a copy without (the unexpanded text,
    // so it still expands `$VAR`s itself), private and removed after the run.
    let (config, temp) = if value.get("exec").is_some() {
        let mut unexpanded = yaml::parse(&raw).map_err(|e| {
            anyhow::anyhow!("{} is not valid YAML before $VAR expansion: {e}", file.display())
        })?;
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
        first_sync_timeout,
        check_live_socket: true,
        scheduled: false,
        _temp: temp,
    }))
}

/// The databases (and `dir`-mode folders) a Litestream config file names, as Litestream will
/// resolve them: what `replicate -config FILE` must lock.
pub fn own_config_databases(file: &Path, no_expand_env: bool, env: &Env) -> anyhow::Result<Vec<PathBuf>> {
    Ok(config_databases(&read_config(file, no_expand_env, env)?, env))
}

fn read_config(file: &Path, no_expand_env: bool, env: &Env) -> anyhow::Result<serde_json::Value> {
    let raw = std::fs::read_to_string(file)
        .with_context(|| format!("could not read the Litestream config {}", file.display()))?;
    let text = if no_expand_env { raw } else { go_expand(&raw, env) };
    yaml::parse(&text).map_err(|e| anyhow::anyhow!("{} is not valid YAML: {e}", file.display()))
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
    config.insert(
        "socket".into(),
        TomlTable::from_iter([
            ("enabled".to_owned(), true.into()),
            ("path".to_owned(), socket.to_string_lossy().into_owned().into()),
        ])
        .into(),
    );
    config.insert("dbs".into(), vec![TomlValue::Table(entry)].into());
    TomlValue::Table(config)
}

fn write_yaml(path: &Path, value: &TomlValue) -> anyhow::Result<()> {
    let text = yaml::to_string(value).map_err(anyhow::Error::msg)?;
    cargo_litestream_config::write_private(path, text.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))
}

/// A private (0700) folder for this run's files, under a short temp path (socket paths are
/// limited to 107 bytes).
fn private_dir(env: &Env) -> anyhow::Result<tempfile::TempDir> {
    let tmp = env.non_empty("TMPDIR").filter(|t| t.len() < 60).unwrap_or("/tmp");
    tempfile::Builder::new()
        .prefix("cargo-litestream-")
        .tempdir_in(tmp)
        .with_context(|| format!("could not create a private folder in {tmp}"))
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

/// `-first-sync-timeout`: whole seconds, more than zero (default 30).
fn first_sync_timeout(matches: &ArgMatches) -> anyhow::Result<Duration> {
    let Some(text) = matches.get_one::<String>("first-sync-timeout") else {
        return Ok(Duration::from_secs(30));
    };
    match text.trim().parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
        _ => bail!(
            "invalid value {text:?} for -first-sync-timeout: give whole seconds, more than zero (e.g. 10)"
        ),
    }
}

fn given(matches: &ArgMatches, name: &str) -> bool {
    matches.value_source(name) == Some(ValueSource::CommandLine)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
