//! Every rule and every class of bad input, on files written by `testfile` as ltx writes them.

use std::io::Cursor;

use crate::order::PageOrder;
use crate::testfile::{self, Page, Tweaks, header, pages};
use crate::*;

const PS: u32 = 512;

fn snapshot(commit: u32, encoding: Encoding) -> Vec<u8> {
    testfile::write(&header(1, 1, commit, PS), &pages(1..=commit, PS, encoding))
}

fn mixed_delta() -> Vec<u8> {
    let mut p = pages([2, 5], PS, Encoding::Frame);
    p.extend(pages([9], PS, Encoding::Block));
    testfile::write(&header(3, 4, 10, PS), &p)
}

fn err(file: &[u8]) -> Error {
    check(file).expect_err("must fail")
}

/// Patches bytes of a file, then (by decoding what it can) nothing else: the checksum then
/// tells of the change unless a structural rule does first.
fn patched(mut file: Vec<u8>, at: usize, bytes: &[u8]) -> Vec<u8> {
    file[at..at + bytes.len()].copy_from_slice(bytes);
    file
}

#[test]
fn decodes_both_encodings_and_their_mix() {
    for encoding in [Encoding::Block, Encoding::Frame] {
        let file = snapshot(3, encoding);
        let s = check(&file[..]).unwrap();
        assert_eq!((s.page_count, s.page_bytes, s.file_bytes), (3, 3 * 512, file.len() as u64));
        assert_eq!(s.header, header(1, 1, 3, PS));
        assert_eq!(s.trailer.post_apply_checksum, Checksum(0));
        assert!(s.trailer.file_checksum.is_well_formed());
    }
    let s = check(&mixed_delta()[..]).unwrap();
    assert_eq!((s.page_count, s.frame_pages, s.block_pages), (3, 2, 1));
}

#[test]
fn hands_out_each_page() {
    let file = mixed_delta();
    let mut dec = Decoder::new(&file[..]).unwrap();
    let mut buf = vec![0; 512];
    let mut seen = Vec::new();
    while let Some(p) = dec.next_page(&mut buf).unwrap() {
        assert_eq!(buf, testfile::page(p.pgno, PS));
        seen.push((p.pgno, p.encoding()));
    }
    assert_eq!(seen, [(2, Encoding::Frame), (5, Encoding::Frame), (9, Encoding::Block)]);
    assert_eq!(dec.next_page(&mut buf).unwrap(), None);
    assert_eq!(dec.finish().unwrap().page_count, 3);
}

#[test]
fn finish_reads_the_pages_left() {
    let file = snapshot(4, Encoding::Block);
    let mut dec = Decoder::new(&file[..]).unwrap();
    dec.next_page(&mut [0; 512]).unwrap();
    assert_eq!(dec.finish().unwrap().page_count, 4);
}

#[test]
fn misuse_is_told_apart_from_findings() {
    let file = snapshot(2, Encoding::Block);
    let mut dec = Decoder::new(&file[..]).unwrap();
    let e = dec.next_page(&mut [0; 100]).unwrap_err();
    assert!(matches!(e, Error::BufferSize { len: 100, page_size: 512 }) && !e.is_finding());
    // Still usable after a misuse; unusable after a finding.
    assert!(dec.next_page(&mut [0; 512]).unwrap().is_some());

    let bad = patched(snapshot(2, Encoding::Block), 100, &[0, 0, 0, 2]);
    let mut dec = Decoder::new(&bad[..]).unwrap();
    assert!(dec.next_page(&mut [0; 512]).unwrap_err().is_finding());
    assert!(matches!(dec.next_page(&mut [0; 512]), Err(Error::Failed)));
    assert!(matches!(dec.finish(), Err(Error::Failed)));
}

#[test]
fn errors_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Error>();
}

