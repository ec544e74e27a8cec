//! Litestream 0.5.17's configuration schema, for validating keys before anything runs.
//!
//! Litestream parses its YAML non-strictly: an unknown or retired key is silently ignored, so a
//! typo (`monitor_interval`) or a v0.3 setting (`retention: 24h` on a replica) quietly does
//! nothing. The tables below are read from upstream's `cmd/litestream/main.go` (the `yaml:`
//! tags of `Config`, `DBConfig`, `ReplicaConfig` and `ReplicaSettings`) and let cargo-litestream
//! say so up front, naming the key and what to use instead.

use std::path::Path;

use crate::error::ConfigError;

/// The shape a value must have.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Str,
    /// A string naming a local file; relative values are resolved against the manifest's folder.
    Path,
    Bool,
    Int,
    /// Go duration syntax: `500ms`, `30s`, `1h30m` (no `d`).
    Duration,
    /// A duration that must be more than zero: Litestream reads zero or less as "off" (no
    /// monitor: nothing replicated; no busy wait: syncs fail while the application writes) or
    /// refuses it only when it starts.
    Interval,
    /// Bytes: an integer, or go-humanize text such as `5MB` or `5MiB`.
    Size,
    /// A list of local file paths.
    PathList,
    /// One of a fixed set of strings (case-insensitive).
    OneOf(&'static [&'static str]),
    Table(&'static [Key], &'static [Retired]),
    TableList(&'static [Key], &'static [Retired]),
}

/// A key Litestream 0.5.17 reads.
#[derive(Debug)]
pub(crate) struct Key {
    pub name: &'static str,
    pub kind: Kind,
}

/// A key Litestream 0.5.17 ignores silently (or refuses), with what to use instead.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retired {
    pub name: &'static str,
    pub advice: &'static str,
}

const fn key(name: &'static str, kind: Kind) -> Key {
    Key { name, kind }
}

const fn retired(name: &'static str, advice: &'static str) -> Retired {
    Retired { name, advice }
}

/// Keys whose literal values are secrets: redacted by `config`, flagged by `doctor`.
pub const SECRET_KEYS: &[&str] = &[
    "access-key-id",
    "secret-access-key",
    "account-key",
    "sas-token",
    "password",
    "webdav-password",
    "sse-customer-key",
    "jwt",
    "seed",
    "nkey",
    "token",
];

pub(crate) const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "warning", "error"];
pub(crate) const REPLICA_TYPES: &[&str] = &["file", "s3", "gs", "abs", "sftp", "webdav", "nats", "oss"];

/// `ReplicaSettings`: valid on every replica and, as defaults for all replicas, at the top level.
macro_rules! replica_settings {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            key("sync-interval", Kind::Interval),
            key("max-sync-ltx-files", Kind::Int),
            key("auto-recover", Kind::Bool),
            // s3 (and oss)
            key("access-key-id", Kind::Str),
            key("secret-access-key", Kind::Str),
            key("region", Kind::Str),
            key("bucket", Kind::Str),
            key("endpoint", Kind::Str),
            key("force-path-style", Kind::Bool),
            key("sign-payload", Kind::Bool),
            key("require-content-md5", Kind::Bool),
            key("skip-verify", Kind::Bool),
            key("storage-class", Kind::Str),
            key("part-size", Kind::Size),
            key("concurrency", Kind::Int),
            key("sse-customer-algorithm", Kind::Str),
            key("sse-customer-key", Kind::Str),
            key("sse-customer-key-path", Kind::Path),
            key("sse-kms-key-id", Kind::Str),
            // abs
            key("account-name", Kind::Str),
            key("account-key", Kind::Str),
            key("sas-token", Kind::Str),
            // sftp
            key("host", Kind::Str),
            key("user", Kind::Str),
            key("password", Kind::Str),
            key("key-path", Kind::Path),
            key("concurrent-writes", Kind::Bool),
            key("host-key", Kind::Str),
            // webdav
            key("webdav-url", Kind::Str),
            key("webdav-username", Kind::Str),
            key("webdav-password", Kind::Str),
            // nats
            key("jwt", Kind::Str),
            key("seed", Kind::Str),
            key("creds", Kind::Path),
            key("nkey", Kind::Str),
            key("username", Kind::Str),
            key("token", Kind::Str),
            key("tls", Kind::Bool),
            key("root-cas", Kind::PathList),
            key("client-cert", Kind::Path),
            key("client-key", Kind::Path),
            key("max-reconnects", Kind::Int),
            key("reconnect-wait", Kind::Duration),
            key("timeout", Kind::Duration),
        ]
    };
}

