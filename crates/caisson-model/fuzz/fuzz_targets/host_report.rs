//! Arbitrary bytes never panic the host report parser, and whatever it
//! accepts is valid and round-trips through serde unchanged.
#![no_main]

use caisson_model::host_report::{parse, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = parse(data) {
        assert!(validate(&report).is_ok());
        let again = serde_json::to_vec(&report).expect("serialises");
        assert_eq!(parse(&again).ok(), Some(report));
    }
});
