//! The bash script: `complete -F` for `cargo-litestream`, and a wrapper around whatever
//! completes `cargo` that handles `cargo litestream …` and hands every other line back.

use std::fmt::Write as _;

use crate::{Opt, Tree};

/// What does not depend on the tree. `_cargo_litestream_spec` (written from the tree) sets
/// `flags`, `valued` and `choices` (its positional's values) for a command;
/// `_cargo_litestream_choices` prints an option's values.
const BODY: &str = r#"
# The completer for the words after the program (`cargo litestream` or `cargo-litestream`);
# $1 is the index of the first of them in COMP_WORDS.
_cargo_litestream_complete() {
    local first=$1 cur=${COMP_WORDS[COMP_CWORD]} prev='' command='' flags valued choices i word
    (( COMP_CWORD > first )) && prev=${COMP_WORDS[COMP_CWORD-1]}
    # COMP_WORDBREAKS splits `--color=al` into `--color` `=` `al`.
    if [[ $cur == = ]]; then
        cur=''
    elif [[ $prev == = ]] && (( COMP_CWORD - 2 >= first )); then
        prev=${COMP_WORDS[COMP_CWORD-2]}
    fi
    _cargo_litestream_spec ''
    # The command is the first word that is neither an option nor an option's value.
    for (( i = first; i < COMP_CWORD; i++ )); do
        word=${COMP_WORDS[i]}
        case $word in
            -*=* | -) ;;
            -*) [[ " $valued " == *" $word "* ]] && (( i++ )) ;;
            *) command=$word; break ;;
        esac
    done
    [[ -n $command ]] && _cargo_litestream_spec "$command"
    if [[ -n $prev && " $valued " == *" $prev "* ]]; then
        local values
        values=$(_cargo_litestream_choices "$command" "$prev")
        # No values: a path or free text, left to `-o default` (file names).
        [[ -n $values ]] && COMPREPLY=($(compgen -W "$values" -- "$cur"))
        return 0
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -z $command ]]; then
        COMPREPLY=($(compgen -W "$_cargo_litestream_commands" -- "$cur"))
    elif [[ -n $choices ]]; then
        COMPREPLY=($(compgen -W "$choices" -- "$cur"))
    fi
    # Otherwise a positional (a database path or name): `-o default` offers file names.
    return 0
}

_cargo_litestream() {
    local first=1
    # `cargo-litestream litestream …` is what cargo runs; it works typed too.
    (( COMP_CWORD > 1 )) && [[ ${COMP_WORDS[1]} == litestream ]] && first=2
    _cargo_litestream_complete "$first"
}

# Whatever completed `cargo` before this script, called for every line that is not
# `cargo litestream …`. Empty when nothing did: then the first `cargo <TAB>` tries to load
# cargo's completion (bash-completion's loader, then rustup's file) once.
_cargo_litestream_next=''
_cargo_litestream_tried=''

_cargo_litestream_take_next() {
    if [[ $(complete -p cargo 2>/dev/null) =~ -F\ ([^ ]+) ]] && [[ ${BASH_REMATCH[1]} != _cargo_litestream_cargo ]]; then
        _cargo_litestream_next=${BASH_REMATCH[1]}
    fi
}

_cargo_litestream_load_cargo() {
    [[ -n $_cargo_litestream_next || -n $_cargo_litestream_tried ]] && return 0
    _cargo_litestream_tried=1
    if declare -F _comp_load >/dev/null; then
        _comp_load cargo
    elif declare -F _completion_loader >/dev/null; then
        _completion_loader cargo
    fi
    _cargo_litestream_take_next
    # bash-completion registers its `_minimal` (file names) for a command it has no file for.
    # rustup's file calls bash-completion's helpers: without them it would only print errors.
    if [[ ${_cargo_litestream_next:-_minimal} == _minimal ]] && declare -F _get_comp_words_by_ref >/dev/null \
        && type -P rustc >/dev/null; then
        local file
        file="$(rustc --print sysroot 2>/dev/null)/etc/bash_completion.d/cargo"
        # shellcheck disable=SC1090
        [[ -f $file ]] && source "$file"
        _cargo_litestream_take_next
    fi
    # Loading registered cargo's own completer in place of this one.
    complete -o bashdefault -o default -F _cargo_litestream_cargo cargo
}

_cargo_litestream_cargo() {
    # `litestream` is cargo's first word, or its second after a toolchain (`cargo +nightly`).
    local at=1
    [[ ${COMP_WORDS[1]} == +* ]] && at=2
    if (( COMP_CWORD > at )) && [[ ${COMP_WORDS[at]} == litestream ]]; then
        _cargo_litestream_complete $(( at + 1 ))
        return 0
    fi
    _cargo_litestream_load_cargo
    local status=0
    if [[ -n $_cargo_litestream_next ]]; then
        "$_cargo_litestream_next" "$@"
        status=$?
    fi
    # cargo's completer lists `litestream` only when `cargo --list` finds the binary.
    if (( COMP_CWORD == at )) && [[ litestream == "${COMP_WORDS[at]}"* && " ${COMPREPLY[*]} " != *" litestream "* ]]; then
        COMPREPLY+=(litestream)
    fi
    return "$status"
}

_cargo_litestream_take_next
complete -o bashdefault -o default -F _cargo_litestream cargo-litestream
complete -o bashdefault -o default -F _cargo_litestream_cargo cargo
"#;

pub fn script(tree: &Tree) -> String {
    let mut out = String::from(
        "# bash completion for `cargo litestream` and `cargo-litestream`, written by\n\
         # `cargo litestream completions bash`. Source it from ~/.bashrc (after cargo's own\n\
         # completion if that is sourced there too): it wraps whatever completes `cargo`.\n\n",
    );
    let names: Vec<&str> = tree.commands.iter().map(|c| c.name.as_str()).collect();
    writeln!(out, "_cargo_litestream_commands='{}'\n", names.join(" ")).unwrap();

    out.push_str("_cargo_litestream_spec() {\n    case $1 in\n");
    let spec = |opts: &[Opt], choices: &[String]| {
        let flags: Vec<String> = opts.iter().flat_map(Opt::names).collect();
        let valued: Vec<String> = opts.iter().filter(|o| o.value.is_some()).flat_map(Opt::names).collect();
        format!("flags='{}'; valued='{}'; choices='{}'", flags.join(" "), valued.join(" "), choices.join(" "))
    };
    writeln!(out, "        '') {} ;;", spec(&tree.globals, &[])).unwrap();
    for command in &tree.commands {
        writeln!(out, "        {}) {} ;;", command.name, spec(&command.opts, &command.choices)).unwrap();
    }
    out.push_str("        *) flags=''; valued=''; choices='' ;;\n    esac\n}\n\n");

    out.push_str("_cargo_litestream_choices() {\n    case \"$1 $2\" in\n");
    let mut any = false;
    for (command, opts) in
        std::iter::once(("", &tree.globals)).chain(tree.commands.iter().map(|c| (c.name.as_str(), &c.opts)))
    {
        for opt in opts {
            let Some((_, values)) = &opt.value else { continue };
            if values.is_empty() {
                continue;
            }
            let patterns: Vec<String> = opt.names().map(|n| format!("'{command} {n}'")).collect();
            writeln!(out, "        {}) echo '{}' ;;", patterns.join(" | "), values.join(" ")).unwrap();
            any = true;
        }
    }
    if !any {
        out.push_str("        *) ;;\n");
    }
    out.push_str("    esac\n}\n");
    out.push_str(BODY);
    out
}
