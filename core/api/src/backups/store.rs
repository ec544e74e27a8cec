//! A replica's files, read here rather than through litestream: `file` replicas from their
//! folder, S3 replicas with SigV4-presigned requests (`rusty-s3`, sans-IO) sent by `ureq`, with
//! the endpoint, region, path style and credentials Litestream reads from the same config.
//! Read-only: nothing here writes to a replica.
//!
//! Layout (Litestream 0.5.17): `<path>/ltx/<level>/<min>-<max>.ltx` for `file` replicas
//! (`litestream.LTXFilePath`), `<path>/<level as 4 hex digits>/<min>-<max>.ltx` for S3
//! (`s3.ReplicaClient`). Other backends (GCS, Azure Blob, SFTP, WebDAV, NATS) are not read
//! natively: [`Store::of`] says so, and callers fall back to litestream itself.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cargo_litestream_config::{Env, TomlTable};
use jiff::Timestamp;

use super::ReplicaFile;

/// Where a replica's files are read from.
#[derive(Clone, Debug)]
pub enum Store {
    /// A `file` replica's folder (the one holding `ltx/`).
    Folder(PathBuf),
    S3(Box<S3Location>),
}

/// One LTX file as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    pub file: ReplicaFile,
    /// `<level>/<name>`, as reports show it.
    pub shown: String,
    /// What changes when the file's bytes change without its name and size: the object's ETag,
    /// or the file's modification time and inode.
    pub tag: String,
}

/// What a level folder holds besides LTX files: a name that does not parse, a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stray {
    pub shown: String,
    pub why: String,
}

/// A replica's listing.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<StoredFile>,
    pub strays: Vec<Stray>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{replica}: {problem}")]
    Remote { replica: String, problem: String },
}

/// Why a replica is not read natively (callers then ask litestream).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoNativeStore {
    #[error(
        "an S3 replica without credentials in the configuration or the environment (access-key-id and \
         secret-access-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) is not read natively"
    )]
    S3WithoutCredentials,
    #[error("{kind} replicas are not read natively (file and S3 are)")]
    Kind { kind: String },
    /// A path that Litestream's scan of a `dir` entry would not replicate.
    #[error("not a database of its dir entry")]
    NotDirMember,
    /// A database of the user's own `-config` file, which only litestream reads.
    #[error("a replica named by your own -config file is read by litestream")]
    OwnConfig,
}

impl Store {
    /// The store of the replica `table` (a database's resolved replica table; `globals` the
    /// configuration's top-level keys), or why it cannot be read natively.
    pub fn of(table: &TomlTable, globals: &TomlTable, env: &Env) -> Result<Store, NoNativeStore> {
        if let Some(dir) = cargo_litestream_config::file_replica_dir(table, env) {
            return Ok(Store::Folder(dir));
        }
        if let Some(s3) = S3Location::of(table, globals, env) {
            return Ok(Store::S3(Box::new(s3)));
        }
        let kind = table
            .get("type")
            .and_then(|v| v.as_str())
            .or_else(|| {
                table.get("url").and_then(|v| v.as_str()).and_then(|u| u.split_once("://")).map(|(s, _)| s)
            })
            .unwrap_or("this");
        Err(match kind {
            "s3" => NoNativeStore::S3WithoutCredentials,
            other => NoNativeStore::Kind { kind: other.to_owned() },
        })
    }

