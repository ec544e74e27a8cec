//! What every command gets: the environment, the shell, global options, and the project
//! (loaded on first use, so commands that need none, like `version`, work anywhere).

use std::cell::OnceCell;
use std::path::PathBuf;

use anyhow::Context as _;
use cargo_litestream_api::targets;
use cargo_litestream_config::{ConfigError, Env, Project};
use cargo_litestream_fetch::Fetcher;
use cargo_litestream_runner::Litestream;
use cargo_litestream_shell::Shell;

pub struct Ctx {
    pub env: Env,
    pub shell: Shell,
    /// `--manifest-path`.
    pub manifest_path: Option<PathBuf>,
    /// `--offline` or `CARGO_NET_OFFLINE=true`.
    pub offline: bool,
    project: OnceCell<Project>,
    /// The note about variables left out of litestream's environment is printed once.
    noted_removed_variables: std::cell::Cell<bool>,
    /// The generated config of this run, by its `no_expand_env`: written once however many
    /// steps of a command need it.
    written_config: std::cell::RefCell<Option<(bool, PathBuf)>>,
}

impl Ctx {
    pub fn new(env: Env, shell: Shell, manifest_path: Option<PathBuf>, offline: bool) -> Ctx {
        Ctx {
            env,
            shell,
            manifest_path,
            offline,
            project: OnceCell::new(),
            noted_removed_variables: Default::default(),
            written_config: Default::default(),
        }
    }

    /// The project's configuration; loading it prints its warnings once.
    pub fn project(&self) -> anyhow::Result<&Project> {
        if let Some(project) = self.project.get() {
            return Ok(project);
        }
        let project = Project::load(self.manifest_path.as_deref(), &self.env)?;
        for warning in &project.warnings {
            self.shell.warn(warning);
        }
        Ok(self.project.get_or_init(|| project))
    }

    /// Called as the process is about to exit: the project is left for the kernel to free
    /// (for 10 000 databases, freeing it is ~20 M instructions, 5 % of `config`). It holds only
    /// memory: paths, strings and tables.
    pub fn forget_project(&mut self) {
        if let Some(project) = self.project.take() {
            std::mem::forget(project);
        }
    }

    /// The project, or `None` when there is no `Cargo.toml` at all (other errors still count).
    pub fn project_if_any(&self) -> anyhow::Result<Option<&Project>> {
        match self.project() {
            Ok(project) => Ok(Some(project)),
            Err(error) => match error.downcast_ref::<ConfigError>() {
                Some(ConfigError::NoManifest { .. }) if self.manifest_path.is_none() => Ok(None),
                _ => Err(error),
            },
        }
    }

