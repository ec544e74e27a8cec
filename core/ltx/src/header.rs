//! The fixed-size parts of an LTX file: the 100-byte header, the 6-byte page header and the
//! 16-byte trailer, all big-endian (ltx.go: `Header`, `PageHeader`, `Trailer`).

use crate::error::{HeaderFault, PageFault, TrailerFault};
use crate::{Checksum, Error, Txid};

/// Size of the file header.
pub const HEADER_SIZE: usize = 100;
/// Size of a page header.
pub const PAGE_HEADER_SIZE: usize = 6;
/// Size of the trailer.
pub const TRAILER_SIZE: usize = 16;
/// The largest SQLite page (ltx.go `MaxPageSize`).
pub const MAX_PAGE_SIZE: u32 = 65536;

/// ltx.go `HeaderFlagNoChecksum`: the file tracks no database checksum. Litestream 0.5 sets
/// it on every file it writes.
pub const HEADER_FLAG_NO_CHECKSUM: u32 = 1 << 1;
/// ltx.go `PageHeaderFlagSize`: a 4-byte compressed size and an LZ4 *block* follow the page
/// header (litestream 0.5.16+); without it an LZ4 *frame* follows (0.5.15 and earlier).
pub const PAGE_FLAG_SIZE: u16 = 1 << 0;

const MAGIC: &[u8; 4] = b"LTX1";

/// The file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub flags: u32,
    /// Page size in bytes.
    pub page_size: u32,
    /// Database size after this file is applied, in pages.
    pub commit: u32,
    pub min_txid: Txid,
    pub max_txid: Txid,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Rolling checksum of the database before this file: zero under the no-checksum flag.
    pub pre_apply_checksum: Checksum,
    /// Offset of the WAL segment this file came from; zero if journal or compaction.
    pub wal_offset: i64,
    pub wal_size: i64,
    pub wal_salt1: u32,
    pub wal_salt2: u32,
    pub node_id: u64,
}

impl Header {
    /// Reads the fields (ltx.go `Header.UnmarshalBinary`): only the magic is checked here.
    /// Bytes 80..100 are reserved; ltx writes zeros there and never reads them, nor does this.
    pub fn parse(b: &[u8; HEADER_SIZE]) -> Result<Header, Error> {
        let magic = [b[0], b[1], b[2], b[3]];
        if &magic != MAGIC {
            return Err(Error::Header(HeaderFault::Magic(magic)));
        }
        Ok(Header {
            flags: be_u32(b, 4),
            page_size: be_u32(b, 8),
            commit: be_u32(b, 12),
            min_txid: Txid(be_u64(b, 16)),
            max_txid: Txid(be_u64(b, 24)),
            timestamp: be_u64(b, 32) as i64,
            pre_apply_checksum: Checksum(be_u64(b, 40)),
            wal_offset: be_u64(b, 48) as i64,
            wal_size: be_u64(b, 56) as i64,
            wal_salt1: be_u32(b, 64),
            wal_salt2: be_u32(b, 68),
            node_id: be_u64(b, 72),
        })
    }

    /// The rules of ltx.go `Header.Validate`, in its order.
    pub fn validate(&self) -> Result<(), Error> {
        self.fault().map_or(Ok(()), |fault| Err(Error::Header(fault)))
    }

    fn fault(&self) -> Option<HeaderFault> {
        if self.flags & !HEADER_FLAG_NO_CHECKSUM != 0 {
            return Some(HeaderFault::Flags(self.flags));
        }
        if !is_valid_page_size(self.page_size) {
            return Some(HeaderFault::PageSize(self.page_size));
        }
        if self.min_txid.0 == 0 {
            return Some(HeaderFault::MinTxidZero);
        }
        if self.max_txid.0 == 0 {
            return Some(HeaderFault::MaxTxidZero);
        }
        if self.min_txid > self.max_txid {
            return Some(HeaderFault::TxidOrder { min: self.min_txid.0, max: self.max_txid.0 });
        }
        if self.wal_offset < 0 {
            return Some(HeaderFault::WalOffsetNegative(self.wal_offset));
        }
        if self.wal_size < 0 {
            return Some(HeaderFault::WalSizeNegative(self.wal_size));
        }
        if (self.wal_salt1 != 0 || self.wal_salt2 != 0) && self.wal_offset == 0 {
            return Some(HeaderFault::SaltWithoutWalOffset);
        }
        if self.wal_offset == 0 && self.wal_size != 0 {
            return Some(HeaderFault::WalSizeWithoutWalOffset);
        }
        let pre = self.pre_apply_checksum;
        if self.is_snapshot() {
            // A snapshot starts the database: nothing came before it.
            (pre.0 != 0).then_some(HeaderFault::SnapshotPreApplyChecksum)
        } else if self.no_checksum() {
            (pre.0 != 0).then_some(HeaderFault::PreApplyChecksumNotAllowed)
        } else if pre.0 == 0 {
            Some(HeaderFault::PreApplyChecksumRequired)
        } else {
            (!pre.is_well_formed()).then_some(HeaderFault::PreApplyChecksumFormat)
        }
    }