#[test]
fn io_errors_are_not_findings() {
    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let e = check(Broken).unwrap_err();
    assert!(matches!(e, Error::Io { offset: 0, .. }) && !e.is_finding());
    assert_eq!(std::error::Error::source(&e).unwrap().to_string(), "disk on fire");

    // Failing in the middle of an LZ4 frame: still the reader's error, at its offset.
    let file = snapshot(1, Encoding::Frame);
    let e = check(Cursor::new(&file[..]).chain_error_at(110)).unwrap_err();
    assert!(matches!(e, Error::Io { offset: 110, .. }), "{e:?}");
}

trait ChainError: Sized {
    fn chain_error_at(self, at: u64) -> FailAt<Self>;
}

impl<R> ChainError for R {
    fn chain_error_at(self, at: u64) -> FailAt<R> {
        FailAt { inner: self, left: at }
    }
}

/// Reads `left` bytes, then fails.
struct FailAt<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for FailAt<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("gone"));
        }
        let n = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..n])?;
        self.left -= n as u64;
        Ok(n)
    }
}

// ---- header (ltx.go Header.Validate) ----

fn fault_of(h: Header) -> HeaderFault {
    match h.validate() {
        Err(Error::Header(f)) => f,
        other => panic!("{other:?}"),
    }
}

#[test]
fn header_rules() {
    let ok = header(3, 4, 10, PS);
    ok.validate().unwrap();
    let with = |f: fn(&mut Header)| {
        let mut h = ok;
        f(&mut h);
        h
    };
    assert_eq!(fault_of(with(|h| h.flags = 1)), HeaderFault::Flags(1));
    assert_eq!(fault_of(with(|h| h.flags = 0x8000_0002)), HeaderFault::Flags(0x8000_0002));
    for size in [0, 256, 513, 1000, 131072, u32::MAX] {
        assert_eq!(
            fault_of(with(|h| h.page_size = 0).tap(|h| h.page_size = size)),
            HeaderFault::PageSize(size)
        );
    }
    for size in [512, 1024, 4096, 65536] {
        with(|h| h.page_size = 0).tap(|h| h.page_size = size).validate().unwrap();
    }
    assert_eq!(fault_of(with(|h| h.min_txid = Txid(0))), HeaderFault::MinTxidZero);
    assert_eq!(fault_of(with(|h| h.max_txid = Txid(0))), HeaderFault::MaxTxidZero);
    assert_eq!(fault_of(with(|h| h.min_txid = Txid(5))), HeaderFault::TxidOrder { min: 5, max: 4 });
    assert_eq!(fault_of(with(|h| h.wal_offset = -1)), HeaderFault::WalOffsetNegative(-1));
    assert_eq!(fault_of(with(|h| h.wal_size = -1)), HeaderFault::WalSizeNegative(-1));
    assert_eq!(fault_of(with(|h| h.wal_offset = 0)), HeaderFault::SaltWithoutWalOffset);
    assert_eq!(
        fault_of(with(|h| (h.wal_offset, h.wal_salt1, h.wal_salt2) = (0, 0, 0))),
        HeaderFault::WalSizeWithoutWalOffset
    );
    with(|h| (h.wal_offset, h.wal_size, h.wal_salt1, h.wal_salt2) = (0, 0, 0, 0)).validate().unwrap();
    assert_eq!(
        fault_of(with(|h| h.pre_apply_checksum = Checksum(Checksum::FLAG))),
        HeaderFault::PreApplyChecksumNotAllowed
    );
    // Files that track checksums (never Litestream 0.5's): a well-formed one is required.
    assert_eq!(fault_of(with(|h| h.flags = 0)), HeaderFault::PreApplyChecksumRequired);
    assert_eq!(
        fault_of(with(|h| (h.flags, h.pre_apply_checksum) = (0, Checksum(7)))),
        HeaderFault::PreApplyChecksumFormat
    );
    with(|h| (h.flags, h.pre_apply_checksum) = (0, Checksum(Checksum::FLAG | 7))).validate().unwrap();
    // A snapshot has nothing before it, whatever the flags.
    let snap = header(1, 2, 10, PS);
    snap.validate().unwrap();
    assert!(snap.is_snapshot() && !ok.is_snapshot());
    for flags in [0, HEADER_FLAG_NO_CHECKSUM] {
        let h = Header { flags, pre_apply_checksum: Checksum(Checksum::FLAG | 1), ..snap };
        assert_eq!(fault_of(h), HeaderFault::SnapshotPreApplyChecksum);
    }
    Header { flags: 0, ..snap }.validate().unwrap();
}

trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl<T> Tap for T {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

#[test]
fn header_parses_every_field_and_checks_the_magic() {
    let h = Header { node_id: 0x0102_0304_0506_0708, timestamp: -5, ..header(3, 4, 10, 4096) };
    assert_eq!(Header::parse(&testfile::header_bytes(&h)).unwrap(), h);
    let mut b = testfile::header_bytes(&h);
    b[3] = b'2';
    assert!(matches!(Header::parse(&b), Err(Error::Header(HeaderFault::Magic(m))) if &m == b"LTX2"));
    assert_eq!(lock_pgno(4096), 262_145);
    assert_eq!(lock_pgno(512), 2_097_153);
    assert_eq!(lock_pgno(65536), 16_385);
    assert_eq!(lock_pgno(0), u32::MAX);
}

#[test]
fn bad_headers_in_files() {
    let file = snapshot(1, Encoding::Block);
    // Flags 0x1 (a page flag, not a header flag).
    assert!(matches!(err(&patched(file.clone(), 7, &[3])), Error::Header(HeaderFault::Flags(3))));
    // A huge page size claimed: refused before anything is allocated from it.
    assert!(matches!(
        err(&patched(file.clone(), 8, &[0x80, 0, 0, 0])),
        Error::Header(HeaderFault::PageSize(0x8000_0000))
    ));
    assert!(matches!(err(b"SQLite format 3\0"), Error::Truncated { offset: 16, part: Part::Header }));
    assert!(matches!(err(&[0; 4096]), Error::Header(HeaderFault::Magic([0, 0, 0, 0]))));
}

#[test]
fn random_bytes_are_findings() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let noise = random(4096);
    assert!(matches!(err(&noise), Error::Header(HeaderFault::Magic(_))));
    // Noise behind a sound header: a finding about the pages, never a panic.
    for _ in 0..200 {
        let mut file = snapshot(1, Encoding::Block)[..100].to_vec();
        file.extend(random(700));
        assert!(err(&file).is_finding());
        let _ = PageReader::open(Cursor::new(&file));
    }
}

// ---- page frames ----

#[test]
fn page_header_rules() {
    let ph = |pgno, flags| PageHeader { pgno, flags };
    assert!(ph(0, 0).is_end());
    assert_eq!(ph(0, 1).validate(), Err(PageFault::ZeroPgno { flags: 1 }));
    assert_eq!(ph(3, 2).validate(), Err(PageFault::Flags { pgno: 3, flags: 2 }));
    assert_eq!(ph(3, 1).validate(), Ok(()));
    assert_eq!(ph(3, 1).encoding(), Encoding::Block);
    assert_eq!(ph(3, 0).encoding(), Encoding::Frame);
    assert_eq!(PageHeader::parse(&[0, 0, 1, 2, 0, 1]), ph(258, 1));
}

fn page_fault(file: &[u8]) -> (u64, PageFault) {
    match err(file) {
        Error::Page { offset, fault } => (offset, fault),
        other => panic!("{other:?}"),
    }
}

