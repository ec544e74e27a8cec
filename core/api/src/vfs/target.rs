//! `[package.metadata.litestream.vfs]` entries → replica URLs the VFS accepts.
//!
//! The VFS takes one URL per connection (`replica_url=`), parsed by Litestream's URL factories,
//! and reads credentials from its process environment. So a database's replica table becomes a
//! URL plus the environment variables a VFS process needs; whatever a URL cannot carry (an SSE-C
//! key, an sftp key file or pinned host key, NATS tokens, an Azure endpoint) is refused with the
//! reason, rather than silently dropped.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cargo_litestream_config::go_expand as expand;
use cargo_litestream_config::{Env, Project, TomlTable, TomlValue, redact_url_password, url_scheme};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// One VFS replica from the configuration, ready to open.
#[derive(Clone, Debug)]
pub struct VfsTarget {
    /// The alias in `[package.metadata.litestream.vfs]`.
    pub alias: String,
    /// The replica URL handed to the VFS (may hold a password: show [`VfsTarget::display_url`]).
    pub url: String,
    /// Environment variables the VFS needs for this replica (credentials). The VFS reads its
    /// environment once, when it is loaded, so these only help a process started with them.
    pub env: Vec<(String, String)>,
    /// Where the URL came from.
    pub source: TargetSource,
}

/// How a VFS alias names its replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSource {
    /// A replica URL written in the `vfs` table.
    Url,
    /// A database alias: that database's configured replica.
    Database { alias: String, path: PathBuf },
}

impl VfsTarget {
    /// The URL with any password replaced by `<redacted>`.
    pub fn display_url(&self) -> String {
        redact_url_password(&self.url)
    }
}

/// Why a VFS alias gives no replica to open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VfsTargetError {
    #[error("`{alias}` is not a VFS alias: no [package.metadata.litestream.vfs] table is configured")]
    NoTable { alias: String },
    #[error("`{alias}` is not a VFS alias; configured: {configured}")]
    UnknownAlias { alias: String, configured: String },
    /// A `file://` URL whose first word Litestream reads as a host.
    #[error(
        "`vfs.{alias}`: `{target}` means `/{meant}` to Litestream (the first word is read as a host); write \
         file:///absolute/path"
    )]
    RelativeFileUrl { alias: String, target: String, meant: String },
    /// Neither a URL nor a database alias.
    #[error(
        "`vfs.{alias}`: `{target}` is neither a replica URL (s3://…, file:///…) nor a database alias (aliases: {known})"
    )]
    NotAliasOrUrl { alias: String, target: String, known: String },
    /// A database alias whose database no `dbs` entry replicates.
    #[error(
        "`vfs.{alias}`: the database `{target}` is not replicated (it is not in `dbs`), so it has no replica to read"
    )]
    NotReplicated { alias: String, target: String },
    /// The database's replica cannot be read through the VFS.
    #[error("`vfs.{alias}` (the replica of `{target}`): {why}")]
    Replica { alias: String, target: String, why: ReplicaUrlError },
}

/// Resolves every entry of the `vfs` table, in order; each one on its own, so one bad entry
/// does not hide the others.
pub fn vfs_targets(project: &Project, env: &Env) -> Vec<(String, Result<VfsTarget, VfsTargetError>)> {
    project.vfs.iter().map(|(alias, target)| (alias.clone(), resolve(project, env, alias, target))).collect()
}

/// The VFS alias `alias` of the project.
pub fn vfs_target(project: &Project, env: &Env, alias: &str) -> Result<VfsTarget, VfsTargetError> {
    match project.vfs.iter().find(|(name, _)| name == alias) {
        Some((name, target)) => resolve(project, env, name, target),
        None => {
            let names: Vec<&str> = project.vfs.iter().map(|(n, _)| n.as_str()).collect();
            Err(if names.is_empty() {
                VfsTargetError::NoTable { alias: alias.to_owned() }
            } else {
                VfsTargetError::UnknownAlias { alias: alias.to_owned(), configured: names.join(", ") }
            })
        }
    }
}