    /// A snapshot holds the whole database: its range starts at TXID 1 (ltx.go `IsSnapshot`).
    pub fn is_snapshot(&self) -> bool {
        self.min_txid.0 == 1
    }

    /// Whether the file tracks no database checksum (Litestream 0.5: always).
    pub fn no_checksum(&self) -> bool {
        self.flags & HEADER_FLAG_NO_CHECKSUM != 0
    }

    /// The page holding SQLite's lock byte, which no LTX file stores (ltx.go `LockPgno`).
    pub fn lock_pgno(&self) -> u32 {
        lock_pgno(self.page_size)
    }
}

/// ltx.go `IsValidPageSize`: a power of two from 512 to 65536.
pub fn is_valid_page_size(size: u32) -> bool {
    size.is_power_of_two() && (512..=MAX_PAGE_SIZE).contains(&size)
}

/// ltx.go `LockPgno`: the page holding byte `PENDING_BYTE` (0x40000000) of the database.
/// A page size of 0 (invalid anyway) gives `u32::MAX`, which no page can reach.
pub fn lock_pgno(page_size: u32) -> u32 {
    0x4000_0000u32.checked_div(page_size).map_or(u32::MAX, |n| n + 1)
}

/// The header of one page frame; all zeros marks the end of the pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageHeader {
    pub pgno: u32,
    pub flags: u16,
}

impl PageHeader {
    pub fn parse(b: &[u8; PAGE_HEADER_SIZE]) -> PageHeader {
        PageHeader {
            pgno: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            flags: u16::from_be_bytes([b[4], b[5]]),
        }
    }

    /// The end-of-pages marker (ltx.go `PageHeader.IsZero`).
    pub fn is_end(&self) -> bool {
        self.pgno == 0 && self.flags == 0
    }

    /// ltx.go `PageHeader.Validate`.
    pub fn validate(&self) -> Result<(), PageFault> {
        if self.pgno == 0 {
            return Err(PageFault::ZeroPgno { flags: self.flags });
        }
        if self.flags & !PAGE_FLAG_SIZE != 0 {
            return Err(PageFault::Flags { pgno: self.pgno, flags: self.flags });
        }
        Ok(())
    }

    /// Which LZ4 encoding the page's data uses.
    pub fn encoding(&self) -> Encoding {
        if self.flags & PAGE_FLAG_SIZE != 0 { Encoding::Block } else { Encoding::Frame }
    }
}

/// The two encodings of page data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A 4-byte big-endian size, then one LZ4 block (ltx v0.5.2, litestream 0.5.16+).
    Block,
    /// One LZ4 frame (ltx v0.5.1 and earlier, litestream 0.5.15 and earlier).
    Frame,
}

/// The end of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Rolling checksum of the database after this file: zero under the no-checksum flag.
    pub post_apply_checksum: Checksum,
    /// `Checksum::FLAG | CRC-64/ISO` of the file's logical content (see [`crate::check`]).
    pub file_checksum: Checksum,
}

impl Trailer {
    pub fn parse(b: &[u8; TRAILER_SIZE]) -> Trailer {
        Trailer { post_apply_checksum: Checksum(be_u64(b, 0)), file_checksum: Checksum(be_u64(b, 8)) }
    }

    /// ltx.go `Trailer.Validate`. (Its decoder never calls it, but its encoder validates every
    /// trailer before writing it, so every file ltx writes passes.)
    pub fn validate(&self, header: &Header) -> Result<(), Error> {
        let post = self.post_apply_checksum;
        let fault = if header.no_checksum() {
            (post.0 != 0).then_some(TrailerFault::PostApplyChecksumNotAllowed)
        } else if post.0 == 0 {
            Some(TrailerFault::PostApplyChecksumRequired)
        } else {
            (!post.is_well_formed()).then_some(TrailerFault::PostApplyChecksumFormat)
        };
        let fault = fault.or(if self.file_checksum.0 == 0 {
            Some(TrailerFault::FileChecksumRequired)
        } else {
            (!self.file_checksum.is_well_formed()).then_some(TrailerFault::FileChecksumFormat)
        });
        fault.map_or(Ok(()), |fault| Err(Error::Trailer(fault)))
    }
}

fn be_u32<const N: usize>(b: &[u8; N], at: usize) -> u32 {
    let mut x = [0; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(x)
}

fn be_u64<const N: usize>(b: &[u8; N], at: usize) -> u64 {
    let mut x = [0; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}
