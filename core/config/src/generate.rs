//! The Litestream YAML generated from a [`Project`].
//!
//! What it always contains, and why:
//! - absolute paths (Litestream resolves relative ones against its working directory);
//! - a singular `replica` per database (0.5 has no `replicas` lists);
//! - `logging.stderr: true`, so `-json` output on stdout stays parseable (gotcha 8);
//! - the control socket, enabled at a project-local path, so `sync`, `info`, `list`, `start`,
//!   `stop`, `register` and `unregister` reach a `replicate` started by this tool with no flag.
//!
//! `$VAR` references stay as written: Litestream expands them when it starts.

use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::ConfigError;
use crate::fsutil;
use crate::project::{Database, Location, Project, ReplicaOrigin};
use crate::replica::display;
use crate::schema::SECRET_KEYS;
use crate::yaml;

/// Options that change the generated file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Generate {
    /// `-no-expand-env`: Litestream will not expand `$VAR`, so the references this tool would
    /// generate for the default S3 replica are filled in (bucket) or left out (credentials,
    /// which Litestream copies from `LITESTREAM_*` itself) instead.
    pub no_expand_env: bool,
    /// Leave the top-level `exec` out: for a litestream that a supervisor (`replicate -exec`,
    /// `spawn_replicate`) starts, which runs the command itself.
    pub omit_exec: bool,
}

/// Longest socket path the OS accepts (`sun_path` minus its terminating NUL). Beyond it
/// Litestream only logs a warning and runs without a socket (gotcha 23).
pub const MAX_SOCKET_PATH: usize = if cfg!(target_os = "linux") { 107 } else { 103 };

impl Project {
    /// Whether the generated config enables the control socket (unless the user turned it off).
    pub fn socket_enabled(&self) -> bool {
        self.globals
            .get("socket")
            .and_then(|s| s.get("enabled"))
            .and_then(toml::Value::as_bool)
            .unwrap_or(true)
    }

    /// The control socket: the user's `socket.path`, else `<state dir>/litestream.sock`, else
    /// (when that is longer than the OS allows) a short private folder under the temp dir.
    pub fn socket_path(&self, env: &Env) -> PathBuf {
        if let Some(path) =
            self.globals.get("socket").and_then(|s| s.get("path")).and_then(toml::Value::as_str)
        {
            return PathBuf::from(path);
        }
        let local = self.state_dir.join("litestream.sock");
        if local.as_os_str().len() <= MAX_SOCKET_PATH {
            return local;
        }
        let tmp = env.non_empty("XDG_RUNTIME_DIR").or_else(|| env.non_empty("TMPDIR")).unwrap_or("/tmp");
        let id = fnv1a(self.state_dir.as_os_str().as_encoded_bytes());
        Path::new(tmp).join(format!("cargo-litestream-{id:016x}")).join("litestream.sock")
    }

    /// Where commands write the generated config for Litestream to read.
    pub fn config_path(&self) -> PathBuf {
        self.state_dir.join("litestream.yml")
    }

    /// Where a supervisor writes the config of the litestream it starts (without `exec`): a file
    /// of its own, so a command rewriting [`Project::config_path`] meanwhile cannot put `exec`
    /// back before litestream reads it.
    pub fn supervised_config_path(&self) -> PathBuf {
        self.state_dir.join("litestream-supervised.yml")
    }

    /// The top-level `exec` command, if the configuration has one.
    pub fn exec(&self) -> Option<&str> {
        self.globals.get("exec").and_then(toml::Value::as_str).filter(|s| !s.trim().is_empty())
    }

    /// The configuration tree Litestream gets, in a stable order.
    pub fn litestream_config(&self, env: &Env, options: Generate) -> Result<toml::Table, ConfigError> {
        self.config_tree(&self.databases, env, options)
    }

