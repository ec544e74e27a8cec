//! Integration tests: the real `cargo-litestream` binary against the real litestream 0.5.17.
