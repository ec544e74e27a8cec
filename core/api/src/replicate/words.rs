//! Splitting `-exec CMD` into words as Litestream does (`mattn/go-shellwords` 1.0.12 with its
//! defaults: no variable expansion, no command substitution).
//!
//! Litestream runs the words as a program, not through a shell. Where go-shellwords silently
//! stops at an unquoted `;`, `&`, `|`, `<` or `>` (so `-exec "migrate; serve"` runs only
//! `migrate`), this refuses the command and says how to run a shell instead.

/// Why `-exec`'s command line cannot be run as Litestream would run it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandLineError {
    /// An unquoted shell metacharacter, which go-shellwords would silently stop at.
    #[error(
        "-exec {line:?} uses shell syntax (`{found}`), but the command runs without a shell; run one explicitly, e.g. -exec 'sh -c \"…\"'"
    )]
    ShellSyntax { line: String, found: char },
    #[error("-exec {line:?} has an unterminated quote or a trailing backslash")]
    Unterminated { line: String },
    #[error("-exec needs a command to run")]
    Empty,
}

/// The words of `line`: whitespace separates them; `'…'` keeps everything literally; `"…"` keeps
/// everything but `\` escapes; outside single quotes `\x` is `x` (`\t` and `\n` are a tab and
/// a newline, as in go-shellwords).
pub fn split(line: &str) -> Result<Vec<String>, CommandLineError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in line.chars() {
        if escaped {
            escaped = false;
            word.push(match c {
                't' => '\t',
                'n' => '\n',
                other => other,
            });
            in_word = true;
            continue;
        }
        match c {
            '\\' if !single => escaped = true,
            '\'' if !double => {
                single = !single;
                in_word = true;
            }
            '"' if !single => {
                double = !double;
                in_word = true;
            }
            c if c.is_whitespace() && !single && !double => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            ';' | '&' | '|' | '<' | '>' | '`' | '(' | ')' if !single && !double => {
                return Err(CommandLineError::ShellSyntax { line: line.to_owned(), found: c });
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if escaped || single || double {
        return Err(CommandLineError::Unterminated { line: line.to_owned() });
    }
    if in_word {
        words.push(word);
    }
    if words.first().is_none_or(String::is_empty) {
        return Err(CommandLineError::Empty);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::{CommandLineError, split};

    #[test]
    fn words_as_go_shellwords_splits_them() {
        assert_eq!(split("server --port 8080").unwrap(), ["server", "--port", "8080"]);
        assert_eq!(split("  a   b\t c ").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split(r#"sh -c "echo 'hi there'; exit 3""#).unwrap(),
            ["sh", "-c", "echo 'hi there'; exit 3"]
        );
        assert_eq!(split(r#"printf '%s\n' "a\"b" c\ d"#).unwrap(), ["printf", r"%s\n", "a\"b", "c d"]);
        assert_eq!(split(r#"x "" ''"#).unwrap(), ["x", "", ""]);
        assert_eq!(split(r"a\tb").unwrap(), ["a\tb"]);
        assert_eq!(split("echo $HOME").unwrap(), ["echo", "$HOME"], "no expansion, as Litestream");
    }

    #[test]
    fn shell_syntax_and_bad_quoting_are_refused() {
        for line in ["migrate; serve", "a && b", "a | b", "a > log", "echo `id`", "a $(b)"] {
            let error = split(line).unwrap_err().to_string();
            assert!(error.contains("without a shell"), "{line}: {error}");
        }
        assert!(split("echo 'open").unwrap_err().to_string().contains("unterminated"));
        assert!(split("echo \\").unwrap_err().to_string().contains("trailing backslash"));
        assert_eq!(split("   ").unwrap_err(), CommandLineError::Empty);
        assert_eq!(split("''").unwrap_err(), CommandLineError::Empty);
    }

    #[test]
    fn the_refusal_names_the_line_and_the_character_as_before() {
        assert_eq!(
            split("migrate; serve").unwrap_err().to_string(),
            r#"-exec "migrate; serve" uses shell syntax (`;`), but the command runs without a shell; run one explicitly, e.g. -exec 'sh -c "…"'"#
        );
    }
}
