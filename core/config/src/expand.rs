//! Go's `os.Expand`, which Litestream applies to the whole text of its configuration (as
//! `os.ExpandEnv`) before parsing it, unless `-no-expand-env` is given. One implementation:
//! whatever cargo-litestream compares (replica locations, the databases a `-config` file names,
//! VFS URLs) is compared as Litestream will read it.

use crate::Env;

/// `text` with `$NAME`, `${NAME}` and the one-character specials (`$1`, `$*`, `$$`, …)
/// replaced by the variable's value (unset: empty), as Litestream reads its configuration.
pub fn go_expand(text: &str, env: &Env) -> String {
    go_expand_with(text, |name| env.get(name).unwrap_or_default().to_owned())
}

/// Go's `os.Expand(text, mapping)`: a `$` not followed by a name stays; `${}` and an unclosed
/// `${` are dropped (Go's "bad syntax: eat the characters").
pub fn go_expand_with(text: &str, mapping: impl Fn(&str) -> String) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut j) = (0, 0);
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&text[i..j]);
            let (name, width) = shell_name(&text[j + 1..]);
            match name {
                None if width > 0 => {}
                None => out.push('$'),
                Some(name) => out.push_str(&mapping(name)),
            }
            j += width;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(&text[i.min(text.len())..]);
    out
}

/// Go's `getShellName`: the name after a `$` and how many bytes it takes.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let bytes = s.as_bytes();
    let special = |b: u8| matches!(b, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-') || b.is_ascii_digit();
    if bytes[0] == b'{' {
        if bytes.len() > 2 && special(bytes[1]) && bytes[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        for (i, &b) in bytes.iter().enumerate().skip(1) {
            if b == b'}' {
                if i == 1 {
                    return (None, 2);
                }
                return (Some(&s[1..i]), i + 1);
            }
        }
        return (None, 1);
    }
    if special(bytes[0]) {
        return (Some(&s[0..1]), 1);
    }
    let end = bytes.iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'_')).unwrap_or(bytes.len());
    if end == 0 { (None, 0) } else { (Some(&s[..end]), end) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's own table (`os/env_test.go`, `expandTests`, with its `testGetenv`).
    #[test]
    fn gos_expand_tests() {
        let getenv = |name: &str| {
            match name {
                "*" => "all the args",
                "#" => "NARGS",
                "$" => "PID",
                "1" => "ARGUMENT1",
                "HOME" => "/usr/gopher",
                "H" => "(Value of H)",
                "home_1" => "/usr/foo",
                "_" => "underscore",
                _ => "",
            }
            .to_owned()
        };
        for (input, output) in [
            ("", ""),
            ("$*", "all the args"),
            ("$$", "PID"),
            ("${*}", "all the args"),
            ("$1", "ARGUMENT1"),
            ("${1}", "ARGUMENT1"),
            ("now is the time", "now is the time"),
            ("$HOME", "/usr/gopher"),
            ("$home_1", "/usr/foo"),
            ("${HOME}", "/usr/gopher"),
            ("${H}OME", "(Value of H)OME"),
            ("A$$$#$1$H$home_1*B", "APIDNARGSARGUMENT1(Value of H)/usr/foo*B"),
            ("start$+middle$^end$", "start$+middle$^end$"),
            ("mixed$|bag$$$", "mixed$|bagPID$"),
            ("$", "$"),
            ("$}", "$}"),
            ("${", ""),
            ("${}", ""),
        ] {
            assert_eq!(go_expand_with(input, getenv), output, "os.Expand({input:?})");
        }
    }

    /// As `os.ExpandEnv`: `$$` and `$1` are variables too (unset: empty).
    #[test]
    fn as_litestream_reads_its_config() {
        let env = Env::empty("/").with("A", "x").with("B_2", "y");
        assert_eq!(go_expand("$A/${B_2}/$C/end", &env), "x/y//end");
        assert_eq!(go_expand("cost: 5$ and $", &env), "cost: 5$ and $");
        assert_eq!(go_expand("${}z ${A", &env), "z A");
        assert_eq!(go_expand("a$$b", &env), "ab");
        assert_eq!(go_expand("päth $A ünï", &env), "päth x ünï");
    }
}
