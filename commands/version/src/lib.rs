//! `cargo litestream version`: Print the version of the litestream binary.

cargo_litestream_command::passthrough_command! {
    about: "Print the version of the litestream binary",
    table: Passthrough {
        command: "version",
        needs: Needs::Nothing,
        flags: &[Flag::switch("verbose", "Print build details (Go version, commit, OS/arch)")],
        positionals: &[],
    },
}
