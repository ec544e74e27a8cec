//! Splitting `-exec CMD` into words as Litestream does (`mattn/go-shellwords` 1.0.12 with its
//! defaults: no variable expansion, no command substitution).
//!
//! Litestream runs the words as a program, not through a shell. Where go-shellwords silently
//! stops at an unquoted `;`, `&`, `|`, `<` or `>` (so `-exec "migrate; serve"` runs only
//! `migrate`), this refuses the command and says how to run a shell instead.

/// The words of `line`: whitespace separates them; `'…'` keeps everything literally; `"…"` keeps
/// everything but `\` escapes; outside single quotes `\x` is `x` (`\t` and `\n` are a tab and
/// a newline, as in go-shellwords).
pub fn split(line: &str) -> Result<Vec<String>, String> {
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
                return Err(format!(
                    "-exec {line:?} uses shell syntax (`{c}`), but the command runs without a shell; run one explicitly, e.g. -exec 'sh -c \"…\"'"
                ));
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if escaped || single || double {
        return Err(format!("-exec {line:?} has an unterminated quote or a trailing backslash"));
    }
    if in_word {
        words.push(word);
    }
    if words.first().is_none_or(String::is_empty) {
        return Err("-exec needs a command to run".to_owned());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

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
            let error = split(line).unwrap_err();
            assert!(error.contains("without a shell"), "{line}: {error}");
        }
        assert!(split("echo 'open").unwrap_err().contains("unterminated"));
        assert!(split("echo \\").unwrap_err().contains("trailing backslash"));
        assert!(split("   ").unwrap_err().contains("needs a command"));
        assert!(split("''").unwrap_err().contains("needs a command"));
    }
}