const REPLICA_SETTINGS_RETIRED: &[Retired] = &[
    retired(
        "validation-interval",
        "Litestream 0.5 parses it but never applies it; use the global `validation = { interval = \"…\" }`",
    ),
    retired(
        "age",
        "Litestream 0.5 refuses to start with age encryption; remove it (only Litestream 0.3 supports it)",
    ),
];

pub(crate) const REPLICA_KEYS: &[Key] = replica_settings!(
    key("type", Kind::OneOf(REPLICA_TYPES)),
    key("path", Kind::Str),
    key("url", Kind::Str),
);

pub(crate) const REPLICA_RETIRED: &[Retired] = &[
    retired(
        "retention",
        "Litestream 0.5 ignores per-replica retention; use the global `snapshot.retention` (and `l0-retention`)",
    ),
    retired("snapshot-interval", "Litestream 0.5 ignores it; use the global `snapshot.interval`"),
    retired(
        "retention-check-interval",
        "Litestream 0.5 ignores it; use the global `l0-retention-check-interval`",
    ),
    retired("name", "Litestream 0.5 has one replica per database and ignores names; remove it"),
    REPLICA_SETTINGS_RETIRED[0],
    REPLICA_SETTINGS_RETIRED[1],
];

const SNAPSHOT_KEYS: &[Key] = &[key("interval", Kind::Interval), key("retention", Kind::Interval)];

pub(crate) const DB_KEYS: &[Key] = &[
    key("path", Kind::Path),
    key("dir", Kind::Path),
    key("pattern", Kind::Str),
    key("recursive", Kind::Bool),
    key("watch", Kind::Bool),
    key("snapshot", Kind::Table(SNAPSHOT_KEYS, &[])),
    key("meta-path", Kind::Path),
    key("meta-dir", Kind::Path),
    key("monitor-interval", Kind::Interval),
    key("checkpoint-interval", Kind::Interval),
    key("busy-timeout", Kind::Interval),
    key("min-checkpoint-page-count", Kind::Int),
    key("truncate-page-n", Kind::Int),
    key("max-sync-wal-bytes", Kind::Int),
    key("restore-if-db-not-exists", Kind::Bool),
    key("replica", Kind::Table(REPLICA_KEYS, REPLICA_RETIRED)),
    key("replicas", Kind::TableList(REPLICA_KEYS, REPLICA_RETIRED)),
];

pub(crate) const DB_RETIRED: &[Retired] = &[
    retired("max-checkpoint-page-count", "Litestream 0.5 ignores it; use `truncate-page-n`"),
    retired("snapshot-interval", "Litestream 0.5 ignores it; use `snapshot = { interval = \"…\" }`"),
];

const SOCKET_KEYS: &[Key] =
    &[key("enabled", Kind::Bool), key("path", Kind::Path), key("permissions", Kind::Int)];

const LOGGING_KEYS: &[Key] = &[
    key("level", Kind::OneOf(LOG_LEVELS)),
    key("type", Kind::OneOf(&["text", "json", "pretty"])),
    key("stderr", Kind::Bool),
    key("source", Kind::Bool),
];

/// Litestream's top-level keys, except `dbs` (which cargo-litestream builds itself).
pub(crate) const GLOBAL_KEYS: &[Key] = replica_settings!(
    key("addr", Kind::Str),
    key("mcp-addr", Kind::Str),
    key("exec", Kind::Str),
    key("socket", Kind::Table(SOCKET_KEYS, &[])),
    key("logging", Kind::Table(LOGGING_KEYS, &[])),
    key("levels", Kind::TableList(&[key("interval", Kind::Interval)], &[])),
    key("snapshot", Kind::Table(SNAPSHOT_KEYS, &[])),
    key("l0-retention", Kind::Duration),
    key("l0-retention-check-interval", Kind::Interval),
    key("retention", Kind::Table(&[key("enabled", Kind::Bool)], &[])),
    key("verify-compaction", Kind::Bool),
    key("validation", Kind::Table(&[key("interval", Kind::Duration)], &[])),
    key("shutdown-sync-timeout", Kind::Duration),
    key("shutdown-sync-interval", Kind::Interval),
    key("heartbeat-url", Kind::Str),
    key("heartbeat-interval", Kind::Duration),
);

pub(crate) const GLOBAL_RETIRED: &[Retired] = &[
    retired("snapshot-interval", "Litestream 0.5 ignores it; use `snapshot = { interval = \"…\" }`"),
    REPLICA_SETTINGS_RETIRED[0],
    REPLICA_SETTINGS_RETIRED[1],
];

/// Where a table being checked lives, for messages.
pub(crate) struct Site<'a> {
    pub file: &'a Path,
    /// Dotted TOML path of the table, e.g. `package.metadata.litestream.dbs[1]`.
    pub table: String,
    /// Unknown keys are errors for the Litestream version this schema describes; for any other
    /// version (whose schema may have grown) they are only warnings.
    pub strict: bool,
}

