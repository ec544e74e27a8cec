//! A snapshot of the process environment, taken once in `main` and passed down.
//!
//! Library code never calls `std::env::var`: tests build an [`Env`] by hand, and nothing
//! depends on mutable process state (`set_var` is `unsafe` in edition 2024 for good reason).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Environment variables and the working directory of the process.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<OsString, OsString>,
    cwd: PathBuf,
}

impl Env {
    /// Captures the real process environment and working directory.
    #[allow(clippy::disallowed_methods)] // the one place allowed to read the process state
    pub fn capture() -> std::io::Result<Env> {
        Ok(Env { vars: std::env::vars_os().collect(), cwd: std::env::current_dir()? })
    }

    /// An environment with only the given working directory: start of a test's `Env`.
    pub fn empty(cwd: impl Into<PathBuf>) -> Env {
        Env { vars: BTreeMap::new(), cwd: cwd.into() }
    }

    /// Adds or replaces a variable (builder style, for tests and library callers).
    pub fn with(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Env {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// A variable's value when it is set and valid UTF-8.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(OsStr::new(key)).and_then(|v| v.to_str())
    }

    /// A variable's value when it is set to something other than the empty string.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    pub fn get_os(&self, key: &str) -> Option<&OsStr> {
        self.vars.get(OsStr::new(key)).map(OsString::as_os_str)
    }

    /// Whether a boolean-ish variable is on (`1`, `true`, `yes`, `on`, any case).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Makes `path` absolute against the working directory (no symlinks resolved).
    pub fn absolute(&self, path: &Path) -> PathBuf {
        normalize(&self.cwd.join(path))
    }

    /// All variables, for handing to a child process.
    pub fn vars(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }
}

/// Removes `.` and resolves `..` lexically, so generated paths read cleanly
/// (`/srv/app/./db/../app.db` → `/srv/app/app.db`). Symlinks are left alone on purpose:
/// Litestream keys its state on the path it is given.
pub fn normalize(path: &Path) -> PathBuf {
    if is_normal(path) { path.to_path_buf() } else { normalize_components(path) }
}

/// [`normalize`] the long way, component by component.
fn normalize_components(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Whether [`normalize`] would return `path` as it is (the usual case, checked without
/// rebuilding it component by component): no `.` or `..` component, no doubled or trailing
/// separator. Unix spelling only; elsewhere every path takes the long way.
fn is_normal(path: &Path) -> bool {
    if !cfg!(unix) {
        return false;
    }
    let bytes = path.as_os_str().as_encoded_bytes();
    let relative = bytes.strip_prefix(b"/").unwrap_or(bytes);
    relative.is_empty()
        || relative.split(|&b| b == b'/').all(|part| !part.is_empty() && part != b"." && part != b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_check_agrees_with_the_long_way() {
        // Every path of up to four parts from these, absolute and relative.
        let parts = ["a", "bc", ".", "..", "", ".d", "e.", "..f"];
        let mut paths = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> =
                paths.iter().flat_map(|p| parts.iter().map(move |part| format!("{p}/{part}"))).collect();
            paths.extend(longer);
        }
        let mut checked = 0;
        for path in paths.iter().flat_map(|p| [p.clone(), p.trim_start_matches('/').to_owned()]) {
            let path = Path::new(&path);
            let long_way = normalize_components(path);
            assert_eq!(normalize(path), long_way, "{}", path.display());
            if is_normal(path) {
                assert_eq!(path.as_os_str(), long_way.as_os_str(), "{}", path.display());
                checked += 1;
            }
        }
        assert!(checked > 100, "the quick path was taken {checked} times");
    }

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("/srv/app/./db/../app.db")), PathBuf::from("/srv/app/app.db"));
        assert_eq!(normalize(Path::new("/a/b/..")), PathBuf::from("/a"));
    }

    #[test]
    fn flags_are_case_insensitive() {
        let env = Env::empty("/").with("A", "TRUE").with("B", "0");
        assert!(env.flag("A"));
        assert!(!env.flag("B"));
        assert!(!env.flag("C"));
    }
}
