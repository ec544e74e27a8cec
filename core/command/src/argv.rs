//! Command-line spelling: Litestream's single-dash long flags, GNU style, flags anywhere.
//!
//! Litestream uses Go's `flag` package: `-if-replica-exists`, `-o x`, `-timestamp=…`, and
//! flags only before positionals. clap would read `-if-replica-exists` as a cluster of short
//! flags, so before parsing, every `-word` that names a long flag of the command becomes
//! `--word`. clap then accepts flags before or after positionals, and the passthrough emits
//! them in the order Litestream requires (flags first).

use std::ffi::OsString;

/// Rewrites `-long[=value]` to `--long[=value]` for the long flags `command` knows, in the
/// arguments after the subcommand name. Values of flags that take one are left alone (so
/// `-exec -weird-arg` keeps its value), and nothing after `--` is touched.
pub fn normalize(args: Vec<OsString>, root: &clap::Command) -> Vec<OsString> {
    let global_with_value: Vec<String> = root
        .get_arguments()
        .filter(|a| a.get_action().takes_values())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();

    // Find the subcommand: the first word that is not a global flag or a global flag's value.
    let mut index = 0;
    let mut sub = None;
    while index < args.len() {
        let word = args[index].to_string_lossy();
        if word == "--" {
            break;
        }
        if global_with_value.iter().any(|g| *g == word) {
            index += 2;
            continue;
        }
        if !word.starts_with('-') {
            sub = root.find_subcommand(word.as_ref());
            break;
        }
        index += 1;
    }
    let Some(sub) = sub else { return args };

    let known = |name: &str| -> Option<bool> {
        sub.get_arguments()
            .chain(root.get_arguments().filter(|a| a.is_global_set()))
            .find(|a| a.get_long() == Some(name) || (name == "help" && a.get_id() == "help"))
            .map(|a| a.get_action().takes_values())
            .or((name == "help").then_some(false))
    };

    let mut out = Vec::with_capacity(args.len());
    out.extend_from_slice(&args[..=index]);
    let mut rest = args.into_iter().skip(index + 1);
    while let Some(arg) = rest.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(rest);
            break;
        }
        let takes_value = if let Some(body) = text.strip_prefix("--") {
            let name = body.split('=').next().unwrap_or_default();
            out.push(arg.clone());
            known(name).unwrap_or(false) && !body.contains('=')
        } else if let Some(body) = text.strip_prefix('-').filter(|b| b.chars().count() > 1) {
            let name = body.split('=').next().unwrap_or_default();
            match known(name) {
                Some(takes) => {
                    out.push(format!("--{body}").into());
                    takes && !body.contains('=')
                }
                None => {
                    out.push(arg.clone());
                    false
                }
            }
        } else if let Some(letter) = text.strip_prefix('-').filter(|b| b.chars().count() == 1) {
            out.push(arg.clone());
            let letter = letter.chars().next().unwrap_or_default();
            sub.get_arguments()
                .chain(root.get_arguments().filter(|a| a.is_global_set()))
                .find(|a| a.get_short() == Some(letter))
                .is_some_and(|a| a.get_action().takes_values())
        } else {
            out.push(arg.clone());
            false
        };
        if takes_value && let Some(value) = rest.next() {
            out.push(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn root() -> Command {
        Command::new("cargo-litestream")
            .arg(Arg::new("manifest-path").long("manifest-path").global(true))
            .subcommand(
                Command::new("restore")
                    .arg(Arg::new("if-replica-exists").long("if-replica-exists").action(ArgAction::SetTrue))
                    .arg(Arg::new("timestamp").long("timestamp"))
                    .arg(Arg::new("o").short('o'))
                    .arg(Arg::new("exec").long("exec"))
                    .arg(Arg::new("db")),
            )
    }

    fn norm(words: &[&str]) -> Vec<String> {
        let args = words.iter().map(OsString::from).collect();
        normalize(args, &root()).into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn single_dash_longs_become_double() {
        assert_eq!(
            norm(&[
                "restore",
                "default",
                "-if-replica-exists",
                "-timestamp=2024-01-01T00:00:00Z",
                "-o",
                "x.db"
            ]),
            ["restore", "default", "--if-replica-exists", "--timestamp=2024-01-01T00:00:00Z", "-o", "x.db"]
        );
    }

    #[test]
    fn values_are_left_alone() {
        assert_eq!(norm(&["restore", "-exec", "-timestamp"]), ["restore", "--exec", "-timestamp"]);
        assert_eq!(norm(&["restore", "-o", "-timestamp"]), ["restore", "-o", "-timestamp"]);
    }

    #[test]
    fn globals_before_the_subcommand_and_unknown_words() {
        assert_eq!(
            norm(&[
                "--manifest-path",
                "restore",
                "restore",
                "-manifest-path",
                "x",
                "-nope",
                "--",
                "-timestamp"
            ]),
            ["--manifest-path", "restore", "restore", "--manifest-path", "x", "-nope", "--", "-timestamp"]
        );
        assert_eq!(norm(&["restore", "-help"]), ["restore", "--help"]);
    }
}
