//! Databases inside a `dir` entry (`dir` + `pattern`), as Litestream 0.5.17 finds and configures
//! them (`cmd/litestream/main.go`: `FindSQLiteDatabases`, `newDBFromDirectoryEntry`,
//! `cloneReplicaConfigWithRelativePath`, `deriveMetaPathForDirectoryEntry`).
//!
//! Litestream's `restore`, `ltx`, `status` and `reset` look a database up by its `path:` entry
//! only (`Config.DBConfig`): a database that `replicate` found through a `dir` entry is "not found
//! in config" there. [`DirMember::database`] builds the entry Litestream's directory scan builds
//! for it in memory (same options, its own replica path and state folder), so that it can be
//! written as a configuration of its own and those commands find it.

use std::path::{Component, Path, PathBuf};

use crate::error::ConfigError;
use crate::project::{Database, Location, Project};
use crate::replica::display;

/// A file inside a `dir` entry that the entry replicates.
#[derive(Clone, Debug)]
pub struct DirMember<'a> {
    /// The `dir` entry.
    pub entry: &'a Database,
    /// The database, absolute.
    pub path: PathBuf,
    /// Its path below the entry's `dir` (`sub/deep.db`).
    pub relative: PathBuf,
}

impl Project {
    /// The `dir` entry that replicates `path` (absolute, normalized), if one does: `Ok(None)`
    /// when no entry's folder holds it, an error naming the rule when one holds it but its
    /// `pattern` (or a missing `recursive`) leaves it out.
    pub fn dir_member(&self, path: &Path) -> Result<Option<DirMember<'_>>, ConfigError> {
        let mut refusal = None;
        for entry in &self.databases {
            let Location::Dir(dir) = &entry.location else { continue };
            let Ok(relative) = path.strip_prefix(dir) else { continue };
            if relative.as_os_str().is_empty() {
                continue;
            }
            match leaves_out(entry, dir, relative) {
                None => {
                    return Ok(Some(DirMember {
                        entry,
                        path: path.to_path_buf(),
                        relative: relative.to_path_buf(),
                    }));
                }
                // Another (nested) entry may still take it.
                Some(why) => refusal = refusal.or(Some((dir, why))),
            }
        }
        match refusal {
            Some((dir, why)) => Err(ConfigError::Argument {
                problem: format!(
                    "`{}` is not one of the databases of the `dir` entry {}: {why}",
                    path.display(),
                    dir.display()
                ),
                help: "give the path of a database the entry replicates, or widen its `pattern`".to_owned(),
            }),
            None => Ok(None),
        }
    }
}

impl Database {
    /// The databases this `dir` entry replicates now, as Litestream's scan finds them when
    /// `replicate` starts (`FindSQLiteDatabases`): files below the folder (subfolders only with
    /// `recursive`, symlinked folders not followed) whose name matches `pattern` and that start
    /// with SQLite's header, in walk order. Empty for a `path` entry or a missing folder.
    pub fn dir_databases(&self) -> Vec<PathBuf> {
        let Location::Dir(dir) = &self.location else { return Vec::new() };
        let recursive = self.options.get("recursive").and_then(toml::Value::as_bool).unwrap_or(false);
        let pattern = self.options.get("pattern").and_then(toml::Value::as_str).unwrap_or_default();
        let mut found = Vec::new();
        walk(dir, recursive, pattern, &mut found);
        found
    }
}

fn walk(dir: &Path, recursive: bool, pattern: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    // Go's filepath.Walk visits names in lexical order.
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if recursive {
                walk(&path, recursive, pattern, found);
            }
            continue;
        }
        let name = entry.file_name();
        if go_match(pattern, &name.to_string_lossy()) == Ok(true) && is_sqlite(&path) {
            found.push(path);
        }
    }
}

/// `IsSQLiteDatabase`: the file starts with "SQLite format 3\0".
fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header)).is_ok()
        && &header == b"SQLite format 3\0"
}