fn resolve(project: &Project, env: &Env, alias: &str, target: &str) -> Result<VfsTarget, VfsTargetError> {
    let (alias, target_text) = (alias.to_owned(), target.to_owned());
    if let Some(scheme) = url_scheme(target) {
        let url = expand(target, env);
        if scheme == "file" && !url["file://".len()..].starts_with('/') {
            let meant = url["file://".len()..].to_owned();
            return Err(VfsTargetError::RelativeFileUrl { alias, target: target_text, meant });
        }
        return Ok(VfsTarget { alias, url, env: Vec::new(), source: TargetSource::Url });
    }
    let Some(database_alias) = project.alias(target) else {
        let mut names: Vec<&str> = project.aliases.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        let known = if names.is_empty() { "none are configured".to_owned() } else { names.join(", ") };
        return Err(VfsTargetError::NotAliasOrUrl { alias, target: target_text, known });
    };
    let Some(database) = project.database(&database_alias.path) else {
        return Err(VfsTargetError::NotReplicated { alias, target: target_text });
    };
    let (url, vars) = match replica_url(&database.replica, &project.globals, env) {
        Ok(resolved) => resolved,
        Err(why) => return Err(VfsTargetError::Replica { alias, target: target_text, why }),
    };
    Ok(VfsTarget {
        alias,
        url,
        env: vars,
        source: TargetSource::Database { alias: target_text, path: database_alias.path.clone() },
    })
}

/// Replica settings that only matter for writing or for the daemon: a reader ignores them.
const WRITE_ONLY: &[&str] = &[
    "sync-interval",
    "max-sync-ltx-files",
    "auto-recover",
    "storage-class",
    "part-size",
    "concurrency",
    "concurrent-writes",
    "sse-kms-key-id",
    "sse-customer-algorithm",
    "max-reconnects",
    "reconnect-wait",
    "timeout",
    "name",
    "validation-interval",
];

/// Replica settings that may also be written at the top level, as defaults for every replica.
const DEFAULTABLE: &[&str] = &[
    "access-key-id",
    "secret-access-key",
    "region",
    "bucket",
    "endpoint",
    "force-path-style",
    "sign-payload",
    "require-content-md5",
    "skip-verify",
    "sse-customer-key",
    "sse-customer-key-path",
    "account-name",
    "account-key",
    "sas-token",
    "host",
    "user",
    "password",
    "key-path",
    "host-key",
    "webdav-url",
    "webdav-username",
    "webdav-password",
    "jwt",
    "seed",
    "creds",
    "nkey",
    "username",
    "token",
    "tls",
    "root-cas",
    "client-cert",
    "client-key",
];

/// Why a replica table gives no VFS URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaUrlError {
    #[error(
        "`{kind}` replicas cannot be read through the VFS by cargo-litestream; give the vfs alias an explicit replica URL"
    )]
    UnsupportedType { kind: String },
    /// A setting the URL needs is missing (or expands to nothing).
    #[error("the {kind} replica has no `{key}` (or it expands to nothing)")]
    Missing { kind: String, key: &'static str },
    /// Settings that matter for reading and that a VFS URL cannot carry.
    #[error(
        "{} of this {kind} replica cannot be given to the VFS ({reason}); give the vfs alias an explicit replica URL",
        backticked(keys)
    )]
    Uncarried { kind: String, keys: Vec<String>, reason: &'static str },
    #[error("the file replica path `{path}` is not absolute")]
    RelativeFilePath { path: String },
    /// Litestream re-escapes the path of a file URL and then opens the escaped text.
    #[error(
        "the VFS cannot open a file replica whose path `{path}` has spaces, `%`, `?`, `#` or non-ASCII characters; move the replica"
    )]
    UnreachableFilePath { path: String },
    #[error(
        "the VFS reads an sftp URL's path relative to the login directory, so the absolute path `{path}` cannot be expressed; give the vfs alias an explicit sftp:// URL"
    )]
    AbsoluteSftpPath { path: String },
    #[error("`webdav-url` `{url}` is not an http:// or https:// URL")]
    WebdavScheme { url: String },
    #[error("`webdav-password` without `webdav-username`")]
    WebdavPasswordAlone,
    #[error("the nats replica names no bucket (in `url` or `bucket`)")]
    NatsBucket,
}

