//! cargo-litestream's configuration: read from `Cargo.toml`, validated, turned into the YAML
//! Litestream reads.
//!
//! Precedence: `[package.metadata.litestream]` of the selected package; else
//! `[workspace.metadata.litestream]` of its workspace root; else defaults (with `DATABASE_URL`
//! as the `default` alias). The whole table comes from one place; tables are not merged.

mod args;
pub mod check;
mod database_url;
mod dir;
/// The environment lives in a crate of its own (`cargo-litestream-env`), so the download crate
/// can take it without the configuration; re-exported here for everyone else.
mod env {
    pub use cargo_litestream_env::{Env, normalize};
}
mod error;
mod expand;
mod fsutil;
mod generate;
pub mod init;
mod manifest;
mod project;
mod replica;
mod schema;
pub mod yaml;

pub use args::{DatabaseArg, Lookup};
pub use check::{CheckThresholds, SnapshotAge, ThresholdError};
pub use database_url::{DotEnvError, SqliteUrlError, UrlSource, find as find_database_url, sqlite_path};
pub use dir::{BadPattern, DirMember, go_match};
pub use env::{Env, normalize};
pub use error::ConfigError;
pub use expand::{go_expand, go_expand_with};
pub use fsutil::{OrphanedSidecars, SQLITE_SIDECARS, orphaned_sidecars, sidecar, write_private};
pub use generate::{
    Generate, MAX_SOCKET_PATH, is_env_reference, raw_password_problem, redact_secrets, redact_url_password,
};
pub use manifest::{Manifest, locate as locate_manifest, target_dir};
pub use project::{
    Alias, AliasOrigin, ConfigSource, DEFAULT_LITESTREAM_VERSION, Database, Location, Project, ReplicaOrigin,
    Schedule, SymlinkedDatabase, looks_like_alias, symlinked_database,
};
pub use replica::{local_dir as file_replica_dir, location as replica_location, url_scheme};
pub use schema::{SECRET_KEYS, parse_go_duration};

/// An ordered table of configuration values.
pub use toml::Table as TomlTable;
/// The value type of configuration trees (re-exported so callers need no `toml` dependency).
pub use toml::Value as TomlValue;
