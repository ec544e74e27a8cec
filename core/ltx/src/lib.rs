//! A read-only, streaming decoder of the LTX files Litestream 0.5 writes.
//!
//! The format is superfly/ltx v0.5.2's (the version litestream 0.5.17 uses), read from its
//! source (`ltx.go`, `encoder.go`, `decoder.go`, `checksum.go`): Litestream's
//! `docs/LTX_FORMAT.md` is wrong on several points (CRC-64 ECMA, uncompressed 4-byte page
//! headers, no end marker), and so is ltx's own README (a database ID at byte 16). An LTX file
//! is:
//!
//! | part | size | |
//! |---|---|---|
//! | header | 100 bytes | [`Header`], big-endian |
//! | page frames | per page | a 6-byte [`PageHeader`], then the page's LZ4 data: a 4-byte size and an LZ4 block if the page flag 0x1 is set (litestream 0.5.16+), else one LZ4 frame (0.5.15 and earlier) |
//! | end of pages | 6 bytes | an all-zero page header |
//! | page index | varints | per page `(pgno, offset, size)` of its frame, a zero, the index length (u64) |
//! | trailer | 16 bytes | [`Trailer`]: post-apply checksum, file checksum |
//!
//! Litestream 0.5 writes every file with the no-checksum flag (0x2): the pre- and post-apply
//! checksums are zero, and there is no chain of database checksums to verify. What a file
//! does carry is its CRC-64/ISO file checksum, which [`check`] verifies (see [`Decoder`] for
//! exactly which bytes it covers).
//!
//! - [`check`] reads a whole file in one pass (scrub);
//! - [`Decoder`] hands out its pages one by one;
//! - [`PageReader`] reads the page index and then single pages, by seeking.
//!
//! ```
//! use std::fs::File;
//! use cargo_litestream_ltx::{Decoder, PageReader, check, parse_file_name};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let name = "0000000000000006-0000000000000007.ltx";
//! let path = format!("{}/tests/fixtures/upgrade/ltx/1/{name}", env!("CARGO_MANIFEST_DIR"));
//! let (min, max) = parse_file_name(name).expect("an LTX file name");
//!
//! let summary = check(File::open(&path)?)?;
//! assert_eq!((summary.header.min_txid, summary.header.max_txid), (min, max));
//!
//! let mut decoder = Decoder::new(File::open(&path)?)?;
//! let mut page = vec![0; decoder.header().page_size as usize];
//! while let Some(header) = decoder.next_page(&mut page)? {
//!     println!("page {} ({:?})", header.pgno, header.encoding());
//! }
//! decoder.finish()?;
//!
//! let mut reader = PageReader::open(File::open(&path)?)?;
//! let first = reader.index().entries()[0].pgno;
//! assert!(reader.read_page(first, &mut page)?);
//! # Ok(())
//! # }
//! ```
//!
//! No input makes this crate panic or allocate more than it has checked against a limit:
//! a page is at most 64 KiB, a compressed page at most LZ4's bound for it, and the page index
//! is bounded by the pages read, or by the real length of the file.

mod checksum;
mod decoder;
mod error;
mod frame;
mod header;
mod index;
mod order;
mod source;
mod txid;
mod varint;

pub use checksum::Checksum;
pub use decoder::{Decoder, Summary, check};
pub use error::{Error, HeaderFault, IndexFault, PageFault, Part, TrailerFault};
pub use header::{
    Encoding, HEADER_FLAG_NO_CHECKSUM, HEADER_SIZE, Header, MAX_PAGE_SIZE, PAGE_FLAG_SIZE, PAGE_HEADER_SIZE,
    PageHeader, TRAILER_SIZE, Trailer, is_valid_page_size, lock_pgno,
};
pub use index::{IndexEntry, PageIndex, PageReader};
pub use txid::{Txid, TxidError, file_name, parse_file_name};

#[cfg(test)]
mod testfile;
#[cfg(test)]
mod tests;
