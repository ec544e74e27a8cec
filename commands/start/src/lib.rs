//! `cargo litestream start`: Start replicating a database in the running replicate daemon.

use cargo_litestream_command::passthrough::START_STOP;

cargo_litestream_command::passthrough_command! {
    about: "Start replicating a database in the running replicate daemon",
    table: START_STOP,
}
