//! cargo-litestream as a library: the replication of a Rust application's SQLite databases,
//! configured by the same `[package.metadata.litestream]` table as `cargo litestream`.
//!
//! A web service typically does, at start-up and shutdown:
//!
//! ```no_run
//! use cargo_litestream_api::config::Env;
//! use cargo_litestream_api::{ReplicateOptions, RestoreOptions, locate_litestream, restore_if_missing, spawn_replicate};
//!
//! let env = Env::capture()?;
//! // The table, embedded at build time (see `embedded` for why, and where paths resolve).
//! let project = cargo_litestream_api::manifest!().load(&env)?;
//! let litestream = locate_litestream(&project, &env)?;
//!
//! // 1. Before the pool opens: bring back a database this machine does not have yet.
//! restore_if_missing(&project, &env, &litestream, &RestoreOptions::default())?;
//! // 2. Open the pool, then replicate for the life of the process.
//! let replication = spawn_replicate(&project, &env, &litestream, &ReplicateOptions::default())?;
//! let watch = replication.watch(); // `watch.wait()` on a thread reports a litestream that died
//! // … serve until shutdown …
//! // 3. After the server has drained: final sync, SIGTERM, bounded wait (dropping does it too).
//! let stopped = replication.stop()?;
//! # drop(watch); drop(stopped);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`restore_if_missing`], [`spawn_replicate`] / [`ReplicateHandle`]: see [`replicate`].
//! - [`verify()`]: a real backup round trip (write a row, wait until the replica has it,
//!   restore the latest backup privately, look for the row, clean up).
//! - [`open_replica`] (and [`vfs::open_configured_replica`]): a read-only rusqlite connection
//!   on a replica, through the Litestream VFS extension. Read the [`vfs`] module's notes on
//!   upstream limitations first.
//! - [`vfs::probe`] and [`vfs::assess`]: how fresh a VFS reader of a replica is.
//! - [`sqlite::open`] / [`sqlite::configure`]: the application's own connections, set up so
//!   that no commit can miss the backup (WAL, `busy_timeout`, `wal_autocheckpoint = 0`, and
//!   why each).
//! - [`dashboard`]: the status page (`cargo litestream dashboard`), also a tower `Service`
//!   with the `dashboard-tower` feature.
//! - [`control`]: the control socket of a running `litestream replicate`.
//! - [`child`] and [`signals`]: the process supervision `cargo litestream replicate -exec` is
//!   built from.
//!
//! Everything takes the project's [`Project`](cargo_litestream_config::Project) ([`manifest!`]
//! or `Project::load`), the environment as an [`Env`](cargo_litestream_config::Env) snapshot,
//! and, where litestream runs, a located [`Litestream`]
//! binary ([`locate_litestream`]).

pub mod assurance;
pub mod backups;
pub mod check;
pub mod child;
pub mod control;
pub mod dashboard;
pub mod doctor;
pub mod embedded;
pub mod httpd;
pub mod json;
pub mod metrics;
pub mod owner;
mod process;
pub mod replicate;
pub mod restore;
pub mod signals;
pub mod sqlite;
pub mod targets;
pub mod verify;
pub mod vfs;
pub mod wal;

/// The configuration crate: [`config::Env`], [`config::Project`].
pub use cargo_litestream_config as config;
pub use cargo_litestream_runner::{Litestream, UNUSABLE_BY_LITESTREAM, lock};
pub use embedded::EmbeddedManifest;
/// The time crate of restore points ([`backups`]), so callers name the same `Timestamp`.
pub use jiff;
pub use replicate::{
    LogOutput, ReplicateError, ReplicateExit, ReplicateHandle, ReplicateOptions, ReplicateWatch,
    RestoreAction, RestoreOptions, RestoreReport, Stopped, Synced, WalReport, close_wal_gaps,
    locate_litestream, restore_if_missing, spawn_replicate, sync_all,
};
/// The SQLite binding the connections come from, so an application uses the same version.
pub use rusqlite;
pub use verify::{Outcome, Verification, VerifyOptions, verify};
pub use vfs::{OpenOptions, open_replica};
