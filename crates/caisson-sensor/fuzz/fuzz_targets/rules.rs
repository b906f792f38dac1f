//! User rule files and conditions: parse, type-check and merge must never
//! panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = caisson_sensor::rules::lang::parse(text);
    let _ = caisson_sensor::RuleSet::from_texts(caisson_sensor::rules::BUILTIN_RULES, Some(("fuzz", text)));
});
