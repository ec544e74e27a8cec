//! The one module that knows YAML.
//!
//! Writing: the generated configuration is a tree of strings, integers, booleans, tables and
//! lists, read by Go's `gopkg.in/yaml.v2`, a YAML **1.1** parser. This module emits it in block
//! style itself: a string is written plain only when neither YAML 1.1 nor 1.2 could read it as
//! anything else (`yes`, `on`, `0600`, `1e3`, `2024-01-01`, `~` are quoted), otherwise
//! double-quoted with JSON-style escapes, which both versions read the same way. It is also
//! several times faster than going through serde (10 000 databases: the bar is 100 ms).
//!
//! Reading (the user's own `replicate -config FILE`, and tests): `saphyr`, a maintained YAML 1.2
//! parser in safe Rust, used here and nowhere else. It replaced `serde_yaml` (archived upstream,
//! built on `unsafe-libyaml`), which stays a dev-dependency only: the tests read the writer's
//! output back with it as well, a YAML 1.1 reader as Go's yaml.v2 is.

use std::fmt::Write as _;

/// Why a text is not a YAML configuration cargo-litestream can read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum YamlError {
    /// Not YAML (the parser's message, with its line and column).
    #[error("{message}")]
    Syntax { message: String },
    /// More than one document.
    #[error("{count} YAML documents (separated by `---` lines): a Litestream config is one")]
    Documents { count: usize },
    /// YAML, but a value that is none of JSON's (a tag that does not fit, a list as a key, …).
    #[error("{problem}")]
    Value { problem: String },
}

