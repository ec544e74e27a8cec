//! Taking the one wanted file out of a release archive, hashing it as it is written.
//!
//! `.tar.gz` is read as a stream (download → gunzip → tar → file, one pass, nothing whole in
//! memory). A `.zip` keeps its directory at the end, so it is first streamed to a temporary
//! file and then read. Only the bytes of the expected entry are copied: no path, mode or link
//! from the archive is ever applied to the file system.
//!
//! The download's size is capped, but deflate inflates up to ~1000 times (17 MB became 4 GiB):
//! what gunzip produces (every entry, and anything after the tar's end) and what a zip entry
//! inflates to are capped too, counted as they are read, so a decompression bomb ends as an
//! error before it fills the disk or keeps the lock.

use std::cell::Cell;
use std::io::{self, Read, Seek};
use std::path::Path;

use flate2::read::GzDecoder;

use crate::hash::{self, HashingWriter};

/// The archive formats upstream publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveKind {
    TarGz,
    Zip,
}

/// What went wrong inside an archive.
#[derive(Debug)]
pub(crate) enum ExtractError {
    /// Reading failed (a short or broken download shows up here): worth another attempt.
    Read(io::Error),
    /// Writing the extracted file failed.
    Write(io::Error),
    /// The archive is well-formed but lacks the entry, or the entry is not a plain file.
    Missing(String),
    /// The archive is damaged.
    Corrupt(String),
    /// The entry is larger than the pin allows.
    TooLarge { size: u64, limit: u64 },
    /// The archive inflates (or says it would) to more than the cap.
    Inflated { limit: u64 },
}

/// Passes at most `left` bytes through; one more and it fails, recording that in `hit` (the
/// error may reach the caller wrapped by tar, so the verdict is kept beside it).
struct Capped<'a, R> {
    inner: R,
    left: u64,
    hit: &'a Cell<bool>,
}

impl<R: Read> Read for Capped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // At the cap: only the end of the stream is still acceptable.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.hit.set(true);
                    Err(io::Error::other("the inflated size cap was reached"))
                }
            };
        }
        let max = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// A read error is the cap's doing when the cap says so.
fn capped_error(hit: &Cell<bool>, limit: u64, error: ExtractError) -> ExtractError {
    match error {
        ExtractError::Read(_) if hit.get() => ExtractError::Inflated { limit },
        other => other,
    }
}

/// Where writes go during extraction, so a failed write is told apart from a failed read.
struct TaggedWriter<'a, W> {
    inner: &'a mut W,
    failed: bool,
}

impl<W: io::Write> io::Write for TaggedWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|_| self.failed = true)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|_| self.failed = true)
    }
}

fn copy_entry<W: io::Write>(entry: &mut impl Read, out: &mut HashingWriter<W>) -> Result<u64, ExtractError> {
    let mut tagged = TaggedWriter { inner: out, failed: false };
    hash::copy(entry, &mut tagged)
        .map_err(|e| if tagged.failed { ExtractError::Write(e) } else { ExtractError::Read(e) })
}

/// `./litestream` and `litestream` are the same entry.
fn entry_name(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.trim_start_matches("./").to_owned()
}

/// Streams a `.tar.gz` from `reader`, writing entry `member` into `out`; then reads the rest of
/// the stream, so the caller sees every byte (for the archive's own hash and length check).
/// `size_limit` is the pinned file's size; at most `inflated_limit` bytes are gunzipped in all.
pub(crate) fn extract_tar_gz<R: Read, W: io::Write>(
    reader: R,
    member: &str,
    size_limit: Option<u64>,
    inflated_limit: u64,
    out: &mut HashingWriter<W>,
) -> Result<R, ExtractError> {
    let hit = Cell::new(false);
    let capped = |e| capped_error(&hit, inflated_limit, e);
    let gz = Capped { inner: GzDecoder::new(reader), left: inflated_limit, hit: &hit };
    let mut archive = tar::Archive::new(gz);
    let mut found = false;
    for entry in archive.entries().map_err(|e| capped(ExtractError::Read(e)))? {
        let mut entry = entry.map_err(|e| capped(ExtractError::Read(e)))?;
        let path = entry.path().map_err(|e| ExtractError::Corrupt(e.to_string()))?;
        if entry_name(&path) != member {
            continue;
        }
        if !entry.header().entry_type().is_file() {
            return Err(ExtractError::Missing(format!("`{member}` in the archive is not a regular file")));
        }
        if found {
            return Err(ExtractError::Corrupt(format!("the archive has `{member}` twice")));
        }
        let size = entry.size();
        if let Some(limit) = size_limit.filter(|limit| size > *limit) {
            return Err(ExtractError::TooLarge { size, limit });
        }
        // Refused before a byte of it is written.
        if size > inflated_limit {
            return Err(ExtractError::Inflated { limit: inflated_limit });
        }
        copy_entry(&mut entry, out).map_err(capped)?;
        found = true;
    }
    if !found {
        return Err(ExtractError::Missing(format!("the archive has no `{member}`")));
    }
    // The tar end marker is read; gunzip to the end (checks the gzip trailer's CRC and length),
    // then hand back the raw stream for the caller to drain.
    let mut gz = archive.into_inner();
    io::copy(&mut gz, &mut io::sink()).map_err(|e| capped(ExtractError::Read(e)))?;
    Ok(gz.inner.into_inner())
}