/// Why the entry for `dir` does not replicate `relative`, or `None` when it does. Litestream's
/// rule (`FindSQLiteDatabases`): below `dir` only with `recursive`, and the file name matches
/// `pattern` (Go's `filepath.Match`). Whether the file is a SQLite database is not asked: a
/// database being restored need not exist yet.
fn leaves_out(entry: &Database, dir: &Path, relative: &Path) -> Option<String> {
    let recursive = entry.options.get("recursive").and_then(toml::Value::as_bool).unwrap_or(false);
    let pattern = entry.options.get("pattern").and_then(toml::Value::as_str).unwrap_or_default();
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Some("it is not a plain path below the folder".to_owned());
    }
    if !recursive && relative.components().count() > 1 {
        return Some(format!(
            "it lies in a subfolder of {}, and the entry is not `recursive` (Litestream looks only at the folder itself)",
            dir.display()
        ));
    }
    let name = relative.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    match go_match(pattern, &name) {
        Ok(true) => None,
        Ok(false) => Some(format!("`{name}` does not match its pattern `{pattern}`")),
        Err(BadPattern) => Some(format!("its pattern `{pattern}` is not a valid Go filepath.Match pattern")),
    }
}

impl DirMember<'_> {
    /// The entry Litestream builds for this database (`newDBFromDirectoryEntry`): the `dir`
    /// entry's options without `dir`/`pattern`/`recursive`/`watch`, the relative path appended
    /// to its replica's path (or URL), and its own state folder under `meta-dir`/`meta-path`.
    pub fn database(&self) -> Database {
        let rel = self.relative.to_string_lossy().into_owned();
        let mut options = self.entry.options.clone();
        for key in ["pattern", "recursive", "watch"] {
            options.remove(key);
        }
        let meta_dir = options.remove("meta-dir");
        let meta_path = options.get("meta-path").and_then(toml::Value::as_str).map(str::to_owned);
        match (meta_dir.as_ref().and_then(toml::Value::as_str), meta_path) {
            (Some(meta_dir), _) => {
                let meta = Path::new(meta_dir).join(format!("{rel}{}", crate::project::META_SUFFIX));
                options.insert("meta-path".into(), display(&meta).into());
            }
            (None, Some(base)) => {
                options.insert(
                    "meta-path".into(),
                    display(&derive_meta_path(Path::new(&base), &self.relative)).into(),
                );
            }
            (None, None) => {}
        }
        Database {
            alias: None,
            location: Location::File(self.path.clone()),
            options,
            replica: replica_with_relative_path(&self.entry.replica, &rel),
            replica_origin: self.entry.replica_origin,
        }
    }
}

/// `deriveMetaPathForDirectoryEntry`: `<base>/<rel dir>/.<file>-litestream`.
fn derive_meta_path(base: &Path, relative: &Path) -> PathBuf {
    match (relative.parent(), relative.file_name()) {
        (Some(parent), Some(file)) => {
            base.join(parent).join(format!(".{}{}", file.to_string_lossy(), crate::project::META_SUFFIX))
        }
        _ => base.to_path_buf(),
    }
}

/// `cloneReplicaConfigWithRelativePath`: `rel` appended to the URL's path, else to `path`
/// (joined as a file path for `file` replicas, as a slash path for the others).
fn replica_with_relative_path(base: &toml::Table, rel: &str) -> toml::Table {
    let mut table = base.clone();
    let get = |key: &str| base.get(key).and_then(toml::Value::as_str).filter(|s| !s.is_empty());
    if let Some(url) = get("url") {
        table.insert("url".into(), url_with_relative_path(url, rel).into());
        return table;
    }
    let joined = match get("path") {
        Some(path) if get("type").is_none_or(|t| t == "file") => {
            display(&crate::normalize(&Path::new(path).join(rel)))
        }
        Some(path) => slash_join(path, rel),
        None => rel.to_owned(),
    };
    table.insert("path".into(), joined.into());
    table
}

