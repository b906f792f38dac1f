//! The Dockerfile parser and linter on arbitrary text: no panic, every
//! finding's line is inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count().max(1);
    for i in caisson_misconfig::parse_dockerfile(&text) {
        assert!(i.line >= 1 && i.line <= lines && i.end_line >= i.line);
    }
    for f in caisson_misconfig::lint_dockerfile("Dockerfile", &text) {
        assert!(f.line.is_some_and(|l| l >= 1 && l <= lines));
    }
});
