//! LTX files written by the real litestream 0.5.15 (one LZ4 frame per page) and then 0.5.17
//! (LZ4 blocks) on one replica: tests/fixtures/upgrade/README.md says how they were made.

mod common;

use std::fs::File;
use std::path::Path;

use cargo_litestream_ltx::{Encoding, PageReader};
use common::{LtxFile, apply, check_file, integrity_and_rows, list};

fn replica() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade")
}

#[test]
fn every_file_checks_and_both_encodings_occur() {
    let files = list(&replica());
    assert_eq!(files.len(), 13);
    let (mut frame, mut block) = (0, 0);
    for file in &files {
        let s = check_file(file);
        frame += s.frame_pages;
        block += s.block_pages;
        // 0.5.15 wrote TXIDs 1-4 and their compactions; 0.5.17 the rest.
        if file.max.0 <= 4 {
            assert_eq!(s.block_pages, 0, "{}", file.path.display());
        } else {
            assert_eq!(s.frame_pages, 0, "{}", file.path.display());
        }
    }
    assert!(frame > 0 && block > 0, "frames {frame}, blocks {block}");
}

#[test]
fn level_0_replays_into_the_database() {
    let files = list(&replica());
    let l0: Vec<&LtxFile> = files.iter().filter(|f| f.level == 0).collect();
    for (i, f) in l0.iter().enumerate() {
        assert_eq!((f.min.0, f.max.0), (i as u64 + 1, i as u64 + 1), "L0 is contiguous");
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("restored.db");
    apply(&l0, &db);
    assert_eq!(integrity_and_rows(&db), ("ok".to_owned(), 120));
}

#[test]
fn the_snapshot_and_the_compactions_replay_too() {
    let files = list(&replica());
    let l1: Vec<&LtxFile> = files.iter().filter(|f| f.level == 1).collect();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l1.db");
    apply(&l1, &db);
    assert_eq!(integrity_and_rows(&db), ("ok".to_owned(), 120));

    let l9: Vec<&LtxFile> = files.iter().filter(|f| f.level == 9).collect();
    assert!(l9.iter().all(|f| f.min.0 == 1), "L9 holds snapshots");
    let snapshot = dir.path().join("l9.db");
    apply(&l9, &snapshot);
    assert_eq!(integrity_and_rows(&snapshot), ("ok".to_owned(), 0));
}

#[test]
fn random_access_reads_the_same_pages() {
    for file in list(&replica()) {
        let mut reader = PageReader::open(File::open(&file.path).unwrap()).unwrap();
        let page_size = reader.header().page_size as usize;
        let mut dec = cargo_litestream_ltx::Decoder::new(File::open(&file.path).unwrap()).unwrap();
        let (mut a, mut b) = (vec![0; page_size], vec![0; page_size]);
        let mut n = 0;
        while let Some(page) = dec.next_page(&mut a).unwrap() {
            assert!(reader.read_page(page.pgno, &mut b).unwrap());
            assert_eq!(a, b, "page {} of {}", page.pgno, file.path.display());
            assert!(matches!(page.encoding(), Encoding::Block | Encoding::Frame));
            n += 1;
        }
        assert_eq!(reader.index().len(), n);
        assert!(!reader.read_page(u32::MAX - 1, &mut b).unwrap());
    }
}
