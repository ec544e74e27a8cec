//! The command registry, the dispatcher, and what commands share.
//!
//! A command flows like this: `main` (the binary) → [`main`] here: argv without cargo's
//! `litestream` word → [`argv::normalize`] (Litestream's `-flag` spelling) → clap, with one
//! subcommand per registered [`CommandSpec`] → the spec's `run` with a [`Ctx`] → an exit code.

mod argv;
pub mod assured;
mod ctx;
pub mod install;
pub mod json;
pub mod passthrough;
mod registry;
pub mod replicate;
pub mod restore;
pub mod sync;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use cargo_litestream_config::Env;
use cargo_litestream_shell::{ColorChoice, Shell, ShellConfig, Verbosity};
use clap::builder::styling::{AnsiColor, Effects, Styles};
use clap::{Arg, ArgAction, Command};

pub use argv::normalize as normalize_args;
pub use ctx::Ctx;
pub use registry::{CommandSpec, RegistryError, USAGE_ERROR, commands};
// Re-exported so command crates can `register_command!` without depending on inventory.
pub use cargo_litestream_config::{DatabaseArg, Lookup};
pub use inventory;
pub use {anyhow, clap};

/// Exit code for a bug: a panic caught before it reached the user.
const INTERNAL_ERROR: u8 = 101;

/// The whole clap tree: global options and every registered command, sorted.
pub fn cli() -> Result<Command, RegistryError> {
    let mut root = Command::new("cargo-litestream")
        .bin_name("cargo litestream")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Litestream for Rust projects: SQLite replication configured from Cargo.toml")
        .after_help(
            "Litestream's flags are accepted as Litestream spells them (-if-replica-exists, -o x) \
             and GNU-style (--if-replica-exists), before or after the database.\n\
             Configuration: [package.metadata.litestream] in Cargo.toml; see `cargo litestream config`.",
        )
        .styles(cargo_styles())
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("manifest-path")
                .long("manifest-path")
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Path to Cargo.toml (default: the nearest one upward)")
                .global(true),
        )
        .arg(
            Arg::new("verbosity")
                .short('v')
                .action(ArgAction::Count)
                .help("Print what runs (the litestream command line, the binary used)")
                .global(true),
        )
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .action(ArgAction::SetTrue)
                .help("Print no status lines")
                .global(true),
        )
        .arg(
            Arg::new("color")
                .long("color")
                .value_name("WHEN")
                .value_parser(["auto", "always", "never"])
                .help("Coloring: auto, always, never")
                .global(true),
        )
        .arg(
            Arg::new("offline")
                .long("offline")
                .action(ArgAction::SetTrue)
                .help("Never download; use only what is cached")
                .global(true),
        );
    for spec in commands()?.values() {
        root = root.subcommand((spec.cli)().name(spec.name).about(spec.about));
    }
    Ok(root)
}

/// Cargo's help colours.
fn cargo_styles() -> Styles {
    Styles::styled()
        .header(AnsiColor::Green.on_default().effects(Effects::BOLD))
        .usage(AnsiColor::Green.on_default().effects(Effects::BOLD))
        .literal(AnsiColor::Cyan.on_default().effects(Effects::BOLD))
        .placeholder(AnsiColor::Cyan.on_default())
        .error(AnsiColor::Red.on_default().effects(Effects::BOLD))
        .valid(AnsiColor::Cyan.on_default().effects(Effects::BOLD))
        .invalid(AnsiColor::Yellow.on_default().effects(Effects::BOLD))
}

/// An error and its causes in one line, each said once: a message that already shows its cause
/// (`could not read x: Permission denied`) is not followed by the cause again, as `{:#}` would.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// The program: parse, dispatch, turn every outcome into an exit code. Nothing panics past
/// this point without being reported as one line.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned())
            .replace('\n', " ");
        let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let line = format!(
            "internal error: {message}{place}; this is a bug, please report it at {}/issues",
            env!("CARGO_PKG_REPOSITORY")
        );
        // A bug under --json is still a document on stdout (exit 101, as without --json).
        if !json::print_error(&line) {
            eprintln!("error: {line}");
        }
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => ExitCode::from(code),
        Err(_) => ExitCode::from(INTERNAL_ERROR),
    }
}

fn run() -> u8 {
    let env = match Env::capture() {
        Ok(env) => env,
        Err(error) => {
            eprintln!("error: cannot read the working directory: {error}; cd into an existing directory");
            return 1;
        }
    };
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Cargo runs `cargo-litestream litestream …`; `cargo-litestream …` works too.
    if args.first().is_some_and(|a| a == "litestream") {
        args.remove(0);
    }
    let root = match cli() {
        Ok(root) => root,
        Err(message) => {
            eprintln!("error: internal error: {message}; this is a bug, please report it");
            return INTERNAL_ERROR;
        }
    };
    let args: Vec<OsString> =
        std::iter::once(OsString::from("cargo-litestream")).chain(argv::normalize(args, &root)).collect();
    let matches = match root.try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(error) => {
            let code = refusing_command(&args).map_or(USAGE_ERROR, |spec| spec.usage_error);
            if let Some(line) = unknown_flag(&error).or_else(|| unknown_command(&error)) {
                eprintln!("{line}");
                return code;
            }
            let _ = error.print();
            // `--help` and `--version` arrive here too, and exit 0.
            return if error.exit_code() == 0 { 0 } else { code };
        }
    };

    let shell = Shell::new(&shell_config(&matches, &env));
    let offline = matches.get_flag("offline") || env.flag("CARGO_NET_OFFLINE");
    let manifest_path = matches.get_one::<PathBuf>("manifest-path").cloned();
    let Some((name, sub_matches)) = matches.subcommand() else { return 2 };
    let Some(spec) = commands().ok().and_then(|c| c.get(name)) else { return 2 };

    let mut ctx = Ctx::new(env, shell, manifest_path, offline);
    let code = match (spec.run)(sub_matches, &ctx) {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => 0,
        Err(error) => {
            ctx.report_error(&error);
            1
        }
    };
    ctx.forget_project();
    code
}

