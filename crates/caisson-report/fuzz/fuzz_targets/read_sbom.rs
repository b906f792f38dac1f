//! `read_sbom` on arbitrary bytes: it returns an SBOM or an error, never
//! panics. Seeds in `seeds/read_sbom/`, dictionary in `sbom.dict`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_sbom, warnings)) = caisson_report::read_sbom(data) {
        assert!(warnings.iter().all(|w| !w.code.is_empty()));
    }
});
