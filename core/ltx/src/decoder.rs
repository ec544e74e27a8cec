//! The streaming decoder: header, pages, page index and trailer in one pass
//! (ltx decoder.go: `DecodeHeader`, `DecodePage`, `Close`).

use std::io::{BufReader, Read};

use crate::checksum::Hasher;
use crate::error::{Error, IndexFault, Part};
use crate::frame::{self, Frame};
use crate::header::{Encoding, HEADER_SIZE, Header, PAGE_HEADER_SIZE, PageHeader, TRAILER_SIZE, Trailer};
use crate::order::PageOrder;
use crate::source::Source;
use crate::varint;

/// What a whole, sound file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    pub header: Header,
    pub trailer: Trailer,
    pub page_count: u32,
    /// Pages in each encoding: a replica that lived through litestream 0.5.16 has both.
    pub block_pages: u32,
    pub frame_pages: u32,
    /// Decompressed bytes of all pages.
    pub page_bytes: u64,
    /// Length of the file.
    pub file_bytes: u64,
}

/// Checks a whole LTX file in one pass, in bounded memory: every rule of [`Decoder`], then
/// that nothing follows the trailer. What scrub calls.
pub fn check<R: Read>(r: R) -> Result<Summary, Error> {
    Decoder::new(r)?.finish()
}

/// Reads one LTX file front to back.
///
/// The file checksum covers the file's *logical* content, in file order (encoder.go: `write`,
/// `EncodePage`, `Close`): the header, each page header, the block encoding's 4-byte size
/// prefix, each page's **decompressed** data (never the compressed bytes), the empty page
/// header that ends the pages, the page index with its size field, and the first 8 bytes of
/// the trailer. The trailer's last 8 bytes hold `Checksum::FLAG | CRC-64/ISO` of all that.
///
/// Beyond ltx's decoder, which checks only the header, page headers and checksum, this also
/// enforces what ltx's encoder guarantees (encoder.go `EncodePage`): pages ascend, each at most
/// once, none beyond the commit size, never the lock page; a snapshot holds every page from 1
/// to the commit size but the lock page (decoder.go `DecodeDatabaseTo`); a block decompresses
/// to exactly one page; the page index lists exactly the frames read; the trailer passes
/// `Trailer.Validate`. Memory: one compressed-page buffer and a 64 KiB read buffer, plus, while
/// a page in the old frame encoding is decoded, the LZ4 frame decoder's buffers (at most
/// 192 KiB: the 64 KiB blocks ltx writes are the largest this accepts).
pub struct Decoder<R: Read> {
    src: Source<BufReader<R>>,
    header: Header,
    file_hash: Hasher,
    /// Hash of the page index the frames call for, compared with the one the file holds:
    /// checks every entry without keeping one per page.
    index_hash: Hasher,
    order: PageOrder,
    compressed: Vec<u8>,
    counts: Counts,
    state: State,
}

#[derive(Default)]
struct Counts {
    pages: u32,
    block: u32,
    frame: u32,
    page_bytes: u64,
}

#[derive(PartialEq, Eq)]
enum State {
    Pages,
    End,
    Failed,
}

