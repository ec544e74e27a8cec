//! `cargo litestream`: the binary. The commands are linked by the library beside it
//! (`src/lib.rs`, the one list of them), which hands over to the dispatcher.

fn main() -> std::process::ExitCode {
    cargo_litestream::main()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Exactly these commands are registered: a command crate that is not linked would vanish
    /// from the tool without any error.
    #[test]
    fn registry_has_exactly_these_commands() {
        let names: Vec<&str> = cargo_litestream_command::commands().unwrap().keys().copied().collect();
        assert_eq!(
            names,
            [
                "check",
                "completions",
                "config",
                "dashboard",
                "databases",
                "doctor",
                "drill",
                "info",
                "init",
                "install",
                "list",
                "ltx",
                "register",
                "replicate",
                "reset",
                "restore",
                "restore-points",
                "scrub",
                "start",
                "status",
                "stop",
                "sync",
                "unregister",
                "verify",
                "version",
                "vfs-install",
                "vfs-status",
                "wal",
            ]
        );
    }

    #[test]
    fn clap_tree_is_consistent() {
        cargo_litestream_command::cli().unwrap().debug_assert();
    }

    /// The `use … as _;` list of src/lib.rs, the `commands/` folders and the dependencies in
    /// Cargo.toml name the same crates.
    #[test]
    fn command_crates_are_linked() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let folders: BTreeSet<String> = std::fs::read_dir(root.join("commands"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().replace('-', "_"))
            .collect();
        let main = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
        let used: BTreeSet<String> = main
            .lines()
            .filter_map(|l| l.strip_prefix("use cargo_litestream_cmd_"))
            .filter_map(|l| l.strip_suffix(" as _;"))
            .map(str::to_owned)
            .collect();
        assert_eq!(used, folders, "src/lib.rs must `use` every crate in commands/ (and nothing else)");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        for name in &folders {
            let dep = format!(
                "cargo-litestream-cmd-{} = {{ path = \"commands/{}\"",
                name.replace('_', "-"),
                name.replace('_', "-")
            );
            assert!(manifest.contains(&dep), "Cargo.toml lacks `{dep}`");
        }
    }
}
