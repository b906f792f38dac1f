use super::*;

pub fn inline_blob(version: &str, modinfo: &str) -> Vec<u8> {
    let mut b = MAGIC.to_vec();
    b.push(8);
    b.push(2);
    b.resize(32, 0);
    let mut wrapped = MODINFO_START.to_vec();
    wrapped.extend_from_slice(modinfo.as_bytes());
    wrapped.extend_from_slice(&MODINFO_END);
    for s in [version.as_bytes(), &wrapped[..]] {
        let mut n = s.len();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                b.push(byte);
                break;
            }
            b.push(byte | 0x80);
        }
        b.extend_from_slice(s);
    }
    b
}

const MODINFO: &str =
    "path\texample.com/cmd\nmod\texample.com\t(devel)\t\ndep\tgolang.org/x/sys\tv0.1.0\th1:abc=\n";

fn scan_chunks(data: &[u8], chunk: usize) -> Option<BuildInfo> {
    let mut s = Scanner::new(data.get(..4096.min(data.len())).unwrap());
    for c in data.chunks(chunk) {
        if let Some(i) = s.feed(c) {
            return Some(i);
        }
    }
    s.finish()
}

#[test]
fn parses_inline_format_in_any_chunking() {
    let mut data = vec![0u8; 1000];
    data.extend_from_slice(b"\xff Go buildinf: decoy text that is no header");
    data.resize(2048, 7);
    data.extend_from_slice(&inline_blob("go1.21.5", MODINFO));
    data.extend_from_slice(&[0u8; 100]);
    for chunk in [1, 3, 13, 64, 4096] {
        let info = scan_chunks(&data, chunk).unwrap();
        assert_eq!(info.go_version, "go1.21.5");
        assert_eq!(info.modinfo, MODINFO);
    }
}

#[test]
fn absurd_lengths_are_rejected_without_allocation() {
    let mut b = MAGIC.to_vec();
    b.extend_from_slice(&[8, 2]);
    b.resize(32, 0);
    b.extend_from_slice(&[0xff; 9]);
    b.push(0x01); // 2^63-ish length
    assert_eq!(parse_header(&b), Parse::Invalid);
    let mut b = MAGIC.to_vec();
    b.extend_from_slice(&[8, 2]);
    b.resize(32, 0);
    b.extend_from_slice(&[0xff; 11]); // varint never ends
    assert_eq!(parse_header(&b), Parse::Invalid);
    // A header waiting forever for a 4 MiB string never yields.
    let mut b = MAGIC.to_vec();
    b.extend_from_slice(&[8, 2]);
    b.resize(32, 0);
    b.extend_from_slice(&[4, b'g', b'o', b'1', b'.']);
    b.extend_from_slice(&[0x80, 0x80, 0x80, 0x02]); // 4 MiB
    assert_eq!(parse_header(&b), Parse::NeedMore);
    assert_eq!(scan_chunks(&b, 7), None);
}

#[test]
fn rejects_implausible_versions_and_pointer_sizes() {
    let blob = inline_blob("\u{1}junk", MODINFO);
    assert_eq!(parse_header(&blob), Parse::Invalid);
    let mut b = MAGIC.to_vec();
    b.extend_from_slice(&[3, 0]);
    b.resize(40, 0);
    assert_eq!(parse_header(&b), Parse::Invalid);
}

/// A little-endian ELF64 whose one segment maps vaddr 0x400000 to offset 0,
/// with a Go 1.16-style pointer-format header.
fn pointer_elf(version: &str, modinfo: &str) -> Vec<u8> {
    const BASE: u64 = 0x400000;
    let mut f = vec![0u8; 0x1000];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2;
    f[5] = 1;
    f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // phoff
    f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    f[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    let ph = 64;
    f[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    f[ph + 8..ph + 16].copy_from_slice(&0u64.to_le_bytes());
    f[ph + 16..ph + 24].copy_from_slice(&BASE.to_le_bytes());
    f[ph + 32..ph + 40].copy_from_slice(&0x1000u64.to_le_bytes());
    // rodata: the version (no terminator, other strings follow) and the modinfo.
    f[0x100..0x100 + version.len()].copy_from_slice(version.as_bytes());
    f[0x100 + version.len()..0x100 + version.len() + 8].copy_from_slice(b"go1.9xyz");
    let mut m = MODINFO_START.to_vec();
    m.extend_from_slice(modinfo.as_bytes());
    m.extend_from_slice(&MODINFO_END);
    f[0x200..0x200 + m.len()].copy_from_slice(&m);
    // header
    f[0x800..0x80e].copy_from_slice(MAGIC);
    f[0x80e] = 8;
    f[0x80f] = 0;
    f[0x810..0x818].copy_from_slice(&(BASE + 0x900).to_le_bytes());
    f[0x818..0x820].copy_from_slice(&(BASE + 0x910).to_le_bytes());
    // string headers (runtime.buildVersion, runtime.modinfo) after it
    f[0x900..0x908].copy_from_slice(&(BASE + 0x100).to_le_bytes());
    f[0x908..0x910].copy_from_slice(&(version.len() as u64).to_le_bytes());
    f[0x910..0x918].copy_from_slice(&(BASE + 0x200).to_le_bytes());
    f[0x918..0x920].copy_from_slice(&(m.len() as u64).to_le_bytes());
    f
}

#[test]
fn parses_pointer_format_from_a_stream() {
    let elf = pointer_elf("go1.16.15", MODINFO);
    for chunk in [1, 5, 100, 0x1000] {
        let info = scan_chunks(&elf, chunk).unwrap();
        assert_eq!(info.go_version, "go1.16.15");
        assert_eq!(info.modinfo, MODINFO);
    }
}

#[test]
fn pointer_format_with_wild_pointers_yields_nothing() {
    let mut elf = pointer_elf("go1.16.15", MODINFO);
    elf[0x900..0x908].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(scan_chunks(&elf, 64), None);
    let mut elf = pointer_elf("go1.16.15", MODINFO);
    elf[0x908..0x910].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(scan_chunks(&elf, 64), None);
}

proptest::proptest! {
    #[test]
    fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2048), chunk in 1usize..300) {
        let mut d = MAGIC.to_vec();
        d.extend_from_slice(&data);
        let _ = scan_chunks(&d, chunk);
        let _ = parse_header(&d);
    }
}