    /// Where the configuration Litestream reads to find the database at `database` is
    /// written: the project's, or for a database inside a `dir` entry, a file of its own
    /// (see [`Project::write_config_for`]).
    pub fn config_path_for(&self, database: &Path) -> PathBuf {
        match self.dir_member(database) {
            Ok(Some(member)) => self.member_config_path(&member.path),
            _ => self.config_path(),
        }
    }

    fn member_config_path(&self, database: &Path) -> PathBuf {
        let name = database.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let id = fnv1a(database.as_os_str().as_encoded_bytes());
        self.state_dir.join("dir-databases").join(format!("{name}-{id:016x}.yml"))
    }

    /// Writes the configuration Litestream must read to find the database at `database`, and
    /// returns its path. For a database inside a `dir` entry that is a configuration listing it
    /// alone, as the entry Litestream's directory scan builds for it (`DirMember::database`):
    /// Litestream's `restore`, `ltx`, `status` and `reset` find databases by `path:` entries
    /// only. One file per database, so two commands on two databases never swap files under
    /// each other; mode 0600, like the project's, since it holds the same secrets.
    pub fn write_config_for(
        &self,
        database: &Path,
        env: &Env,
        options: Generate,
    ) -> Result<PathBuf, ConfigError> {
        let Some(member) = self.dir_member(database)? else {
            let path = self.config_path();
            self.write_config(&path, env, options)?;
            return Ok(path);
        };
        let text = member.path.to_string_lossy();
        let refused = |problem: String, help: &str| ConfigError::Argument { problem, help: help.to_owned() };
        if !options.no_expand_env && crate::go_expand(&text, env) != text {
            return Err(refused(
                format!(
                    "`{text}` holds `$`, which Litestream would expand as a variable in the configuration naming it"
                ),
                "rename the file, or pass -no-expand-env",
            ));
        }
        crate::project::refuse_unreplicable_file(&member.path)
            .map_err(|(problem, help)| refused(problem, &help))?;
        let path = self.member_config_path(&member.path);
        let tree = self.config_tree(&[member.database()], env, options)?;
        let Ok(yaml) = yaml::to_string(&toml::Value::Table(tree));
        let dir = path.parent().unwrap_or(&self.state_dir);
        create_private_dir(dir).map_err(|source| ConfigError::Write { path: dir.to_path_buf(), source })?;
        fsutil::write_private(&path, yaml.as_bytes())
            .map_err(|source| ConfigError::Write { path: path.clone(), source })?;
        Ok(path)
    }

    fn config_tree(
        &self,
        databases: &[Database],
        env: &Env,
        options: Generate,
    ) -> Result<toml::Table, ConfigError> {
        let mut config = self.globals.clone();
        if options.omit_exec {
            config.remove("exec");
        }

        let logging = table_entry(&mut config, "logging");
        logging.entry("stderr").or_insert(toml::Value::Boolean(true));

        let socket_path = self.socket_path(env);
        let socket = table_entry(&mut config, "socket");
        socket.entry("enabled").or_insert(toml::Value::Boolean(true));
        socket.entry("path").or_insert_with(|| display(&socket_path).into());

        let uses_env_s3 = databases.iter().any(|db| db.replica_origin == ReplicaOrigin::EnvironmentS3);
        if uses_env_s3 && !options.no_expand_env {
            for (key, var) in [
                ("access-key-id", "$LITESTREAM_ACCESS_KEY_ID"),
                ("secret-access-key", "$LITESTREAM_SECRET_ACCESS_KEY"),
            ] {
                config.entry(key).or_insert_with(|| var.into());
            }
        }

        let mut dbs = Vec::with_capacity(databases.len());
        for db in databases {
            let mut entry = toml::Table::new();
            match &db.location {
                Location::File(path) => entry.insert("path".into(), display(path).into()),
                Location::Dir(dir) => entry.insert("dir".into(), display(dir).into()),
            };
            entry.extend(db.options.clone());
            let mut replica = db.replica.clone();
            if options.no_expand_env
                && db.replica_origin == ReplicaOrigin::EnvironmentS3
                && let Some(bucket) = replica.get_mut("bucket")
            {
                let value = env.non_empty("LITESTREAM_REPLICA_BUCKET").ok_or_else(|| ConfigError::Argument {
                        problem: format!("`{}` uses the default S3 replica but LITESTREAM_REPLICA_BUCKET is not set", db.name()),
                        help: "set it (with -no-expand-env, Litestream cannot expand it itself), or configure a `replica`".to_owned(),
                    })?;
                *bucket = value.into();
            }
            entry.insert("replica".into(), replica.into());
            dbs.push(toml::Value::Table(entry));
        }
        config.insert("dbs".into(), dbs.into());
        Ok(config)
    }