/// Go's `appendRelativePathToURL` on a URL as text: the query and fragment kept, `rel` joined
/// to the path (percent-encoded where Go's `URL.String` would encode it), the path rooted.
fn url_with_relative_path(url: &str, rel: &str) -> String {
    let (head, tail) = url.split_at(url.find(['?', '#']).unwrap_or(url.len()));
    let (origin, path) = match head.split_once("://") {
        Some((scheme, rest)) => {
            let at = rest.find('/').unwrap_or(rest.len());
            (format!("{scheme}://{}", &rest[..at]), &rest[at..])
        }
        None => (String::new(), head),
    };
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b',')
        .remove(b':')
        .remove(b';')
        .remove(b'=')
        .remove(b'@');
    let rel = percent_encoding::utf8_percent_encode(rel, PATH).to_string();
    let joined = slash_join(path, &rel);
    format!("{origin}/{}{tail}", joined.trim_start_matches('/'))
}

/// Go's `path.Join(base, rel)` for the cases here: one slash between, `.` and doubled
/// slashes cleaned (`..` cannot occur: `rel` is a plain relative path).
fn slash_join(base: &str, rel: &str) -> String {
    let rooted = base.starts_with('/');
    let parts: Vec<&str> =
        base.split('/').chain(rel.split('/')).filter(|p| !p.is_empty() && *p != ".").collect();
    format!("{}{}", if rooted { "/" } else { "" }, parts.join("/"))
}

/// `filepath.ErrBadPattern`.
#[derive(Debug, PartialEq, Eq)]
pub struct BadPattern;

/// Go's `filepath.Match(pattern, name)` on Unix (`*`, `?`, `[…]` with ranges and `^`, `\`
/// escapes), ported from `path/filepath/match.go` so a file is a member exactly when
/// Litestream's scan would pick it. Bytes, as Go slices strings.
pub fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // Before answering no, the rest of the pattern must still be well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let stars = pattern.iter().take_while(|&&b| b == b'*').count();
    let pattern = &pattern[stars..];
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (stars > 0, &pattern[..i], &pattern[i..])
}

/// Go's `utf8.DecodeRune`: an invalid byte is U+FFFD, one byte long.
fn decode(s: &[u8]) -> (char, usize) {
    let head = &s[..s.len().min(4)];
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(error) => std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or_default(),
    };
    valid.chars().next().map_or(('\u{FFFD}', 1), |c| (c, c.len_utf8()))
}

/// Whether `chunk` matches the start of `s`, and what follows; the whole chunk is parsed even
/// after a mismatch, so a malformed pattern is always reported.
fn match_chunk<'s>(chunk: &[u8], s: &'s [u8]) -> Result<(&'s [u8], bool), BadPattern> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while let Some(&first) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match first {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (c, n) = decode(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_escaped(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        (hi, chunk) = get_escaped(&chunk[1..])?;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    s = &s[decode(s).1..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if first == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BadPattern);
                    }
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { (b"", false) } else { (s, true) })
}

