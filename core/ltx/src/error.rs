//! The one error type of this crate, and the findings it carries.
//!
//! [`Error::Io`] is the only variant that says nothing about the file: every other one is a
//! finding about its bytes (or, for [`Error::BufferSize`] and [`Error::Failed`], a misuse).

use std::fmt;
use std::io;

use crate::Checksum;

/// Everything that can go wrong reading an LTX file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reader failed: the file may be sound.
    #[error("cannot read the LTX file at byte {offset}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The file ends early.
    #[error("the file ends at byte {offset}, inside the {part}")]
    Truncated { offset: u64, part: Part },
    /// The 100-byte header breaks a rule of ltx's `Header.Validate` (or is not LTX at all).
    #[error("invalid header: {0}")]
    Header(HeaderFault),
    /// A page frame breaks a rule.
    #[error("invalid page frame at byte {offset}: {fault}")]
    Page { offset: u64, fault: PageFault },
    /// A page's LZ4 data does not decompress.
    #[error("page {pgno} at byte {offset}: its LZ4 data does not decompress")]
    Lz4 {
        pgno: u32,
        offset: u64,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A snapshot (`min_txid == 1`) lacks pages: it must hold every page of the database.
    #[error("incomplete snapshot: its pages end before page {missing}, and the database has {commit} pages")]
    IncompleteSnapshot { missing: u32, commit: u32 },
    /// The page index is malformed or does not describe the pages.
    #[error("invalid page index at byte {offset}: {fault}")]
    PageIndex { offset: u64, fault: IndexFault },
    /// The 16-byte trailer breaks a rule of ltx's `Trailer.Validate`.
    #[error("invalid trailer: {0}")]
    Trailer(TrailerFault),
    /// The CRC-64/ISO of the file's logical content differs from the trailer's.
    #[error("file checksum mismatch: the trailer says {stored}, the content hashes to {computed}")]
    ChecksumMismatch { stored: Checksum, computed: Checksum },
    /// Bytes follow the trailer.
    #[error("unexpected data after the trailer, at byte {offset}")]
    TrailingData { offset: u64 },
    /// The caller's page buffer is not one page long.
    #[error("the page buffer holds {len} bytes, the file's page size is {page_size}")]
    BufferSize { len: usize, page_size: u32 },
    /// The decoder was used again after it returned an error.
    #[error("the decoder already failed and cannot go on")]
    Failed,
}

impl Error {
    /// Whether the file itself is at fault, as opposed to the reader (or the caller).
    pub fn is_finding(&self) -> bool {
        !matches!(self, Error::Io { .. } | Error::BufferSize { .. } | Error::Failed)
    }
}

/// Which part of the file a truncation cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    Header,
    PageHeader,
    PageSizePrefix,
    PageData,
    PageIndex,
    Trailer,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::PageHeader => "page header",
            Part::PageSizePrefix => "compressed size of a page",
            Part::PageData => "data of a page",
            Part::PageIndex => "page index",
            Part::Trailer => "trailer",
        })
    }
}

/// A broken header rule: ltx.go `Header.UnmarshalBinary` (the magic) and `Header.Validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderFault {
    Magic([u8; 4]),
    Flags(u32),
    PageSize(u32),
    MinTxidZero,
    MaxTxidZero,
    TxidOrder { min: u64, max: u64 },
    WalOffsetNegative(i64),
    WalSizeNegative(i64),
    SaltWithoutWalOffset,
    WalSizeWithoutWalOffset,
    SnapshotPreApplyChecksum,
    PreApplyChecksumNotAllowed,
    PreApplyChecksumRequired,
    PreApplyChecksumFormat,
}

impl fmt::Display for HeaderFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderFault::Magic(m) => write!(f, "not an LTX file (magic {m:02x?}, expected \"LTX1\")"),
            HeaderFault::Flags(x) => {
                write!(f, "unknown flags 0x{x:08x} (only 0x00000002, no checksum, exists)")
            }
            HeaderFault::PageSize(n) => write!(f, "page size {n} is not a power of two from 512 to 65536"),
            HeaderFault::MinTxidZero => f.write_str("minimum transaction id is zero"),
            HeaderFault::MaxTxidZero => f.write_str("maximum transaction id is zero"),
            HeaderFault::TxidOrder { min, max } => {
                write!(f, "transaction ids out of order: {min:016x} > {max:016x}")
            }
            HeaderFault::WalOffsetNegative(n) => write!(f, "negative WAL offset {n}"),
            HeaderFault::WalSizeNegative(n) => write!(f, "negative WAL size {n}"),
            HeaderFault::SaltWithoutWalOffset => f.write_str("WAL salts set without a WAL offset"),
            HeaderFault::WalSizeWithoutWalOffset => f.write_str("WAL size set without a WAL offset"),
            HeaderFault::SnapshotPreApplyChecksum => f.write_str("a snapshot has a pre-apply checksum"),
            HeaderFault::PreApplyChecksumNotAllowed => {
                f.write_str("pre-apply checksum set although the no-checksum flag is")
            }
            HeaderFault::PreApplyChecksumRequired => {
                f.write_str("no pre-apply checksum, which files that track checksums need")
            }
            HeaderFault::PreApplyChecksumFormat => f.write_str("pre-apply checksum lacks its top bit"),
        }
    }
}