fn backticked(keys: &[String]) -> String {
    keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

/// A replica table (with the top-level defaults under it) as a VFS URL and the environment the
/// VFS needs. `$VAR`s are expanded from `env`, as Litestream expands them from its own.
pub fn replica_url(
    replica: &TomlTable,
    globals: &TomlTable,
    env: &Env,
) -> Result<(String, Vec<(String, String)>), ReplicaUrlError> {
    let mut settings: BTreeMap<String, String> = BTreeMap::new();
    for key in DEFAULTABLE {
        if let Some(value) = globals.get(*key).and_then(|v| scalar(v, env)) {
            settings.insert((*key).to_owned(), value);
        }
    }
    for (key, value) in replica {
        // A list (`root-cas`) or table cannot go into a URL: kept as a marker, refused below.
        let text = scalar(value, env).unwrap_or_else(|| String::from("<list>"));
        settings.insert(key.clone(), text);
    }
    let mut reader = Reader { settings };
    let url = reader.take("url");
    let kind = match (reader.take("type"), &url) {
        (Some(kind), _) => kind.to_ascii_lowercase(),
        (None, Some(url)) => url_scheme(url).unwrap_or("file").to_ascii_lowercase(),
        (None, None) => "file".to_owned(),
    };
    let mut vars = Vec::new();
    let url = match kind.as_str() {
        "file" => file_url(&mut reader, url)?,
        "s3" => s3_url(&mut reader, url, env, &mut vars)?,
        "gs" => match url {
            Some(url) => url,
            None => format!("gs://{}/{}", reader.required("bucket", "gs")?, encode_path(&reader.path())),
        },
        "abs" => abs_url(&mut reader, url, &mut vars)?,
        "sftp" => sftp_url(&mut reader, url)?,
        "webdav" => webdav_url(&mut reader, url)?,
        "nats" => nats_url(&mut reader, url)?,
        other => return Err(ReplicaUrlError::UnsupportedType { kind: other.to_owned() }),
    };
    reader.finish(&kind)?;
    Ok((url, vars))
}

struct Reader {
    settings: BTreeMap<String, String>,
}

impl Reader {
    fn take(&mut self, key: &str) -> Option<String> {
        self.settings.remove(key).filter(|v| !v.is_empty())
    }

    fn flag(&mut self, key: &str) -> Option<bool> {
        self.take(key).map(|v| v.eq_ignore_ascii_case("true"))
    }

    fn required(&mut self, key: &'static str, kind: &str) -> Result<String, ReplicaUrlError> {
        self.take(key).ok_or_else(|| ReplicaUrlError::Missing { kind: kind.to_owned(), key })
    }

    fn path(&mut self) -> String {
        self.take("path").unwrap_or_default().trim_matches('/').to_owned()
    }

    /// Refuses what is left and matters for reading.
    fn finish(self, kind: &str) -> Result<(), ReplicaUrlError> {
        let left: Vec<String> =
            self.settings.into_keys().filter(|k| !WRITE_ONLY.contains(&k.as_str())).collect();
        if left.is_empty() {
            return Ok(());
        }
        let reason = match left.iter().map(String::as_str).find(|k| SPECIFIC.iter().any(|(key, _)| key == k))
        {
            Some(key) => SPECIFIC.iter().find(|(k, _)| *k == key).map(|(_, why)| *why).unwrap_or_default(),
            None => "a VFS replica URL cannot carry it",
        };
        Err(ReplicaUrlError::Uncarried { kind: kind.to_owned(), keys: left, reason })
    }
}

/// Why particular settings cannot reach the VFS.
const SPECIFIC: &[(&str, &str)] = &[
    ("sse-customer-key", "reading SSE-C objects needs the key, which a replica URL cannot carry"),
    ("sse-customer-key-path", "reading SSE-C objects needs the key, which a replica URL cannot carry"),
    ("key-path", "a replica URL authenticates sftp with a password only"),
    ("host-key", "a replica URL cannot pin the sftp host key, and the VFS would connect without checking it"),
    ("endpoint", "an abs:// URL has no endpoint: the VFS always connects to <account>.blob.core.windows.net"),
];

fn file_url(reader: &mut Reader, url: Option<String>) -> Result<String, ReplicaUrlError> {
    let path = match url {
        Some(url) => {
            url.strip_prefix("file://").unwrap_or(&url).split(['?', '#']).next().unwrap_or("").to_owned()
        }
        None => reader.required("path", "file")?,
    };
    if !path.starts_with('/') {
        return Err(ReplicaUrlError::RelativeFilePath { path });
    }
    // Litestream re-escapes the path of a file URL and then opens the escaped text: a path that
    // needs escaping cannot be reached.
    if path.chars().any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii() || "%?#".contains(c)) {
        return Err(ReplicaUrlError::UnreachableFilePath { path });
    }
    Ok(format!("file://{path}"))
}

