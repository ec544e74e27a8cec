//! `cargo litestream unregister`: Remove a database from the running replicate daemon.

cargo_litestream_command::passthrough_command! {
    about: "Remove a database from the running replicate daemon",
    table: Passthrough {
        command: "unregister",
        needs: Needs::Socket(SocketTimeout::ThirtySeconds),
        flags: &[
            Flag::switch("json", "Print JSON"),
            Flag::switch("dry-run", "Print what would be unregistered without changing the daemon"),
        ],
        positionals: &[Positional {
            name: "DB_PATH",
            help: "Database alias or path",
            required: true,
            kind: Kind::Database(Lookup::Any),
        }],
    },
}
