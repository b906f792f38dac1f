//! OpenVEX parsing and statement lookup never panic.
#![no_main]
use caisson_match::VexDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = VexDocument::parse("fuzz", data) {
        for s in &d.statements {
            for p in &s.products {
                let ids: Vec<&str> = s.vulnerabilities.iter().map(String::as_str).collect();
                let _ = d.statement_for(&ids, p);
            }
        }
    }
});
