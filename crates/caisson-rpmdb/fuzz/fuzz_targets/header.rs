//! Fuzzes the rpm header blob parser and every typed accessor.
#![no_main]

use caisson_rpmdb::header::tag;
use caisson_rpmdb::{Header, Limits, RpmPackage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let _ = RpmPackage::from_blob(data, &limits);
    if let Ok(h) = Header::parse(data, &limits) {
        for e in h.entries() {
            let _ = h.string(e.tag);
            let _ = h.string_array(e.tag, 1000);
            let _ = h.int32_array(e.tag, 1000);
            let _ = h.number(e.tag);
        }
        let _ = h.string_array(tag::BASENAMES, limits.max_files);
    }
});
