//! A replica written as a URL or path string, or as a table: validated, `file://` URLs turned
//! into `type = "file"` tables, paths made absolute.

use super::loader::{Loader, resolve_paths};
use crate::error::ConfigError;
use crate::replica;
use crate::schema::{self, Site};

impl Loader<'_> {
    /// A replica written as a URL/path string or as a table.
    pub(super) fn replica_table(
        &self,
        value: &toml::Value,
        key: &str,
        strict: bool,
        warnings: &mut Vec<String>,
    ) -> Result<toml::Table, ConfigError> {
        match value {
            toml::Value::String(text) => replica::from_string(text, self.base_dir)
                .map_err(|why| self.error(key, why, "see `replica` in the configuration reference")),
            toml::Value::Table(table) => {
                let site = Site { file: self.file, table: self.key_path(key), strict };
                schema::check_table(table, schema::REPLICA_KEYS, schema::REPLICA_RETIRED, &site, warnings)?;
                let mut table = table.clone();
                if let Some(toml::Value::String(url)) = table.get("url") {
                    if url.starts_with("file://") {
                        let mut converted = replica::from_string(url, self.base_dir).map_err(|why| {
                            self.error(&format!("{key}.url"), why, "use `type = \"file\"` with a `path`")
                        })?;
                        table.remove("url");
                        converted.extend(table);
                        table = converted;
                    }
                } else if is_file_replica(&table)
                    && let Some(toml::Value::String(path)) = table.get("path")
                    && !path.contains('$')
                {
                    let resolved = replica::display(&self.resolve(path));
                    table.insert("path".into(), resolved.into());
                }
                resolve_paths(&mut table, schema::REPLICA_KEYS, self);
                Ok(table)
            }
            other => Err(self.error(
                key,
                format!("expected a URL or a table, found {}", schema::describe(other)),
                "write it as replica = \"s3://bucket/prefix\" or as a table with `type`",
            )),
        }
    }
}

fn is_file_replica(table: &toml::Table) -> bool {
    table.get("type").and_then(toml::Value::as_str).is_none_or(|t| t.eq_ignore_ascii_case("file"))
}

#[cfg(test)]
mod tests {
    use super::super::{load_in, refusal};
    use crate::env::Env;

    #[test]
    fn string_and_table_forms() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::empty(dir.path());
        for (replica, kind, path) in [
            ("\"backups\"", "file", Some(dir.path().join("backups/app.db"))),
            ("{ url = \"file:///srv/b\" }", "file", Some("/srv/b/app.db".into())),
            ("{ type = \"file\", path = \"rel\" }", "file", Some(dir.path().join("rel/app.db"))),
            ("\"s3://bucket/prefix\"", "", None),
        ] {
            let metadata = format!("replica = {replica}\ndatabases = {{ default = \"app.db\" }}\n");
            let project = load_in(dir.path(), &metadata, &env).unwrap();
            let table = &project.databases[0].replica;
            let get = |key: &str| table.get(key).and_then(toml::Value::as_str).map(str::to_owned);
            assert_eq!(get("type").unwrap_or_default(), kind, "{replica}");
            assert_eq!(get("path"), path.map(|p: std::path::PathBuf| p.display().to_string()), "{replica}");
        }
    }

    #[test]
    fn refusals() {
        for (metadata, wanted) in [
            ("replica = \"file://rel\"\n", "means `/rel` to Litestream"),
            ("replica = \"\"\n", "an empty replica"),
            ("replica = 3\n", "expected a URL or a table"),
            ("replica = { url = \"file://rel\" }\n", "replica.url`: `file://rel`"),
        ] {
            let error = refusal(metadata);
            assert!(error.contains(wanted), "{metadata:?}: {error}");
        }
    }
}
