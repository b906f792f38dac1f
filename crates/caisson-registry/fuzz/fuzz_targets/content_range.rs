//! `Range` (blob GET) and `Content-Range` (chunked upload) headers.
#![no_main]

use caisson_registry::route::{parse_content_range, parse_range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for size in [0u64, 1, 1000, u64::MAX] {
        if let Ok((a, b)) = parse_range(s, size) {
            assert!(a <= b && b < size, "{s:?} against {size}: {a}-{b}");
        }
    }
    if let Some((a, b)) = parse_content_range(s) {
        assert!(a <= b, "{s:?}: {a}-{b}");
    }
});
