//! OCI error bodies from a registry never panic and stay short and printable.
#![no_main]

use caisson_registry_client::RemoteDetail;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let d = RemoteDetail::from_body(data);
    assert!(d.0.chars().count() <= 300);
    assert!(!d.0.chars().any(char::is_control));
});
