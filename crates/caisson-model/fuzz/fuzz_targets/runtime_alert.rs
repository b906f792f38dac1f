//! Arbitrary bytes never panic the alert batch parser, and whatever it
//! accepts is valid and round-trips through serde unchanged.
#![no_main]

use caisson_model::runtime_alert::{parse_batch, validate_batch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = parse_batch(data) {
        assert!(validate_batch(&batch).is_ok());
        let again = serde_json::to_vec(&batch).expect("serialises");
        assert_eq!(parse_batch(&again).ok(), Some(batch));
    }
});
