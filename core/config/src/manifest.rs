//! Finding and reading the project's manifests.
//!
//! `cargo metadata` would answer these questions too, but it costs a cargo subprocess (~20 ms,
//! four times the budget of `cargo litestream config`), so the few things needed are read
//! directly: the nearest `Cargo.toml`, its workspace root, and the target directory.

use std::path::{Path, PathBuf};

use crate::env::{Env, normalize};
use crate::error::{ConfigError, toml_error};

/// A parsed `Cargo.toml`.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub path: PathBuf,
    pub table: toml::Table,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Manifest::parse(path, &text)
    }

    /// Parses `text` as the manifest at `path` (which need not hold that text yet).
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, ConfigError> {
        let table = text.parse::<toml::Table>().map_err(|e| toml_error(path, text, &e))?;
        Ok(Manifest { path: path.to_path_buf(), table })
    }

    /// The directory holding this manifest.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    pub fn package_name(&self) -> Option<&str> {
        self.table.get("package")?.get("name")?.as_str()
    }

    pub fn is_workspace_root(&self) -> bool {
        self.table.get("workspace").is_some_and(toml::Value::is_table)
    }

    /// `[package.metadata.litestream]`, when present.
    pub fn package_metadata(&self) -> Option<&toml::Value> {
        self.table.get("package")?.get("metadata")?.get("litestream")
    }

    /// Moves `[package.metadata.litestream]` out of the manifest: the project keeps it, and a
    /// table of 10 000 databases is not copied.
    pub fn take_package_metadata(&mut self) -> Option<toml::Value> {
        self.table.get_mut("package")?.get_mut("metadata")?.as_table_mut()?.remove("litestream")
    }

    /// `[workspace.metadata.litestream]`, when present.
    pub fn workspace_metadata(&self) -> Option<&toml::Value> {
        self.table.get("workspace")?.get("metadata")?.get("litestream")
    }
}

/// The manifest to use: `--manifest-path`, or the nearest `Cargo.toml` upward from the
/// working directory (as cargo does).
pub fn locate(manifest_path: Option<&Path>, env: &Env) -> Result<PathBuf, ConfigError> {
    if let Some(path) = manifest_path {
        let path = env.absolute(path);
        if path.file_name().is_none_or(|name| name != "Cargo.toml") {
            return Err(ConfigError::ManifestNotToml { path });
        }
        if !path.is_file() {
            return Err(ConfigError::ManifestMissing { path });
        }
        return Ok(path);
    }
    env.cwd()
        .ancestors()
        .map(|dir| dir.join("Cargo.toml"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| ConfigError::NoManifest { cwd: env.cwd().to_path_buf() })
}

/// The workspace root of `manifest`: itself when it has `[workspace]`, the path named by
/// `package.workspace`, else the nearest ancestor `Cargo.toml` with a `[workspace]` table, unless
/// its `exclude` names the package's folder. `None` for a package outside any workspace.
pub fn workspace_root(manifest: &Manifest) -> Result<Option<Manifest>, ConfigError> {
    if manifest.is_workspace_root() {
        return Ok(Some(manifest.clone()));
    }
    if let Some(dir) =
        manifest.table.get("package").and_then(|p| p.get("workspace")).and_then(toml::Value::as_str)
    {
        let path = normalize(&manifest.dir().join(dir).join("Cargo.toml"));
        return Manifest::read(&path).map(Some);
    }
    for dir in manifest.dir().ancestors().skip(1) {
        let candidate = dir.join("Cargo.toml");
        if candidate.is_file() {
            let parent = Manifest::read(&candidate)?;
            if parent.is_workspace_root() {
                // As cargo: a package the workspace `exclude`s is a package of its own.
                let excluded = parent
                    .table
                    .get("workspace")
                    .and_then(|w| w.get("exclude"))
                    .and_then(toml::Value::as_array)
                    .is_some_and(|list| {
                        list.iter()
                            .filter_map(toml::Value::as_str)
                            .any(|entry| manifest.dir().starts_with(normalize(&dir.join(entry))))
                    });
                return Ok((!excluded).then_some(parent));
            }
        }
    }
    Ok(None)
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` (or `CARGO_BUILD_TARGET_DIR`), relative
/// to the working directory as cargo resolves it, else `<workspace root>/target`.
///
/// Then `build.target-dir` of cargo's configuration files, as cargo finds them: `.cargo/config.toml`
/// (or `.cargo/config`) in the working directory and each folder above it, then in
/// `$CARGO_HOME` (`~/.cargo`); the deepest one that sets it wins, and a relative value is
/// relative to the folder holding that `.cargo`. (Cargo does not pass its configuration to
/// third-party subcommands, so it is read here.)
pub fn target_dir(root_dir: &Path, env: &Env) -> PathBuf {
    if let Some(dir) = env.non_empty("CARGO_TARGET_DIR").or_else(|| env.non_empty("CARGO_BUILD_TARGET_DIR")) {
        return env.absolute(Path::new(dir));
    }
    configured_target_dir(env).unwrap_or_else(|| root_dir.join("target"))
}

/// `build.target-dir` from cargo's configuration files (see [`target_dir`]).
fn configured_target_dir(env: &Env) -> Option<PathBuf> {
    let cargo_home = env
        .non_empty("CARGO_HOME")
        .map(|home| env.absolute(Path::new(home)))
        .or_else(|| env.non_empty("HOME").map(|home| Path::new(home).join(".cargo")));
    let candidates = env
        .cwd()
        .ancestors()
        .map(|dir| dir.join(".cargo"))
        .chain(cargo_home)
        .flat_map(|dot_cargo| [dot_cargo.join("config.toml"), dot_cargo.join("config")]);
    for file in candidates {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let Ok(table) = text.parse::<toml::Table>() else { continue };
        if let Some(dir) = table.get("build").and_then(|b| b.get("target-dir")).and_then(toml::Value::as_str)
        {
            // Relative to the folder holding `.cargo` (for $CARGO_HOME/config.toml: its parent).
            let base = file.parent().and_then(Path::parent).unwrap_or(Path::new("/"));
            return Some(normalize(&base.join(dir)));
        }
    }
    None
}
