//! The JSON contract of cargo-litestream's own `--json` outputs (README.md, "JSON output").
//!
//! Every document is one JSON object whose first field is `version`, the integer version of that
//! command's schema, raised whenever a field changes meaning or disappears (new fields do not
//! raise it). A command that fails prints `{"version": N, "error": "…"}` instead, with the same
//! exit code it has without `--json`. Concepts have one representation everywhere: a TXID is
//! Litestream's 16 lowercase hex digits (as in its file names and `-txid`), a time RFC 3339.
//!
//! Litestream's own `-json` outputs (the passthrough commands, and `sync`, which imitates
//! litestream's byte for byte) are Litestream's contract and do not follow this one.

use std::io::{self, Write};

use cargo_litestream_ltx::Txid;
use serde::{Serialize, Serializer};

/// A TXID as Litestream writes it: 16 lowercase hexadecimal digits.
pub fn txid(txid: u64) -> String {
    Txid(txid).to_string()
}

/// A TXID as Litestream parses one (`ltx.ParseTXID`): exactly 16 hexadecimal digits.
pub fn parse_txid(text: &str) -> Option<u64> {
    text.parse::<Txid>().ok().map(|txid| txid.0)
}

/// `#[serde(serialize_with = "json::serialize_txid")]`: a `u64` TXID as [`txid`] writes it, so
/// Rust callers keep a number and JSON readers get Litestream's spelling.
pub fn serialize_txid<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&txid(*value))
}

/// [`serialize_txid`] for an optional TXID (`null` when there is none).
pub fn serialize_optional_txid<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serialize_txid(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// A document: `version` first, then the fields of `body`, which must serialize as an object
/// (a struct or a map; anything else is an error when written, never a panic).
#[derive(Serialize)]
pub struct Document<'a, T: Serialize + ?Sized> {
    pub version: u32,
    #[serde(flatten)]
    pub body: &'a T,
}

/// The body of a failed command's document.
#[derive(Serialize)]
struct Failure<'a> {
    /// The whole cause chain on one line, as the `error:` line without `--json` says it.
    error: &'a str,
}

/// Writes `{"version": version, …body}`, pretty-printed, and a newline.
pub fn write(out: &mut impl Write, version: u32, body: &(impl Serialize + ?Sized)) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &Document { version, body })?;
    writeln!(out)
}

/// Writes `{"version": version, "error": message}` and a newline.
pub fn write_error(out: &mut impl Write, version: u32, message: &str) -> io::Result<()> {
    write(out, version, &Failure { error: message })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[derive(Serialize)]
    struct Point {
        #[serde(serialize_with = "serialize_txid")]
        txid: u64,
        #[serde(serialize_with = "serialize_optional_txid")]
        newest: Option<u64>,
        #[serde(serialize_with = "serialize_optional_txid")]
        none: Option<u64>,
    }

    /// Parsed as Litestream parses (either case, exactly 16 digits, no sign), written as it
    /// writes (lowercase).
    #[test]
    fn txids_round_trip_as_litestream_spells_them() {
        assert_eq!(parse_txid("000000000000001a"), Some(26));
        assert_eq!(parse_txid("000000000000001A"), Some(26));
        assert_eq!(txid(26), "000000000000001a");
        for bad in ["1a", "000000000000001g", "+00000000000001a", "0000000000000001a", ""] {
            assert_eq!(parse_txid(bad), None, "{bad}");
        }
    }

    fn written(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> io::Result<String> {
        let mut out = Vec::new();
        f(&mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn version_comes_first_and_txids_are_16_hex_digits() {
        let point = Point { txid: 26, newest: Some(u64::MAX), none: None };
        let text = written(|out| write(out, 3, &point)).unwrap();
        assert!(text.starts_with("{\n  \"version\": 3,\n"), "{text}");
        assert!(text.ends_with("}\n"), "{text}");
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"version": 3, "txid": "000000000000001a", "newest": "ffffffffffffffff", "none": null})
        );
        // A `json!` object works as a body too.
        let text = written(|out| write(out, 1, &json!({"replicas": []}))).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!({"version": 1, "replicas": []}));
    }

    #[test]
    fn an_error_is_the_version_and_one_message() {
        let text = written(|out| write_error(out, 2, "a: b")).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!({"version": 2, "error": "a: b"}));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_an_error_not_a_panic() {
        assert!(written(|out| write(out, 1, &[1, 2])).is_err());
    }
}