    /// `file:///…` or `s3://bucket/path`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Folder(dir) => format!("file://{}", dir.display()),
            Store::S3(s3) => s3.shown.clone(),
        }
    }

    /// Every LTX file of every level, and what else the level folders hold.
    pub fn list(&self) -> Result<Listing, StoreError> {
        match self {
            Store::Folder(dir) => list_folder(dir),
            Store::S3(s3) => s3.list(None),
        }
    }

    /// [`list`](Store::list), every request of a remote listing answered within `timeout` of the
    /// call, or an error: a probe (`check`, the metrics) must not hang on a silent server.
    pub fn list_within(&self, timeout: Duration) -> Result<Listing, StoreError> {
        match self {
            Store::Folder(dir) => list_folder(dir),
            Store::S3(s3) => s3.list(Some(std::time::Instant::now() + timeout)),
        }
    }

    /// The bytes of `file`, streamed.
    pub fn open(&self, file: &StoredFile) -> Result<Box<dyn Read + Send>, StoreError> {
        match self {
            Store::Folder(dir) => {
                let path = folder_path(dir, &file.file);
                let opened = std::fs::File::open(&path).map_err(|source| StoreError::Io { path, source })?;
                Ok(Box::new(opened))
            }
            Store::S3(s3) => s3.get(&s3.key_of(&file.file)),
        }
    }

    /// A `file` replica's path of `file` (an S3 replica's key otherwise, for messages).
    pub(crate) fn path_of(&self, file: &StoredFile) -> PathBuf {
        match self {
            Store::Folder(dir) => folder_path(dir, &file.file),
            Store::S3(s3) => PathBuf::from(s3.key_of(&file.file)),
        }
    }
}

fn folder_path(dir: &Path, file: &ReplicaFile) -> PathBuf {
    dir.join("ltx").join(file.level.to_string()).join(file.name())
}

fn list_folder(dir: &Path) -> Result<Listing, StoreError> {
    let mut listing = Listing::default();
    let ltx = dir.join("ltx");
    let levels = match std::fs::read_dir(&ltx) {
        Ok(levels) => levels,
        // No backup yet: Litestream lists nothing either.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
        Err(source) => return Err(StoreError::Io { path: ltx, source }),
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    for level in levels {
        let level = level.map_err(io(&ltx))?;
        let name = level.file_name().to_string_lossy().into_owned();
        let Some(number) = name.parse::<u8>().ok().filter(|n| *n <= 9 && n.to_string() == name) else {
            listing.strays.push(Stray { shown: name, why: "not a level folder (0-9)".to_owned() });
            continue;
        };
        let path = level.path();
        if !path.is_dir() {
            listing.strays.push(Stray { shown: name, why: "a file where a level folder belongs".to_owned() });
            continue;
        }
        for entry in std::fs::read_dir(&path).map_err(io(&path))? {
            let entry = entry.map_err(io(&path))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let shown = format!("{number}/{file_name}");
            // Litestream writes `<name>.tmp` and renames it: an upload in progress.
            if file_name.ends_with(".ltx.tmp") {
                continue;
            }
            let metadata = entry.metadata().map_err(io(&entry.path()))?;
            let parsed = cargo_litestream_ltx::parse_file_name(&file_name);
            match parsed {
                _ if metadata.is_dir() => {
                    listing.strays.push(Stray { shown, why: "a directory inside a level folder".to_owned() })
                }
                None => listing.strays.push(Stray { shown, why: "not an LTX file name".to_owned() }),
                Some((min, max)) => {
                    let created = metadata
                        .modified()
                        .ok()
                        .and_then(|t| Timestamp::try_from(t).ok())
                        .unwrap_or(Timestamp::UNIX_EPOCH);
                    listing.files.push(StoredFile {
                        file: ReplicaFile {
                            level: number,
                            min_txid: min.0,
                            max_txid: max.0,
                            size: metadata.len(),
                            created,
                        },
                        shown,
                        tag: identity(&metadata, created),
                    });
                }
            }
        }
    }
    listing.files.sort_by_key(|f| (f.file.level, f.file.min_txid, f.file.max_txid));
    listing.strays.sort_by(|a, b| a.shown.cmp(&b.shown));
    Ok(listing)
}

/// A file's identity beyond its name and size: modification time, and the inode where there
/// is one (a file replaced by another of the same size and time still differs).
fn identity(metadata: &std::fs::Metadata, modified: Timestamp) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        format!("{}:{}:{}", modified.as_nanosecond(), metadata.ino(), metadata.ctime_nsec())
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        modified.as_nanosecond().to_string()
    }
}

