//! `.caissonignore` parsing and matching never panic.
#![no_main]
use caisson_match::{Date, IgnoreFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = IgnoreFile::parse("fuzz", data) {
        let today = Date::from_unix_days(20_000);
        for e in &f.entries {
            let _ = e.expired(today);
            let _ = e.applies(
                &["CVE-2024-1", &e.id],
                "openssl",
                "pkg:deb/debian/openssl@3?arch=amd64",
            );
            if let Some(p) = &e.purl {
                let _ = caisson_match::purl_matches(p, p);
            }
        }
    }
});
