//! LTX checksums: CRC-64/ISO as Go's `hash/crc64` computes it (checksum.go: `NewHasher`).

use std::fmt;

use crc::{CRC_64_GO_ISO, Crc, Digest, Table};

/// A checksum as LTX stores it: the CRC with its top bit set ([`Checksum::FLAG`]) so that a
/// present checksum is never zero (ltx.go: `ChecksumFlag`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Checksum(pub u64);

impl Checksum {
    /// ltx.go `ChecksumFlag`: set on every stored checksum.
    pub const FLAG: u64 = 1 << 63;

    /// Whether the top bit is set, as every checksum ltx writes has it.
    pub fn is_well_formed(self) -> bool {
        self.0 & Self::FLAG != 0
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Go's `crc64.ISO` table is the catalogue's CRC-64/GO-ISO (reflected polynomial 0x1b, init and
/// xorout all ones): the `crc` crate names it, where `crc64fast` has only CRC-64/XZ. Slice-by-16
/// tables (32 KiB, 1.4 GB/s here): scrub hashes every page of every replica.
static CRC64_ISO: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_GO_ISO);

/// The running file checksum of one LTX file.
pub(crate) struct Hasher(Digest<'static, u64, Table<16>>);

impl Hasher {
    pub(crate) fn new() -> Hasher {
        Hasher(CRC64_ISO.digest())
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum as the encoder stores it: `ChecksumFlag | crc` (encoder.go `Close`).
    pub(crate) fn finish(self) -> Checksum {
        Checksum(Checksum::FLAG | self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_gos_crc64_iso() {
        // Go: crc64.Checksum([]byte("123456789"), crc64.MakeTable(crc64.ISO)) == 0xb90956c775a41001
        let mut h = Hasher::new();
        h.update(b"1234");
        h.update(b"56789");
        assert_eq!(h.finish(), Checksum(Checksum::FLAG | 0xb90956c775a41001));
    }

    #[test]
    fn displays_as_hex() {
        assert_eq!(Checksum(0x8000_0000_0000_00ff).to_string(), "80000000000000ff");
        assert!(Checksum(Checksum::FLAG).is_well_formed());
        assert!(!Checksum(1).is_well_formed());
    }
}
