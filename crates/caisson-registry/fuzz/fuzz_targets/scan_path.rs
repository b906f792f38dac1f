//! The scan API's path split (`<name>/manifests/<reference>/<what>`, from
//! the end): never panics, and a split reassembles to the input with a
//! non-empty name and reference and no `/` in the last two segments.
#![no_main]

use caisson_registry::scan::api::split_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((name, reference, what)) = split_path(s) {
        assert!(!name.is_empty() && !reference.is_empty());
        assert!(!reference.contains('/') && !what.contains('/'));
        assert_eq!(format!("{name}/manifests/{reference}/{what}"), s);
    }
});