impl Site<'_> {
    pub(crate) fn path_of(&self, key: &str) -> String {
        if self.table.is_empty() { key.to_owned() } else { format!("{}.{key}", self.table) }
    }
}

/// Checks every key of `table` against `keys`; returns warnings for what is tolerated.
pub(crate) fn check_table(
    table: &toml::Table,
    keys: &[Key],
    retired: &[Retired],
    site: &Site<'_>,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for (name, value) in table {
        if let Some(known) = keys.iter().find(|k| k.name == name) {
            check_value(value, known.kind, &site.path_of(name), site, warnings)?;
        } else if let Some(old) = retired.iter().find(|r| r.name == name) {
            return Err(ConfigError::key(
                site.file,
                site.path_of(name),
                "is not used by Litestream 0.5",
                old.advice,
            ));
        } else {
            let help = suggest(name, keys.iter().map(|k| k.name));
            if site.strict {
                return Err(ConfigError::key(
                    site.file,
                    site.path_of(name),
                    "unknown key (Litestream 0.5.17 would silently ignore it)",
                    help,
                ));
            }
            warnings.push(format!("{}: `{}`: unknown key; {help}", site.file.display(), site.path_of(name)));
        }
    }
    Ok(())
}

/// "did you mean `x`?" for a near miss, else a pointer to the reference.
pub(crate) fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let dashed = name.replace('_', "-");
    let best = candidates
        .map(|c| (strsim::damerau_levenshtein(&dashed, c), c))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    match best {
        Some((_, candidate)) => format!("did you mean `{candidate}`?"),
        None => "remove it, or see the configuration reference in cargo-litestream's README".to_owned(),
    }
}

pub(crate) fn check_value(
    value: &toml::Value,
    kind: Kind,
    key_path: &str,
    site: &Site<'_>,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let wrong = |expected: &str| {
        Err(ConfigError::key(
            site.file,
            key_path,
            format!("expected {expected}, found {}", describe(value)),
            format!("write it as {}", example(kind)),
        ))
    };
    // Litestream expands `$VAR` before parsing, so any string may stand for any type.
    if value.as_str().is_some_and(|s| s.contains('$')) {
        return Ok(());
    }
    match kind {
        Kind::Str | Kind::Path => {
            if !value.is_str() {
                return wrong("a string");
            }
        }
        Kind::Bool => {
            if !value.is_bool() {
                return wrong("a boolean");
            }
        }
        Kind::Int => {
            if !value.is_integer() {
                return wrong("an integer");
            }
        }
        Kind::Duration | Kind::Interval => match value.as_str() {
            Some(text) if !is_go_duration(text) => {
                return Err(ConfigError::key(
                    site.file,
                    key_path,
                    format!("{} is not a duration", describe(value)),
                    "use Go duration syntax such as \"500ms\", \"30s\", \"5m\" or \"24h\" (there is no \"d\")",
                ));
            }
            Some(text)
                if matches!(kind, Kind::Interval) && parse_go_duration(text).is_none_or(|d| d.is_zero()) =>
            {
                return Err(ConfigError::key(
                    site.file,
                    key_path,
                    format!("{} is not more than zero", describe(value)),
                    "Litestream reads zero or less as \"off\" here (for `monitor-interval`: nothing is replicated \
                     at all): give a positive duration such as \"1s\", or leave the key out for Litestream's default",
                ));
            }
            Some(_) => {}
            None => return wrong("a duration string"),
        },
        Kind::Size => {
            let ok = match value {
                toml::Value::Integer(n) => *n >= 0,
                toml::Value::String(text) => is_byte_size(text),
                _ => false,
            };
            if !ok {
                return wrong("a size");
            }
        }
        Kind::PathList => {
            let ok = value.as_array().is_some_and(|items| items.iter().all(toml::Value::is_str));
            if !ok {
                return wrong("a list of paths");
            }
        }
        Kind::OneOf(choices) => match value.as_str() {
            Some(text) if choices.iter().any(|c| c.eq_ignore_ascii_case(text)) => {}
            Some(_) => {
                return Err(ConfigError::key(
                    site.file,
                    key_path,
                    format!("{} is not one of the accepted values", describe(value)),
                    format!("use one of: {}", choices.join(", ")),
                ));
            }
            None => return wrong("a string"),
        },
        Kind::Table(keys, retired) => match value.as_table() {
            Some(table) => {
                let child = Site { file: site.file, table: key_path.to_owned(), strict: site.strict };
                check_table(table, keys, retired, &child, warnings)?;
            }
            None => return wrong("a table"),
        },
        Kind::TableList(keys, retired) => match value.as_array() {
            Some(items) => {
                for (index, item) in items.iter().enumerate() {
                    let child =
                        Site { file: site.file, table: format!("{key_path}[{index}]"), strict: site.strict };
                    match item.as_table() {
                        Some(table) => check_table(table, keys, retired, &child, warnings)?,
                        None => {
                            return Err(ConfigError::key(
                                site.file,
                                &child.table,
                                format!("expected a table, found {}", describe(item)),
                                format!("write it as {}", example(kind)),
                            ));
                        }
                    }
                }
            }
            None => return wrong("a list of tables"),
        },
    }
    Ok(())
}

