//! cargo-litestream as a library: what `cargo litestream verify` and `vfs-status` do, callable
//! from a Rust application.
//!
//! - [`verify::verify`]: a real backup round trip (write a row, wait until the replica has it,
//!   restore the latest backup privately, look for the row, clean up).
//! - [`vfs::open_replica`]: a read-only rusqlite connection on a replica, through the
//!   Litestream VFS extension. Read the [`vfs`] module's notes on upstream limitations first.
//! - [`vfs::probe`] and [`vfs::assess`]: how fresh a VFS reader of a replica is.
//! - [`control`]: the control socket of a running `litestream replicate`.
//!
//! Everything takes the project's [`Project`](cargo_litestream_config::Project) (read from
//! `Cargo.toml` with `Project::load`), the environment as an
//! [`Env`](cargo_litestream_config::Env) snapshot, and, where litestream runs, a located
//! [`Litestream`](cargo_litestream_runner::Litestream) binary.

pub mod control;
mod process;
pub mod verify;
pub mod vfs;

/// The SQLite binding the connections come from, so an application uses the same version.
pub use rusqlite;
pub use verify::{Outcome, Verification, VerifyOptions, verify};
pub use vfs::{OpenOptions, open_replica};