fn s3_url(
    reader: &mut Reader,
    url: Option<String>,
    env: &Env,
    vars: &mut Vec<(String, String)>,
) -> Result<String, ReplicaUrlError> {
    let (base, mut query) = match url {
        Some(url) => {
            let (base, query) = split_query(&url);
            (base.to_owned(), parse_query(query))
        }
        None => {
            let bucket = reader.required("bucket", "s3")?;
            (format!("s3://{bucket}/{}", encode_path(&reader.path())), Vec::new())
        }
    };
    let mut set = |name: &str, value: String| {
        query.retain(|(k, _)| !k.eq_ignore_ascii_case(name) && *k != kebab(name));
        query.push((name.to_owned(), value));
    };
    if let Some(endpoint) = reader.take("endpoint") {
        set("endpoint", endpoint);
    }
    if let Some(region) = reader.take("region") {
        set("region", region);
    }
    for (key, name) in [
        ("force-path-style", "forcePathStyle"),
        ("skip-verify", "skipVerify"),
        ("sign-payload", "signPayload"),
        ("require-content-md5", "requireContentMD5"),
    ] {
        if let Some(value) = reader.flag(key) {
            set(name, value.to_string());
        }
    }
    // As litestream does at start-up: the `LITESTREAM_*` pair stands in for unset `AWS_*` ones.
    for (key, var, fallback) in [
        ("access-key-id", "AWS_ACCESS_KEY_ID", "LITESTREAM_ACCESS_KEY_ID"),
        ("secret-access-key", "AWS_SECRET_ACCESS_KEY", "LITESTREAM_SECRET_ACCESS_KEY"),
    ] {
        let value = reader.take(key).or_else(|| {
            env.non_empty(var).is_none().then(|| env.non_empty(fallback).map(str::to_owned)).flatten()
        });
        if let Some(value) = value {
            vars.push((var.to_owned(), value));
        }
    }
    if query.is_empty() {
        return Ok(base);
    }
    let query: Vec<String> =
        query.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE))).collect();
    Ok(format!("{base}?{}", query.join("&")))
}