/// Writes entry `member` of the zip file `archive` into `out`, inflating at most
/// `inflated_limit` bytes whatever the entry's header claims.
pub(crate) fn extract_zip<R: Read + Seek, W: io::Write>(
    archive: R,
    member: &str,
    size_limit: Option<u64>,
    inflated_limit: u64,
    out: &mut HashingWriter<W>,
) -> Result<(), ExtractError> {
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
    let index = (0..zip.len())
        .find(|&i| {
            zip.name_for_index(i)
                .is_some_and(|name| name.is_ok_and(|name| entry_name(Path::new(name.as_ref())) == member))
        })
        .ok_or_else(|| ExtractError::Missing(format!("the archive has no `{member}`")))?;
    let mut entry = zip.by_index(index).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
    if !entry.is_file() {
        return Err(ExtractError::Missing(format!("`{member}` in the archive is not a regular file")));
    }
    if let Some(limit) = size_limit.filter(|limit| entry.size() > *limit) {
        return Err(ExtractError::TooLarge { size: entry.size(), limit });
    }
    if entry.size() > inflated_limit {
        return Err(ExtractError::Inflated { limit: inflated_limit });
    }
    // The zip reader checks each entry's CRC-32 as it reaches the end.
    let hit = Cell::new(false);
    let mut capped = Capped { inner: &mut entry, left: inflated_limit, hit: &hit };
    copy_entry(&mut capped, out).map_err(|e| capped_error(&hit, inflated_limit, e))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A flat upstream-shaped `.tar.gz` holding `files`.
    pub(crate) fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o755);
            header.set_cksum();
            builder.append_data(&mut header, name, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    pub(crate) fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for (name, bytes) in files {
            writer.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    const NO_CAP: u64 = u64::MAX;

    const FILES: &[(&str, &[u8])] = &[
        ("LICENSE", b"license"),
        ("README.md", b"readme"),
        ("etc/litestream.yml", b"dbs: []"),
        ("litestream", b"the binary"),
    ];

    #[test]
    fn tar_gz_member_is_extracted_and_the_stream_drained() {
        let archive = tar_gz(FILES);
        let mut out = HashingWriter::new(Vec::new());
        let mut rest = extract_tar_gz(&archive[..], "litestream", None, NO_CAP, &mut out).unwrap();
        let (_, size, bytes) = out.finish();
        assert_eq!((size, bytes.as_slice()), (10, &b"the binary"[..]));
        assert_eq!(rest.read(&mut [0u8; 16]).unwrap(), 0, "the raw stream is at its end");
    }

    #[test]
    fn tar_gz_problems() {
        let archive = tar_gz(FILES);
        let mut out = HashingWriter::new(Vec::new());
        assert!(matches!(
            extract_tar_gz(&archive[..], "litestream.exe", None, NO_CAP, &mut out),
            Err(ExtractError::Missing(_))
        ));
        assert!(matches!(
            extract_tar_gz(&archive[..], "litestream", Some(3), NO_CAP, &mut out),
            Err(ExtractError::TooLarge { size: 10, limit: 3 })
        ));
        // A truncated download is a read error (retried), never a success.
        let short = &archive[..archive.len() - 30];
        let mut out = HashingWriter::new(Vec::new());
        assert!(matches!(
            extract_tar_gz(short, "litestream", None, NO_CAP, &mut out),
            Err(ExtractError::Read(_))
        ));
        assert!(matches!(
            extract_tar_gz(&b"not gzip"[..], "x", None, NO_CAP, &mut out),
            Err(ExtractError::Read(_))
        ));
    }

    #[test]
    fn what_gunzip_produces_is_capped() {
        let padding = vec![0u8; 4096];
        // The whole archive inflates to 5 × 512-byte headers and data blocks + 4096 + the end.
        let archive = tar_gz(&[("litestream", b"the binary"), ("padding", &padding)]);
        let mut out = HashingWriter::new(Vec::new());
        assert!(extract_tar_gz(&archive[..], "litestream", None, 1 << 20, &mut out).is_ok());
        // A non-member entry past the cap: refused while it is skipped.
        let mut out = HashingWriter::new(Vec::new());
        assert!(matches!(
            extract_tar_gz(&archive[..], "litestream", None, 3000, &mut out),
            Err(ExtractError::Inflated { limit: 3000 })
        ));
        // The member itself, unpinned: its header is enough to refuse it, nothing is written.
        let mut out = HashingWriter::new(Vec::new());
        assert!(matches!(
            extract_tar_gz(&archive[..], "padding", None, 3000, &mut out),
            Err(ExtractError::Inflated { limit: 3000 })
        ));
        assert_eq!(out.finish().1, 0);

        // Zeros after the tar's end, inside the gzip stream (drained, so counted).
        let mut tar_bytes = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_cksum();
        tar_bytes.append_data(&mut header, "litestream", &b"bin"[..]).unwrap();
        let mut inner = tar_bytes.into_inner().unwrap();
        inner.resize(inner.len() + 64 * 1024, 0);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&inner).unwrap();
        let bomb = gz.finish().unwrap();
        let mut out = HashingWriter::new(Vec::new());
        assert!(matches!(
            extract_tar_gz(&bomb[..], "litestream", None, 32 * 1024, &mut out),
            Err(ExtractError::Inflated { .. })
        ));
        let mut out = HashingWriter::new(Vec::new());
        assert!(extract_tar_gz(&bomb[..], "litestream", None, 1 << 20, &mut out).is_ok());
    }

    #[test]
    fn a_zip_entry_is_capped() {
        let big = vec![7u8; 10_000];
        let archive = zip(&[("litestream.exe", &big)]);
        let mut out = HashingWriter::new(Vec::new());
        assert!(matches!(
            extract_zip(io::Cursor::new(&archive), "litestream.exe", None, 9_999, &mut out),
            Err(ExtractError::Inflated { limit: 9_999 })
        ));
        let mut out = HashingWriter::new(Vec::new());
        extract_zip(io::Cursor::new(&archive), "litestream.exe", None, 10_000, &mut out).unwrap();
        assert_eq!(out.finish().1, 10_000);
    }

    #[test]
    fn the_cap_counts_what_is_read_not_what_headers_say() {
        let hit = Cell::new(false);
        let mut capped = Capped { inner: &[1u8; 100][..], left: 60, hit: &hit };
        let error = io::copy(&mut capped, &mut io::sink()).unwrap_err();
        assert!(hit.get(), "{error}");
        let hit = Cell::new(false);
        let mut exact = Capped { inner: &[1u8; 60][..], left: 60, hit: &hit };
        assert_eq!(io::copy(&mut exact, &mut io::sink()).unwrap(), 60);
        assert!(!hit.get());
    }

    #[test]
    fn zip_member_is_extracted() {
        let files: &[(&str, &[u8])] = &[("LICENSE", b"l"), ("litestream.exe", b"MZ binary")];
        let archive = zip(files);
        let mut out = HashingWriter::new(Vec::new());
        extract_zip(io::Cursor::new(&archive), "litestream.exe", None, NO_CAP, &mut out).unwrap();
        assert_eq!(out.finish().2, b"MZ binary");
        let mut out = HashingWriter::new(Vec::new());
        assert!(matches!(
            extract_zip(io::Cursor::new(&archive), "litestream", None, NO_CAP, &mut out),
            Err(ExtractError::Missing(_))
        ));
        assert!(matches!(
            extract_zip(io::Cursor::new(b"PK nonsense"), "x", None, NO_CAP, &mut out),
            Err(ExtractError::Corrupt(_))
        ));
    }
}
