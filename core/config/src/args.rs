//! Database arguments on the command line: an alias, a replica URL, or a path.

use std::path::PathBuf;

use crate::env::Env;
use crate::error::ConfigError;
use crate::project::{Project, looks_like_alias};
use crate::replica::url_scheme;
use crate::schema::suggest;

/// What a database argument turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseArg {
    /// A replica URL (`s3://…`), passed through as written.
    Url(String),
    /// A database file, absolute.
    Path { path: PathBuf, alias: Option<String> },
}

impl DatabaseArg {
    /// The text handed to Litestream.
    pub fn to_arg(&self) -> std::ffi::OsString {
        match self {
            DatabaseArg::Url(url) => url.into(),
            DatabaseArg::Path { path, .. } => path.clone().into_os_string(),
        }
    }
}

/// Whether the argument must name a database listed in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Config commands (`restore`, `ltx`, `reset`, `status`): Litestream looks the path up in
    /// the config and fails with a bare "database not found in config" otherwise.
    Configured,
    /// Daemon commands: the database may have been `register`ed at run time.
    Any,
}

impl Project {
    /// Resolves `arg`: an alias wins, then a replica URL, then a path made absolute against the
    /// working directory (Litestream compares absolute paths, `status` literally).
    pub fn resolve_database_arg(
        &self,
        arg: &str,
        env: &Env,
        lookup: Lookup,
    ) -> Result<DatabaseArg, ConfigError> {
        if let Some(alias) = self.alias(arg) {
            return Ok(DatabaseArg::Path { path: alias.path.clone(), alias: Some(alias.name.clone()) });
        }
        if url_scheme(arg).is_some() {
            return Ok(DatabaseArg::Url(arg.to_owned()));
        }
        let path = env.absolute(std::path::Path::new(arg));
        if self.database(&path).is_some() {
            return Ok(DatabaseArg::Path { path, alias: None });
        }
        // Inside a `dir` entry: one of its databases when its pattern says so. A path the
        // pattern leaves out is refused only where the config must list it: a daemon may
        // have had it `register`ed.
        match self.dir_member(&path) {
            Ok(Some(_)) => return Ok(DatabaseArg::Path { path, alias: None }),
            Err(refused) if lookup == Lookup::Configured => return Err(refused),
            Ok(None) | Err(_) => {}
        }
        let plausible = path.exists() || !looks_like_alias(arg);
        if lookup == Lookup::Any && plausible {
            return Ok(DatabaseArg::Path { path, alias: None });
        }
        Err(self.unknown_database(arg, &path))
    }

    fn unknown_database(&self, arg: &str, path: &std::path::Path) -> ConfigError {
        let alias_hint = match suggest(arg, self.aliases.iter().map(|a| a.name.as_str())) {
            s if s.starts_with("did you mean") => Some(s),
            _ => None,
        };
        let problem = if looks_like_alias(arg) {
            match (arg, &self.database_url_problem) {
                ("default", Some(why)) => format!("`default` is not a database alias: {why}"),
                _ => format!("`{arg}` is not a database alias"),
            }
        } else {
            format!("`{}` is not a configured database", path.display())
        };
        let help = match alias_hint {
            Some(hint) => hint,
            None if self.databases.is_empty() => format!(
                "no databases are configured; add them to [{}] in {} (see `cargo litestream config`)",
                self.source.table_name(),
                self.manifest_path.display()
            ),
            None => format!("configured: {}", self.configured_list()),
        };
        ConfigError::Argument { problem, help }
    }

    /// `default (/srv/app/db.sqlite3), /srv/app/other.db`: for messages.
    pub fn configured_list(&self) -> String {
        self.databases
            .iter()
            .map(|db| match &db.alias {
                Some(alias) => format!("{alias} ({})", db.location.path().display()),
                None => db.location.path().display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}
