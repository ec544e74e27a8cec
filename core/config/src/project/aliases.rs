//! Database aliases: the `databases` table (`name = "path"`), plus `default` from
//! `DATABASE_URL` (the environment, else the first `.env` upward) when the table has none.

use super::loader::Loader;
use super::{Alias, AliasOrigin};
use crate::database_url;
use crate::error::ConfigError;
use crate::replica;
use crate::schema;

impl Loader<'_> {
    /// The `databases` table, plus `default` from `DATABASE_URL` when the table has none.
    pub(super) fn aliases(
        &self,
        value: Option<&toml::Value>,
    ) -> Result<(Vec<Alias>, Option<String>), ConfigError> {
        let mut aliases = Vec::new();
        match value {
            None => {}
            Some(toml::Value::Table(table)) => {
                for (name, path) in table {
                    // Only errors need the key's name: built then, not for each of 10 000 aliases.
                    let key = || format!("databases.{name}");
                    let path = match path {
                        toml::Value::String(p) if !p.trim().is_empty() => p,
                        toml::Value::String(_) => {
                            return Err(self.error(
                                &key(),
                                "is empty",
                                "give the database file's path, e.g. \"data/app.db\"",
                            ));
                        }
                        other => {
                            return Err(self.error(
                                &key(),
                                format!("expected a path string, found {}", schema::describe(other)),
                                format!("write it as {name} = \"data/app.db\""),
                            ));
                        }
                    };
                    if replica::url_scheme(path).is_some() {
                        return Err(self.error(
                            &key(),
                            format!("`{path}` is a URL, not a database file"),
                            "give the local path of the SQLite file; replicas go in `replica`",
                        ));
                    }
                    aliases.push(Alias {
                        name: name.clone(),
                        path: self.resolve(path),
                        origin: AliasOrigin::Table,
                    });
                }
            }
            Some(other) => {
                return Err(self.error(
                    "databases",
                    format!("expected a table of alias = \"path\", found {}", schema::describe(other)),
                    "write it as a [package.metadata.litestream.databases] section",
                ));
            }
        }

        let mut problem = None;
        if !aliases.iter().any(|a| a.name == "default") {
            match database_url::find(self.env, self.base_dir) {
                Ok(Some((url, source))) => match database_url::sqlite_path(&url) {
                    Ok(path) => aliases.push(Alias {
                        name: "default".to_owned(),
                        path: self.resolve(&path.to_string_lossy()),
                        origin: AliasOrigin::DatabaseUrl(source),
                    }),
                    Err(why) => problem = Some(format!("{source} gives no `default` alias: {why}")),
                },
                Ok(None) => {}
                // sqlx and diesel would fail on it too: guessing would replicate the wrong set.
                Err(source) => return Err(ConfigError::DotEnv { source }),
            }
        }
        Ok((aliases, problem))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AliasOrigin, load_in, refusal};
    use crate::database_url::UrlSource;
    use crate::env::Env;

    #[test]
    fn table_aliases_resolve_against_the_manifest_folder() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty("/elsewhere");
        let project =
            load_in(dir.path(), "databases = { default = \"data/app.db\", cache = \"/abs/c.db\" }\n", &env)
                .unwrap();
        let found: Vec<(&str, std::path::PathBuf)> =
            project.aliases.iter().map(|a| (a.name.as_str(), a.path.clone())).collect();
        assert_eq!(
            found,
            [("default", dir.path().join("data/app.db")), ("cache", "/abs/c.db".into())],
            "in the table's order"
        );
    }

    /// `default`: the table's own, else DATABASE_URL from the environment, else from `.env`.
    #[test]
    fn database_url_precedence() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "DATABASE_URL=sqlite:from-file.db\n").unwrap();
        let env = Env::empty(dir.path());
        let with_url = env.clone().with("DATABASE_URL", "sqlite:from-env.db");
        let cases = [
            ("databases = { default = \"table.db\" }\n", &with_url, "table.db", AliasOrigin::Table),
            ("", &with_url, "from-env.db", AliasOrigin::DatabaseUrl(UrlSource::Environment)),
            ("", &env, "from-file.db", AliasOrigin::DatabaseUrl(UrlSource::DotEnv(dir.path().join(".env")))),
        ];
        for (metadata, env, file, origin) in cases {
            let project = load_in(dir.path(), metadata, env).unwrap();
            let default = project.alias("default").unwrap();
            assert_eq!(
                (default.path.clone(), &default.origin),
                (dir.path().join(file), &origin),
                "{metadata:?}"
            );
        }
    }

    #[test]
    fn an_unusable_database_url_is_a_problem_not_an_alias() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path()).with("DATABASE_URL", "sqlite::memory:");
        let project = load_in(dir.path(), "", &env).unwrap();
        assert!(project.alias("default").is_none());
        let problem = project.database_url_problem.unwrap();
        assert!(
            problem.starts_with("DATABASE_URL gives no `default` alias") && problem.contains("in-memory"),
            "{problem}"
        );
    }

    #[test]
    fn an_unparsable_dotenv_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "DATABASE_URL=\"unterminated\n").unwrap();
        let error = load_in(dir.path(), "", &Env::empty(dir.path())).unwrap_err().to_string();
        assert!(
            error.contains("could not parse") && error.contains("it may be what sets DATABASE_URL"),
            "{error}"
        );
    }

    #[test]
    fn refusals() {
        for (metadata, wanted) in [
            ("databases = { a = \"\" }\n", "databases.a`: is empty"),
            ("databases = { a = 3 }\n", "expected a path string"),
            ("databases = { a = \"s3://b/p\" }\n", "is a URL, not a database file"),
            ("databases = \"app.db\"\n", "expected a table of alias"),
        ] {
            let error = refusal(metadata);
            assert!(error.contains(wanted), "{metadata:?}: {error}");
        }
    }
}
