//! `cargo litestream stop`: Stop replicating a database in the running replicate daemon (after a final sync).

use cargo_litestream_command::passthrough::START_STOP;

cargo_litestream_command::passthrough_command! {
    about: "Stop replicating a database in the running replicate daemon (after a final sync)",
    table: Passthrough { command: "stop", ..START_STOP },
}
