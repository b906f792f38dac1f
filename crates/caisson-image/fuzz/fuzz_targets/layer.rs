//! Arbitrary bytes as one or two layers (plain, gzip or zstd tar): the walker
//! and squasher must return a result or an error, never panic, within limits.
#![no_main]

use caisson_image::{scan_bytes, Limits};
use libfuzzer_sys::fuzz_target;

fn everything(_: &str) -> Option<u64> {
    Some(1 << 16)
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
    if let Ok(s) = scan_bytes(&[a, b], &everything, &limits) {
        let v = s.view();
        let paths: Vec<String> = v.files().map(str::to_string).collect();
        for p in paths.iter().take(64) {
            let _ = v.read(p);
            let _ = v.list_dir(p);
            let _ = v.resolve(&format!("{p}/../x/./y"));
        }
    }
});
