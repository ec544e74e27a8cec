//! cargo-litestream's commands, linked: every command crate registers itself with
//! `inventory`, and a crate nobody links is silently missing from the tool. This list is the one
//! place that names them all (the binary and the integration tests link it); the
//! `command_crates_are_linked` test keeps it equal to `commands/` and Cargo.toml.

use cargo_litestream_cmd_check as _;
use cargo_litestream_cmd_completions as _;
use cargo_litestream_cmd_config as _;
use cargo_litestream_cmd_dashboard as _;
use cargo_litestream_cmd_databases as _;
use cargo_litestream_cmd_doctor as _;
use cargo_litestream_cmd_drill as _;
use cargo_litestream_cmd_info as _;
use cargo_litestream_cmd_init as _;
use cargo_litestream_cmd_install as _;
use cargo_litestream_cmd_list as _;
use cargo_litestream_cmd_ltx as _;
use cargo_litestream_cmd_register as _;
use cargo_litestream_cmd_replicate as _;
use cargo_litestream_cmd_reset as _;
use cargo_litestream_cmd_restore as _;
use cargo_litestream_cmd_restore_points as _;
use cargo_litestream_cmd_scrub as _;
use cargo_litestream_cmd_start as _;
use cargo_litestream_cmd_status as _;
use cargo_litestream_cmd_stop as _;
use cargo_litestream_cmd_sync as _;
use cargo_litestream_cmd_unregister as _;
use cargo_litestream_cmd_verify as _;
use cargo_litestream_cmd_version as _;
use cargo_litestream_cmd_vfs_install as _;
use cargo_litestream_cmd_vfs_status as _;
use cargo_litestream_cmd_wal as _;

/// Runs the tool: every command above is registered.
pub fn main() -> std::process::ExitCode {
    cargo_litestream_command::main()
}
