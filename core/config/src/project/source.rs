//! Which table a project's settings come from: `[package.metadata.litestream]` of the manifest,
//! else `[workspace.metadata.litestream]` of its workspace root, else none (only
//! `DATABASE_URL` and the defaults apply); and the folders that follow from that choice.

use std::path::{Path, PathBuf};

use super::ConfigSource;
use crate::env::Env;
use crate::error::ConfigError;
use crate::manifest::{self, Manifest};
use crate::schema;

/// The chosen table and where its paths and generated files go.
#[derive(Debug)]
pub(super) struct Selected {
    pub source: ConfigSource,
    /// The manifest the table was read from (the package's when neither table exists).
    pub file: PathBuf,
    /// Relative paths in the table resolve against this folder.
    pub base_dir: PathBuf,
    pub table: toml::Table,
    pub target_dir: PathBuf,
    /// `<target dir>/litestream/<package, or "workspace">`.
    pub state_dir: PathBuf,
}

/// The table of `manifest` (its package table, already taken out: `package_value`) or of its
/// workspace `root` (`None`: a package on its own, or a manifest that is its own root).
pub(super) fn select(
    package_value: Option<toml::Value>,
    manifest: &Manifest,
    root: Option<&Manifest>,
    env: &Env,
) -> Result<Selected, ConfigError> {
    let root = match root {
        Some(root) => Some(root),
        None if manifest.is_workspace_root() => Some(manifest),
        None => None,
    };
    let root_dir = root.map_or(manifest.dir(), Manifest::dir).to_path_buf();

    let (source, value) = if let Some(value) = package_value {
        (ConfigSource::Package(manifest.path.clone()), Some(value))
    } else if let Some(value) = root.and_then(Manifest::workspace_metadata) {
        let root_path = root.map(|r| r.path.clone()).unwrap_or_default();
        (ConfigSource::Workspace(root_path), Some(value.clone()))
    } else {
        (ConfigSource::Defaults, None)
    };
    let (file, base_dir) = match &source {
        ConfigSource::Package(path) | ConfigSource::Workspace(path) => {
            (path.clone(), path.parent().unwrap_or(Path::new("/")).to_path_buf())
        }
        ConfigSource::Defaults => (manifest.path.clone(), manifest.dir().to_path_buf()),
    };
    let table = match value {
        None => toml::Table::new(),
        Some(toml::Value::Table(table)) => table,
        Some(other) => {
            return Err(ConfigError::key(
                &file,
                source.table_name(),
                format!("expected a table, found {}", schema::describe(&other)),
                "write it as a [package.metadata.litestream] section",
            ));
        }
    };

    let target_dir = manifest::target_dir(&root_dir, env);
    let state_dir = target_dir.join("litestream").join(state_name(&source, manifest.package_name()));
    Ok(Selected { source, file, base_dir, table, target_dir, state_dir })
}

/// The state folder's name: the package's, or `workspace` for a workspace-wide table (or a
/// manifest with no package).
fn state_name(source: &ConfigSource, package: Option<&str>) -> String {
    match (source, package) {
        (ConfigSource::Workspace(_), _) | (_, None) => "workspace".to_owned(),
        (_, Some(name)) => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKAGE: &str = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n";

    fn manifest(path: &str, text: &str) -> Manifest {
        Manifest::parse(Path::new(path), text).unwrap()
    }

    fn chosen(member: &str, root: Option<&str>) -> Result<Selected, ConfigError> {
        let mut member = manifest("/w/app/Cargo.toml", member);
        let root = root.map(|text| manifest("/w/Cargo.toml", text));
        let env = Env::empty("/w");
        let package = member.take_package_metadata();
        select(package, &member, root.as_ref(), &env)
    }

    /// Package table, workspace table, neither: which wins, where paths resolve, the state name.
    #[test]
    fn the_package_table_wins_over_the_workspace_one() {
        let workspace = "[workspace]\n[workspace.metadata.litestream]\nversion = \"0.5.16\"\n";
        let cases = [
            (
                format!("{PACKAGE}[package.metadata.litestream]\nversion = \"0.5.17\"\n"),
                Some(workspace),
                ConfigSource::Package("/w/app/Cargo.toml".into()),
                "/w/app",
                "app",
                "0.5.17",
            ),
            (
                PACKAGE.to_owned(),
                Some(workspace),
                ConfigSource::Workspace("/w/Cargo.toml".into()),
                "/w",
                "workspace",
                "0.5.16",
            ),
            (PACKAGE.to_owned(), None, ConfigSource::Defaults, "/w/app", "app", ""),
            (PACKAGE.to_owned(), Some("[workspace]\n"), ConfigSource::Defaults, "/w/app", "app", ""),
        ];
        for (member, root, source, base, state, version) in cases {
            let selected = chosen(&member, root).unwrap();
            assert_eq!(selected.source, source, "{member} / {root:?}");
            assert_eq!(selected.base_dir, Path::new(base));
            assert_eq!(selected.state_dir.file_name().unwrap(), state);
            let found = selected.table.get("version").and_then(toml::Value::as_str).unwrap_or("");
            assert_eq!(found, version);
        }
    }

    #[test]
    fn generated_files_go_below_the_workspace_root_target() {
        let selected = chosen(PACKAGE, Some("[workspace]\n")).unwrap();
        assert_eq!(selected.target_dir, Path::new("/w/target"));
        assert_eq!(selected.state_dir, Path::new("/w/target/litestream/app"));
    }

    #[test]
    fn a_table_that_is_not_a_table_is_refused() {
        let error = chosen(&format!("{PACKAGE}[package.metadata]\nlitestream = 3\n"), None).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("package.metadata.litestream") && text.contains("expected a table"), "{text}");
    }
}
