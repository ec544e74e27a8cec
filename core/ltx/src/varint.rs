//! Go's `encoding/binary` unsigned varints, as the page index stores them.

use std::io::Read;

use crate::error::{Error, IndexFault, Part};
use crate::source::Source;

/// Go's `binary.MaxVarintLen64`.
pub(crate) const MAX_LEN: usize = 10;

/// Reads one varint as Go's `binary.ReadUvarint` does (at most 10 bytes, no overflow),
/// returning it with the bytes it was read from.
pub(crate) fn read<R: Read>(src: &mut Source<R>) -> Result<(u64, [u8; MAX_LEN], usize), Error> {
    let start = src.offset();
    let mut raw = [0u8; MAX_LEN];
    let mut value = 0u64;
    for (i, slot) in raw.iter_mut().enumerate() {
        let b = src.read_byte(Part::PageIndex)?;
        *slot = b;
        let shift = 7 * i as u32;
        if b < 0x80 {
            if i == MAX_LEN - 1 && b > 1 {
                break; // overflow
            }
            return Ok((value | u64::from(b) << shift, raw, i + 1));
        }
        value |= u64::from(b & 0x7f) << shift;
    }
    Err(Error::PageIndex { offset: start, fault: IndexFault::Varint })
}

/// Appends `value` as Go's `binary.AppendUvarint` does (the shortest form).
pub(crate) fn encode(mut value: u64, out: &mut [u8; MAX_LEN]) -> &[u8] {
    let mut n = 0;
    while value >= 0x80 && n < MAX_LEN - 1 {
        out[n] = (value as u8) | 0x80;
        value >>= 7;
        n += 1;
    }
    out[n] = value as u8;
    &out[..=n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<u64, Error> {
        read(&mut Source::new(bytes, 0)).map(|(v, _, _)| v)
    }

    #[test]
    fn round_trips() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut buf = [0; MAX_LEN];
            let raw = encode(v, &mut buf).to_vec();
            assert_eq!(decode(&raw).unwrap(), v);
        }
        assert_eq!(encode(300, &mut [0; MAX_LEN]), &[0xac, 0x02]);
    }

    #[test]
    fn rejects_overflow_and_truncation() {
        assert!(matches!(decode(&[0xff; 10]), Err(Error::PageIndex { fault: IndexFault::Varint, .. })));
        let eleven = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(matches!(decode(&eleven), Err(Error::PageIndex { fault: IndexFault::Varint, .. })));
        assert!(matches!(decode(&[0x80]), Err(Error::Truncated { part: Part::PageIndex, .. })));
    }
}