/// A broken page-frame rule: ltx.go `PageHeader.Validate`, the page order of encoder.go
/// `EncodePage`, and the limits of the two LZ4 encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageFault {
    ZeroPgno { flags: u16 },
    Flags { pgno: u32, flags: u16 },
    BeyondCommit { pgno: u32, commit: u32 },
    LockPage { pgno: u32 },
    SnapshotStart { pgno: u32 },
    SnapshotGap { prev: u32, pgno: u32 },
    OutOfOrder { prev: u32, pgno: u32 },
    CompressedSize { pgno: u32, size: u32, max: u32 },
    FrameDescriptor { pgno: u32 },
    FrameBlockSize { pgno: u32 },
    FrameTooLong { pgno: u32, max: u64 },
    ShortPage { pgno: u32, len: Option<usize>, page_size: u32 },
    LongPage { pgno: u32, page_size: u32 },
    IndexMismatch { pgno: u32 },
}

impl fmt::Display for PageFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PageFault::ZeroPgno { flags } => write!(f, "page number 0 (flags 0x{flags:04x})"),
            PageFault::Flags { pgno, flags } => write!(f, "page {pgno} has unknown flags 0x{flags:04x}"),
            PageFault::BeyondCommit { pgno, commit } => {
                write!(f, "page {pgno} lies beyond the database's {commit} pages")
            }
            PageFault::LockPage { pgno } => {
                write!(f, "page {pgno} is SQLite's lock page, which LTX files never hold")
            }
            PageFault::SnapshotStart { pgno } => write!(f, "a snapshot starts with page {pgno}, not 1"),
            PageFault::SnapshotGap { prev, pgno } => {
                write!(f, "snapshot page {pgno} follows page {prev} (pages must be consecutive)")
            }
            PageFault::OutOfOrder { prev, pgno } => {
                write!(f, "page {pgno} follows page {prev} (pages must ascend, each once)")
            }
            PageFault::CompressedSize { pgno, size, max } => {
                write!(f, "page {pgno} claims {size} compressed bytes, LZ4 never needs more than {max}")
            }
            PageFault::FrameDescriptor { pgno } => {
                write!(f, "page {pgno} has neither the block flag nor an LZ4 frame")
            }
            PageFault::FrameBlockSize { pgno } => {
                write!(f, "page {pgno}'s LZ4 frame declares blocks over 64 KiB (ltx writes 64 KiB)")
            }
            PageFault::FrameTooLong { pgno, max } => {
                write!(f, "page {pgno}'s LZ4 frame runs past {max} bytes")
            }
            PageFault::ShortPage { pgno, len: Some(len), page_size } => {
                write!(f, "page {pgno} decompresses to {len} bytes, the page size is {page_size}")
            }
            PageFault::ShortPage { pgno, len: None, page_size } => {
                write!(f, "page {pgno} decompresses to less than the page size of {page_size} bytes")
            }
            PageFault::LongPage { pgno, page_size } => {
                write!(f, "page {pgno} decompresses to more than the page size of {page_size} bytes")
            }
            PageFault::IndexMismatch { pgno } => {
                write!(f, "page {pgno}'s frame does not match its page index entry")
            }
        }
    }
}

/// A malformed page index (the varint triples ltx's encoder.go `encodePageIndex` writes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexFault {
    EndMarker,
    Varint,
    TooFewEntries { entries: u32, pages: u32 },
    TooManyEntries { pages: u32 },
    Mismatch,
    Size { stored: u64, actual: u64 },
    SizeBeyondFile { stored: u64 },
    Entry { pgno: u64 },
    Uncovered { from: u64, to: u64 },
}

impl fmt::Display for IndexFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IndexFault::EndMarker => f.write_str("the pages do not end with an empty page header"),
            IndexFault::Varint => f.write_str("malformed varint"),
            IndexFault::TooFewEntries { entries, pages } => {
                write!(f, "{entries} entries for the file's {pages} pages")
            }
            IndexFault::TooManyEntries { pages } => write!(f, "more entries than the file's {pages} pages"),
            IndexFault::Mismatch => {
                f.write_str("the entries do not match the pages' numbers, offsets and sizes")
            }
            IndexFault::Size { stored, actual } => {
                write!(f, "the index size field says {stored} bytes, the index has {actual}")
            }
            IndexFault::SizeBeyondFile { stored } => {
                write!(f, "the index size field says {stored} bytes, which do not fit the file")
            }
            IndexFault::Entry { pgno } => write!(f, "the entry for page {pgno} lies outside the page frames"),
            IndexFault::Uncovered { from, to } => {
                write!(f, "no entry covers the page frames' bytes {from}..{to}")
            }
        }
    }
}

/// A broken trailer rule: ltx.go `Trailer.Validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrailerFault {
    PostApplyChecksumNotAllowed,
    PostApplyChecksumRequired,
    PostApplyChecksumFormat,
    FileChecksumRequired,
    FileChecksumFormat,
}

impl fmt::Display for TrailerFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrailerFault::PostApplyChecksumNotAllowed => {
                "post-apply checksum set although the header's no-checksum flag is"
            }
            TrailerFault::PostApplyChecksumRequired => {
                "no post-apply checksum, which files that track checksums need"
            }
            TrailerFault::PostApplyChecksumFormat => "post-apply checksum lacks its top bit",
            TrailerFault::FileChecksumRequired => "no file checksum",
            TrailerFault::FileChecksumFormat => "file checksum lacks its top bit",
        })
    }
}