/// Serializes a configuration tree (built as TOML values, which keep their order) as YAML.
/// It cannot fail: the `Result` keeps the callers' `?` working while it was fallible.
pub fn to_string(value: &toml::Value) -> Result<String, std::convert::Infallible> {
    let mut out = String::with_capacity(4096);
    match value {
        toml::Value::Table(table) => write_table(&mut out, table, 0),
        toml::Value::Array(items) => write_list(&mut out, items, 0),
        scalar => {
            write_scalar(&mut out, scalar);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Parses YAML into JSON values: for tests and for reading Litestream's own files.
///
/// What `serde_yaml` 0.9 read before it (the tests compare the two): one document (an empty text
/// is null), scalars resolved as it did (YAML 1.2's core schema, plus `0b101`; `yes` and `0600`
/// are strings), aliases expanded, a repeated key's last value kept, keys by their text. Only
/// laxer: a value with a tag of its own (`!env x`) is read as the value, where it failed.
pub fn parse(text: &str) -> Result<serde_json::Value, YamlError> {
    let mut loader = saphyr::YamlLoader::<saphyr::Yaml>::default();
    // Scalars stay text: `resolve` reads them as serde_yaml did, keys keep their spelling.
    loader.early_parse(false);
    loader.allow_duplicate_keys(true);
    saphyr_parser::Parser::new_from_str(text)
        .load(&mut loader, true)
        .map_err(|e| YamlError::Syntax { message: e.to_string() })?;
    if let Some(error) = loader.error() {
        return Err(YamlError::Syntax { message: error.to_string() });
    }
    let mut documents = loader.into_documents();
    if documents.len() > 1 {
        // Go's yaml.Unmarshal would silently read the first alone.
        return Err(YamlError::Documents { count: documents.len() });
    }
    documents
        .pop()
        .map_or(Ok(serde_json::Value::Null), to_json)
        .map_err(|problem| YamlError::Value { problem })
}

fn to_json(node: saphyr::Yaml<'_>) -> Result<serde_json::Value, String> {
    use saphyr::Yaml;
    Ok(match node {
        Yaml::Representation(text, style, tag) => resolve(&text, style, tag.as_deref())?,
        Yaml::Sequence(items) => {
            serde_json::Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(map) => {
            let mut object = serde_json::Map::with_capacity(map.len());
            for (key, value) in map {
                object.insert(key_text(key)?, to_json(value)?);
            }
            serde_json::Value::Object(object)
        }
        Yaml::Tagged(_, inner) => to_json(*inner)?,
        // Early parsing is off and saphyr expands aliases itself: neither is produced.
        Yaml::Value(_) | Yaml::Alias(_) | Yaml::BadValue => return Err("unexpected YAML node".into()),
    })
}

/// A mapping key as written (`~: x` is `"~"`, `0x10: x` is `"0x10"`), as serde_yaml read it.
fn key_text(key: saphyr::Yaml<'_>) -> Result<String, String> {
    match key {
        saphyr::Yaml::Representation(text, ..) => Ok(text.into_owned()),
        saphyr::Yaml::Tagged(_, inner) => key_text(*inner),
        _ => Err("a mapping key is a list or a mapping: keys must be plain values".into()),
    }
}

/// A scalar's value, by serde_yaml 0.9's rules (its `visit_scalar`): the core tags `!!bool`,
/// `!!int`, `!!float`, `!!null` must match and `!!str` is a string; otherwise a plain scalar is
/// resolved and a quoted or block one is a string.
fn resolve(
    text: &str,
    style: saphyr::ScalarStyle,
    tag: Option<&saphyr::Tag>,
) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    let mismatch = |kind: &str| Err(format!("invalid value {text:?}: the tag wants {kind}"));
    match tag.filter(|tag| tag.is_yaml_core_schema()).map(|tag| tag.suffix.as_str()) {
        Some("bool") => return parse_bool(text).map(Value::Bool).map_or_else(|| mismatch("a boolean"), Ok),
        Some("int") => return parse_int(text).unwrap_or_else(|| mismatch("an integer")),
        Some("float") => return parse_float(text).map(float).map_or_else(|| mismatch("a float"), Ok),
        Some("null") => return if is_null(text) { Ok(Value::Null) } else { mismatch("null") },
        Some(_) => return Ok(Value::String(text.to_owned())),
        None => {}
    }
    if style != saphyr::ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    if text.is_empty() || is_null(text) {
        return Ok(Value::Null);
    }
    if let Some(b) = parse_bool(text) {
        return Ok(Value::Bool(b));
    }
    if let Some(number) = parse_int(text) {
        return number;
    }
    if !leading_zero_digits(text)
        && let Some(f) = parse_float(text)
    {
        return Ok(float(f));
    }
    Ok(Value::String(text.to_owned()))
}

fn is_null(text: &str) -> bool {
    matches!(text, "null" | "Null" | "NULL" | "~")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// `12`, `+12`, `-12`, `0x1f`, `0o17`, `0b101` (signed too); not `0600` (a string: YAML 1.1
/// would read it as octal, 1.2 as decimal). Beyond 64 bits: an error, as serde_yaml gave.
fn parse_int(text: &str) -> Option<Result<serde_json::Value, String>> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (digits, radix) = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(prefix, radix)| unsigned.strip_prefix(prefix).map(|rest| (rest, radix)))
        .unwrap_or((unsigned, 10));
    // from_str_radix takes a sign of its own: refuse `+-1`, `0x+1`.
    if digits.is_empty()
        || !digits.chars().all(|c| c.is_digit(radix))
        || (radix == 10 && leading_zero_digits(text))
    {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    let value = if negative {
        i64::try_from(magnitude)
            .ok()
            .map(|m| serde_json::Value::from(-m))
            .or_else(|| (magnitude == 1u128 << 63).then(|| serde_json::Value::from(i64::MIN)))
    } else {
        u64::try_from(magnitude).ok().map(serde_json::Value::from)
    };
    Some(value.ok_or_else(|| format!("integer {text} is out of range (64 bits)")))
}

/// Leading zeros then digits (`0600`, `-007`): a string in YAML 1.2.
fn leading_zero_digits(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    unsigned.len() > 1 && unsigned.starts_with('0') && unsigned[1..].bytes().all(|b| b.is_ascii_digit())
}

/// `1.5`, `1e3`, `.5`, `+.inf`, `-.Inf`, `.nan`; not `inf` or `nan` (strings).
fn parse_float(text: &str) -> Option<f64> {
    let unsigned = match text.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => text,
    };
    match unsigned {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    unsigned.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// JSON has no NaN or infinities: null, as serde_json makes of them.
fn float(f: f64) -> serde_json::Value {
    serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn write_table(out: &mut String, table: &toml::Table, indent: usize) {
    for (index, (key, value)) in table.iter().enumerate() {
        // The first key of a list item sits on the `- ` line, already indented.
        if index > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value, indent);
    }
}

fn write_list(out: &mut String, items: &[toml::Value], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push_str("- ");
        match item {
            toml::Value::Table(table) if !table.is_empty() => write_table(out, table, indent + 2),
            toml::Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_list(out, inner, indent + 2);
            }
            other => {
                write_inline(out, other);
                out.push('\n');
            }
        }
    }
}

/// What follows `key:`.
fn write_value(out: &mut String, value: &toml::Value, indent: usize) {
    match value {
        toml::Value::Table(table) if !table.is_empty() => {
            out.push('\n');
            write_table(out, table, indent + 2);
        }
        // Sequences under a key are not indented further (as most YAML writers do).
        toml::Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_list(out, items, indent);
        }
        other => {
            out.push(' ');
            write_inline(out, other);
            out.push('\n');
        }
    }
}

/// A scalar, or an empty collection, on the current line.
fn write_inline(out: &mut String, value: &toml::Value) {
    match value {
        toml::Value::Table(_) => out.push_str("{}"),
        toml::Value::Array(_) => out.push_str("[]"),
        scalar => write_scalar(out, scalar),
    }
}

fn write_scalar(out: &mut String, value: &toml::Value) {
    match value {
        toml::Value::String(text) => write_string(out, text),
        toml::Value::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        toml::Value::Float(f) if f.is_nan() => out.push_str(".nan"),
        toml::Value::Float(f) if f.is_infinite() => out.push_str(if *f > 0.0 { ".inf" } else { "-.inf" }),
        toml::Value::Float(f) => {
            let text = format!("{f:?}");
            out.push_str(&text);
        }
        toml::Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        // TOML datetimes have no YAML counterpart Litestream reads: they become strings.
        toml::Value::Datetime(d) => write_quoted(out, &d.to_string()),
        toml::Value::Table(_) | toml::Value::Array(_) => write_inline(out, value),
    }
}

fn write_string(out: &mut String, text: &str) {
    if is_plain_safe(text) { out.push_str(text) } else { write_quoted(out, text) }
}

/// A double-quoted scalar; its escapes are JSON's, which YAML's double-quoted style shares.
fn write_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if must_escape(c) && (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if must_escape(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Characters a YAML 1.1 reader does not take as themselves when they stand raw in a quoted
/// scalar: C0 and C1 controls and DEL (libyaml refuses them in its input, except U+0085, which it
/// reads as a line break and so folds into a space), the line and paragraph separators (line
/// breaks too), and U+FEFF, U+FFFE, U+FFFF (not printable to libyaml: the whole file is refused).
fn must_escape(c: char) -> bool {
    matches!(c as u32, 0..=0x1f | 0x7f..=0x9f | 0x2028 | 0x2029 | 0xfeff | 0xfffe | 0xffff)
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Whether `text` can be written without quotes and still be read back as this string by
/// both YAML 1.1 and 1.2 parsers.
fn is_plain_safe(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else { return false };
    if !(first.is_ascii_alphanumeric() || b"/._$~+".contains(&first)) || text.ends_with([' ', ':']) {
        return false;
    }
    // One pass over the bytes (every string of a 10 000-database config comes through here):
    // each must be an allowed ASCII character, so multi-byte characters are refused, and no
    // `: ` may occur. `#` is never allowed, so neither is ` #`.
    let mut previous = 0u8;
    for &byte in bytes {
        if !PLAIN_BYTES[usize::from(byte)] || (previous == b':' && byte == b' ') {
            return false;
        }
        previous = byte;
    }
    // `{`, `[`, `]`, `}` and `,` only matter in flow context, but keep them off the start.
    !(is_reserved_word(text) || looks_numeric(text) || looks_like_date(text))
}

/// The bytes a plain scalar may hold: ASCII letters and digits and `/._-$~+:@%=,?&(){}[]* `.
const PLAIN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'/' | b'.'
                    | b'_'
                    | b'-'
                    | b'$'
                    | b'~'
                    | b'+'
                    | b':'
                    | b'@'
                    | b'%'
                    | b'='
                    | b','
                    | b'?'
                    | b'&'
                    | b'('
                    | b')'
                    | b'{'
                    | b'}'
                    | b'['
                    | b']'
                    | b'*'
                    | b' '
            );
        byte += 1;
    }
    table
};

/// Words YAML 1.1 or 1.2 read as booleans or null.
fn is_reserved_word(text: &str) -> bool {
    text.len() <= 5
        && ["y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "<<", "="]
            .iter()
            .any(|word| word.eq_ignore_ascii_case(text))
}

/// Integers and floats in any YAML 1.1/1.2 spelling: `12`, `0600`, `0x1f`, `0o17`, `0b101`,
/// `1_000`, `1e3`, `.5`, `.inf`, `-.nan`, sexagesimal `1:30`.
fn looks_numeric(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    // Every number starts with a digit or a dot: paths and words are rejected without work.
    if !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return false;
    }
    let lower = unsigned.to_ascii_lowercase();
    if matches!(lower.as_str(), ".inf" | ".nan") {
        return true;
    }
    let digits: String = lower.chars().filter(|c| *c != '_').collect();
    if digits.parse::<f64>().is_ok() && !digits.contains(|c: char| c.is_ascii_alphabetic() && c != 'e') {
        return true;
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            return !rest.is_empty() && rest.chars().all(|c| c.is_digit(radix));
        }
    }
    // Sexagesimal: `190:20:30` or `1:30.5`.
    let mut parts = digits.split(':');
    let head = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && !head.is_empty()
        && head.chars().all(|c| c.is_ascii_digit())
        && rest.iter().enumerate().all(|(i, part)| {
            let last = i + 1 == rest.len();
            !part.is_empty() && part.chars().all(|c| c.is_ascii_digit() || (last && c == '.'))
        })
}

