//! Go build info: the header parser, and the streaming scanner fed in chunks
//! (first byte picks the chunk size) behind an ELF-looking head.
#![no_main]
use caisson_binary::go::buildinfo::{parse_header, Scanner, MAGIC};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_header(data);
    let mut with_magic = MAGIC.to_vec();
    with_magic.extend_from_slice(data);
    let _ = parse_header(&with_magic);
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut s = Scanner::new(data);
    for c in data.chunks(chunk) {
        if s.feed(c).is_some() {
            return;
        }
    }
    let _ = s.finish();
    let _ = caisson_binary::go::parse_modinfo(&String::from_utf8_lossy(data));
    let _ = caisson_binary::go::parse_go_mod(&String::from_utf8_lossy(data));
});
