//! Arbitrary bytes into every entry point of the crate. From core/ltx, seeded with the files
//! real litestream versions wrote:
//!
//! ```sh
//! mkdir -p fuzz/corpus/decode && cp tests/fixtures/upgrade/ltx/*/* fuzz/corpus/decode/
//! cargo +nightly fuzz run decode
//! ```
//!
//! `tests/robustness.rs` runs the same function on stable, over seeded random inputs.

#![no_main]

#[path = "../../tests/exercise/mod.rs"]
mod exercise;

libfuzzer_sys::fuzz_target!(|data: &[u8]| exercise::exercise(data));
