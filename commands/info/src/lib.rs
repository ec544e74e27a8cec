//! `cargo litestream info`: Show the running replicate daemon (through the control socket).

cargo_litestream_command::passthrough_command! {
    about: "Show the running replicate daemon (through the control socket)",
    table: Passthrough {
        command: "info",
        needs: Needs::Socket(SocketTimeout::TenSeconds),
        flags: &[Flag::switch("json", "Print JSON")],
        positionals: &[],
    },
}
