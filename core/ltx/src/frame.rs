//! One page frame: a page header, then the page's data in one of two LZ4 encodings
//! (ltx decoder.go `DecodePage`).

use std::io::{Cursor, Read};

use lz4_flex::frame::FrameDecoder;

use crate::error::{Error, PageFault, Part};
use crate::header::{Encoding, PAGE_HEADER_SIZE, PageHeader};
use crate::source::{Limited, Source, Stop};

/// What was read of one frame, besides the page data: the bytes the file checksum covers
/// and the extent the page index records.
pub(crate) struct Frame {
    pub(crate) header: PageHeader,
    pub(crate) raw_header: [u8; PAGE_HEADER_SIZE],
    /// The block encoding's size prefix, which the file checksum covers too.
    pub(crate) size_prefix: Option<[u8; 4]>,
    /// Where the frame starts, and its length: the page index entry (encoder.go `EncodePage`).
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// The most LZ4 can need for one page: pierrec/lz4 `CompressBlockBound`, the buffer ltx's
/// encoder compresses into (encoder.go `EncodePage`), so no block it writes is longer.
/// (Callers pass a validated page size; saturating all the same.)
pub(crate) fn compress_bound(page_size: u32) -> u32 {
    page_size.saturating_add(page_size / 255).saturating_add(16)
}

/// An LZ4 frame of one page: the longest descriptor (19 bytes), one block of at most
/// `compress_bound` bytes with its size and optional checksum (8), the end mark and the
/// content checksum (8). ltx v0.5.1's encoder writes frames of 64 KiB blocks (encoder.go
/// `NewEncoder`: `lz4.Block64Kb`), so a page of at most 64 KiB is always a single block.
fn frame_bound(page_size: u32) -> u64 {
    u64::from(compress_bound(page_size)) + 19 + 8 + 8
}

/// LZ4 frame magic number (little-endian 0x184D2204).
const LZ4_FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// Reads the frame at the source's position into `page` (exactly one page long). Returns
/// `None` at the end-of-pages marker. `compressed` is a reused buffer of `compress_bound`.
pub(crate) fn read<R: Read>(
    src: &mut Source<R>,
    page: &mut [u8],
    compressed: &mut [u8],
) -> Result<Option<Frame>, Error> {
    let offset = src.offset();
    let raw_header: [u8; PAGE_HEADER_SIZE] = src.read_array(Part::PageHeader)?;
    let header = PageHeader::parse(&raw_header);
    if header.is_end() {
        return Ok(None);
    }
    header.validate().map_err(|fault| Error::Page { offset, fault })?;
    let size_prefix = match header.encoding() {
        Encoding::Block => Some(read_block(src, header.pgno, page, compressed)?),
        Encoding::Frame => {
            read_frame(src, header.pgno, page)?;
            None
        }
    };
    let len = src.offset().saturating_sub(offset);
    Ok(Some(Frame { header, raw_header, size_prefix, offset, len }))
}

fn read_block<R: Read>(
    src: &mut Source<R>,
    pgno: u32,
    page: &mut [u8],
    compressed: &mut [u8],
) -> Result<[u8; 4], Error> {
    let page_size = page.len() as u32;
    let prefix_at = src.offset();
    let prefix: [u8; 4] = src.read_array(Part::PageSizePrefix)?;
    let size = u32::from_be_bytes(prefix);
    let max = compress_bound(page_size);
    let data = compressed
        .get_mut(..size as usize)
        .filter(|_| size <= max)
        .ok_or(Error::Page { offset: prefix_at, fault: PageFault::CompressedSize { pgno, size, max } })?;
    let data_at = src.offset();
    src.read_exact(data, Part::PageData)?;
    let n = lz4_flex::block::decompress_into(data, page).map_err(|e| Error::Lz4 {
        pgno,
        offset: data_at,
        source: Box::new(e),
    })?;
    // ltx's decoder ignores the length; its encoder always compresses a whole page.
    if n != page.len() {
        let fault = PageFault::ShortPage { pgno, len: Some(n), page_size };
        return Err(Error::Page { offset: data_at, fault });
    }
    Ok(prefix)
}

fn read_frame<R: Read>(src: &mut Source<R>, pgno: u32, page: &mut [u8]) -> Result<(), Error> {
    let page_size = page.len() as u32;
    let at = src.offset();
    // The magic, FLG and BD bytes, checked before the frame decoder sizes its buffers from
    // BD's block size: at most 64 KiB, which every ltx version writes.
    let descriptor: [u8; 6] = src.read_array(Part::PageData)?;
    let [m0, m1, m2, m3, _flg, bd] = descriptor;
    if [m0, m1, m2, m3] != LZ4_FRAME_MAGIC {
        return Err(Error::Page { offset: at, fault: PageFault::FrameDescriptor { pgno } });
    }
    if (bd >> 4) & 0x7 > 4 {
        return Err(Error::Page { offset: at, fault: PageFault::FrameBlockSize { pgno } });
    }
    let max = frame_bound(page_size);
    let rest = Limited::new(src, max - descriptor.len() as u64);
    let mut decoder = FrameDecoder::new(Cursor::new(descriptor).chain(rest));
    // One more read after the page must find the end mark (and check the content checksum)
    // without producing a byte: a frame holds exactly one page.
    let result = decoder.read_exact(page).and_then(|()| decoder.read(&mut [0]));
    let (_, rest) = decoder.into_inner().into_inner();
    let offset = rest.offset();
    match (result, rest.stop) {
        (_, Some(Stop::Failed(e))) => Err(e),
        (_, Some(Stop::End)) => Err(Error::Truncated { offset, part: Part::PageData }),
        (_, Some(Stop::Limit)) => {
            Err(Error::Page { offset: at, fault: PageFault::FrameTooLong { pgno, max } })
        }
        (Ok(0), None) => Ok(()),
        (Ok(_), None) => Err(Error::Page { offset: at, fault: PageFault::LongPage { pgno, page_size } }),
        (Err(e), None) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(Error::Page { offset: at, fault: PageFault::ShortPage { pgno, len: None, page_size } })
        }
        (Err(e), None) => Err(Error::Lz4 { pgno, offset: at, source: Box::new(e) }),
    }
}
