//! Arbitrary bytes as one or two layers (plain, gzip or zstd tar): the walker
//! and squasher must return a result or an error, never panic, within limits;
//! a shared walk for several interests (`scan_bytes_many`: one capturing,
//! one with a bounded extractor, one with an unbounded one) gives the
//! capturing interest the same view as its own walk.
#![no_main]

use std::io::Read;

use caisson_image::{scan_bytes, scan_bytes_many, Extractor, Interest, Limits};
use libfuzzer_sys::fuzz_target;

fn everything(_: &str) -> Option<u64> {
    Some(1 << 16)
}

/// Keeps the first byte and the length of what it could read.
struct Head(Option<u64>);

impl Extractor for Head {
    fn name(&self) -> &'static str {
        "head"
    }
    fn extract(
        &self,
        _: &str,
        r: &mut dyn std::io::Read,
        _: u64,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let mut all = Vec::new();
        Read::take(r, self.0.unwrap_or(1 << 20)).read_to_end(&mut all)?;
        Ok(Some(vec![all.first().copied().unwrap_or(0), all.len() as u8]))
    }
    fn read_limit(&self, _: &str, size: u64) -> Option<u64> {
        self.0.map(|l| if size > l { 0 } else { l })
    }
}

struct Extracting(Head);

impl Interest for Extracting {
    fn wants(&self, _: &str) -> Option<u64> {
        None
    }
    fn extractor(&self, _: &str, _: u32, _: u64) -> Option<&dyn Extractor> {
        Some(&self.0)
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_layer_bytes: 8 << 20,
        ratio_grace_bytes: 1 << 20,
        max_compression_ratio: 50,
        max_entries_per_layer: 10_000,
        max_captured_bytes: 4 << 20,
        max_symlink_hops: 40,
    };
    // Split the input into two layers at a byte chosen by the input itself.
    let cut = data.first().map_or(0, |b| (*b as usize * data.len()) / 256);
    let (a, b) = data.split_at(cut.min(data.len()));
    let alone = scan_bytes(&[a, b], &everything, &limits);
    let bounded = Extracting(Head(Some(4096)));
    let unbounded = Extracting(Head(None));
    let shared = scan_bytes_many(&[a, b], &[&everything, &bounded, &unbounded], &limits);
    if let (Ok(x), Ok(y)) = (&alone, &shared) {
        assert_eq!(Some(&x.snapshots), y.first().map(|s| &s.snapshots));
    }
    if let Ok(s) = alone {
        let v = s.view();
        let paths: Vec<String> = v.files().map(str::to_string).collect();
        for p in paths.iter().take(64) {
            let _ = v.read(p);
            let _ = v.list_dir(p);
            let _ = v.resolve(&format!("{p}/../x/./y"));
        }
    }
});
