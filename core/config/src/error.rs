//! Configuration errors: one line each, naming the file, the key and what to do.

use std::path::PathBuf;

/// Everything that can be wrong with a project's Litestream configuration.
///
/// Each message is a single line that names where the problem is and ends with what to do
/// about it, because that line is all a user sees.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "could not find `Cargo.toml` in `{}` or any parent directory; run inside a Cargo project or pass --manifest-path",
        cwd.display()
    )]
    NoManifest { cwd: PathBuf },

    #[error("manifest path `{}` does not exist; pass the path of a Cargo.toml to --manifest-path", path.display())]
    ManifestMissing { path: PathBuf },

    #[error("--manifest-path must point at a `Cargo.toml` file, not `{}`", path.display())]
    ManifestNotToml { path: PathBuf },

    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },

    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },

    #[error("{}:{line}:{column}: invalid TOML: {message}; fix the syntax and run again", path.display())]
    Toml { path: PathBuf, line: usize, column: usize, message: String },

    /// A key (or value) of the `litestream` table is wrong.
    #[error("{}: `{key}`: {problem}; {help}", file.display())]
    Key { file: PathBuf, key: String, problem: String, help: String },

    /// A `.env` that dotenvy cannot read: it may be what sets `DATABASE_URL`.
    #[error("{source}; fix it (it may be what sets DATABASE_URL) or remove it")]
    DotEnv {
        #[source]
        source: crate::database_url::DotEnvError,
    },

    /// A database argument on the command line matches nothing.
    #[error("{problem}; {help}")]
    Argument { problem: String, help: String },
}

impl ConfigError {
    pub(crate) fn key(
        file: &std::path::Path,
        key: impl Into<String>,
        problem: impl Into<String>,
        help: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Key {
            file: file.to_path_buf(),
            key: key.into(),
            problem: problem.into(),
            help: help.into(),
        }
    }
}

/// Turns a `toml` parse error into one line with a line and column.
pub(crate) fn toml_error(path: &std::path::Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let (line, column) = match error.span() {
        Some(span) => line_and_column(text, span.start),
        None => (1, 1),
    };
    ConfigError::Toml {
        path: path.to_path_buf(),
        line,
        column,
        message: error.message().trim().replace('\n', " "),
    }
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(super::line_and_column("a\nbc\n", 3), (2, 2));
        assert_eq!(super::line_and_column("abc", 0), (1, 1));
    }
}
