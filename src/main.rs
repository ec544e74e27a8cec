//! `cargo litestream`: the binary. It links every command crate (each registers itself with
//! `inventory`; a crate not named here is not linked and its command silently vanishes: the
//! `command_crates_are_linked` test guards the list) and hands over to the dispatcher.

use cargo_litestream_cmd_completions as _;
use cargo_litestream_cmd_config as _;
use cargo_litestream_cmd_databases as _;
use cargo_litestream_cmd_doctor as _;
use cargo_litestream_cmd_info as _;
use cargo_litestream_cmd_init as _;
use cargo_litestream_cmd_install as _;
use cargo_litestream_cmd_list as _;
use cargo_litestream_cmd_ltx as _;
use cargo_litestream_cmd_register as _;
use cargo_litestream_cmd_replicate as _;
use cargo_litestream_cmd_reset as _;
use cargo_litestream_cmd_restore as _;
use cargo_litestream_cmd_restore_points as _;
use cargo_litestream_cmd_scrub as _;
use cargo_litestream_cmd_start as _;
use cargo_litestream_cmd_status as _;
use cargo_litestream_cmd_stop as _;
use cargo_litestream_cmd_sync as _;
use cargo_litestream_cmd_unregister as _;
use cargo_litestream_cmd_verify as _;
use cargo_litestream_cmd_version as _;
use cargo_litestream_cmd_vfs_install as _;
use cargo_litestream_cmd_vfs_status as _;
use cargo_litestream_cmd_wal as _;

fn main() -> std::process::ExitCode {
    cargo_litestream_command::main()
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
                "completions",
                "config",
                "databases",
                "doctor",
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

    /// The `use … as _;` list above, the `commands/` folders and the dependencies in
    /// Cargo.toml name the same crates.
    #[test]
    fn command_crates_are_linked() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let folders: BTreeSet<String> = std::fs::read_dir(root.join("commands"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().replace('-', "_"))
            .collect();
        let main = std::fs::read_to_string(root.join("src/main.rs")).unwrap();
        let used: BTreeSet<String> = main
            .lines()
            .filter_map(|l| l.strip_prefix("use cargo_litestream_cmd_"))
            .filter_map(|l| l.strip_suffix(" as _;"))
            .map(str::to_owned)
            .collect();
        assert_eq!(used, folders, "src/main.rs must `use` every crate in commands/ (and nothing else)");
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
