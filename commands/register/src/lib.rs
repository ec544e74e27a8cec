//! `cargo litestream register`: Add a database to the running replicate daemon.

cargo_litestream_command::passthrough_command! {
    about: "Add a database to the running replicate daemon",
    table: Passthrough {
        command: "register",
        needs: Needs::Socket(SocketTimeout::ThirtySeconds),
        flags: &[
            Flag::switch("json", "Print JSON"),
            Flag::value(
                "replica",
                "URL",
                "Replica URL, e.g. s3://bucket/prefix or file:///backups/app (required)",
            ),
        ],
        positionals: &[Positional {
            name: "DB_PATH",
            help: "Database alias or path",
            required: true,
            kind: Kind::Database(Lookup::Any),
        }],
    },
}