#[test]
fn page_order_rules_of_the_encoder() {
    let p = |pgnos: &[u32]| pages(pgnos.iter().copied(), PS, Encoding::Block);
    let delta = |pgnos: &[u32]| testfile::write(&header(3, 3, 10, PS), &p(pgnos));
    let snap = |pgnos: &[u32], commit| testfile::write(&header(1, 3, commit, PS), &p(pgnos));
    check(&delta(&[1, 4, 10])[..]).unwrap();
    check(&delta(&[])[..]).unwrap(); // ltx does not require a page
    assert_eq!(page_fault(&delta(&[4, 2])).1, PageFault::OutOfOrder { prev: 4, pgno: 2 });
    assert_eq!(page_fault(&delta(&[4, 4])).1, PageFault::OutOfOrder { prev: 4, pgno: 4 });
    assert_eq!(page_fault(&delta(&[11])), (100, PageFault::BeyondCommit { pgno: 11, commit: 10 }));
    check(&snap(&[1, 2, 3], 3)[..]).unwrap();
    assert_eq!(page_fault(&snap(&[2, 3], 3)).1, PageFault::SnapshotStart { pgno: 2 });
    assert_eq!(page_fault(&snap(&[1, 3], 3)).1, PageFault::SnapshotGap { prev: 1, pgno: 3 });
    assert_eq!(page_fault(&snap(&[1, 1], 3)).1, PageFault::SnapshotGap { prev: 1, pgno: 1 });
    assert!(matches!(err(&snap(&[1, 2], 3)), Error::IncompleteSnapshot { missing: 3, commit: 3 }));
    assert!(matches!(err(&snap(&[], 3)), Error::IncompleteSnapshot { missing: 1, commit: 3 }));
    check(&snap(&[], 0)[..]).unwrap();
    // Zero page number with flags set: not the end marker.
    let bad = testfile::write(
        &header(3, 3, 10, PS),
        &[Page { pgno: 0, encoding: Encoding::Block, data: vec![0; 512] }],
    );
    assert_eq!(page_fault(&bad).1, PageFault::ZeroPgno { flags: 1 });
}

#[test]
fn the_lock_page_is_skipped_and_refused() {
    // 64 KiB pages put the lock page at 16385; a snapshot that big is 1 GiB, so the rule is
    // checked on its own.
    let h = header(1, 1, 16_387, 65536);
    let mut order = PageOrder::new(&h);
    for pgno in 1..=16_384 {
        order.admit(pgno).unwrap();
    }
    assert!(matches!(
        order.check_complete(),
        Err(Error::IncompleteSnapshot { missing: 16_386, commit: 16_387 })
    ));
    assert_eq!(order.admit(16_385), Err(PageFault::LockPage { pgno: 16_385 }));
    order.admit(16_386).unwrap();
    order.admit(16_387).unwrap();
    order.check_complete().unwrap();
    // A snapshot that ends just before the lock page is complete at commit = lock page.
    let mut order = PageOrder::new(&header(1, 1, 16_385, 65536));
    (1..=16_384).for_each(|p| order.admit(p).unwrap());
    order.check_complete().unwrap();
    // Deltas may not hold it either.
    let mut order = PageOrder::new(&header(2, 2, 20_000, 65536));
    assert_eq!(order.admit(16_385), Err(PageFault::LockPage { pgno: 16_385 }));
}

/// Offset of the first page's data: header, page header.
const DATA: usize = 106;

