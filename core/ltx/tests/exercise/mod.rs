//! What the fuzz target (`fuzz/fuzz_targets/decode.rs`) and the stable robustness test feed
//! arbitrary bytes to: every entry point of the crate. Findings are expected; panics are not.

use std::io::Cursor;

use cargo_litestream_ltx::{Decoder, PageReader, check, parse_file_name};

pub fn exercise(data: &[u8]) {
    let _ = check(data);

    // Page by page, as restore-like callers read.
    if let Ok(mut decoder) = Decoder::new(data) {
        let mut page = vec![0; decoder.header().page_size as usize];
        while let Ok(Some(_)) = decoder.next_page(&mut page) {}
        let _ = decoder.finish();
    }

    // By seeking, as a page-level verify reads.
    if let Ok(mut reader) = PageReader::open(Cursor::new(data)) {
        let mut page = vec![0; reader.header().page_size as usize];
        let entries: Vec<_> = reader.index().entries().iter().copied().take(256).collect();
        for entry in entries {
            let _ = reader.read_entry(entry, &mut page);
        }
        let _ = reader.read_page(1, &mut page);
    }

    if let Ok(name) = std::str::from_utf8(data) {
        let _ = parse_file_name(name);
        let _ = name.parse::<cargo_litestream_ltx::Txid>();
    }
}
