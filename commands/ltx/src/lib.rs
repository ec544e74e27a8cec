//! `cargo litestream ltx`: List the LTX files on a database's replica.

use cargo_litestream_command::passthrough::LTX;

cargo_litestream_command::passthrough_command! {
    about: "List the LTX files on a database's replica",
    table: LTX,
}