#[test]
fn block_rules() {
    let file = snapshot(1, Encoding::Block);
    // A size prefix claiming 4 GiB: refused before reading or allocating.
    let (at, fault) = page_fault(&patched(file.clone(), DATA, &[0xff; 4]));
    assert_eq!((at, fault), (106, PageFault::CompressedSize { pgno: 1, size: u32::MAX, max: 530 }));
    // Garbage LZ4: a match offset beyond the output.
    let len = u32::from_be_bytes(file[DATA..DATA + 4].try_into().unwrap()) as usize;
    let garbage = patched(file.clone(), DATA + 4, &[0x0f, 0xff, 0xff]);
    assert!(matches!(err(&garbage), Error::Lz4 { pgno: 1, offset: 110, .. }), "{:?}", err(&garbage));
    // A block of half a page.
    let half = lz4_flex::block::compress(&[7; 256]);
    let mut p = pages([1], PS, Encoding::Block);
    p[0].data = vec![7; 512];
    let mut short = testfile::write(&header(1, 1, 1, PS), &p);
    short.splice(DATA..DATA + 4 + lz4_flex::block::compress(&[7; 512]).len(), {
        let mut v = (half.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(&half);
        v
    });
    assert_eq!(page_fault(&short).1, PageFault::ShortPage { pgno: 1, len: Some(256), page_size: 512 });
    assert!(len > 0);
}

/// Replaces page 1's LZ4 frame by `frame`.
fn with_frame(frame: &[u8]) -> Vec<u8> {
    let file = snapshot(1, Encoding::Frame);
    let old = testfile::lz4_frame(&testfile::page(1, PS)).len();
    let mut bad = file;
    bad.splice(DATA..DATA + old, frame.iter().copied());
    bad
}

#[test]
fn frame_rules() {
    let good = testfile::lz4_frame(&testfile::page(1, PS));
    check(&with_frame(&good)[..]).unwrap();
    let mut magic = good.clone();
    magic[0] = 0;
    assert_eq!(page_fault(&with_frame(&magic)), (106, PageFault::FrameDescriptor { pgno: 1 }));
    // Neither a block flag nor a frame: a block's size prefix where a frame should be.
    assert_eq!(page_fault(&with_frame(&[0, 0, 1, 0, 0, 0, 0])).1, PageFault::FrameDescriptor { pgno: 1 });
    let mut big_blocks = good.clone();
    big_blocks[5] = 0x70; // BD: 4 MiB blocks
    assert_eq!(page_fault(&with_frame(&big_blocks)).1, PageFault::FrameBlockSize { pgno: 1 });
    let two_pages = testfile::lz4_frame(&[testfile::page(1, PS), testfile::page(1, PS)].concat());
    assert_eq!(page_fault(&with_frame(&two_pages)).1, PageFault::LongPage { pgno: 1, page_size: 512 });
    let half = testfile::lz4_frame(&testfile::page(1, PS)[..256]);
    assert_eq!(page_fault(&with_frame(&half)).1, PageFault::ShortPage { pgno: 1, len: None, page_size: 512 });
    let mut content_checksum = good.clone();
    let n = content_checksum.len();
    content_checksum[n - 1] ^= 1;
    assert!(matches!(err(&with_frame(&content_checksum)), Error::Lz4 { pgno: 1, .. }));
    // A frame whose blocks never end: cut off at the bound, whatever the file holds.
    let mut endless = good[..7].to_vec();
    for _ in 0..600 {
        endless.extend_from_slice(&[1, 0, 0, 0x80, 0]); // an uncompressed block of one byte
    }
    assert_eq!(page_fault(&with_frame(&endless)), (106, PageFault::FrameTooLong { pgno: 1, max: 565 }));
}

// ---- page index, trailer, checksum ----

#[test]
fn index_rules() {
    let h = header(3, 3, 10, PS);
    let p = || pages([2, 3], PS, Encoding::Block);
    let tweaked = |tweaks: Tweaks| testfile::write_with(&h, &p(), &tweaks);
    let index_fault = |file: Vec<u8>| match err(&file) {
        Error::PageIndex { fault, .. } => fault,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        index_fault(tweaked(Tweaks { index: Some(|i| i.truncate(i.len() - 1)), ..Tweaks::default() })),
        IndexFault::TooFewEntries { entries: 1, pages: 2 }
    );
    assert_eq!(
        index_fault(tweaked(Tweaks { index: Some(|i| i.push((4, 0, 0))), ..Tweaks::default() })),
        IndexFault::TooManyEntries { pages: 2 }
    );
    assert_eq!(
        index_fault(tweaked(Tweaks { index: Some(|i| i[1].1 += 1), ..Tweaks::default() })),
        IndexFault::Mismatch
    );
    assert_eq!(
        index_fault(tweaked(Tweaks { index: Some(|i| i.swap(0, 1)), ..Tweaks::default() })),
        IndexFault::Mismatch
    );
    assert!(matches!(
        index_fault(tweaked(Tweaks { index_size_delta: 1, ..Tweaks::default() })),
        IndexFault::Size { .. }
    ));
}

#[test]
fn trailer_rules() {
    let h = header(3, 3, 10, PS);
    let t = |post, file| Trailer { post_apply_checksum: Checksum(post), file_checksum: Checksum(file) };
    let fault = |t: Trailer, h: &Header| match t.validate(h) {
        Err(Error::Trailer(f)) => f,
        other => panic!("{other:?}"),
    };
    t(0, Checksum::FLAG | 5).validate(&h).unwrap();
    assert_eq!(fault(t(Checksum::FLAG, Checksum::FLAG), &h), TrailerFault::PostApplyChecksumNotAllowed);
    assert_eq!(fault(t(0, 0), &h), TrailerFault::FileChecksumRequired);
    assert_eq!(fault(t(0, 5), &h), TrailerFault::FileChecksumFormat);
    let tracked = Header { flags: 0, pre_apply_checksum: Checksum(Checksum::FLAG), ..h };
    assert_eq!(fault(t(0, Checksum::FLAG), &tracked), TrailerFault::PostApplyChecksumRequired);
    assert_eq!(fault(t(5, Checksum::FLAG), &tracked), TrailerFault::PostApplyChecksumFormat);
    t(Checksum::FLAG | 5, Checksum::FLAG).validate(&tracked).unwrap();
    // In a file, with a good file checksum.
    let file = testfile::write_with(
        &h,
        &pages([2], PS, Encoding::Block),
        &Tweaks { post_apply_checksum: 9, ..Tweaks::default() },
    );
    assert!(matches!(err(&file), Error::Trailer(TrailerFault::PostApplyChecksumNotAllowed)));
}

#[test]
fn checksum_mismatch_and_trailing_data() {
    let mut file = snapshot(2, Encoding::Block);
    let n = file.len();
    file[n - 1] ^= 1;
    assert!(matches!(err(&file), Error::ChecksumMismatch { .. }));
    let mut file = snapshot(2, Encoding::Block);
    file.push(0);
    assert!(matches!(err(&file), Error::TrailingData { offset } if offset == file.len() as u64 - 1));
}

/// Every page of a file, as `(pgno, data)`.
fn decoded(file: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut dec = Decoder::new(file).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0; dec.header().page_size as usize];
    while let Some(p) = dec.next_page(&mut buf).unwrap() {
        out.push((p.pgno, buf.clone()));
    }
    out
}

