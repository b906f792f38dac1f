//! cargo-auditable: the ELF section reader, the `.dep-v0` decoder, the whole
//! executable extractor, and the Cargo.lock parser.
#![no_main]
use caisson_binary::{exe, rust};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rust::parse_dep_v0(data);
    let mut c = std::io::Cursor::new(data);
    let _ = rust::read_auditable(&mut c, data.len() as u64);
    let _ = exe::extract_exe(&mut &data[..], 1 << 20);
    let _ = rust::parse_cargo_lock(&String::from_utf8_lossy(data));
});
