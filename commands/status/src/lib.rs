//! `cargo litestream status`: Show the local replication state of each database (no daemon needed).

cargo_litestream_command::passthrough_command! {
    about: "Show the local replication state of each database (no daemon needed)",
    table: Passthrough {
        command: "status",
        needs: Needs::Config,
        flags: &[Flag::switch("json", "Print JSON")],
        positionals: &[Positional {
            name: "DB_PATH",
            help: "Only this database (alias or path)",
            required: false,
            kind: Kind::Database(Lookup::Configured),
        }],
    },
}