/// The checksum covers the logical content, not the compressed bytes (encoder.go hashes each
/// page before compressing it): a flip inside LZ4 data that still decodes to the same page
/// (a literal run's length coded in more bytes, a match taken from another place of equal
/// bytes) changes nothing the file means. Every other flip must fail the check.
#[test]
fn every_flipped_byte_is_caught_or_harmless() {
    let (mut harmless, mut flips) = (0, 0);
    for file in [snapshot(3, Encoding::Block), snapshot(3, Encoding::Frame), mixed_delta()] {
        let pages = decoded(&file);
        for at in 0..file.len() {
            for bit in [0x01, 0x80] {
                let mut bad = file.clone();
                bad[at] ^= bit;
                flips += 1;
                if check(&bad[..]).is_ok() {
                    assert!((110..file.len() - 16).contains(&at), "byte {at} ^ {bit:#x} passed");
                    assert_eq!(decoded(&bad), pages, "byte {at} ^ {bit:#x} passed with other pages");
                    harmless += 1;
                }
                let _ = PageReader::open(Cursor::new(&bad)).map(|mut r| r.read_page(1, &mut [0; 512]));
            }
        }
    }
    // Here: 27 per file, all a match offset's low bit where the page repeats with both periods.
    assert!(harmless * 40 < flips, "{harmless} harmless flips of {flips}");
}

#[test]
fn every_truncation_is_caught() {
    for file in [snapshot(3, Encoding::Block), snapshot(3, Encoding::Frame), mixed_delta()] {
        for len in 0..file.len() {
            let e = check(&file[..len]).unwrap_err();
            assert!(matches!(e, Error::Truncated { offset, .. } if offset == len as u64), "{len}: {e:?}");
            assert!(PageReader::open(Cursor::new(&file[..len])).is_err() || len > 140);
        }
    }
    assert!(matches!(err(b""), Error::Truncated { offset: 0, part: Part::Header }));
}