/// `forcePathStyle` → `force-path-style` (Litestream's URL parser accepts both).
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn abs_url(
    reader: &mut Reader,
    url: Option<String>,
    vars: &mut Vec<(String, String)>,
) -> Result<String, ReplicaUrlError> {
    let url = match url {
        Some(url) => url,
        None => {
            let container = reader.required("bucket", "abs")?;
            let account = reader.required("account-name", "abs")?;
            format!("abs://{}@{container}/{}", encode_userinfo(&account), encode_path(&reader.path()))
        }
    };
    if let Some(key) = reader.take("account-key") {
        vars.push(("LITESTREAM_AZURE_ACCOUNT_KEY".to_owned(), key));
    }
    if let Some(token) = reader.take("sas-token") {
        vars.push(("LITESTREAM_AZURE_SAS_TOKEN".to_owned(), token));
    }
    Ok(url)
}

fn sftp_url(reader: &mut Reader, url: Option<String>) -> Result<String, ReplicaUrlError> {
    if let Some(url) = url {
        return Ok(url);
    }
    let host = reader.required("host", "sftp")?;
    let user = reader.required("user", "sftp")?;
    let path = reader.take("path").unwrap_or_default();
    if path.starts_with('/') {
        return Err(ReplicaUrlError::AbsoluteSftpPath { path });
    }
    let userinfo = match reader.take("password") {
        Some(password) => format!("{}:{}", encode_userinfo(&user), encode_userinfo(&password)),
        None => encode_userinfo(&user),
    };
    Ok(format!("sftp://{userinfo}@{host}/{}", encode_path(path.trim_matches('/'))))
}

fn webdav_url(reader: &mut Reader, url: Option<String>) -> Result<String, ReplicaUrlError> {
    if let Some(url) = url {
        return Ok(url);
    }
    let endpoint = reader.required("webdav-url", "webdav")?;
    let (scheme, rest) = match endpoint.split_once("://") {
        Some(("https", rest)) => ("webdavs", rest),
        Some(("http", rest)) => ("webdav", rest),
        _ => return Err(ReplicaUrlError::WebdavScheme { url: endpoint }),
    };
    let (host, base) = rest.split_once('/').unwrap_or((rest, ""));
    let userinfo = match (reader.take("webdav-username"), reader.take("webdav-password")) {
        (Some(user), Some(password)) => format!("{}:{}@", encode_userinfo(&user), encode_userinfo(&password)),
        (Some(user), None) => format!("{}@", encode_userinfo(&user)),
        (None, Some(_)) => return Err(ReplicaUrlError::WebdavPasswordAlone),
        (None, None) => String::new(),
    };
    let path = [base.trim_matches('/'), reader.path().as_str()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    Ok(format!("{scheme}://{userinfo}{host}/{}", encode_path(&path)))
}

fn nats_url(reader: &mut Reader, url: Option<String>) -> Result<String, ReplicaUrlError> {
    // Litestream's NATS client ignores `path`: the object store bucket is the whole location.
    let _ = reader.take("path");
    let (host, url_bucket) = match url.as_deref().map(|u| u.strip_prefix("nats://").unwrap_or(u)) {
        Some(rest) => {
            let rest = rest.split(['?', '#']).next().unwrap_or_default();
            let (authority, bucket) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h).to_owned();
            let userinfo = authority.rsplit_once('@').map(|(u, _)| u.to_owned());
            if let Some(userinfo) = userinfo {
                let (user, password) = userinfo.split_once(':').unwrap_or((&userinfo, ""));
                reader.settings.entry("username".into()).or_insert_with(|| user.to_owned());
                if !password.is_empty() {
                    reader.settings.entry("password".into()).or_insert_with(|| password.to_owned());
                }
            }
            (host, bucket.trim_matches('/').to_owned())
        }
        None => ("127.0.0.1:4222".to_owned(), String::new()),
    };
    let bucket = match (url_bucket.is_empty(), reader.take("bucket")) {
        (false, _) => url_bucket,
        (true, Some(bucket)) => bucket,
        (true, None) => return Err(ReplicaUrlError::NatsBucket),
    };
    let userinfo = match (reader.take("username"), reader.take("password")) {
        (Some(user), Some(password)) => format!("{}:{}@", encode_userinfo(&user), encode_userinfo(&password)),
        (Some(user), None) => format!("{}@", encode_userinfo(&user)),
        (None, _) => String::new(),
    };
    Ok(format!("nats://{userinfo}{host}/{}", encode_path(&bucket)))
}

