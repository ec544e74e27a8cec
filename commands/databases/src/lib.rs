//! `cargo litestream databases`: List the databases configured in Cargo.toml and their replica types.

cargo_litestream_command::passthrough_command! {
    about: "List the databases configured in Cargo.toml and their replica types",
    table: Passthrough {
        command: "databases",
        needs: Needs::Config,
        flags: &[Flag::switch("json", "Print JSON")],
        positionals: &[],
    },
}
