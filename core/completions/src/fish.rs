//! The fish script: `complete` lines for `cargo` and `cargo-litestream`, each with a condition
//! that holds only on a `cargo litestream …` / `cargo-litestream …` line. Fish adds them to
//! its own completions for `cargo`, so nothing is wrapped.

use std::fmt::Write as _;

use crate::{Opt, Tree};

/// The conditions. `__cargo_litestream_words` prints the words after the program and fails on
/// any other command line; the command is the first of them that is neither an option nor a
/// global option's value (`VALUED`, written from the tree).
const HEAD: &str = r#"
function __cargo_litestream_words
    set -l words (commandline -opc)
    if test "$words[1]" = cargo
        # A toolchain may come first: `cargo +nightly litestream`.
        string match -q -- '+*' "$words[2]"; and set -e words[2]
        test "$words[2]" = litestream; or return 1
        set -e words[1..2]
    else
        set -e words[1]
        # `cargo-litestream litestream …` is what cargo runs; it works typed too.
        test "$words[1]" = litestream; and set -e words[1]
    end
    # printf with no word would print one empty line, read back as an empty word.
    test (count $words) -gt 0; and printf '%s\n' $words
    return 0
end

function __cargo_litestream_command
    set -l words (__cargo_litestream_words); or return 1
    set -l skip 0
    for word in $words
        if test $skip = 1
            set skip 0
            continue
        end
        switch $word
            case VALUED
                set skip 1
            case '-*'
            case '*'
                echo $word
                return 0
        end
    end
    return 1
end

function __cargo_litestream_needs_command
    __cargo_litestream_words >/dev/null; or return 1
    not __cargo_litestream_command >/dev/null
end

function __cargo_litestream_using -a name
    set -l command (__cargo_litestream_command); and test "$command" = "$name"
end

# `cargo <TAB>`: fish's cargo completion lists `litestream` only when `cargo --list` finds it.
complete -c cargo -n __fish_use_subcommand -f -a litestream -d 'Litestream for Rust projects'
"#;

pub fn script(tree: &Tree) -> String {
    let mut out = String::from(
        "# fish completion for `cargo litestream` and `cargo-litestream`, written by\n\
         # `cargo litestream completions fish`. Put it in ~/.config/fish/conf.d/ (not in\n\
         # completions/, where a file named cargo.fish would hide fish's own cargo completion).\n",
    );
    let valued: Vec<String> = tree.global_valued().iter().map(|n| quote(n)).collect();
    out.push_str(&HEAD.replace("VALUED", &valued.join(" ")));
    for program in ["cargo", "cargo-litestream"] {
        writeln!(out, "\n# {program}").unwrap();
        for command in &tree.commands {
            writeln!(
                out,
                "complete -c {program} -n __cargo_litestream_needs_command -f -a {} -d {}",
                quote(&command.name),
                quote(&command.about)
            )
            .unwrap();
        }
        for opt in &tree.globals {
            writeln!(out, "complete -c {program} -n __cargo_litestream_needs_command {}", option(opt))
                .unwrap();
        }
        for command in &tree.commands {
            let condition = quote(&format!("__cargo_litestream_using {}", command.name));
            for opt in &command.opts {
                writeln!(out, "complete -c {program} -n {condition} {}", option(opt)).unwrap();
            }
            if !command.choices.is_empty() {
                writeln!(
                    out,
                    "complete -c {program} -n {condition} -f -a {}",
                    quote(&command.choices.join(" "))
                )
                .unwrap();
            }
        }
    }
    out
}

/// `-s o -l output -r -d '…'`: `-r` for a value (file names), `-x -a '…'` for a choice.
fn option(opt: &Opt) -> String {
    let mut words = Vec::new();
    if let Some(short) = opt.short {
        words.push(format!("-s {short}"));
    }
    if let Some(long) = &opt.long {
        words.push(format!("-l {long}"));
    }
    match &opt.value {
        None => {}
        Some((_, values)) if values.is_empty() => words.push("-r".to_owned()),
        Some((_, values)) => words.push(format!("-x -a {}", quote(&values.join(" ")))),
    }
    if !opt.help.is_empty() {
        words.push(format!("-d {}", quote(&opt.help)));
    }
    words.join(" ")
}

/// One single-quoted fish word (fish's quotes escape only `\` and `'`).
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"))
}
