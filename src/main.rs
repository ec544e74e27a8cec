//! `cargo litestream`: the binary. It links every command crate (each registers itself with
//! `inventory`; a crate not named here is not linked and its command silently vanishes: the
//! `command_crates_are_linked` test guards the list) and hands over to the dispatcher.

use cargo_litestream_cmd_config as _;
use cargo_litestream_cmd_databases as _;
use cargo_litestream_cmd_info as _;
use cargo_litestream_cmd_list as _;
use cargo_litestream_cmd_ltx as _;
use cargo_litestream_cmd_register as _;
use cargo_litestream_cmd_replicate as _;
use cargo_litestream_cmd_reset as _;
use cargo_litestream_cmd_restore as _;
use cargo_litestream_cmd_start as _;
use cargo_litestream_cmd_status as _;
use cargo_litestream_cmd_stop as _;
use cargo_litestream_cmd_sync as _;
use cargo_litestream_cmd_unregister as _;
use cargo_litestream_cmd_version as _;
use cargo_litestream_cmd_wal as _;

fn main() -> std::process::ExitCode {
    cargo_litestream_command::main()
}