fn get_escaped(chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    let mut chunk = chunk;
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return Err(BadPattern);
    }
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(BadPattern);
        }
    }
    let (c, n) = decode(chunk);
    let rest = &chunk[n..];
    if (c == '\u{FFFD}' && n == 1) || rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_and_state_folders_as_litestream_derives_them() {
        let table = |pairs: &[(&str, &str)]| -> toml::Table {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), toml::Value::from(*v))).collect()
        };
        let file = table(&[("type", "file"), ("path", "/var/b/")]);
        assert_eq!(
            replica_with_relative_path(&file, "sub/deep.db")["path"].as_str(),
            Some("/var/b/sub/deep.db")
        );
        let s3 = table(&[("type", "s3"), ("bucket", "bkt"), ("path", "tenants")]);
        assert_eq!(replica_with_relative_path(&s3, "t5.db")["path"].as_str(), Some("tenants/t5.db"));
        let bare = table(&[("type", "s3"), ("bucket", "bkt")]);
        assert_eq!(replica_with_relative_path(&bare, "t5.db")["path"].as_str(), Some("t5.db"));
        for (url, want) in [
            ("s3://bkt/p?endpoint=http://h:1", "s3://bkt/p/sub/a b.db?endpoint=http://h:1"),
            ("s3://bkt", "s3://bkt/sub/a b.db"),
            ("s3://bkt/p/", "s3://bkt/p/sub/a b.db"),
            ("s3://$BUCKET/p", "s3://$BUCKET/p/sub/a b.db"),
        ] {
            let got = replica_with_relative_path(&table(&[("url", url)]), "sub/a b.db");
            assert_eq!(got["url"].as_str(), Some(want.replace(' ', "%20").as_str()), "{url}");
        }
        assert_eq!(
            derive_meta_path(Path::new("/m"), Path::new("sub/deep.db")),
            Path::new("/m/sub/.deep.db-litestream")
        );
        assert_eq!(derive_meta_path(Path::new("/m"), Path::new("t5.db")), Path::new("/m/.t5.db-litestream"));
    }

    /// Go's own table (`path/filepath/match_test.go`, the Unix rows).
    #[test]
    fn go_match_table() {
        let ok = |p: &str, s: &str, want: bool| assert_eq!(go_match(p, s), Ok(want), "{p:?} {s:?}");
        let bad = |p: &str, s: &str| assert_eq!(go_match(p, s), Err(BadPattern), "{p:?} {s:?}");
        ok("abc", "abc", true);
        ok("*", "abc", true);
        ok("*c", "abc", true);
        ok("a*", "a", true);
        ok("a*", "abc", true);
        ok("a*", "ab/c", false);
        ok("a*/b", "abc/b", true);
        ok("a*/b", "a/c/b", false);
        ok("a*b*c*d*e*/f", "axbxcxdxe/f", true);
        ok("a*b*c*d*e*/f", "axbxcxdxexxx/f", true);
        ok("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false);
        ok("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false);
        ok("a*b?c*x", "abxbbxdbxebxczzx", true);
        ok("a*b?c*x", "abxbbxdbxebxczzy", false);
        ok("ab[c]", "abc", true);
        ok("ab[b-d]", "abc", true);
        ok("ab[e-g]", "abc", false);
        ok("ab[^c]", "abc", false);
        ok("ab[^b-d]", "abc", false);
        ok("ab[^e-g]", "abc", true);
        ok("a\\*b", "a*b", true);
        ok("a\\*b", "ab", false);
        ok("a?b", "a☺b", true);
        ok("a[^a]b", "a☺b", true);
        ok("a???b", "a☺b", false);
        ok("a[^a][^a][^a]b", "a☺b", false);
        ok("[a-ζ]*", "α", true);
        ok("*[a-ζ]", "A", false);
        ok("a?b", "a/b", false);
        ok("a*b", "a/b", false);
        ok("[\\]a]", "]", true);
        ok("[\\-]", "-", true);
        ok("[x\\-]", "x", true);
        ok("[x\\-]", "-", true);
        ok("[x\\-]", "z", false);
        ok("[\\-x]", "x", true);
        ok("[\\-x]", "-", true);
        ok("[\\-x]", "a", false);
        bad("[]a]", "]");
        bad("[-]", "-");
        bad("[x-]", "x");
        bad("[x-]", "-");
        bad("[x-]", "z");
        bad("[-x]", "x");
        bad("[-x]", "-");
        bad("[-x]", "a");
        bad("\\", "a");
        bad("[a-b-c]", "a");
        bad("[", "a");
        bad("[^", "a");
        bad("[^bc", "a");
        bad("a[", "a");
        bad("a[", "ab");
        bad("a[", "x");
        bad("a/b[", "x");
        ok("*x", "xxx", true);
        ok("*.db", "t5.db", true);
        ok("*.db", "t5.db-wal", false);
    }
}