/// YAML 1.1 timestamps: `2001-12-14`, `2001-12-14t21:59:43.10-05:00`.
fn looks_like_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 8
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(toml_text: &str) -> String {
        to_string(&toml::Value::Table(toml_text.parse().unwrap())).unwrap()
    }

    #[test]
    fn block_style_like_the_golden_files() {
        let text = yaml(
            r#"
logging = { stderr = true, level = "debug" }
empty = {}
none = []
levels = [{ interval = "10s" }, { interval = "1m" }]
dbs = [{ path = "/srv/a.db", replica = { type = "s3", path = "p/a.db" } }]
cas = ["/a.pem", "/b.pem"]
port = 9
ratio = 0.5
"#,
        );
        assert_eq!(
            text,
            "\
logging:
  stderr: true
  level: debug
empty: {}
none: []
levels:
- interval: 10s
- interval: 1m
dbs:
- path: /srv/a.db
  replica:
    type: s3
    path: p/a.db
cas:
- /a.pem
- /b.pem
port: 9
ratio: 0.5
"
        );
    }

    #[test]
    fn strings_other_types_could_be_read_as_are_quoted() {
        for text in [
            "yes",
            "On",
            "off",
            "n",
            "null",
            "~",
            "true",
            "False",
            "0600",
            "12",
            "-3",
            "1e3",
            "1_000",
            "0x1f",
            "0o17",
            "0b101",
            ".inf",
            "-.Inf",
            ".nan",
            "1:30",
            "190:20:30.15",
            "2024-12-20",
            "2001-12-14t21:59:43.10-05:00",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "#c",
            "-x",
            "*ref",
            "&anchor",
            "!tag",
            "'q'",
            "\"dq\"",
            "multi\nline",
            "é",
            "{a}",
            "[a]",
            "? x",
            "|",
            ">",
            "@at",
            "%p",
            "`b",
            "<<",
            "=",
        ] {
            let mut out = String::new();
            write_string(&mut out, text);
            assert!(out.starts_with('"'), "{text:?} written bare as {out}");
            let back = read_back(&format!("k: {out}\n"));
            assert_eq!(back["k"], serde_json::Value::String(text.to_owned()), "{text:?} → {out}");
        }
    }

    #[test]
    fn ordinary_strings_stay_plain() {
        for text in [
            "/srv/app/db.sqlite3",
            "30s",
            "1h30m",
            "5MB",
            "$LITESTREAM_REPLICA_BUCKET",
            "${BACKUP_DIR}/a",
            "127.0.0.1:9090",
            "s3://bkt/p/app.db?endpoint=http://127.0.0.1:9&region=us-east-1",
            "us-east-1",
            "debug",
            "myproject/db.sqlite3",
        ] {
            let mut out = String::new();
            write_string(&mut out, text);
            assert_eq!(out, text);
            assert_eq!(read_back(&format!("k: {out}\n"))["k"], serde_json::Value::String(text.to_owned()));
        }
    }

    /// The definition `is_plain_safe` implements in one pass, kept as the reference.
    fn plain_safe_by_definition(text: &str) -> bool {
        let Some(first) = text.chars().next() else { return false };
        if !(first.is_ascii_alphanumeric() || "/._$~+".contains(first)) || text.ends_with([' ', ':']) {
            return false;
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "/._-$~+:@%=,?&(){}[]* ".contains(c);
        if !text.chars().all(allowed) || text.contains(": ") || text.contains(" #") {
            return false;
        }
        !(is_reserved_word(text) || looks_numeric(text) || looks_like_date(text))
    }

    #[test]
    fn plain_safety_matches_its_definition() {
        // Every string of up to three characters from an alphabet with each class of
        // character (allowed, refused, multi-byte, the two-character patterns), and longer ones.
        let alphabet =
            ["a", "7", "/", ".", "-", ":", " ", "#", "\"", "é", "\n", "\t", "$", "{", "y", "e", "0", "x"];
        let mut corpus: Vec<String> = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> =
                corpus.iter().flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}"))).collect();
            corpus.extend(longer);
        }
        corpus.extend(
            [
                "/srv/a b/c.db",
                "s3://b/p?x=1&y=2",
                "a:b",
                "a: b",
                "a #b",
                "a#b",
                "2024-01-01",
                "ab\u{7f}",
                "日本",
            ]
            .map(String::from),
        );
        for text in &corpus {
            assert_eq!(is_plain_safe(text), plain_safe_by_definition(text), "{text:?}");
        }
    }

    #[test]
    fn round_trips_through_a_yaml_parser() {
        let source: toml::Table = r#"
a = "x: y"
b = ["yes", 1, true, 2.5, { c = "0600", d = [] }]
e = { f = { g = "deep", h = "line\nbreak\ttab \"quoted\" back\\slash" } }
"#
        .parse()
        .unwrap();
        let value = toml::Value::Table(source.clone());
        let back = read_back(&to_string(&value).unwrap());
        let expected: serde_json::Value = serde_json::to_value(&source).unwrap();
        assert_eq!(back, expected);
    }

    /// Arbitrary strings, weighted towards the characters YAML treats specially, come back
    /// unchanged through a YAML 1.1 reader (libyaml's, as Litestream's yaml.v2 is a port of it)
    /// and through `parse` (saphyr, YAML 1.2).
    #[test]
    fn arbitrary_strings_round_trip() {
        const SPECIAL: &[u32] = &[
            0x00, 0x09, 0x0a, 0x0d, 0x1b, 0x20, 0x22, 0x23, 0x27, 0x3a, 0x5c, 0x7f, 0x80, 0x85, 0x9f, 0xa0,
            0x2028, 0x2029, 0xfeff, 0xfffe, 0xffff, 0x1f600,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5_000 {
            let len = (next() % 12) as usize;
            let text: String = (0..len)
                .filter_map(|_| {
                    let roll = next();
                    let code = match roll % 4 {
                        0 => SPECIAL[(roll >> 8) as usize % SPECIAL.len()],
                        1 => (roll >> 8) as u32 % 0x80,
                        2 => (roll >> 8) as u32 % 0x800,
                        _ => (roll >> 8) as u32 % 0x11_0000,
                    };
                    char::from_u32(code)
                })
                .collect();
            let mut table = toml::Table::new();
            table.insert("k".into(), toml::Value::String(text.clone()));
            let written = to_string(&toml::Value::Table(table)).unwrap();
            let back = read_back(&written);
            assert_eq!(back["k"], serde_json::Value::String(text.clone()), "{text:?} → {written:?}");
        }
    }

    /// Both readers: saphyr (what `parse` uses) and libyaml's YAML 1.1 (via serde_yaml, dev-only),
    /// which must agree on everything the writer produces.
    fn read_back(text: &str) -> serde_json::Value {
        let ours = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let yaml_1_1: serde_json::Value =
            serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{text:?} (YAML 1.1 reader): {e}"));
        assert_eq!(ours, yaml_1_1, "{text:?}: the two readers differ");
        ours
    }

    /// `parse` reads what serde_yaml (its reader before saphyr) read, errors included.
    #[test]
    fn reads_what_serde_yaml_read() {
        for text in [
            "",
            "a: 1\n",
            "a: 1\na: 2\n",
            "~: x\n",
            "1: a\n",
            "true: a\n",
            "a: 1\n---\nb: 2\n",
            "k: .nan\n",
            "k: 0b101\n",
            "k: 0o17\n",
            "k: +12\n",
            "k: 1_000\n",
            "k: yes\n",
            "k: 0600\n",
            "k: 0x1f\n",
            "k: 1e3\n",
            "k: 1:30\n",
            "k: 2024-01-01\n",
            "base: &b {x: 1}\nk:\n  <<: *b\n  y: 2\n",
            "k: !!str 12\n",
            "k: !!int x\n",
            "k: [a, b\n",
            "k: \"\\x41\\u00e9\"\n",
            "k: 'it''s'\n",
            "k: |\n  line\n  two\n",
            "k: >\n  folded\n  text\n",
            "k: -.inf\n",
            "k: 12345678901234567890\n",
            "[1, 2]\n",
            "k: null\n",
            "k: Null\n",
            "k: NULL\n",
            "k: True\n",
            "k: TRUE\n",
            "k: ~\n",
            "k:\n",
            "? [a]\n: x\n",
            "k: 1.0\n",
            "k: -0\n",
            "k: 0.\n",
            "k: .5\n",
            "k: 1e\n",
            "k: 0x\n",
            "dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n",
            "%YAML 1.1\n---\nk: yes\n",
            "k: \t x\n",
            "\u{feff}k: x\n",
            "k: a\r\nj: b\r\n",
            "k: -0x1f\n",
            "k: 0x\n",
            "k: 0xg\n",
            "k: +0600\n",
            "k: 9223372036854775808\n",
            "k: -9223372036854775808\n",
            "k: -9223372036854775809\n",
            "k: 18446744073709551616\n",
            "k: 1e400\n",
            "k: +.nan\n",
            "k: inf\n",
            "k: nan\n",
            "k: 1__0\n",
            "k: 0x_1\n",
            "k: -\n",
            "k: +\n",
            "k: !!int '12'\n",
            "k: !!bool yes\n",
            "k: !!null ''\n",
            "k: !!float 1\n",
            "k: !!str true\n",
            "k: !!binary aGk=\n",
            "k: *undefined\n",
            "k: @x\n",
            "&a k: v\n*a : w\n",
            "k: +-1\n",
            "k: 0x+1\n",
            "k: -0b11\n",
            "k: 0o8\n",
            "k: 1.5e-3\n",
            "k: 5.\n",
            "k: +5\n",
            "k: -.5\n",
            "k: 00\n",
            "k: 0\n",
            "k: +.INF\n",
            "k: .NaN\n",
            "k: -.nan\n",
            "k: 1e3\n",
            "k: 1E3\n",
            "k: infinity\n",
            "k: 0x1F\n",
            "k: 0X1f\n",
            "- a\n- b: c\n  d: [1, {e: f}]\n",
            "k: 'a\n\n  b'\n",
            "k: \"multi\n  line\"\n",
            "key with space: v\n",
            "? complex\n: v\n",
            "k: !!map {a: 1}\n",
            "k: !!seq [1]\n",
            "k: [!!int 1, !!str 2]\n",
        ] {
            let ours = parse(text);
            let before: Result<serde_json::Value, _> = serde_yaml::from_str(text);
            match (&ours, &before) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text:?}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{text:?}: now {ours:?}, before {before:?}"),
            }
        }
    }

    /// The one difference: a tag of the user's own is skipped (serde_yaml refused it).
    #[test]
    fn own_tags_are_skipped() {
        assert_eq!(parse("k: !env x\n").unwrap(), serde_json::json!({"k": "x"}));
        assert_eq!(parse("k: !custom {a: 1}\n").unwrap(), serde_json::json!({"k": {"a": 1}}));
        assert!(parse("k: !!int x\n").unwrap_err().to_string().contains("integer"));
    }

    #[test]
    fn one_document_only() {
        assert_eq!(parse("").unwrap(), serde_json::Value::Null);
        assert!(matches!(parse("a: 1\n---\nb: 2\n"), Err(YamlError::Documents { count: 2 })));
    }

    #[test]
    fn order_is_kept() {
        assert_eq!(yaml("b = 1\na = 2\n"), "b: 1\na: 2\n");
    }
}
