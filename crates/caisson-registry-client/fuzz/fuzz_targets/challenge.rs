//! `WWW-Authenticate` parsing never panics, always terminates, and yields
//! well-formed schemes and parameter names.
#![no_main]

use caisson_registry_client::auth::parse_challenges;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    for c in parse_challenges(&header) {
        assert!(!c.scheme.is_empty());
        assert!(!c.scheme.bytes().any(|b| b.is_ascii_uppercase() || b == b' ' || b == b','));
        for (name, _) in &c.params {
            assert!(!name.is_empty());
            assert!(!name.contains('='));
        }
    }
});
