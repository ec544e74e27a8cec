//! Real storage backends, end to end through `cargo litestream` (issue 4): every replica type
//! against a real server on 127.0.0.1, and the faults a daemon meets in production.
//!
//! - `harness`: servers on free loopback ports, awaited, always stopped (process groups).
//! - `servers`: one function per backend (rclone S3, moto, OpenSSH sftp, rclone WebDAV,
//!   fake-gcs-server, Azurite, NATS JetStream) and its replica table for Cargo.toml.
//! - `workload`: the writer thread, `sync -wait`, restores and their checks.
//! - `round_trip`: replicate, write, confirm, restore, compare, for each backend.
//! - `faults`: SIGTERM and kill -9 mid-write, a server outage, wrong credentials, a second
//!   replicator, `restore -force`.
//!
//! The configuration is always a test project's `[package.metadata.litestream]`; no YAML is
//! written by hand. Waiting is on the control socket (`sync -wait`), never on a sleep.

mod faults;
pub(crate) mod harness;
mod matrix;
mod network;
mod proxy;
mod round_trip;
mod scrub;
pub(crate) mod servers;
mod workload;
