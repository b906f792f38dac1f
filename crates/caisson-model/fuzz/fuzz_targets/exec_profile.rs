//! Arbitrary bytes never panic the profile request parsers, and whatever
//! they accept passes the same checks again after a serde round trip.
#![no_main]

use caisson_model::exec_profile::{check_key, parse_allow, parse_learned, parse_mode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = parse_learned(data) {
        let again = serde_json::to_vec(&u).expect("serialises");
        assert_eq!(parse_learned(&again).ok(), Some(u));
    }
    if let Ok(a) = parse_allow(data) {
        let again = serde_json::to_vec(&a).expect("serialises");
        assert_eq!(parse_allow(&again).ok(), Some(a));
    }
    if let Ok(m) = parse_mode(data) {
        let again = serde_json::to_vec(&m).expect("serialises");
        assert_eq!(parse_mode(&again).ok(), Some(m));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = check_key(s);
    }
});
