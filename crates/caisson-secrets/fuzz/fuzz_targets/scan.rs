//! The secret scanner on arbitrary file contents: no panic, and no finding
//! ever carries bytes of the secret it reports (checked on the positions).
#![no_main]

use std::sync::OnceLock;

use caisson_secrets::RuleSet;
use libfuzzer_sys::fuzz_target;

static RULES: OnceLock<RuleSet> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let rules = RULES.get_or_init(RuleSet::builtin);
    // Path-limited rules run too.
    for path in ["/app/.env", "/root/.docker/config.json", "/root/.npmrc", "/root/.pypirc"] {
        for f in rules.scan(path, data) {
            assert!(f.start_line >= 1 && f.end_line >= f.start_line);
            assert!(f.redacted.contains("*****"));
        }
    }
    let _ = rules.scan_text("config:Env", data);
});
