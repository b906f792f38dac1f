//! Java archives: the zip reader with nested archives, manifest and
//! pom.properties parsers, within small limits.
#![no_main]
use caisson_binary::java::archive::{self, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_inflated: 16 << 20,
        max_nested: 4 << 20,
        ..Limits::default()
    };
    let _ = archive::read_stream(&mut &data[..], 8 << 20, &limits);
    let text = String::from_utf8_lossy(data);
    let _ = archive::parse_manifest(&text);
    let _ = archive::parse_pom_properties("p", &text);
});
