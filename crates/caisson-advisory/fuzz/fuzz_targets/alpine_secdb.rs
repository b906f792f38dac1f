#![no_main]

use caisson_advisory::import::{detect_format, import_bytes};
use caisson_advisory::{Format, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_entry_bytes: 1 << 20,
        max_total_bytes: 8 << 20,
        max_entries: 10_000,
        ..Limits::default()
    };
    let _ = detect_format("input", data);
    if let Ok(out) = import_bytes(Format::AlpineSecdb, data, &limits) {
        assert_eq!(out.stats.records, out.advisories.len());
        assert!(out.advisories.iter().all(|a| !a.id.is_empty() && a.withdrawn.is_none()));
        assert!(out.advisories.iter().all(|a| a.affected.len() <= limits.max_affected));
    }
});
