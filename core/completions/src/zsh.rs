//! The zsh script: `_cargo-litestream` (an `_arguments` spec per command), and when the file
//! is sourced, a completer for `cargo` that handles `cargo litestream …` and hands every other
//! line to the one it replaces (rustup's `_cargo`, usually).

use std::fmt::Write as _;

use crate::{Opt, Tree};

const TAIL: &str = r#"
# The completer for `cargo`: `cargo litestream …` here, the rest to cargo's own completer.
_cargo-litestream_cargo() {
    # `litestream` is cargo's first word, or its second after a toolchain (`cargo +nightly`).
    local at=2
    [[ $words[2] == +* ]] && at=3
    if (( CURRENT > at )) && [[ $words[at] == litestream ]]; then
        words=(cargo-litestream "${(@)words[at+1,-1]}")
        (( CURRENT -= at - 1 ))
        _cargo-litestream
        return
    fi
    if [[ -n $_cargo_litestream_next ]]; then
        $_cargo_litestream_next "$@"
        return
    fi
    # No completion for cargo: offer at least this command, and file names after others.
    if (( CURRENT == at )); then
        local -a commands=('litestream:Litestream for Rust projects')
        _describe -t commands 'cargo command' commands
    else
        _default
    fi
}

if [[ $funcstack[1] == _cargo-litestream ]]; then
    # Autoloaded from $fpath to complete `cargo-litestream`.
    _cargo-litestream "$@"
elif (( ! $+functions[compdef] )); then
    print -u2 'cargo-litestream completions: call compinit before sourcing this script'
else
    compdef _cargo-litestream cargo-litestream
    # Sourcing twice must not make the wrapper call itself.
    if [[ ${_comps[cargo]} != _cargo-litestream_cargo ]]; then
        typeset -g _cargo_litestream_next=${_comps[cargo]}
    fi
    compdef _cargo-litestream_cargo cargo
fi
"#;

pub fn script(tree: &Tree) -> String {
    let mut out = String::from(
        "#compdef cargo-litestream\n\
         # zsh completion for `cargo litestream` and `cargo-litestream`, written by\n\
         # `cargo litestream completions zsh`. Source it from ~/.zshrc after compinit: it wraps\n\
         # whatever completes `cargo`. (In $fpath as _cargo-litestream it completes\n\
         # `cargo-litestream` only.)\n\n",
    );
    out.push_str(
        "_cargo-litestream() {\n    \
         # `cargo-litestream litestream …` is what cargo runs; it works typed too.\n    \
         if (( CURRENT > 2 )) && [[ $words[2] == litestream ]]; then\n        \
         words[2]=()\n        (( CURRENT-- ))\n    fi\n    \
         local curcontext=$curcontext state state_descr line ret=1\n    \
         local -A opt_args\n    \
         _arguments -C -s : \\\n",
    );
    for spec in specs(&tree.globals) {
        writeln!(out, "        {spec} \\").unwrap();
    }
    out.push_str(
        "        ': :_cargo-litestream_commands' \\\n        '*:: :->command' && ret=0\n    \
         if [[ $state == command ]]; then\n        \
         curcontext=${curcontext%:*:*}:cargo-litestream-$words[1]:\n        \
         case $words[1] in\n",
    );
    for command in &tree.commands {
        writeln!(out, "            ({})\n                _arguments -s : \\", command.name).unwrap();
        for spec in specs(&command.opts) {
            writeln!(out, "                    {spec} \\").unwrap();
        }
        if !command.choices.is_empty() {
            writeln!(
                out,
                "                    {} \\",
                quote(&format!("*: :({})", command.choices.join(" ")))
            )
            .unwrap();
        } else if command.positionals {
            out.push_str("                    '*: :_files' \\\n");
        }
        out.push_str("                    && ret=0 ;;\n");
    }
    out.push_str("        esac\n    fi\n    return ret\n}\n\n");

    out.push_str("_cargo-litestream_commands() {\n    local -a commands=(\n");
    for command in &tree.commands {
        writeln!(out, "        {}", quote(&format!("{}:{}", command.name, command.about))).unwrap();
    }
    out.push_str("    )\n    _describe -t commands 'cargo-litestream command' commands\n}\n");
    out.push_str(TAIL);
    out
}

/// `_arguments` specs, one per spelling: `'--if-db-not-exists[Do nothing …]'`,
/// `'--color=[Coloring]:WHEN:(auto always never)'`, `'-o+[Output path]:PATH:_files'`.
fn specs(opts: &[Opt]) -> Vec<String> {
    let mut specs = Vec::new();
    for opt in opts {
        let help = opt.help.replace('\\', "\\\\").replace('[', "\\[").replace(']', "\\]");
        let value = opt.value.as_ref().map(|(name, values)| {
            let action =
                if values.is_empty() { "_files".to_owned() } else { format!("({})", values.join(" ")) };
            format!(":{}:{action}", name.replace(':', "\\:"))
        });
        // `*`: offered again after it was given (`-v -v`).
        let repeats = if opt.repeats { "*" } else { "" };
        for name in opt.names() {
            let spec = repeats.to_owned()
                + &match &value {
                    None => format!("{name}[{help}]"),
                    // `=` / `+`: the value may be glued to the option or be the next word.
                    Some(value) if name.starts_with("--") => format!("{name}=[{help}]{value}"),
                    Some(value) => format!("{name}+[{help}]{value}"),
                };
            specs.push(quote(&spec));
        }
    }
    specs
}

/// One single-quoted shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
