//! User rule files from arbitrary bytes: errors, never panics.
#![no_main]

use caisson_secrets::RuleSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(rules) = RuleSet::with_user(Some(("fuzz.toml", s))) {
            let _ = rules.scan("/f", s.as_bytes());
        }
    }
});