/// A TOML scalar as text with `$VAR`s expanded; `None` for lists and tables.
fn scalar(value: &TomlValue, env: &Env) -> Option<String> {
    match value {
        TomlValue::String(text) => Some(expand(text, env)),
        TomlValue::Boolean(b) => Some(b.to_string()),
        TomlValue::Integer(i) => Some(i.to_string()),
        TomlValue::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

fn split_query(url: &str) -> (&str, &str) {
    let url = url.split('#').next().unwrap_or(url);
    url.split_once('?').unwrap_or((url, ""))
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
        })
        .collect()
}

/// Characters escaped in a query value (so an endpoint's `:` and `/` survive as themselves is
/// not needed: Go decodes them either way).
const QUERY_VALUE: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'&').add(b'+').add(b'%').add(b'=');
/// Characters escaped in a path (slashes kept).
const PATH: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'?').add(b'<').add(b'>');
/// Characters escaped in a user name or password.
const USERINFO: &AsciiSet = &PATH.add(b'/').add(b':').add(b'@').add(b'&').add(b'=').add(b'+');

fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, PATH).to_string()
}

fn encode_userinfo(text: &str) -> String {
    utf8_percent_encode(text, USERINFO).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> TomlTable {
        text.parse().unwrap()
    }

    fn url(replica: &str) -> Result<(String, Vec<(String, String)>), String> {
        replica_url(&table(replica), &TomlTable::new(), &Env::empty("/").with("BUCKET", "bkt"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_unsupported_type_is_its_own_error_with_the_old_text() {
        let error = replica_url(&table("type = 'ftp'"), &TomlTable::new(), &Env::empty("/")).unwrap_err();
        assert_eq!(error, ReplicaUrlError::UnsupportedType { kind: "ftp".to_owned() });
        assert_eq!(
            error.to_string(),
            "`ftp` replicas cannot be read through the VFS by cargo-litestream; give the vfs alias an explicit replica URL"
        );
        let missing = replica_url(&table("type = 'gs'"), &TomlTable::new(), &Env::empty("/")).unwrap_err();
        assert!(matches!(&missing, ReplicaUrlError::Missing { key: "bucket", .. }), "{missing:?}");
    }

    /// Each replica table no VFS URL can express is refused with its own variant.
    #[test]
    fn replica_tables_the_vfs_cannot_read() {
        let refused =
            |replica: &str| replica_url(&table(replica), &TomlTable::new(), &Env::empty("/")).unwrap_err();
        assert!(matches!(refused("type = 'file'"), ReplicaUrlError::Missing { key: "path", .. }));
        assert!(matches!(refused("type = 'file'\npath = 'rel/x'"), ReplicaUrlError::RelativeFilePath { .. }));
        assert!(matches!(
            refused("type = 'file'\npath = '/a b'"),
            ReplicaUrlError::UnreachableFilePath { .. }
        ));
        let sftp = refused("type = 'sftp'\nhost = 'h'\nuser = 'u'\npath = '/abs'");
        assert!(matches!(sftp, ReplicaUrlError::AbsoluteSftpPath { .. }), "{sftp}");
        let webdav = refused("type = 'webdav'\nwebdav-url = 'ftp://h'");
        assert!(matches!(webdav, ReplicaUrlError::WebdavScheme { .. }), "{webdav}");
        let webdav = refused("type = 'webdav'\nwebdav-url = 'https://h'\nwebdav-password = 'p'");
        assert!(matches!(webdav, ReplicaUrlError::WebdavPasswordAlone), "{webdav}");
        assert!(matches!(refused("type = 'nats'"), ReplicaUrlError::NatsBucket));
        let sse = refused("type = 's3'\nbucket = 'b'\nsse-customer-key = 'k'");
        assert!(
            matches!(&sse, ReplicaUrlError::Uncarried { keys, .. } if keys == &["sse-customer-key"]),
            "{sse}"
        );
        assert!(
            sse.to_string().starts_with("`sse-customer-key` of this s3 replica cannot be given to the VFS"),
            "{sse}"
        );
    }

    /// Each way a `vfs` entry can name nothing readable is its own variant, saying which entry.
    #[test]
    fn entries_that_name_no_readable_replica() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\n\n[package.metadata.litestream]\nreplica = \"replica\"\n\
             dbs = [\"main\"]\n\n[package.metadata.litestream.databases]\nmain = \"app.db\"\nspare = \"spare.db\"\n\n\
             [package.metadata.litestream.vfs]\nrelative = \"file://srv/replica\"\ntypo = \"mian\"\nspare = \"spare\"\n\
             main = \"main\"\n",
        )
        .unwrap();
        let env = Env::capture().unwrap();
        let project =
            Project::load(Some(&dir.path().join("Cargo.toml")), &env).unwrap_or_else(|e| panic!("{e}"));
        let relative = vfs_target(&project, &env, "relative").unwrap_err();
        assert!(matches!(&relative, VfsTargetError::RelativeFileUrl { meant, .. } if meant == "srv/replica"));
        assert!(
            relative.to_string().starts_with("`vfs.relative`: `file://srv/replica` means `/srv/replica`")
        );
        let typo = vfs_target(&project, &env, "typo").unwrap_err();
        assert!(
            matches!(&typo, VfsTargetError::NotAliasOrUrl { known, .. } if known == "main, spare"),
            "{typo}"
        );
        let spare = vfs_target(&project, &env, "spare").unwrap_err();
        assert!(matches!(spare, VfsTargetError::NotReplicated { .. }), "{spare}");
        assert!(vfs_target(&project, &env, "main").is_ok());
        let unknown = vfs_target(&project, &env, "nope").unwrap_err();
        assert!(matches!(unknown, VfsTargetError::UnknownAlias { .. }), "{unknown}");
    }

    #[test]
    fn file_replicas() {
        assert_eq!(
            url("type = 'file'\npath = '/srv/backups/app.db'").unwrap().0,
            "file:///srv/backups/app.db"
        );
        assert!(url("type = 'file'\npath = '/srv/my backups'").unwrap_err().contains("spaces"));
        assert!(url("path = 'relative'").unwrap_err().contains("not absolute"));
    }

    #[test]
    fn s3_tables_become_urls_and_credentials() {
        let (u, vars) =
            url("type = 's3'\nbucket = '$BUCKET'\npath = 'dbs/app.db'\nendpoint = 'http://127.0.0.1:9000'\n\
             region = 'us-east-1'\nforce-path-style = true\naccess-key-id = 'id'\nsecret-access-key = 'pw'\n\
             sync-interval = '1s'")
            .unwrap();
        assert_eq!(
            u,
            "s3://bkt/dbs/app.db?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true"
        );
        assert_eq!(
            vars,
            [("AWS_ACCESS_KEY_ID".into(), "id".into()), ("AWS_SECRET_ACCESS_KEY".into(), "pw".into())]
        );
    }

    #[test]
    fn s3_urls_get_table_settings_as_query() {
        let (u, _) =
            url("url = 's3://b/p/app.db?region=x&endpoint=http%3A%2F%2Fh%3A1'\nregion = 'y'").unwrap();
        assert_eq!(u, "s3://b/p/app.db?endpoint=http://h:1&region=y");
    }

    #[test]
    fn litestream_credentials_stand_in_for_unset_aws_ones() {
        let env = Env::empty("/")
            .with("LITESTREAM_ACCESS_KEY_ID", "lid")
            .with("LITESTREAM_SECRET_ACCESS_KEY", "ls");
        let (_, vars) = replica_url(&table("type = 's3'\nbucket = 'b'"), &TomlTable::new(), &env).unwrap();
        assert_eq!(
            vars,
            [("AWS_ACCESS_KEY_ID".into(), "lid".into()), ("AWS_SECRET_ACCESS_KEY".into(), "ls".into())]
        );
        let env = env.with("AWS_ACCESS_KEY_ID", "aid").with("AWS_SECRET_ACCESS_KEY", "as");
        let (_, vars) = replica_url(&table("type = 's3'\nbucket = 'b'"), &TomlTable::new(), &env).unwrap();
        assert!(vars.is_empty(), "{vars:?}");
    }

    #[test]
    fn globals_are_defaults() {
        let mut globals = TomlTable::new();
        globals.insert("region".into(), "eu".into());
        globals.insert("addr".into(), ":9090".into());
        let (u, _) =
            replica_url(&table("type = 's3'\nbucket = 'b'\npath = 'x'"), &globals, &Env::empty("/")).unwrap();
        assert_eq!(u, "s3://b/x?region=eu");
    }

    #[test]
    fn what_a_url_cannot_carry_is_refused() {
        let e = url("type = 's3'\nbucket = 'b'\nsse-customer-key = 'k'").unwrap_err();
        assert!(e.contains("sse-customer-key") && e.contains("SSE-C"), "{e}");
        let e = url("type = 'sftp'\nhost = 'h:22'\nuser = 'u'\nkey-path = '/k'\npath = 'p'").unwrap_err();
        assert!(e.contains("key-path"), "{e}");
        let e = url("type = 'sftp'\nhost = 'h:22'\nuser = 'u'\nhost-key = 'ssh-ed25519 AAAA'\npath = 'p'")
            .unwrap_err();
        assert!(e.contains("host key"), "{e}");
        let e = url("type = 'abs'\naccount-name = 'a'\nbucket = 'c'\nendpoint = 'http://127.0.0.1:1'")
            .unwrap_err();
        assert!(e.contains("endpoint"), "{e}");
        let e = url("type = 'nats'\nurl = 'nats://h:4222/b'\ntoken = 't'").unwrap_err();
        assert!(e.contains("`token`"), "{e}");
        assert!(url("type = 'oss'\nbucket = 'b'").unwrap_err().contains("oss"));
    }

    #[test]
    fn other_backends() {
        let (u, _) =
            url("type = 'sftp'\nhost = 'h:2022'\nuser = 'lt'\npassword = 'p@ss'\npath = 'dbs/app'").unwrap();
        assert_eq!(u, "sftp://lt:p%40ss@h:2022/dbs/app");
        assert_eq!(redact_url_password(&u), "sftp://lt:<redacted>@h:2022/dbs/app");
        let (u, _) = url(
            "type = 'webdav'\nwebdav-url = 'https://dav.example/remote'\nwebdav-username = 'u'\nwebdav-password = 'p'\npath = '/dbs/app'",
        )
        .unwrap();
        assert_eq!(u, "webdavs://u:p@dav.example/remote/dbs/app");
        let (u, _) = url("type = 'nats'\nbucket = 'ltbucket'\npath = 'dbs/app'").unwrap();
        assert_eq!(u, "nats://127.0.0.1:4222/ltbucket");
        let (u, _) = url("type = 'nats'\nurl = 'nats://u:p@h:4222/ltbucket'").unwrap();
        assert_eq!(u, "nats://u:p@h:4222/ltbucket");
        let (u, vars) =
            url("type = 'abs'\naccount-name = 'acct'\nbucket = 'c'\npath = 'p'\naccount-key = 'k'").unwrap();
        assert_eq!(u, "abs://acct@c/p");
        assert_eq!(vars, [("LITESTREAM_AZURE_ACCOUNT_KEY".into(), "k".into())]);
        assert_eq!(url("type = 'gs'\nbucket = 'b'\npath = 'p/app.db'").unwrap().0, "gs://b/p/app.db");
    }
}