    /// Fetches verified release files into the cache (honouring `--offline`).
    pub fn fetcher(&self) -> Fetcher<'_> {
        Fetcher::new(&self.env, &self.shell, self.offline)
    }

    /// The litestream binary to run: the user's own (`bin-path`, `CARGO_LITESTREAM_BIN`), else
    /// the verified one from the cache, adopted from `PATH`, or downloaded.
    pub fn litestream(&self) -> anyhow::Result<Litestream> {
        let project = self.project_if_any()?;
        let litestream = Litestream::locate(project, &self.fetcher())?;
        self.shell.verbose("Using", format!("{} (from {})", litestream.path.display(), litestream.source));
        if !self.noted_removed_variables.replace(true) {
            for name in Litestream::removed_variables(&self.env) {
                self.shell.note(format!(
                    "{name} is set: left out of litestream's environment (Litestream 0.5.17 fails every S3 call with it)"
                ));
            }
        }
        Ok(litestream)
    }

    /// Writes the config Litestream must read to find the database at `database` (absolute):
    /// the project's, or for a database inside a `dir` entry, one listing it alone
    /// (`Project::write_config_for`). `None`: the project's.
    pub fn write_litestream_config_for(
        &self,
        no_expand_env: bool,
        database: Option<&std::path::Path>,
    ) -> anyhow::Result<PathBuf> {
        let project = self.project()?;
        match database {
            Some(database) if project.dir_member(database)?.is_some() => {
                let options = cargo_litestream_config::Generate { no_expand_env, ..Default::default() };
                let path = project.write_config_for(database, &self.env, options)?;
                self.shell.verbose("Generated", format!("{} (for {})", path.display(), database.display()));
                Ok(path)
            }
            _ => self.write_litestream_config(no_expand_env),
        }
    }

    /// The targets the command line's DB arguments name (`cargo_litestream_api::targets`):
    /// with a project, [`targets::select`]; without one, only replica URLs where `urls` takes
    /// them (any other run needs the project, and says so).
    pub fn targets(&self, args: &[&str], urls: targets::Urls) -> anyhow::Result<Vec<targets::Selected<'_>>> {
        let project = match urls {
            targets::Urls::Take if !args.is_empty() => self.project_if_any()?,
            _ => Some(self.project()?),
        };
        Ok(match project {
            Some(project) => targets::select(project, args, &self.env, urls)?,
            None => targets::select_without_project(args, urls)?,
        })
    }

    /// The replicas the command line's DB arguments name ([`Ctx::targets`]; a `dir` entry with
    /// no database yet gets a note), each with what litestream is given to reach it. Never empty.
    pub fn replicas(
        &self,
        args: &[&str],
        urls: targets::Urls,
        no_expand_env: bool,
    ) -> anyhow::Result<Vec<targets::Replica<'_>>> {
        let mut replicas = Vec::new();
        for selected in self.readable(args, urls)? {
            replicas.push(match selected {
                targets::Selected::Url(url) => targets::Replica::of_url(url, &self.env),
                targets::Selected::Database(chosen) => {
                    let litestream_target = self.litestream_target(no_expand_env, &chosen.path)?;
                    let globals = &self.project()?.globals;
                    targets::Replica::of_database(chosen, globals, &self.env, litestream_target)
                }
                // Left out by `readable`.
                targets::Selected::EmptyDir { .. } => continue,
            });
        }
        Ok(replicas)
    }

    /// The configured databases the command line's DB arguments name, as [`Ctx::replicas`]
    /// takes them, for a command that refuses replica URLs (`verify`). Never empty.
    pub fn databases(&self, args: &[&str], urls: targets::Urls) -> anyhow::Result<Vec<targets::Chosen<'_>>> {
        let selected = self.readable(args, urls)?.into_iter();
        Ok(selected
            .filter_map(|s| if let targets::Selected::Database(chosen) = s { Some(chosen) } else { None })
            .collect())
    }

    /// [`Ctx::targets`] without the `dir` entries that hold no database yet, each given a
    /// note; when they are all there is, why nothing can be read.
    fn readable(&self, args: &[&str], urls: targets::Urls) -> anyhow::Result<Vec<targets::Selected<'_>>> {
        let (mut readable, mut empty_dirs) = (Vec::new(), Vec::new());
        for selected in self.targets(args, urls)? {
            match selected {
                targets::Selected::EmptyDir { dir, .. } => empty_dirs.push(dir.to_path_buf()),
                other => readable.push(other),
            }
        }
        if readable.is_empty() {
            return Err(targets::TargetsError::NoDatabaseYet(empty_dirs).into());
        }
        for dir in empty_dirs {
            self.shell.note(format!("no database in {} matches its entry's pattern yet", dir.display()));
        }
        Ok(readable)
    }

    /// What litestream is given to list or restore the configured database at `path`:
    /// `-config FILE PATH`: the run's config for a `path` entry, one listing a `dir` entry's database alone (Litestream's
    /// `ltx` and `restore` find `path:` entries only).
    pub fn litestream_target(
        &self,
        no_expand_env: bool,
        path: &std::path::Path,
    ) -> anyhow::Result<Vec<std::ffi::OsString>> {
        let config = match self.project()?.database(path) {
            Some(_) => self.write_litestream_config(no_expand_env)?,
            None => self.write_litestream_config_for(no_expand_env, Some(path))?,
        };
        Ok(vec!["-config".into(), config.into(), path.into()])
    }

    /// Writes the generated Litestream config for this run and returns its path.
    pub fn write_litestream_config(&self, no_expand_env: bool) -> anyhow::Result<PathBuf> {
        if let Some((written_for, path)) = &*self.written_config.borrow()
            && *written_for == no_expand_env
        {
            return Ok(path.clone());
        }
        let project = self.project()?;
        let path = project.config_path();
        project
            .write_config(
                &path,
                &self.env,
                cargo_litestream_config::Generate { no_expand_env, ..Default::default() },
            )
            .with_context(|| {
                format!("could not write the Litestream config for {}", project.manifest_path.display())
            })?;
        self.shell.verbose("Generated", path.display());
        self.written_config.replace(Some((no_expand_env, path.clone())));
        Ok(path)
    }
}