    /// The generated configuration as YAML; secrets replaced by `<redacted>` when `redact`.
    pub fn config_yaml(&self, env: &Env, options: Generate, redact: bool) -> Result<String, ConfigError> {
        let mut config = toml::Value::Table(self.litestream_config(env, options)?);
        if redact {
            redact_secrets(&mut config);
        }
        let Ok(yaml) = yaml::to_string(&config);
        Ok(yaml)
    }

    /// Writes the generated configuration to `path` (mode 0600, atomically), creating the
    /// socket's folder too so Litestream can bind it.
    pub fn write_config(&self, path: &Path, env: &Env, options: Generate) -> Result<(), ConfigError> {
        let text = self.config_yaml(env, options, false)?;
        fsutil::write_private(path, text.as_bytes())
            .map_err(|source| ConfigError::Write { path: path.to_path_buf(), source })?;
        if self.socket_enabled()
            && let Some(dir) = self.socket_path(env).parent()
        {
            create_private_dir(dir)
                .map_err(|source| ConfigError::Write { path: dir.to_path_buf(), source })?;
        }
        Ok(())
    }
}

fn table_entry<'a>(config: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
    let value = config.entry(key).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !value.is_table() {
        *value = toml::Value::Table(toml::Table::new());
    }
    value.as_table_mut().expect("made a table above")
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Replaces literal secrets with `<redacted>`; `$VAR` references are kept (they reveal nothing),
/// and passwords inside URLs are hidden.
pub fn redact_secrets(value: &mut toml::Value) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table.iter_mut() {
                match value {
                    toml::Value::String(text) if SECRET_KEYS.contains(&key.as_str()) => {
                        if !is_env_reference(text) && !text.is_empty() {
                            *text = "<redacted>".to_owned();
                        }
                    }
                    // A ping URL's path is its secret (`https://hc-ping.com/<uuid>`).
                    toml::Value::String(text) if key == "heartbeat-url" && !is_env_reference(text) => {
                        if let Some((scheme, rest)) = text.split_once("://") {
                            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
                            if rest.len() > host.len() {
                                *text = format!("{scheme}://{host}/<redacted>");
                            }
                        }
                    }
                    toml::Value::String(text) if text.contains(['@', '?']) && text.contains("://") => {
                        if let Some(redacted) = redacted_url(text) {
                            *text = redacted;
                        }
                    }
                    other => redact_secrets(other),
                }
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

/// `$NAME` or `${NAME}` and nothing else.
pub fn is_env_reference(text: &str) -> bool {
    let name = match text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
        Some(name) => name,
        None => match text.strip_prefix('$') {
            Some(name) => name,
            None => return false,
        },
    };
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `sftp://user:secret@host/p` → `sftp://user:<redacted>@host/p`; query parameters named like
/// secrets are redacted too.
pub fn redact_url_password(text: &str) -> String {
    redacted_url(text).unwrap_or_else(|| text.to_owned())
}

/// Why Litestream cannot take `url` as typed: a password holding a raw `/`, `?` or `#`
/// (`sftp://me:pa/ss@host/db`), which Go's URL parser splits at, then prints, password and all,
/// in its error. `None` for every other URL.
pub fn raw_password_problem(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let first_segment_end = rest.find(['/', '?', '#'])?;
    let at = rest.rfind('@')?;
    (at > first_segment_end && rest[..first_segment_end].contains(':')).then(|| {
        format!(
            "the password in {} holds a raw `/`, `?` or `#`, which Litestream cannot parse (and would print in its \
             error): percent-encode them (%2F, %3F, %23), or pass the password through the replica's own key or an \
             environment variable",
            redact_url_password(url)
        )
    })
}

/// [`redact_url_password`], `None` when there is nothing to redact (most URLs: no copy made).
fn redacted_url(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://")?;
    if !rest.contains(['@', '?']) {
        return None;
    }
    // A password typed raw may hold `/`, `?` or `#` (`sftp://me:pa/ss@host/db`): when the first
    // segment has the `user:` part and an `@` follows, the authority ends after the last `@`.
    let first_segment_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority_end = match rest.rfind('@') {
        Some(at) if at > first_segment_end && rest[..first_segment_end].contains(':') => {
            at + rest[at..].find(['/', '?', '#']).unwrap_or(rest.len() - at)
        }
        _ => first_segment_end,
    };
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, password)) if !is_env_reference(password) => format!("{user}:<redacted>@{host}"),
            _ => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) if is_secret_parameter(k) && !is_env_reference(v) => {
                        format!("{k}=<redacted>")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    let redacted = format!("{scheme}://{authority}{tail}");
    (redacted != text).then_some(redacted)
}

fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace(['-', '_'], "");
    ["secret", "password", "token", "sig", "key"].iter().any(|s| name.contains(s)) && name != "keypath"
}

/// FNV-1a: a stable, dependency-free hash for naming the fallback socket folder.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {

    #[test]
    fn raw_passwords_and_ping_urls_are_redacted() {
        for (url, hidden) in [
            ("sftp://me:pa/ss@host:22/db", "pa/ss"),
            ("sftp://me:p?w#x@host/db", "p?w#x"),
            ("webdav://u:plain@host/db", "plain"),
            ("s3://b/p?secret-access-key=abc&region=x", "abc"),
        ] {
            let redacted = redact_url_password(url);
            assert!(!redacted.contains(hidden) && redacted.contains("<redacted>"), "{url} → {redacted}");
        }
        assert_eq!(redact_url_password("sftp://me:pa/ss@host:22/db"), "sftp://me:<redacted>@host:22/db");
        assert_eq!(redact_url_password("s3://bucket/path/app.db"), "s3://bucket/path/app.db");
        assert_eq!(redact_url_password("sftp://me:$PW@host/db"), "sftp://me:$PW@host/db");

        let mut table =
            toml::Value::Table(toml::toml! { heartbeat-url = "https://hc-ping.com/0f3c-uuid-secret" });
        redact_secrets(&mut table);
        assert_eq!(table["heartbeat-url"].as_str(), Some("https://hc-ping.com/<redacted>"));
        let mut table = toml::Value::Table(toml::toml! { heartbeat-url = "$PING_URL" });
        redact_secrets(&mut table);
        assert_eq!(table["heartbeat-url"].as_str(), Some("$PING_URL"));
    }

    use super::*;

    #[test]
    fn env_references() {
        assert!(is_env_reference("$AWS_SECRET"));
        assert!(is_env_reference("${AWS_SECRET}"));
        assert!(!is_env_reference("abc$X"));
        assert!(!is_env_reference("$"));
        assert!(!is_env_reference("${1A}"));
    }

    #[test]
    fn url_passwords() {
        assert_eq!(redact_url_password("sftp://lt:pw@127.0.0.1:22/p"), "sftp://lt:<redacted>@127.0.0.1:22/p");
        assert_eq!(redact_url_password("sftp://lt@h/p"), "sftp://lt@h/p");
        assert_eq!(redact_url_password("webdav://u:$PASS@h/p"), "webdav://u:$PASS@h/p");
        assert_eq!(
            redact_url_password("https://hc.io/ping?token=abc&x=1"),
            "https://hc.io/ping?token=<redacted>&x=1"
        );
        assert_eq!(redact_url_password("/not/a/url"), "/not/a/url");
    }
}
