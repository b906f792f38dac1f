//! `parse_purl` on arbitrary strings: never panics; what it accepts has a
//! lower-case type and a non-empty name.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = caisson_report::parse_purl(s) {
        assert!(!p.name.is_empty());
        assert_eq!(p.ty, p.ty.to_ascii_lowercase());
        assert!(p.qualifiers.values().all(|v| !v.is_empty()));
    }
});