/// An S3 replica: its bucket and key prefix, and the credentials to read there.
#[derive(Clone)]
pub struct S3Location {
    pub(crate) bucket: rusty_s3::Bucket,
    /// The replica's `path`, without slashes around it.
    pub(crate) prefix: String,
    pub(crate) credentials: rusty_s3::Credentials,
    /// `s3://bucket/path`, for messages.
    pub(crate) shown: String,
}

impl std::fmt::Debug for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown) // never the credentials
    }
}

/// How long an S3 request may wait for a connection and for the answer to begin; a file's
/// body may take as long as it takes.
const S3_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a presigned URL lives (a large file's download must start within it).
const PRESIGNED_FOR: Duration = Duration::from_secs(3600);

impl S3Location {
    /// The S3 location of the replica `table`, when it is one with credentials this tool can
    /// use: in the table (or the configuration's top level), `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` (or Litestream's `LITESTREAM_` names for them) in the environment,
    /// or the shared credentials file. An instance role or SSO is not read.
    pub(crate) fn of(table: &TomlTable, globals: &TomlTable, env: &Env) -> Option<S3Location> {
        let get = |key: &str| {
            table
                .get(key)
                .or_else(|| globals.get(key))
                .and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_bool().map(|b| b.to_string())))
                .map(|v| cargo_litestream_config::go_expand(&v, env))
                .filter(|v| !v.is_empty())
        };
        let (mut bucket, mut path, mut endpoint, mut region, mut path_style) = (
            get("bucket"),
            get("path").unwrap_or_default(),
            get("endpoint"),
            get("region"),
            get("force-path-style"),
        );
        match get("url") {
            Some(url) => {
                let rest = url.strip_prefix("s3://")?;
                let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
                let (name, key) = location.split_once('/').unwrap_or((location, ""));
                bucket = Some(name.to_owned());
                path = key.to_owned();
                for pair in query.split('&') {
                    match pair.split_once('=') {
                        Some(("endpoint", v)) => endpoint = Some(v.to_owned()),
                        Some(("region", v)) => region = Some(v.to_owned()),
                        Some(("forcePathStyle", v)) => path_style = Some(v.to_owned()),
                        _ => {}
                    }
                }
            }
            None if get("type").is_none_or(|t| !t.eq_ignore_ascii_case("s3")) => return None,
            None => {}
        }
        let bucket = bucket?;
        let region = region.unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = if endpoint.contains("://") { endpoint } else { format!("https://{endpoint}") };
        let from_env = |names: [&str; 2]| names.iter().find_map(|n| env.non_empty(n)).map(str::to_owned);
        // The AWS SDK's order, as far as it needs no network: the config, the environment, then
        // the shared credentials file (an instance role or SSO is not read).
        let (key, secret, token) = match (get("access-key-id"), get("secret-access-key")) {
            (Some(key), Some(secret)) => (key, secret, None),
            _ => match (
                from_env(["AWS_ACCESS_KEY_ID", "LITESTREAM_ACCESS_KEY_ID"]),
                from_env(["AWS_SECRET_ACCESS_KEY", "LITESTREAM_SECRET_ACCESS_KEY"]),
            ) {
                (Some(key), Some(secret)) => {
                    (key, secret, env.non_empty("AWS_SESSION_TOKEN").map(str::to_owned))
                }
                _ => shared_credentials(env)?,
            },
        };
        let style = if path_style.as_deref() == Some("true") {
            rusty_s3::UrlStyle::Path
        } else {
            rusty_s3::UrlStyle::VirtualHost
        };
        let handle = rusty_s3::Bucket::new(endpoint.parse().ok()?, style, bucket.clone(), region).ok()?;
        let prefix = path.trim_matches('/').to_owned();
        Some(S3Location {
            bucket: handle,
            shown: format!("s3://{bucket}/{prefix}"),
            prefix,
            credentials: match token {
                Some(token) => rusty_s3::Credentials::new_with_token(key, secret, token),
                None => rusty_s3::Credentials::new(key, secret),
            },
        })
    }

    /// The key of `name` under the replica's path.
    pub(crate) fn object(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_owned() } else { format!("{}/{name}", self.prefix) }
    }

    /// Litestream's key of an LTX file: `<path>/<level as 4 hex digits>/<name>`.
    pub(crate) fn key_of(&self, file: &ReplicaFile) -> String {
        format!("{}/{:04x}/{}", self.prefix, file.level, file.name())
    }

    pub(crate) fn agent() -> ureq::Agent {
        Self::agent_within(None)
    }

    /// An agent whose requests also end, whole, within `global` (bodies included).
    fn agent_within(global: Option<Duration>) -> ureq::Agent {
        ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(S3_TIMEOUT))
                .timeout_recv_response(Some(S3_TIMEOUT))
                .timeout_global(global)
                .user_agent(concat!("cargo-litestream/", env!("CARGO_PKG_VERSION")))
                .build(),
        )
    }

    pub(crate) fn remote(&self, problem: impl std::fmt::Display) -> StoreError {
        StoreError::Remote { replica: self.shown.clone(), problem: problem.to_string() }
    }

    /// Every page of the listing; with a `deadline`, each request bounded by the time left.
    fn list(&self, deadline: Option<std::time::Instant>) -> Result<Listing, StoreError> {
        use rusty_s3::S3Action as _;
        let mut listing = Listing::default();
        let prefix = format!("{}/", self.prefix);
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            action.with_prefix(prefix.as_str());
            if let Some(token) = &token {
                action.with_continuation_token(token.as_str());
            }
            let url = action.sign(PRESIGNED_FOR);
            let agent = match deadline {
                None => Self::agent(),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(self.remote("the listing took longer than the timeout"));
                    }
                    Self::agent_within(Some(left))
                }
            };
            let timed_out = |e: ureq::Error| match e {
                ureq::Error::Timeout(_) => self.remote("no answer within the timeout"),
                e => self.remote(e),
            };
            let mut response = agent.get(url.as_str()).call().map_err(timed_out)?;
            let status = response.status().as_u16();
            let body = response.body_mut().read_to_string().map_err(timed_out)?;
            if status != 200 {
                return Err(self.remote(format!("listing answered HTTP {status}: {}", first_line(&body))));
            }
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&body)
                .map_err(|e| self.remote(format!("unreadable listing: {e}")))?;
            for object in page.contents {
                let Some(rest) = object.key.strip_prefix(&prefix) else { continue };
                if let Some(stored) = self.stored(rest, &object, &mut listing.strays) {
                    listing.files.push(stored);
                }
            }
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        listing.files.sort_by_key(|f| (f.file.level, f.file.min_txid, f.file.max_txid));
        listing.strays.sort_by(|a, b| a.shown.cmp(&b.shown));
        Ok(listing)
    }

    /// An object below the replica's path: an LTX file, a stray in a level folder, or
    /// something else of ours or the user's beside them (the owner record): `None`.
    fn stored(
        &self,
        rest: &str,
        object: &rusty_s3::actions::list_objects_v2::ListObjectsContent,
        strays: &mut Vec<Stray>,
    ) -> Option<StoredFile> {
        let (level, name) = rest.split_once('/')?;
        if level.len() != 4 || !level.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let level = u8::from_str_radix(level, 16).ok().filter(|l| *l <= 9)?;
        let shown = format!("{level}/{name}");
        let Some((min, max)) = cargo_litestream_ltx::parse_file_name(name) else {
            strays.push(Stray { shown, why: "not an LTX file name".to_owned() });
            return None;
        };
        let created = object
            .last_modified
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        Some(StoredFile {
            file: ReplicaFile {
                level,
                min_txid: min.0,
                max_txid: max.0,
                size: object.size.unwrap_or(0),
                created,
            },
            shown,
            tag: object.etag.clone().unwrap_or_default(),
        })
    }

    fn get(&self, key: &str) -> Result<Box<dyn Read + Send>, StoreError> {
        use rusty_s3::S3Action as _;
        let url = self.bucket.get_object(Some(&self.credentials), key).sign(PRESIGNED_FOR);
        let response = Self::agent().get(url.as_str()).call().map_err(|e| self.remote(e))?;
        match response.status().as_u16() {
            200 => Ok(Box::new(response.into_body().into_reader())),
            status => Err(self.remote(format!("reading {key} answered HTTP {status}"))),
        }
    }
}

