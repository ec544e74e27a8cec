//! Helpers shared by the tests that read replicas: listing a replica's LTX files and
//! rebuilding a database from them.

#![allow(dead_code)] // each test binary uses its own part

use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use cargo_litestream_ltx::{Decoder, Summary, Txid, check, parse_file_name};

/// One LTX file of a file replica (`<replica>/ltx/<level>/<min>-<max>.ltx`).
pub struct LtxFile {
    pub level: u32,
    pub min: Txid,
    pub max: Txid,
    pub path: PathBuf,
}

pub fn list(replica: &Path) -> Vec<LtxFile> {
    let mut files = Vec::new();
    for level in fs::read_dir(replica.join("ltx")).unwrap() {
        let level = level.unwrap();
        let n: u32 = level.file_name().to_str().unwrap().parse().unwrap();
        for file in fs::read_dir(level.path()).unwrap() {
            let file = file.unwrap();
            let name = file.file_name();
            let (min, max) = parse_file_name(name.to_str().unwrap()).expect("an LTX file name");
            files.push(LtxFile { level: n, min, max, path: file.path() });
        }
    }
    files.sort_by_key(|f| (f.level, f.min, f.max));
    files
}

/// Checks a file and that its header agrees with its name.
pub fn check_file(file: &LtxFile) -> Summary {
    let summary = check(BufReader::new(File::open(&file.path).unwrap()))
        .unwrap_or_else(|e| panic!("{}: {}", file.path.display(), error_chain(&e)));
    assert_eq!(
        (summary.header.min_txid, summary.header.max_txid),
        (file.min, file.max),
        "{}",
        file.path.display()
    );
    assert!(summary.header.no_checksum(), "litestream 0.5 writes no database checksums");
    assert_eq!(summary.file_bytes, fs::metadata(&file.path).unwrap().len());
    assert_eq!(summary.page_bytes, u64::from(summary.page_count) * u64::from(summary.header.page_size));
    summary
}

/// Applies LTX files in order to a database file: each page written at its place, the file
/// cut to the commit size of the last (what a restore does).
pub fn apply(files: &[&LtxFile], out: &Path) {
    let mut db = fs::OpenOptions::new().create(true).write(true).truncate(true).open(out).unwrap();
    let mut commit = 0;
    let mut page_size = 0;
    for file in files {
        let mut dec = Decoder::new(BufReader::new(File::open(&file.path).unwrap())).unwrap();
        page_size = u64::from(dec.header().page_size);
        commit = u64::from(dec.header().commit);
        let mut buf = vec![0; page_size as usize];
        while let Some(page) = dec.next_page(&mut buf).unwrap() {
            use std::io::{Seek, SeekFrom};
            db.seek(SeekFrom::Start((u64::from(page.pgno) - 1) * page_size)).unwrap();
            db.write_all(&buf).unwrap();
        }
        dec.finish().unwrap();
    }
    db.set_len(commit * page_size).unwrap();
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// `PRAGMA integrity_check` and the rows of table `t`.
pub fn integrity_and_rows(db: &Path) -> (String, i64) {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap_or(-1);
    (ok, rows)
}