/// Go's `time.ParseDuration` grammar: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or a bare `0`.
pub(crate) fn is_go_duration(text: &str) -> bool {
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    if text == "0" {
        return true;
    }
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[digits..];
        let unit_len = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
            .iter()
            .filter(|unit| rest.starts_with(*unit))
            .map(|unit| unit.len())
            .max();
        match unit_len {
            Some(len) => rest = &rest[len..],
            None => return false,
        }
    }
    true
}

/// A Go duration as a [`std::time::Duration`] (`"1m30s"`, `"500ms"`, `"0"`); `None` for text
/// that is not one, or a negative one.
pub fn parse_go_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    if !is_go_duration(text) || text.starts_with('-') {
        return None;
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    let mut seconds = 0f64;
    if rest == "0" {
        return Some(std::time::Duration::ZERO);
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, factor) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("μs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .into_iter()
        .filter(|(unit, _)| rest.starts_with(unit))
        .max_by_key(|(unit, _)| unit.len())?;
        seconds += number * factor;
        rest = &rest[unit.len()..];
    }
    std::time::Duration::try_from_secs_f64(seconds).ok()
}

/// go-humanize `ParseBytes`: a number, optional space, an optional SI or IEC unit.
fn is_byte_size(text: &str) -> bool {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.' && c != ',').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let units = [
        "", "b", "k", "kb", "kib", "ki", "m", "mb", "mib", "mi", "g", "gb", "gib", "gi", "t", "tb", "tib",
        "ti", "p", "pb", "pib", "pi", "e", "eb", "eib", "ei",
    ];
    !number.is_empty() && number.chars().any(|c| c.is_ascii_digit()) && units.contains(&unit.as_str())
}

pub(crate) fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(n) => format!("the integer {n}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "a list".to_owned(),
        toml::Value::Table(_) => "a table".to_owned(),
    }
}

fn example(kind: Kind) -> &'static str {
    match kind {
        Kind::Str => "a quoted string",
        Kind::Path => "a quoted path, e.g. \"data/app.db\"",
        Kind::Bool => "true or false (no quotes)",
        Kind::Int => "a number without quotes",
        Kind::Duration | Kind::Interval => "a quoted Go duration such as \"30s\"",
        Kind::Size => "a number of bytes, or a quoted size such as \"5MB\"",
        Kind::PathList => "a list of quoted paths, e.g. [\"ca.pem\"]",
        Kind::OneOf(_) => "one of the listed strings",
        Kind::Table(..) => "a table, e.g. `key = { … }` or a `[section]`",
        Kind::TableList(..) => "a list of tables, e.g. `key = [{ … }]`",
    }
}

/// The kind of a key at one of the three levels, for walking paths that need resolving.
pub(crate) fn kind_of(keys: &[Key], name: &str) -> Option<Kind> {
    keys.iter().find(|k| k.name == name).map(|k| k.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        use std::time::Duration;
        assert_eq!(parse_go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("-1s"), None);
        assert_eq!(parse_go_duration("1d"), None);
    }

    #[test]
    fn go_durations() {
        for ok in ["0", "1s", "500ms", "1h30m", "1.5h", "-2s", "10us", "3µs", ".5s"] {
            assert!(is_go_duration(ok), "{ok}");
        }
        for bad in ["", "1", "1d", "s", "1 s", "abc", "1.2.3s", "1sx"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }

    #[test]
    fn byte_sizes() {
        for ok in ["5MB", "5 MiB", "100", "1.5GB", "1024KB", "10k"] {
            assert!(is_byte_size(ok), "{ok}");
        }
        for bad in ["", "MB", "5 parsecs", "-"] {
            assert!(!is_byte_size(bad), "{bad}");
        }
    }

    #[test]
    fn suggestions_understand_underscores() {
        let keys = ["monitor-interval", "checkpoint-interval"];
        assert_eq!(suggest("monitor_interval", keys.into_iter()), "did you mean `monitor-interval`?");
        assert!(suggest("zzz", keys.into_iter()).starts_with("remove it"));
    }
}
