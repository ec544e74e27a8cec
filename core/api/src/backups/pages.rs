//! The database a restore would produce, read page by page from the replica without
//! restoring it: the files of Litestream's restore plan, each opened by its page index
//! (`cargo_litestream_ltx::PageReader`), a page taken from the newest file that holds it.
//! This is how Litestream's own VFS reads a replica (vfs.go), here in process.
//!
//! Memory: the page indexes of the plan's files (24 bytes per page entry) and the pages asked
//! for; nothing is written anywhere.

use std::io::{Read, Seek, SeekFrom};

use cargo_litestream_ltx::PageReader;

use super::plan::{PlanError, Target, plan};
use super::store::{S3Location, Store, StoreError, StoredFile};

/// Something to read pages from: a file, or an object read by ranges.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PagesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The replica holds no state a restore reaches.
    #[error("the backup cannot be restored: {0}")]
    Plan(#[from] PlanError),
    #[error("{file}: {}", with_causes(source))]
    Ltx { file: String, source: cargo_litestream_ltx::Error },
    /// A page the database needs is in no file of the plan.
    #[error("page {0} is in none of the files a restore applies")]
    MissingPage(u32),
}

/// An error and its causes in one line (an I/O error inside an LTX read says what failed).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

impl PagesError {
    /// Whether the replica's content is to blame (not the network or the store).
    pub fn is_damage(&self) -> bool {
        match self {
            PagesError::Store(_) => false,
            PagesError::Ltx { source, .. } => source.is_finding(),
            PagesError::Plan(_) | PagesError::MissingPage(_) => true,
        }
    }
}

/// The replica's database at one restore target.
pub struct ReplicaDatabase {
    /// The plan's files, oldest first, each with its page index read.
    files: Vec<(String, PageReader<Box<dyn ReadSeek>>)>,
    pub page_size: u32,
    /// The database's size in pages (the newest file's `commit`).
    pub commit: u32,
    /// The TXID this state is at.
    pub txid: u64,
    pages_read: u64,
}

impl ReplicaDatabase {
    /// Opens the state a restore to `target` reaches, given the replica's `listing`.
    pub fn open(
        store: &Store,
        listing: &[StoredFile],
        target: Target,
    ) -> Result<ReplicaDatabase, PagesError> {
        let files: Vec<super::ReplicaFile> = listing.iter().map(|f| f.file.clone()).collect();
        let planned = plan(&files, target)?;
        let mut readers = Vec::with_capacity(planned.len());
        for file in &planned {
            let stored = listing
                .iter()
                .find(|s| {
                    (s.file.level, s.file.min_txid, s.file.max_txid)
                        == (file.level, file.min_txid, file.max_txid)
                })
                .expect("the plan's files come from the listing");
            let source = store.open_seekable(stored)?;
            let reader = PageReader::open(source)
                .map_err(|source| PagesError::Ltx { file: stored.shown.clone(), source })?;
            readers.push((stored.shown.clone(), reader));
        }
        let newest = readers.last().map(|(_, r)| *r.header()).ok_or(PlanError::NotAvailable)?;
        Ok(ReplicaDatabase {
            files: readers,
            page_size: newest.page_size,
            commit: newest.commit,
            txid: newest.max_txid.0,
            pages_read: 0,
        })
    }

    /// Pages read so far (the measure of "by the pages it needs").
    pub fn pages_read(&self) -> u64 {
        self.pages_read
    }
}

impl super::btree::PageSource for ReplicaDatabase {
    fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Page `pgno` (1-based) as a restore would write it.
    fn page(&mut self, pgno: u32) -> Result<Vec<u8>, PagesError> {
        self.pages_read += 1;
        if pgno == 0 || pgno > self.commit {
            return Err(PagesError::MissingPage(pgno));
        }
        let mut buf = vec![0; self.page_size as usize];
        for (name, reader) in self.files.iter_mut().rev() {
            match reader.read_page(pgno, &mut buf) {
                Ok(true) => return Ok(buf),
                Ok(false) => continue,
                Err(source) => return Err(PagesError::Ltx { file: name.clone(), source }),
            }
        }
        Err(PagesError::MissingPage(pgno))
    }
}

impl Store {
    /// `file` for random access: the file itself, or the object read by byte ranges.
    pub fn open_seekable(&self, file: &StoredFile) -> Result<Box<dyn ReadSeek>, StoreError> {
        match self {
            Store::Folder(_) => {
                let path = self.path_of(file);
                let opened = std::fs::File::open(&path).map_err(|source| StoreError::Io { path, source })?;
                Ok(Box::new(opened))
            }
            Store::S3(s3) => {
                Ok(Box::new(RangeReader::new((**s3).clone(), s3.key_of(&file.file), file.file.size)))
            }
        }
    }
}

/// How much one ranged GET asks for: a page index or a few compressed pages at once, so the
/// handful of reads a page lookup makes are a handful of requests.
const RANGE_BLOCK: u64 = 256 * 1024;

/// An S3 object as `Read + Seek`, each miss of its one-block buffer a ranged GET.
struct RangeReader {
    s3: S3Location,
    key: String,
    size: u64,
    pos: u64,
    buffer: Vec<u8>,
    buffer_at: u64,
}

impl RangeReader {
    fn new(s3: S3Location, key: String, size: u64) -> RangeReader {
        RangeReader { s3, key, size, pos: 0, buffer: Vec::new(), buffer_at: 0 }
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let end = (self.pos + RANGE_BLOCK).min(self.size);
        let (at, bytes) =
            self.s3.get_range(&self.key, self.pos, end, self.size).map_err(std::io::Error::other)?;
        self.buffer = bytes;
        self.buffer_at = at;
        Ok(())
    }
}

impl Read for RangeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || out.is_empty() {
            return Ok(0);
        }
        let buffered = self.buffer_at..self.buffer_at + self.buffer.len() as u64;
        if !buffered.contains(&self.pos) {
            self.fill()?;
        }
        let start = (self.pos - self.buffer_at) as usize;
        let n = out.len().min(self.buffer.len() - start);
        out[..n].copy_from_slice(&self.buffer[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangeReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| std::io::Error::other("seek before the start of the object"))?;
        Ok(self.pos)
    }
}
