//! `cargo litestream wal`: Deprecated name of `ltx` (Litestream prints a warning).

use cargo_litestream_command::passthrough::LTX;

cargo_litestream_command::passthrough_command! {
    about: "Deprecated name of `ltx` (Litestream prints a warning)",
    table: Passthrough { command: "wal", ..LTX },
    hidden: true,
}
