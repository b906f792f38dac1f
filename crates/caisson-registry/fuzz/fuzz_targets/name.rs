//! `/v2/…` paths, repository names (the registry's checks on top of
//! caisson-oci's grammar) and references (tags and digests).
#![no_main]

use caisson_registry::route::{
    namespace_of, parse_reference, parse_v2_path, valid_tag, validate_name, Reference, MAX_NAME_LEN,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(route) = parse_v2_path(s) {
        if let Some(name) = route.name() {
            if validate_name(name).is_ok() {
                assert!(!name.is_empty() && name.len() <= MAX_NAME_LEN);
                assert!(!name.split('/').any(|c| c == ".." || c == "."));
                assert!(!namespace_of(name).is_empty());
            }
        }
    }
    if validate_name(s).is_ok() {
        // The registry never accepts what caisson-oci rejects.
        assert!(caisson_oci::Reference::validate_repository(s).is_ok());
        assert!(!s.bytes().any(|b| b.is_ascii_uppercase()));
    }
    match parse_reference(s) {
        Ok(Reference::Tag(t)) => assert!(valid_tag(&t) && t.len() <= 128),
        Ok(Reference::Digest(d)) => {
            let again: caisson_oci::Digest = d.to_string().parse().expect("digest re-parses");
            assert_eq!(again, d);
        }
        Err(_) => {}
    }
});
