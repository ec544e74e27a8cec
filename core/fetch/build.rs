//! Records the target triple this crate is compiled for: the platform whose release assets a
//! plain `cargo litestream …` fetches.

#![allow(clippy::disallowed_methods)] // cargo hands build scripts their inputs as environment

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=CARGO_LITESTREAM_HOST_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
