//! `cargo litestream reset`: Delete a database's local Litestream state; the next sync takes a fresh snapshot.

cargo_litestream_command::passthrough_command! {
    about: "Delete a database's local Litestream state; the next sync takes a fresh snapshot",
    table: Passthrough {
        command: "reset",
        needs: Needs::Config,
        flags: &[Flag::switch("dry-run", "Print what would be removed without deleting")],
        positionals: &[Positional {
            name: "DB_PATH",
            help: "Database alias or path",
            required: true,
            kind: Kind::Database(Lookup::Configured),
        }],
    },
}
