//! Completion scripts for `cargo litestream …`.
//!
//! For bash, zsh and fish the script is written here from the clap tree, not by
//! `clap_complete::generate`: users type `cargo litestream …`, so the script must hook into
//! cargo's own completion (and hand everything else back to it), which clap_complete's scripts
//! cannot do, and its bash script never completes a subcommand's flags for a tree whose
//! `bin_name` has a space (clap#6421). The tree is one level of commands with flags and
//! positionals, so a model of it (`Tree`) and one small writer per shell cover it.
//! PowerShell and Elvish keep clap_complete's script, which completes `cargo-litestream …` only.

mod bash;
mod fish;
mod zsh;

use clap::{Arg, ArgAction, Command};
pub use clap_complete::Shell;

/// The completion script for `shell`.
pub fn script(shell: Shell, root: &mut Command) -> String {
    match shell {
        Shell::Bash => bash::script(&Tree::of(root)),
        Shell::Zsh => zsh::script(&Tree::of(root)),
        Shell::Fish => fish::script(&Tree::of(root)),
        other => {
            let mut script = Vec::new();
            clap_complete::generate(other, root, "cargo-litestream", &mut script);
            String::from_utf8_lossy(&script).into_owned()
        }
    }
}

/// What a completion script needs to know about the clap tree.
struct Tree {
    /// The options accepted before the command (`--manifest-path`, `-q`, …).
    globals: Vec<Opt>,
    commands: Vec<Sub>,
}

struct Sub {
    name: String,
    about: String,
    /// Its own options and the global ones, as clap accepts them after the command.
    opts: Vec<Opt>,
    /// Whether it takes positionals (database paths and names: completed as files).
    positionals: bool,
    /// The possible values of its first positional (`completions bash`, `help restore`),
    /// offered instead of file names.
    choices: Vec<String>,
}

struct Opt {
    long: Option<String>,
    short: Option<char>,
    help: String,
    /// `Some` when the option takes a value: its name (`PATH`) and its possible values, if
    /// clap knows them (`--color`'s `auto always never`); none means a path or free text.
    value: Option<(String, Vec<String>)>,
    /// Accepted more than once (`-vv`).
    repeats: bool,
}

impl Opt {
    /// The spellings the scripts offer: `--long` and `-s`.
    fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.short.map(|s| format!("-{s}")).into_iter().chain(self.long.iter().map(|l| format!("--{l}")))
    }
}

impl Tree {
    fn of(root: &mut Command) -> Tree {
        // Building propagates the global options and adds `help` / `--help` as clap parses them.
        root.build();
        let globals = options(root);
        let mut commands: Vec<Sub> = root
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| Sub {
                name: c.get_name().to_owned(),
                about: first_line(c.get_about().map(ToString::to_string)),
                opts: options(c),
                positionals: c.get_positionals().next().is_some(),
                choices: c.get_positionals().next().map(possible_values).unwrap_or_default(),
            })
            .collect();
        // clap's own `help` takes a command name, but its tree does not list them.
        let names: Vec<String> = commands.iter().map(|c| c.name.clone()).filter(|n| n != "help").collect();
        if let Some(help) = commands.iter_mut().find(|c| c.name == "help" && c.choices.is_empty()) {
            help.choices = names;
        }
        Tree { globals, commands }
    }

    /// Options that take a value, by every spelling, wherever they appear: scripts skip the
    /// value when they look for the command word.
    fn global_valued(&self) -> Vec<String> {
        self.globals.iter().filter(|o| o.value.is_some()).flat_map(Opt::names).collect()
    }
}

fn options(command: &Command) -> Vec<Opt> {
    command
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .map(|a| Opt {
            long: a.get_long().map(str::to_owned),
            short: a.get_short(),
            help: first_line(a.get_help().map(ToString::to_string)),
            value: a.get_num_args().is_some_and(|n| n.takes_values()).then(|| {
                let name = a
                    .get_value_names()
                    .and_then(|n| n.first())
                    .map_or("VALUE".to_owned(), ToString::to_string);
                (name, possible_values(a))
            }),
            repeats: matches!(a.get_action(), ArgAction::Count | ArgAction::Append),
        })
        .collect()
}

fn possible_values(arg: &Arg) -> Vec<String> {
    arg.get_possible_values().iter().filter(|v| !v.is_hide_set()).map(|v| v.get_name().to_owned()).collect()
}

fn first_line(text: Option<String>) -> String {
    text.unwrap_or_default().lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        let mut root = Command::new("cargo-litestream")
            .bin_name("cargo litestream")
            .arg(Arg::new("manifest-path").long("manifest-path").value_name("PATH").global(true))
            .arg(Arg::new("quiet").short('q').long("quiet").action(ArgAction::SetTrue).global(true))
            .subcommand(
                Command::new("restore")
                    .about("Restore a database\nmore")
                    .arg(Arg::new("if").long("if-db-not-exists").action(ArgAction::SetTrue))
                    .arg(Arg::new("o").short('o').value_name("PATH"))
                    .arg(Arg::new("db").required(true)),
            );
        Tree::of(&mut root)
    }

    #[test]
    fn the_model_has_globals_inside_commands_and_help() {
        let tree = tree();
        let restore = tree.commands.iter().find(|c| c.name == "restore").unwrap();
        assert_eq!(restore.about, "Restore a database");
        assert!(restore.positionals);
        let names: Vec<String> = restore.opts.iter().flat_map(Opt::names).collect();
        for name in ["--if-db-not-exists", "-o", "--manifest-path", "-q", "--quiet", "-h", "--help"] {
            assert!(names.contains(&name.to_owned()), "{name} missing from {names:?}");
        }
        assert!(tree.commands.iter().any(|c| c.name == "help"));
        assert_eq!(tree.global_valued(), ["--manifest-path"]);
        let help = tree.commands.iter().find(|c| c.name == "help").unwrap();
        assert_eq!(help.choices, ["restore"]);
        let o = restore.opts.iter().find(|o| o.short == Some('o')).unwrap();
        assert_eq!(o.value, Some(("PATH".to_owned(), vec![])));
    }
}