impl<R: Read> Decoder<R> {
    /// Reads and validates the header (ltx.go `Header.Validate`).
    pub fn new(r: R) -> Result<Decoder<R>, Error> {
        let mut src = Source::new(BufReader::with_capacity(64 * 1024, r), 0);
        let raw: [u8; HEADER_SIZE] = src.read_array(Part::Header)?;
        let header = Header::parse(&raw)?;
        header.validate()?;
        let mut file_hash = Hasher::new();
        file_hash.update(&raw);
        Ok(Decoder {
            src,
            header,
            file_hash,
            index_hash: Hasher::new(),
            order: PageOrder::new(&header),
            compressed: vec![0; frame::compress_bound(header.page_size) as usize],
            counts: Counts::default(),
            state: State::Pages,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Decodes the next page into `buf` (exactly `page_size` bytes); `None` after the last.
    /// After an error, every call returns [`Error::Failed`].
    pub fn next_page(&mut self, buf: &mut [u8]) -> Result<Option<PageHeader>, Error> {
        match self.state {
            State::Failed => return Err(Error::Failed),
            State::End => return Ok(None),
            State::Pages => {}
        }
        if buf.len() != self.header.page_size as usize {
            return Err(Error::BufferSize { len: buf.len(), page_size: self.header.page_size });
        }
        let page = self.read_page(buf);
        if page.is_err() {
            self.state = State::Failed;
        }
        page
    }

    fn read_page(&mut self, buf: &mut [u8]) -> Result<Option<PageHeader>, Error> {
        let Some(frame) = frame::read(&mut self.src, buf, &mut self.compressed)? else {
            self.file_hash.update(&[0; PAGE_HEADER_SIZE]);
            self.state = State::End;
            self.order.check_complete()?;
            return Ok(None);
        };
        let Frame { header, raw_header, size_prefix, offset, len } = frame;
        self.order.admit(header.pgno).map_err(|fault| Error::Page { offset, fault })?;
        self.file_hash.update(&raw_header);
        if let Some(prefix) = size_prefix {
            self.file_hash.update(&prefix);
        }
        self.file_hash.update(buf);
        for value in [u64::from(header.pgno), offset, len] {
            self.index_hash.update(varint::encode(value, &mut [0; varint::MAX_LEN]));
        }
        let counts = &mut self.counts;
        counts.pages += 1; // at most one per page number, so no overflow
        match header.encoding() {
            Encoding::Block => counts.block += 1,
            Encoding::Frame => counts.frame += 1,
        }
        counts.page_bytes += buf.len() as u64;
        Ok(Some(header))
    }

    /// Reads the pages not read yet, the page index and the trailer; checks the file checksum
    /// and that the file ends there.
    pub fn finish(mut self) -> Result<Summary, Error> {
        if self.state == State::Pages {
            let mut scratch = vec![0; self.header.page_size as usize];
            while self.next_page(&mut scratch)?.is_some() {}
        }
        if self.state == State::Failed {
            return Err(Error::Failed);
        }
        let index_at = self.src.offset();
        let index_read = self.read_index()?;
        let raw: [u8; TRAILER_SIZE] = self.src.read_array(Part::Trailer)?;
        let trailer = Trailer::parse(&raw);
        self.file_hash.update(&raw[..8]);
        let computed = self.file_hash.finish();
        if computed != trailer.file_checksum {
            return Err(Error::ChecksumMismatch { stored: trailer.file_checksum, computed });
        }
        // The bytes are as written, so a mismatch here is the writer's: reported after the
        // checksum, which tells of damage.
        if index_read != self.index_hash.finish() {
            return Err(Error::PageIndex { offset: index_at, fault: IndexFault::Mismatch });
        }
        trailer.validate(&self.header)?;
        let end = self.src.offset();
        if !self.src.at_end()? {
            return Err(Error::TrailingData { offset: end });
        }
        Ok(Summary {
            header: self.header,
            trailer,
            page_count: self.counts.pages,
            block_pages: self.counts.block,
            frame_pages: self.counts.frame,
            page_bytes: self.counts.page_bytes,
            file_bytes: end,
        })
    }

    /// Reads the page index (encoder.go `encodePageIndex`): a `(pgno, offset, size)` varint
    /// triple per page, a zero, then the index's length as a big-endian u64. Reads at most one
    /// triple per page read, so a damaged index cannot make it read on. Returns the hash of
    /// the triples' bytes.
    fn read_index(&mut self) -> Result<crate::Checksum, Error> {
        let start = self.src.offset();
        let mut entries = Hasher::new();
        let mut listed = 0u32;
        loop {
            let at = self.src.offset();
            let (pgno, raw, n) = varint::read(&mut self.src)?;
            self.file_hash.update(&raw[..n]);
            if pgno == 0 {
                break;
            }
            if listed == self.counts.pages {
                let fault = IndexFault::TooManyEntries { pages: self.counts.pages };
                return Err(Error::PageIndex { offset: at, fault });
            }
            entries.update(&raw[..n]);
            for _ in 0..2 {
                let (_, raw, n) = varint::read(&mut self.src)?;
                self.file_hash.update(&raw[..n]);
                entries.update(&raw[..n]);
            }
            listed += 1;
        }
        if listed != self.counts.pages {
            let fault = IndexFault::TooFewEntries { entries: listed, pages: self.counts.pages };
            return Err(Error::PageIndex { offset: start, fault });
        }
        let actual = self.src.offset() - start;
        let size_at = self.src.offset();
        let raw: [u8; 8] = self.src.read_array(Part::PageIndex)?;
        self.file_hash.update(&raw);
        let stored = u64::from_be_bytes(raw);
        if stored != actual {
            return Err(Error::PageIndex { offset: size_at, fault: IndexFault::Size { stored, actual } });
        }
        Ok(entries.finish())
    }
}
