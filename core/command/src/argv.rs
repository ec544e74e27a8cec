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

    // A one-letter flag (`-o`, `-f`): whether it takes a value.
    let short = |name: &str| -> Option<bool> {
        let mut letters = name.chars();
        let (Some(letter), None) = (letters.next(), letters.next()) else { return None };
        sub.get_arguments()
            .chain(root.get_arguments().filter(|a| a.is_global_set()))
            .find(|a| a.get_short() == Some(letter))
            .map(|a| a.get_action().takes_values())
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
        // Go's flag package: one dash or two, the same flag; `name=value` for any flag, a bool's
        // value spelled as `strconv.ParseBool` reads it.
        let body =
            text.strip_prefix("--").or_else(|| text.strip_prefix('-').filter(|b| b.chars().count() > 1));
        let takes_value = if let Some(body) = body {
            let (name, value) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (body, None),
            };
            match (known(name), short(name), value) {
                // A bool given a value: present for true, absent for false.
                (Some(false), _, Some(value)) if go_bool(value).is_some() => {
                    if go_bool(value) == Some(true) {
                        out.push(format!("--{name}").into());
                    }
                    false
                }
                (Some(takes), _, _) => {
                    out.push(format!("--{body}").into());
                    takes && value.is_none()
                }
                // `--o x`, `-o=x`, `--f`: a one-letter flag with Go's spellings.
                (None, Some(takes), value) => {
                    out.push(format!("-{name}").into());
                    match value {
                        Some(value) if takes => {
                            out.push(value.into());
                            false
                        }
                        Some(value) => {
                            // `-f=false`: as for long bools; `-f=maybe` is left for clap to
                            // refuse, as Go refuses it ("invalid boolean value").
                            out.pop();
                            match go_bool(value) {
                                Some(true) => out.push(format!("-{name}").into()),
                                Some(false) => {}
                                None => out.push(arg.clone()),
                            }
                            false
                        }
                        None => takes,
                    }
                }
                // Unknown. A cluster of one-letter switches (`-vv`) stays; any other word is
                // given to clap as a long flag, so `-ouput` is not read as `-o uput` and the
                // error names the word, with a suggestion.
                (None, None, _) => {
                    let cluster = text.starts_with('-')
                        && !text.starts_with("--")
                        && body.chars().all(|c| short(&c.to_string()) == Some(false));
                    out.push(if cluster { arg.clone() } else { format!("--{body}").into() });
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

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn root() -> Command {
        Command::new("cargo-litestream")
            .arg(Arg::new("manifest-path").long("manifest-path").global(true))
            .arg(Arg::new("verbosity").short('v').action(ArgAction::Count).global(true))
            .subcommand(
                Command::new("restore")
                    .arg(Arg::new("if-replica-exists").long("if-replica-exists").action(ArgAction::SetTrue))
                    .arg(Arg::new("f").short('f').action(ArgAction::SetTrue))
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
            ["--manifest-path", "restore", "restore", "--manifest-path", "x", "--nope", "--", "-timestamp"]
        );
        assert_eq!(norm(&["restore", "-help"]), ["restore", "--help"]);
    }

    /// Go's flag package: `-b=true`/`-b=false` for bools, `--o x` and `-o=x` for one-letter flags.
    #[test]
    fn go_spellings() {
        assert_eq!(
            norm(&["restore", "-if-replica-exists=true", "db"]),
            ["restore", "--if-replica-exists", "db"]
        );
        assert_eq!(norm(&["restore", "-if-replica-exists=false", "db"]), ["restore", "db"]);
        assert_eq!(
            norm(&["restore", "--if-replica-exists=T", "db"]),
            ["restore", "--if-replica-exists", "db"]
        );
        assert_eq!(norm(&["restore", "--o", "x", "db"]), ["restore", "-o", "x", "db"]);
        assert_eq!(norm(&["restore", "-o=x", "db"]), ["restore", "-o", "x", "db"]);
        assert_eq!(norm(&["restore", "--f", "db"]), ["restore", "-f", "db"]);
        assert_eq!(norm(&["restore", "-f=false", "db"]), ["restore", "db"]);
        assert_eq!(norm(&["restore", "-f=maybe", "db"]), ["restore", "-f=maybe", "db"]);
        // An unknown word is not read as `-o uput`; a cluster of switches stays one.
        assert_eq!(norm(&["restore", "-ouput", "x", "db"]), ["restore", "--ouput", "x", "db"]);
        assert_eq!(norm(&["restore", "-vv", "db"]), ["restore", "-vv", "db"]);
    }
}