impl S3Location {
    /// Bytes `start..end` of the object `key` (of `size` bytes) by a ranged GET: the offset
    /// the bytes returned start at, and the bytes. A server may answer a range with the whole
    /// object (HTTP allows it; `rclone serve s3` does for a range that spans it): then that.
    pub(crate) fn get_range(
        &self,
        key: &str,
        start: u64,
        end: u64,
        size: u64,
    ) -> Result<(u64, Vec<u8>), StoreError> {
        use rusty_s3::S3Action as _;
        if end <= start {
            return Ok((start, Vec::new()));
        }
        let url = self.bucket.get_object(Some(&self.credentials), key).sign(PRESIGNED_FOR);
        let mut response = Self::agent()
            .get(url.as_str())
            .header("Range", format!("bytes={start}-{}", end - 1))
            .call()
            .map_err(|e| self.remote(e))?;
        let status = response.status().as_u16();
        if status != 206 && status != 200 {
            return Err(self.remote(format!("reading {key} answered HTTP {status}")));
        }
        let body =
            response.body_mut().with_config().limit(size + 1).read_to_vec().map_err(|e| self.remote(e))?;
        // By its length: the range asked for (206, or a 200 that sent it anyway, as `rclone serve
        // s3` does), or the whole object (a server that ignored the range).
        match body.len() as u64 {
            n if n == end - start => Ok((start, body)),
            n if n == size && status == 200 => Ok((0, body)),
            n => Err(self.remote(format!(
                "{key}: asked for bytes {start}-{}, got {n} bytes (HTTP {status})",
                end - 1
            ))),
        }
    }
}

