//! Everything the registry parses from a request: paths, names, references,
//! Range / Content-Range, token scopes, Basic credentials and pushed manifests.
#![no_main]

use caisson_registry::auth::parse_basic;
use caisson_registry::auth::token::parse_scopes;
use caisson_registry::parse_pushed_manifest;
use caisson_registry::route::{
    parse_content_range, parse_range, parse_reference, parse_v2_path, validate_name,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_pushed_manifest(data, None);
    let _ = parse_pushed_manifest(data, Some("application/vnd.oci.image.index.v1+json"));
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(route) = parse_v2_path(s) {
            if let Some(name) = route.name() {
                let _ = validate_name(name);
            }
        }
        let _ = parse_reference(s);
        for size in [0u64, 1, 1000, u64::MAX] {
            if let Ok((a, b)) = parse_range(s, size) {
                assert!(a <= b && b < size);
            }
        }
        let _ = parse_content_range(s);
        let _ = parse_scopes(s);
        let _ = parse_basic(s);
    }
});