/// The command a command line the parser refused is for: the same line parsed again with
/// errors ignored (which still finds the subcommand).
fn refusing_command(args: &[OsString]) -> Option<&'static CommandSpec> {
    let matches = cli().ok()?.ignore_errors(true).try_get_matches_from(args).ok()?;
    commands().ok()?.get(matches.subcommand_name()?).copied()
}

/// An unknown flag, in one line and Litestream's spelling, with the nearest flag of the command
/// (`-wiat` → `-wait`, `-ouput` → `-o`), instead of clap's tip to pass it after `--`.
fn unknown_flag(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    // Built again on this error path only: parsing consumed the tree.
    let root = cli().ok()?;
    let Some(ContextValue::String(given)) = error.get(ContextKind::InvalidArg) else { return None };
    let typed = given.trim_start_matches('-');
    if typed.is_empty() {
        return None;
    }
    let name = typed.split('=').next().unwrap_or(typed);
    // The subcommand the error is about: its usage line names it.
    let usage = error.get(ContextKind::Usage).map(ToString::to_string).unwrap_or_default();
    let sub =
        root.get_subcommands().find(|c| usage.contains(&format!("cargo litestream {} ", c.get_name())))?;
    let flags: Vec<String> = sub
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(str::to_owned).or_else(|| a.get_short().map(String::from)))
        .collect();
    let nearest = flags
        .iter()
        .map(|f| (strsim::jaro_winkler(name, f), f))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, f)| f)
        .or_else(|| {
            flags.iter().filter(|f| f.len() == 1 && name.starts_with(f.as_str())).max_by_key(|f| f.len())
        });
    let hint = nearest.map(|f| format!("; did you mean -{f}?")).unwrap_or_default();
    Some(format!(
        "error: flag provided but not defined: -{name}{hint} (`cargo litestream {} --help` lists its flags)",
        sub.get_name()
    ))
}

/// An unknown command, in one line with the nearest commands, nearest first (`restor` →
/// `restore`, then `restore-points`), as cargo's "a command with a similar name exists",
/// instead of clap's list ordered the other way round.
fn unknown_command(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::InvalidSubcommand {
        return None;
    }
    let Some(ContextValue::String(given)) = error.get(ContextKind::InvalidSubcommand) else { return None };
    let mut near: Vec<(f64, &str)> = commands()
        .ok()?
        .keys()
        .map(|name| (strsim::jaro_winkler(given, name), *name))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    near.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let quoted = |names: &[(f64, &str)]| names.iter().map(|(_, n)| format!("`{n}`")).collect::<Vec<_>>();
    let hint = match near.as_slice() {
        [] => String::new(),
        [first] => format!("; did you mean {}?", quoted(std::slice::from_ref(first))[0]),
        [first, rest @ ..] => format!(
            "; did you mean {}? (or {})",
            quoted(std::slice::from_ref(first))[0],
            quoted(&rest[..rest.len().min(2)]).join(", ")
        ),
    };
    Some(format!("error: no such command: `{given}`{hint} (`cargo litestream --help` lists the commands)"))
}

fn shell_config(matches: &clap::ArgMatches, env: &Env) -> ShellConfig {
    let color = matches
        .get_one::<String>("color")
        .map(String::as_str)
        .or_else(|| env.get("CARGO_TERM_COLOR"))
        .and_then(ColorChoice::parse)
        .unwrap_or(ColorChoice::Auto);
    let verbosity = if matches.get_flag("quiet") || env.flag("CARGO_TERM_QUIET") {
        Verbosity::Quiet
    } else if matches.get_count("verbosity") > 0 || env.flag("CARGO_TERM_VERBOSE") {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    ShellConfig {
        color,
        no_color: env.non_empty("NO_COLOR").is_some(),
        progress: env
            .get("CARGO_TERM_PROGRESS_WHEN")
            .and_then(ColorChoice::parse)
            .unwrap_or(ColorChoice::Auto),
        verbosity,
        dumb_term: env.get("TERM").is_none_or(|t| t == "dumb"),
    }
}

/// `cargo litestream config | head -1` must not end in an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    /// An error whose message shows its cause, as several of this workspace's do.
    #[derive(Debug)]
    struct Read(std::io::Error);

    impl std::fmt::Display for Read {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "could not read `x`: {}", self.0)
        }
    }

    impl std::error::Error for Read {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied (os error 13)");
        let error = anyhow::Error::new(Read(io)).context("could not load the project");
        assert_eq!(
            super::one_line(&error),
            "could not load the project: could not read `x`: Permission denied (os error 13)"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(super::one_line(&plain), "outer: inner");
    }
}