/// The profile's keys in the AWS shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
/// `~/.aws/credentials`; the profile `AWS_PROFILE`, else `default`), as the AWS SDK reads it.
fn shared_credentials(env: &Env) -> Option<(String, String, Option<String>)> {
    let path = match env.non_empty("AWS_SHARED_CREDENTIALS_FILE") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env.non_empty("HOME")?).join(".aws/credentials"),
    };
    let text = std::fs::read_to_string(path).ok()?;
    parse_credentials(&text, env.non_empty("AWS_PROFILE").unwrap_or("default"))
}

fn parse_credentials(text: &str, profile: &str) -> Option<(String, String, Option<String>)> {
    let (mut key, mut secret, mut token, mut inside) = (None, None, None, false);
    for line in text.lines().map(str::trim) {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == profile;
            continue;
        }
        let Some((name, value)) = line.split_once('=').filter(|_| inside) else { continue };
        let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match name.trim() {
            "aws_access_key_id" => key = value,
            "aws_secret_access_key" => secret = value,
            "aws_session_token" => token = value,
            _ => {}
        }
    }
    Some((key?, secret?, token))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_credentials_by_profile() {
        let text = "[default]\naws_access_key_id = AK\naws_secret_access_key=SK\n\n[ci]\naws_access_key_id = A2\n\
                    aws_secret_access_key = S2\naws_session_token = T2\n# a comment\n";
        assert_eq!(parse_credentials(text, "default"), Some(("AK".into(), "SK".into(), None)));
        assert_eq!(parse_credentials(text, "ci"), Some(("A2".into(), "S2".into(), Some("T2".into()))));
        assert_eq!(parse_credentials(text, "nosuch"), None);
        assert_eq!(parse_credentials("[default]\naws_access_key_id = AK\n", "default"), None);
    }
}
