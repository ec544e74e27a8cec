//! Transaction IDs and LTX file names (ltx.go: `TXID`, `ParseTXID`, `ParseFilename`).

use std::fmt;
use std::str::FromStr;

/// A transaction ID: Litestream numbers every committed write, starting at 1.
///
/// Shown as Litestream shows it, 16 lowercase hex digits (`0000000000000001`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Txid(pub u64);

impl fmt::Display for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A string that is not 16 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid transaction id {0:?}: expected 16 hex digits")]
pub struct TxidError(pub String);

impl FromStr for Txid {
    type Err = TxidError;

    /// As ltx's `ParseTXID`: exactly 16 hex digits, either case (file names, which
    /// [`parse_file_name`] reads, allow lowercase only).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `u64::from_str_radix` alone would accept a leading `+`, Go's `ParseUint` does not.
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TxidError(s.to_owned()));
        }
        u64::from_str_radix(s, 16).map(Txid).map_err(|_| TxidError(s.to_owned()))
    }
}

/// The name of the LTX file holding `min` to `max`, as Litestream writes it (`ltx.FormatFilename`).
pub fn file_name(min: Txid, max: Txid) -> String {
    format!("{min}-{max}.ltx")
}

/// The TXID range of an LTX file name, `<min>-<max>.ltx` with 16 lowercase hex digits each,
/// as ltx's `filenameRegex` (`^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$`). Like `ParseFilename`, it
/// does not require `min <= max`: the header says that (see [`Header::validate`]).
///
/// [`Header::validate`]: crate::Header::validate
pub fn parse_file_name(name: &str) -> Option<(Txid, Txid)> {
    let stem = name.strip_suffix(".ltx")?;
    let (min, max) = stem.split_once('-')?;
    Some((lowercase_txid(min)?, lowercase_txid(max)?))
}

fn lowercase_txid(s: &str) -> Option<Txid> {
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if s.len() != 16 || !s.bytes().all(lower_hex) {
        return None;
    }
    u64::from_str_radix(s, 16).ok().map(Txid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_litestream_does() {
        assert_eq!(Txid(1).to_string(), "0000000000000001");
        assert_eq!(Txid(u64::MAX).to_string(), "ffffffffffffffff");
        assert_eq!(Txid(0xab).to_string().parse::<Txid>(), Ok(Txid(0xab)));
    }

    #[test]
    fn parses_like_parse_txid() {
        assert_eq!("00000000000000AB".parse::<Txid>(), Ok(Txid(0xab)));
        for bad in ["", "1", "+000000000000001", "000000000000000g", "00000000000000001", " 000000000000001"]
        {
            assert!(bad.parse::<Txid>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_file_names() {
        assert_eq!(parse_file_name("0000000000000001-00000000000000ff.ltx"), Some((Txid(1), Txid(0xff))));
        // Not checked here: the header says whether the range is in order.
        assert_eq!(parse_file_name("0000000000000002-0000000000000001.ltx"), Some((Txid(2), Txid(1))));
    }

    #[test]
    fn rejects_bad_file_names() {
        for bad in [
            "",
            ".ltx",
            "0000000000000001-0000000000000001",
            "0000000000000001-0000000000000001.ltx.tmp",
            "0000000000000001-0000000000000001.LTX",
            "0000000000000001_0000000000000001.ltx",
            "000000000000000A-0000000000000001.ltx",
            "000000000000001-0000000000000001.ltx",
            "00000000000000001-0000000000000001.ltx",
            "0000000000000001-0000000000000001-0000000000000001.ltx",
            "+000000000000001-0000000000000001.ltx",
            "/0000000000000001-0000000000000001.ltx",
            "ltx/0/0000000000000001-0000000000000001.ltx",
            "é000000000000001-0000000000000001.ltx",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad:?}");
        }
    }
}
