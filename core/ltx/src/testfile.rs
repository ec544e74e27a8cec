//! Writes LTX files for the tests as ltx's encoders do: v0.5.2's `EncodePage` (LZ4 block,
//! size prefix, flag 0x1) and v0.5.0's (one LZ4 frame of 64 KiB blocks with a content
//! checksum, as pierrec/lz4's writer makes it), `encodePageIndex` and `Close`.

use std::io::Write;

use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};

use crate::checksum::Hasher;
use crate::header::{Encoding, HEADER_FLAG_NO_CHECKSUM, Header, PAGE_FLAG_SIZE};
use crate::{Checksum, Txid};

/// A header as Litestream 0.5 writes it: no database checksums.
pub(crate) fn header(min: u64, max: u64, commit: u32, page_size: u32) -> Header {
    Header {
        flags: HEADER_FLAG_NO_CHECKSUM,
        page_size,
        commit,
        min_txid: Txid(min),
        max_txid: Txid(max),
        timestamp: 1_764_547_200_000,
        pre_apply_checksum: Checksum(0),
        wal_offset: if min == 1 { 0 } else { 32 },
        wal_size: if min == 1 { 0 } else { 4152 },
        wal_salt1: if min == 1 { 0 } else { 0x1234 },
        wal_salt2: if min == 1 { 0 } else { 0x5678 },
        node_id: 0,
    }
}

/// A page of recognisable content.
pub(crate) fn page(pgno: u32, page_size: u32) -> Vec<u8> {
    (0..page_size).map(|i| if i % 7 == 0 { (pgno as u8) ^ (i as u8) } else { (i / 64) as u8 }).collect()
}

pub(crate) struct Page {
    pub pgno: u32,
    pub encoding: Encoding,
    pub data: Vec<u8>,
}

pub(crate) fn pages(pgnos: impl IntoIterator<Item = u32>, page_size: u32, encoding: Encoding) -> Vec<Page> {
    pgnos.into_iter().map(|pgno| Page { pgno, encoding, data: page(pgno, page_size) }).collect()
}

/// Index entries as written: `(pgno, offset, size)`.
pub(crate) type Entries = Vec<(u64, u64, u64)>;

/// Changes what the writer writes, for files that break a rule but carry a good checksum.
#[derive(Default)]
pub(crate) struct Tweaks {
    /// Edits the `(pgno, offset, size)` index entries before they are written.
    pub index: Option<fn(&mut Entries)>,
    /// Added to the index size field.
    pub index_size_delta: u64,
    pub post_apply_checksum: u64,
}

pub(crate) fn write(header: &Header, pages: &[Page]) -> Vec<u8> {
    write_with(header, pages, &Tweaks::default())
}

pub(crate) fn write_with(header: &Header, pages: &[Page], tweaks: &Tweaks) -> Vec<u8> {
    let mut out = Writer { bytes: Vec::new(), hash: Hasher::new() };
    out.hashed(&header_bytes(header));
    let mut index = Vec::new();
    for page in pages {
        let offset = out.bytes.len() as u64;
        write_page(&mut out, page);
        index.push((u64::from(page.pgno), offset, out.bytes.len() as u64 - offset));
    }
    out.hashed(&[0; 6]);
    if let Some(edit) = tweaks.index {
        edit(&mut index);
    }
    let index_at = out.bytes.len();
    let mut raw = Vec::new();
    for (pgno, offset, size) in index {
        for v in [pgno, offset, size] {
            raw.extend_from_slice(crate::varint::encode(v, &mut [0; 10]));
        }
    }
    raw.push(0);
    out.hashed(&raw);
    let size = (out.bytes.len() - index_at) as u64 + tweaks.index_size_delta;
    out.hashed(&size.to_be_bytes());
    out.hashed(&tweaks.post_apply_checksum.to_be_bytes());
    let file_checksum = out.hash.finish();
    out.bytes.extend_from_slice(&file_checksum.0.to_be_bytes());
    out.bytes
}

struct Writer {
    bytes: Vec<u8>,
    hash: Hasher,
}

impl Writer {
    fn hashed(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
        self.hash.update(b);
    }
}

fn write_page(out: &mut Writer, page: &Page) {
    let flags = match page.encoding {
        Encoding::Block => PAGE_FLAG_SIZE,
        Encoding::Frame => 0,
    };
    let mut head = page.pgno.to_be_bytes().to_vec();
    head.extend_from_slice(&flags.to_be_bytes());
    out.hashed(&head);
    match page.encoding {
        Encoding::Block => {
            let compressed = lz4_flex::block::compress(&page.data);
            out.hashed(&(compressed.len() as u32).to_be_bytes());
            out.bytes.extend_from_slice(&compressed);
        }
        Encoding::Frame => out.bytes.extend_from_slice(&lz4_frame(&page.data)),
    }
    out.hash.update(&page.data); // the decompressed data, as ltx's encoders hash it
}

/// One LZ4 frame as pierrec/lz4 v4 writes it for ltx v0.5.0 (`Block64Kb`, content checksum).
pub(crate) fn lz4_frame(data: &[u8]) -> Vec<u8> {
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent)
        .content_checksum(true);
    let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub(crate) fn header_bytes(h: &Header) -> [u8; 100] {
    let mut b = [0u8; 100];
    b[0..4].copy_from_slice(b"LTX1");
    b[4..8].copy_from_slice(&h.flags.to_be_bytes());
    b[8..12].copy_from_slice(&h.page_size.to_be_bytes());
    b[12..16].copy_from_slice(&h.commit.to_be_bytes());
    b[16..24].copy_from_slice(&h.min_txid.0.to_be_bytes());
    b[24..32].copy_from_slice(&h.max_txid.0.to_be_bytes());
    b[32..40].copy_from_slice(&h.timestamp.to_be_bytes());
    b[40..48].copy_from_slice(&h.pre_apply_checksum.0.to_be_bytes());
    b[48..56].copy_from_slice(&h.wal_offset.to_be_bytes());
    b[56..64].copy_from_slice(&h.wal_size.to_be_bytes());
    b[64..68].copy_from_slice(&h.wal_salt1.to_be_bytes());
    b[68..72].copy_from_slice(&h.wal_salt2.to_be_bytes());
    b[72..80].copy_from_slice(&h.node_id.to_be_bytes());
    b
}
