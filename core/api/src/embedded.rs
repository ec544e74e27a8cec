//! The configuration an application carries: its `Cargo.toml`, embedded at build time.
//!
//! **Why embedded.** A deployed binary usually has no `Cargo.toml` beside it (a container image,
//! a systemd service), so reading the table at run time would need the manifest shipped and kept
//! in step by hand. Embedded with `include_str!`, the table cannot drift from the binary that was
//! built and tested, and cargo rebuilds the application whenever `Cargo.toml` changes. What
//! differs between machines stays a run-time matter, as in the CLI: `$VAR` references (bucket,
//! credentials) are expanded by Litestream when it starts, and `DATABASE_URL` is read from the
//! environment (or `.env`).
//!
//! **Where it applies.** [`EmbeddedManifest::load`]:
//! - when the `Cargo.toml` the binary was built from is still at its build-time path with the
//!   same text (`cargo run` during development), reads it exactly as `cargo litestream` does
//!   (workspace table included), so the CLI and the application agree on the generated files
//!   and the control socket: `cargo litestream info`, `sync` and `verify` reach the
//!   application's replication;
//! - otherwise (deployed), uses the embedded text as the manifest of a package that sits in
//!   `CARGO_LITESTREAM_PROJECT_DIR`, else the working directory: relative paths in the table
//!   resolve against that folder, and generated files go to `$CARGO_TARGET_DIR` or
//!   `<that folder>/target` (`…/litestream/<package>/`). Only the package's own
//!   `[package.metadata.litestream]` is embedded: a table kept in the workspace root's
//!   `[workspace.metadata.litestream]` is refused there (move it, or ship the manifests and
//!   use [`Project::load`]).

use std::path::{Path, PathBuf};

use cargo_litestream_config::{ConfigError, Env, Manifest, Project};

/// The environment variable naming the folder a deployed application's relative paths resolve
/// against (default: the working directory).
pub const PROJECT_DIR_ENV: &str = "CARGO_LITESTREAM_PROJECT_DIR";

/// A package's `Cargo.toml`, embedded by [`manifest!`](crate::manifest!).
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedManifest {
    /// The package's folder at build time (`CARGO_MANIFEST_DIR`).
    pub build_dir: &'static str,
    /// The manifest's text at build time.
    pub text: &'static str,
}

/// Embeds the calling package's `Cargo.toml` (its `[package.metadata.litestream]` table) at
/// build time; [`EmbeddedManifest::load`] turns it into a [`Project`] at run time.
///
/// ```no_run
/// let env = cargo_litestream_api::config::Env::capture()?;
/// let project = cargo_litestream_api::manifest!().load(&env)?;
/// for db in &project.databases {
///     println!("{}", db.name());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[macro_export]
macro_rules! manifest {
    () => {
        $crate::EmbeddedManifest {
            build_dir: env!("CARGO_MANIFEST_DIR"),
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")),
        }
    };
}

/// Where a loaded configuration came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The build-time `Cargo.toml`, unchanged, read from disk.
    BuildManifest(PathBuf),
    /// The embedded text, placed in this folder.
    Embedded(PathBuf),
}

impl EmbeddedManifest {
    /// The project configuration (see the [module documentation](self) for which file is read).
    pub fn load(&self, env: &Env) -> Result<Project, ConfigError> {
        self.load_with_origin(env).map(|(project, _)| project)
    }

    /// [`EmbeddedManifest::load`], saying where the configuration came from.
    pub fn load_with_origin(&self, env: &Env) -> Result<(Project, Origin), ConfigError> {
        let build_manifest = Path::new(self.build_dir).join("Cargo.toml");
        if env.non_empty(PROJECT_DIR_ENV).is_none()
            && std::fs::read_to_string(&build_manifest).is_ok_and(|text| text == self.text)
        {
            let project = Project::load(Some(&build_manifest), env)?;
            return Ok((project, Origin::BuildManifest(build_manifest)));
        }
        let dir = match env.non_empty(PROJECT_DIR_ENV) {
            Some(dir) => env.absolute(Path::new(dir)),
            None => env.cwd().to_path_buf(),
        };
        let path = dir.join("Cargo.toml");
        let manifest = Manifest::parse(&path, self.text)?;
        if manifest.package_metadata().is_none() {
            let name = manifest.package_name().unwrap_or("the package").to_owned();
            return Err(ConfigError::Argument {
                problem: format!(
                    "the Cargo.toml of {name} embedded at build time has no [package.metadata.litestream] table (a [workspace.metadata.litestream] table is not embedded)"
                ),
                help: "add the table to the package's own Cargo.toml (an empty one uses the defaults) and rebuild"
                    .to_owned(),
            });
        }
        let project = Project::from_manifests(manifest, None, env)?;
        Ok((project, Origin::Embedded(dir)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[package.metadata.litestream]\nreplica = \"backups\"\n\n[package.metadata.litestream.databases]\ndefault = \"data/app.db\"\n";

    #[test]
    fn the_build_manifest_is_read_when_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), TEXT).unwrap();
        let build_dir: &'static str = Box::leak(dir.path().to_string_lossy().into_owned().into_boxed_str());
        let embedded = EmbeddedManifest { build_dir, text: TEXT };
        let elsewhere = tempfile::tempdir().unwrap();
        let (project, origin) = embedded.load_with_origin(&Env::empty(elsewhere.path())).unwrap();
        assert_eq!(origin, Origin::BuildManifest(dir.path().join("Cargo.toml")));
        assert_eq!(project.alias("default").unwrap().path, dir.path().join("data/app.db"));
    }

    #[test]
    fn deployed_paths_resolve_against_the_project_dir_or_the_working_directory() {
        let gone = "/nonexistent/build/dir";
        let embedded = EmbeddedManifest { build_dir: gone, text: TEXT };
        let cwd = tempfile::tempdir().unwrap();
        let (project, origin) = embedded.load_with_origin(&Env::empty(cwd.path())).unwrap();
        assert_eq!(origin, Origin::Embedded(cwd.path().to_path_buf()));
        assert_eq!(project.alias("default").unwrap().path, cwd.path().join("data/app.db"));
        assert_eq!(project.state_dir, cwd.path().join("target/litestream/svc"));

        let srv = tempfile::tempdir().unwrap();
        let env = Env::empty(cwd.path())
            .with(PROJECT_DIR_ENV, srv.path())
            .with("CARGO_TARGET_DIR", srv.path().join("state"));
        let project = embedded.load(&env).unwrap();
        assert_eq!(project.alias("default").unwrap().path, srv.path().join("data/app.db"));
        assert_eq!(project.state_dir, srv.path().join("state/litestream/svc"));
    }

    #[test]
    fn a_manifest_without_the_table_is_refused() {
        let embedded = EmbeddedManifest {
            build_dir: "/nonexistent",
            text: "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n",
        };
        let error = embedded.load(&Env::empty("/")).unwrap_err().to_string();
        assert!(error.contains("no [package.metadata.litestream]"), "{error}");
    }
}