#[test]
fn huge_claims_allocate_nothing() {
    // A snapshot header claiming u32::MAX pages, followed by one page: incomplete, at once.
    let h = header(1, 1, u32::MAX, 65536);
    let file = testfile::write(&h, &pages([1], 65536, Encoding::Block));
    assert!(matches!(err(&file), Error::IncompleteSnapshot { missing: 2, commit: u32::MAX }));
    // An index size field of u64::MAX in the random-access reader.
    let mut file = snapshot(1, Encoding::Block);
    let at = file.len() - 24;
    file[at..at + 8].copy_from_slice(&u64::MAX.to_be_bytes());
    assert!(matches!(
        PageReader::open(Cursor::new(&file)),
        Err(Error::PageIndex { fault: IndexFault::SizeBeyondFile { stored: u64::MAX }, .. })
    ));
}

// ---- random access ----

#[test]
fn random_access() {
    let file = mixed_delta();
    let mut r = PageReader::open(Cursor::new(&file)).unwrap();
    assert_eq!(r.header(), &header(3, 4, 10, PS));
    assert_eq!(r.trailer(), &check(&file[..]).unwrap().trailer);
    let pgnos: Vec<u32> = r.index().entries().iter().map(|e| e.pgno).collect();
    assert_eq!(pgnos, [2, 5, 9]);
    assert_eq!(r.index().entries()[0].offset, 100);
    let mut buf = vec![0; 512];
    for pgno in [9, 2, 5] {
        assert!(r.read_page(pgno, &mut buf).unwrap());
        assert_eq!(buf, testfile::page(pgno, PS));
    }
    assert!(!r.read_page(3, &mut buf).unwrap());
    assert!(matches!(r.read_page(2, &mut [0; 8]), Err(Error::BufferSize { .. })));
    let wrong = IndexEntry { pgno: 5, ..r.index().get(2).unwrap() };
    assert!(matches!(
        r.read_entry(wrong, &mut buf),
        Err(Error::Page { fault: PageFault::IndexMismatch { pgno: 5 }, .. })
    ));
}

#[test]
fn random_access_checks_the_index() {
    let h = header(3, 3, 10, PS);
    let open = |tweak: fn(&mut testfile::Entries)| {
        let file = testfile::write_with(
            &h,
            &pages([2, 3], PS, Encoding::Frame),
            &Tweaks { index: Some(tweak), ..Tweaks::default() },
        );
        PageReader::open(Cursor::new(file)).err().expect("must fail")
    };
    assert!(matches!(open(|i| i[0].1 = 99), Error::PageIndex { fault: IndexFault::Entry { pgno: 2 }, .. }));
    assert!(matches!(
        open(|i| i[1].2 += 10_000),
        Error::PageIndex { fault: IndexFault::Entry { pgno: 3 }, .. }
    ));
    assert!(matches!(open(|i| i[1].0 = 2), Error::Page { fault: PageFault::OutOfOrder { .. }, .. }));
    assert!(matches!(open(|i| i[1].0 = 1 << 40), Error::PageIndex { .. }));
    assert!(matches!(open(|i| i.truncate(1)), Error::PageIndex { fault: IndexFault::Uncovered { .. }, .. }));
    // A snapshot's index must list every page.
    let file = testfile::write(&header(1, 1, 3, PS), &pages([1, 2], PS, Encoding::Block));
    assert!(matches!(PageReader::open(Cursor::new(file)), Err(Error::IncompleteSnapshot { missing: 3, .. })));
}

#[test]
fn messages_read_well() {
    let e = err(&patched(snapshot(1, Encoding::Block), DATA, &[0xff; 4]));
    assert_eq!(
        e.to_string(),
        "invalid page frame at byte 106: page 1 claims 4294967295 compressed bytes, LZ4 never needs more than 530"
    );
    assert_eq!(err(b"LTX").to_string(), "the file ends at byte 3, inside the header");
    let e = err(&patched(snapshot(1, Encoding::Block), DATA + 4, &[0x0f, 0xff, 0xff]));
    assert!(e.to_string().starts_with("page 1 at byte 110: its LZ4 data does not decompress"), "{e}");
    assert!(std::error::Error::source(&e).is_some());
}
