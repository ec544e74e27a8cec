//! Cargo-style output on stderr.
//!
//! Every human-facing message of cargo-litestream goes through a [`Shell`]: status lines with a
//! verb right-aligned to 12 columns (`   Verifying app.db`), `warning:` and `error:` lines, and
//! the decision whether colour and progress bars are wanted. Data (YAML, JSON, tables) goes to
//! stdout and never through here, so `cargo litestream config > litestream.yml` stays clean.

mod bar;

pub use bar::{Bar, BarReader};

use std::fmt::Display;
use std::io::{IsTerminal, Write};

/// When to use colour, as cargo's `--color` and `CARGO_TERM_COLOR` spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Parses `auto`, `always` or `never`.
    pub fn parse(value: &str) -> Option<ColorChoice> {
        match value {
            "auto" => Some(ColorChoice::Auto),
            "always" => Some(ColorChoice::Always),
            "never" => Some(ColorChoice::Never),
            _ => None,
        }
    }
}

/// How chatty the shell is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// The terminal settings that decide how output looks, read once from the environment.
#[derive(Clone, Debug)]
pub struct ShellConfig {
    pub color: ColorChoice,
    /// `NO_COLOR` set to a non-empty value (<https://no-color.org>).
    pub no_color: bool,
    /// `CARGO_TERM_PROGRESS_WHEN`: `auto`, `always` or `never`.
    pub progress: ColorChoice,
    pub verbosity: Verbosity,
    /// `TERM` is unset or `dumb`.
    pub dumb_term: bool,
}

impl Default for ShellConfig {
    fn default() -> ShellConfig {
        ShellConfig {
            color: ColorChoice::Auto,
            no_color: false,
            progress: ColorChoice::Auto,
            verbosity: Verbosity::Normal,
            dumb_term: false,
        }
    }
}

/// Writes status lines, warnings and errors to stderr.
#[derive(Debug)]
pub struct Shell {
    color: bool,
    /// Whether data a command prints on stdout (tables, symbols) may be coloured.
    stdout_color: bool,
    progress: bool,
    verbosity: Verbosity,
}

const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[1;32m";
const CYAN: &str = "\x1b[1;36m";
const YELLOW: &str = "\x1b[1;33m";
const RED: &str = "\x1b[1;31m";
const RESET: &str = "\x1b[0m";

impl Shell {
    pub fn new(config: &ShellConfig) -> Shell {
        let stderr_is_terminal = std::io::stderr().is_terminal();
        let color = match config.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stderr_is_terminal && !config.no_color && !config.dumb_term,
        };
        let stdout_color = match config.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stdout().is_terminal() && !config.no_color && !config.dumb_term,
        };
        let progress = config.verbosity != Verbosity::Quiet
            && match config.progress {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => stderr_is_terminal && !config.dumb_term,
            };
        Shell { color, stdout_color, progress, verbosity: config.verbosity }
    }

    /// A shell that prints nothing but errors: for library use and tests.
    pub fn quiet() -> Shell {
        Shell { color: false, stdout_color: false, progress: false, verbosity: Verbosity::Quiet }
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Whether colour escapes are written (also for tables a command prints itself).
    pub fn color(&self) -> bool {
        self.color
    }

    /// Whether what a command prints on stdout may use colour and symbols: `--color always`, or
    /// stdout is a terminal and neither `NO_COLOR` nor `TERM=dumb` says otherwise.
    pub fn stdout_color(&self) -> bool {
        self.stdout_color
    }

    /// Whether a progress bar may be drawn on stderr (a terminal, not quiet, not `never`).
    pub fn progress_bars(&self) -> bool {
        self.progress
    }

    /// `   Verifying app.db`: a green verb right-aligned to 12 columns, as cargo prints.
    pub fn status(&self, verb: &str, message: impl Display) {
        if self.verbosity >= Verbosity::Normal {
            self.line(GREEN, &format!("{verb:>12}"), message);
        }
    }

    /// A status line printed only with `-v`.
    pub fn verbose(&self, verb: &str, message: impl Display) {
        if self.verbosity >= Verbosity::Verbose {
            self.line(CYAN, &format!("{verb:>12}"), message);
        }
    }

    pub fn note(&self, message: impl Display) {
        if self.verbosity >= Verbosity::Normal {
            self.line(CYAN, "note:", message);
        }
    }

    pub fn warn(&self, message: impl Display) {
        if self.verbosity >= Verbosity::Normal {
            self.line(YELLOW, "warning:", message);
        }
    }

    /// Errors are printed even when quiet.
    pub fn error(&self, message: impl Display) {
        self.line(RED, "error:", message);
    }

    fn line(&self, style: &str, label: &str, message: impl Display) {
        let mut stderr = std::io::stderr().lock();
        // A closed stderr is not worth failing over; there is nobody left to tell.
        let _ = if self.color {
            writeln!(stderr, "{style}{label}{RESET} {message}")
        } else {
            writeln!(stderr, "{label} {message}")
        };
    }

    /// Wraps `text` in bold when colour is on (for tables a command prints on stdout it is the
    /// caller's job to check stdout instead).
    pub fn bold(&self, text: &str) -> String {
        if self.color { format!("{BOLD}{text}{RESET}") } else { text.to_owned() }
    }
}
