//! `cargo litestream list`: List the databases the running replicate daemon replicates.

cargo_litestream_command::passthrough_command! {
    about: "List the databases the running replicate daemon replicates",
    table: Passthrough {
        command: "list",
        needs: Needs::Socket(SocketTimeout::TenSeconds),
        flags: &[Flag::switch("json", "Print JSON")],
        positionals: &[],
    },
}
