//! Manifests, indexes, references, digests and platforms from arbitrary bytes.
#![no_main]

use caisson_oci::{parse_manifest_document, Digest, Platform, Reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_manifest_document(data, None);
    let _ = parse_manifest_document(data, Some("application/vnd.oci.image.index.v1+json"));
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(r) = s.parse::<Reference>() {
            // Display must round-trip through the parser.
            let again: Reference = r.to_string().parse().expect("display re-parses");
            assert_eq!(again, r);
        }
        let _ = s.parse::<Digest>();
        let _ = s.parse::<Platform>();
    }
});
