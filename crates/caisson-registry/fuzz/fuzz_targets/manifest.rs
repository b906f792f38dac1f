//! Pushed manifests and indexes: parsing and the registry's validation
//! (schema version, required blobs, subject, media type), under each
//! Content-Type a client may send.
#![no_main]

use caisson_registry::parse_pushed_manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for ct in [
        None,
        Some("application/vnd.oci.image.manifest.v1+json"),
        Some("application/vnd.oci.image.index.v1+json"),
        Some("application/vnd.docker.distribution.manifest.v2+json"),
        Some("application/vnd.docker.distribution.manifest.list.v2+json"),
        Some("text/plain"),
    ] {
        if let Ok(p) = parse_pushed_manifest(data, ct) {
            // What the registry stores about it is well-formed.
            assert!(!p.media_type.is_empty());
            for (d, _, _) in &p.required {
                let again: caisson_oci::Digest = d.to_string().parse().expect("digest re-parses");
                assert_eq!(&again, d);
            }
        }
    }
});
