//! The fuzz target's function on stable Rust: seeded random and mutated inputs for a few
//! seconds, none of which may panic or make a large allocation.

mod exercise;

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Records the largest single allocation, to show that no size a file claims is allocated.
/// (`cargo fuzz` has `-rss_limit_mb` and `-malloc_limit_mb` for this; stable Rust has only a
/// global allocator, whose trait is `unsafe` to implement.)
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)] // delegates to the system allocator unchanged
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// Besides the input itself: the 64 KiB read buffer, one page and one compressed page, and
/// an LZ4 frame decoder's buffers for 64 KiB blocks (192 KiB); the page index of a few-KB
/// input is small.
const ALLOCATION_LIMIT: usize = 256 * 1024;

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let ltx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade/ltx");
    let mut seeds = Vec::new();
    for level in fs::read_dir(ltx).unwrap() {
        for file in fs::read_dir(level.unwrap().path()).unwrap() {
            seeds.push(fs::read(file.unwrap().path()).unwrap());
        }
    }
    seeds
}

fn mutate(rng: &mut Rng, mut data: Vec<u8>) -> Vec<u8> {
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len());
        match rng.below(6) {
            0 if !data.is_empty() => data[at] ^= 1 << rng.below(8),
            1 if !data.is_empty() => data[at] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)],
            2 => data.truncate(at),
            3 => {
                let n = rng.below(16);
                data.splice(at..at, rng.bytes(n));
            }
            4 if !data.is_empty() => {
                let end = (at + rng.below(32)).min(data.len());
                data.drain(at..end);
            }
            _ if data.len() >= at + 4 => {
                // A big-endian field set to an extreme: page sizes, counts, lengths.
                let v = [u32::MAX, 0x8000_0000, 65536, 0, 1][rng.below(5)];
                data[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
            _ => {}
        }
    }
    data
}

#[test]
fn no_input_panics_or_allocates_much() {
    let seeds = seeds();
    let mut rng = Rng(0x5eed_1e55_0000_0001);
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut inputs = 0u64;
    // Every seed as it is, then random bytes, random bytes behind a valid header, mutations.
    for seed in &seeds {
        exercise::exercise(seed);
    }
    while Instant::now() < deadline {
        let input = match rng.below(4) {
            0 => {
                let n = rng.below(600);
                rng.bytes(n)
            }
            1 => {
                let seed = &seeds[rng.below(seeds.len())];
                let mut data = seed[..100].to_vec();
                let n = rng.below(600);
                data.extend(rng.bytes(n));
                data
            }
            _ => {
                let seed = seeds[rng.below(seeds.len())].clone();
                mutate(&mut rng, seed)
            }
        };
        LARGEST.store(0, Ordering::Relaxed);
        exercise::exercise(&input);
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(
            largest <= ALLOCATION_LIMIT + input.len(),
            "{largest} bytes allocated at once for {input:02x?}"
        );
        inputs += 1;
    }
    println!("{inputs} inputs, none panicked");
    assert!(inputs > 1000, "only {inputs} inputs in the time");
}
