//! Random access: the page index, then single pages by seeking (litestream's
//! replica_client.go `FetchPageIndex` and `FetchPage`, ltx decoder.go `DecodePageIndex` and
//! `DecodePageData`).

use std::io::{BufReader, Read, Seek, SeekFrom};

use crate::error::{Error, IndexFault, PageFault, Part};
use crate::frame;
use crate::header::{HEADER_SIZE, Header, PAGE_HEADER_SIZE, PageHeader, TRAILER_SIZE, Trailer};
use crate::order::PageOrder;
use crate::source::Source;
use crate::varint;

/// Where one page's frame lies in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub pgno: u32,
    /// Offset of the frame's page header.
    pub offset: u64,
    /// Length of the whole frame, page header included.
    pub size: u64,
}

/// A file's page index, sorted by page number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageIndex {
    entries: Vec<IndexEntry>,
}

impl PageIndex {
    pub fn get(&self, pgno: u32) -> Option<IndexEntry> {
        let i = self.entries.binary_search_by_key(&pgno, |e| e.pgno).ok()?;
        self.entries.get(i).copied()
    }

    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The page index's length field and the trailer end every file.
const FOOTER_SIZE: u64 = 8 + TRAILER_SIZE as u64;

/// Reads single pages of an LTX file by seeking, after its header, trailer and page index.
///
/// This checks structure only: the file checksum covers the whole file, so only [`check`]
/// (or a [`Decoder`]) can verify it. Each page read is checked against its index entry (page
/// number, frame length) and must decompress to exactly one page.
///
/// [`check`]: crate::check
/// [`Decoder`]: crate::Decoder
pub struct PageReader<R> {
    src: Source<R>,
    header: Header,
    trailer: Trailer,
    index: PageIndex,
    compressed: Vec<u8>,
}

impl<R: Read + Seek> PageReader<R> {
    /// Reads the header, the trailer and the page index (three seeks, and no page). Memory
    /// grows with the index, which the real length of the file bounds.
    pub fn open(mut r: R) -> Result<PageReader<R>, Error> {
        let len = r.seek(SeekFrom::End(0)).map_err(|source| Error::Io { offset: 0, source })?;
        let mut src = Source::new(r, 0);
        seek(&mut src, 0)?;
        let raw: [u8; HEADER_SIZE] = src.read_array(Part::Header)?;
        let header = Header::parse(&raw)?;
        header.validate()?;

        // Header, end of pages, a one-byte empty index, its length, the trailer.
        let smallest = (HEADER_SIZE + PAGE_HEADER_SIZE + 1) as u64 + FOOTER_SIZE;
        if len < smallest {
            return Err(Error::Truncated { offset: len, part: Part::PageIndex });
        }
        let footer_at = len - FOOTER_SIZE;
        seek(&mut src, footer_at)?;
        let index_size = u64::from_be_bytes(src.read_array(Part::PageIndex)?);
        let trailer = Trailer::parse(&src.read_array(Part::Trailer)?);
        trailer.validate(&header)?;

        let pages_end = footer_at
            .checked_sub(index_size)
            .and_then(|index_at| index_at.checked_sub(PAGE_HEADER_SIZE as u64))
            .filter(|&end| end >= HEADER_SIZE as u64 && index_size > 0)
            .ok_or(Error::PageIndex {
                offset: footer_at,
                fault: IndexFault::SizeBeyondFile { stored: index_size },
            })?;
        seek(&mut src, pages_end)?;
        let marker: [u8; PAGE_HEADER_SIZE] = src.read_array(Part::PageIndex)?;
        if marker != [0; PAGE_HEADER_SIZE] {
            return Err(Error::PageIndex { offset: pages_end, fault: IndexFault::EndMarker });
        }
        let index = read_index(&mut src, &header, pages_end, index_size)?;
        let compressed = vec![0; frame::compress_bound(header.page_size) as usize];
        Ok(PageReader { src, header, trailer, index, compressed })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn trailer(&self) -> &Trailer {
        &self.trailer
    }

    pub fn index(&self) -> &PageIndex {
        &self.index
    }

    /// Decodes page `pgno` into `buf` (exactly `page_size` bytes); `false` if this file
    /// does not hold that page.
    pub fn read_page(&mut self, pgno: u32, buf: &mut [u8]) -> Result<bool, Error> {
        let Some(entry) = self.index.get(pgno) else { return Ok(false) };
        self.read_entry(entry, buf)?;
        Ok(true)
    }

    /// Decodes the frame an index entry points at into `buf` (exactly `page_size` bytes).
    pub fn read_entry(&mut self, entry: IndexEntry, buf: &mut [u8]) -> Result<PageHeader, Error> {
        if buf.len() != self.header.page_size as usize {
            return Err(Error::BufferSize { len: buf.len(), page_size: self.header.page_size });
        }
        seek(&mut self.src, entry.offset)?;
        let mismatch =
            || Error::Page { offset: entry.offset, fault: PageFault::IndexMismatch { pgno: entry.pgno } };
        let frame = frame::read(&mut self.src, buf, &mut self.compressed)?.ok_or_else(mismatch)?;
        if frame.header.pgno != entry.pgno || frame.len != entry.size {
            return Err(mismatch());
        }
        Ok(frame.header)
    }

    pub fn into_inner(self) -> R {
        self.src.into_inner()
    }
}

fn seek<R: Read + Seek>(src: &mut Source<R>, offset: u64) -> Result<(), Error> {
    src.get_mut().seek(SeekFrom::Start(offset)).map_err(|source| Error::Io { offset, source })?;
    src.set_offset(offset);
    Ok(())
}

/// Parses `size` bytes of page index at the source's position. The entries' frames must follow
/// one another from the header to the end of pages, by ascending page number, and, for a
/// snapshot, list every page (ltx's `DecodePageIndex` checks none of this; its encoder, which
/// writes the frames back to back, guarantees it).
fn read_index<R: Read>(
    src: &mut Source<R>,
    header: &Header,
    pages_end: u64,
    size: u64,
) -> Result<PageIndex, Error> {
    let start = src.offset();
    let mut index_src = Source::new(BufReader::new(src.get_mut().take(size)), start);
    let mut entries = Vec::new();
    let mut order = PageOrder::new(header);
    let mut frames_end = HEADER_SIZE as u64;
    loop {
        let at = index_src.offset();
        let (pgno, _, _) = varint::read(&mut index_src)?;
        if pgno == 0 {
            break;
        }
        let (offset, _, _) = varint::read(&mut index_src)?;
        let (len, _, _) = varint::read(&mut index_src)?;
        let outside = || Error::PageIndex { offset: at, fault: IndexFault::Entry { pgno } };
        let pgno = u32::try_from(pgno).map_err(|_| outside())?;
        let end = offset.checked_add(len).ok_or_else(outside)?;
        if offset != frames_end || end > pages_end || len <= PAGE_HEADER_SIZE as u64 {
            return Err(outside());
        }
        order.admit(pgno).map_err(|fault| Error::Page { offset, fault })?;
        frames_end = end;
        entries.push(IndexEntry { pgno, offset, size: len });
    }
    let actual = index_src.offset() - start;
    if actual != size {
        return Err(Error::PageIndex { offset: start, fault: IndexFault::Size { stored: size, actual } });
    }
    let end = index_src.offset();
    drop(index_src);
    src.set_offset(end);
    if frames_end != pages_end {
        let fault = IndexFault::Uncovered { from: frames_end, to: pages_end };
        return Err(Error::PageIndex { offset: start, fault });
    }
    order.check_complete()?;
    Ok(PageIndex { entries })
}
