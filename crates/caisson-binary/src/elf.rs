//! Just enough ELF: the file header, loadable segments (to map a virtual
//! address to a file offset) and a section by name. Every offset and count is
//! checked against the file size and small limits.

use std::io::{self, Read, Seek};

use crate::spool::read_at;

/// Most section headers read (real binaries have < 100).
const MAX_SECTIONS: u64 = 4096;
/// Largest section-name table read.
const MAX_SHSTRTAB: u64 = 1 << 20;

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("ELF: {msg}"))
}

/// The fields of an ELF header this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub is64: bool,
    pub big_endian: bool,
    pub phoff: u64,
    pub phentsize: u64,
    pub phnum: u64,
    pub shoff: u64,
    pub shentsize: u64,
    pub shnum: u64,
    pub shstrndx: u64,
}

/// Reads an unsigned integer of `n` bytes at `off` (None when out of range).
pub fn uint(b: &[u8], off: usize, n: usize, big: bool) -> Option<u64> {
    let s = b.get(off..off.checked_add(n)?)?;
    let mut v: u64 = 0;
    if big {
        for &x in s {
            v = (v << 8) | u64::from(x);
        }
    } else {
        for &x in s.iter().rev() {
            v = (v << 8) | u64::from(x);
        }
    }
    Some(v)
}

pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

/// Parses the ELF header from the first bytes of a file.
pub fn header(head: &[u8]) -> Option<Header> {
    if !is_elf(head) {
        return None;
    }
    let is64 = match head.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = match head.get(5)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let u = |off: usize, n: usize| uint(head, off, n, big);
    Some(if is64 {
        Header {
            is64,
            big_endian: big,
            phoff: u(0x20, 8)?,
            shoff: u(0x28, 8)?,
            phentsize: u(0x36, 2)?,
            phnum: u(0x38, 2)?,
            shentsize: u(0x3a, 2)?,
            shnum: u(0x3c, 2)?,
            shstrndx: u(0x3e, 2)?,
        }
    } else {
        Header {
            is64,
            big_endian: big,
            phoff: u(0x1c, 4)?,
            shoff: u(0x20, 4)?,
            phentsize: u(0x2a, 2)?,
            phnum: u(0x2c, 2)?,
            shentsize: u(0x2e, 2)?,
            shnum: u(0x30, 2)?,
            shstrndx: u(0x32, 2)?,
        }
    })
}

/// A loadable segment: `vaddr..vaddr+filesz` lives at `offset` in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub offset: u64,
    pub filesz: u64,
}

/// The `PT_LOAD` segments, when the program headers lie within `head`.
pub fn segments(head: &[u8], h: &Header) -> Vec<Segment> {
    let mut out = Vec::new();
    let min = if h.is64 { 56 } else { 32 };
    if h.phentsize < min {
        return out;
    }
    for i in 0..h.phnum.min(256) {
        let Some(base) = i
            .checked_mul(h.phentsize)
            .and_then(|x| x.checked_add(h.phoff))
            .and_then(|x| usize::try_from(x).ok())
        else {
            break;
        };
        let u = |off: usize, n: usize| {
            base.checked_add(off)
                .and_then(|o| uint(head, o, n, h.big_endian))
        };
        let seg = if h.is64 {
            (u(0, 4), u(8, 8), u(16, 8), u(32, 8))
        } else {
            (u(0, 4), u(4, 4), u(8, 4), u(16, 4))
        };
        if let (Some(1), Some(offset), Some(vaddr), Some(filesz)) = seg {
            out.push(Segment {
                vaddr,
                offset,
                filesz,
            });
        }
    }
    out
}

/// Maps a virtual address to a file offset through the loadable segments.
pub fn vaddr_to_offset(segs: &[Segment], addr: u64) -> Option<u64> {
    segs.iter().find_map(|s| {
        let rel = addr.checked_sub(s.vaddr)?;
        (rel < s.filesz)
            .then(|| s.offset.checked_add(rel))
            .flatten()
    })
}

/// Finds section `name` and returns its file offset and size (checked against `file_len`).
pub fn find_section<R: Read + Seek>(
    r: &mut R,
    file_len: u64,
    name: &[u8],
) -> io::Result<Option<(u64, u64)>> {
    let head = read_at(r, 0, usize::try_from(file_len.min(64)).unwrap_or(64))?;
    let h = header(&head).ok_or_else(|| bad("not an ELF header"))?;
    let min = if h.is64 { 64 } else { 40 };
    if h.shoff == 0 || h.shnum == 0 {
        return Ok(None);
    }
    if h.shentsize < min || h.shnum > MAX_SECTIONS || h.shstrndx >= h.shnum {
        return Err(bad("implausible section header table"));
    }
    let table_len = h.shentsize * h.shnum;
    let end = h
        .shoff
        .checked_add(table_len)
        .ok_or_else(|| bad("section table offset overflows"))?;
    if end > file_len {
        return Err(bad("section header table lies past the end of the file"));
    }
    let table = read_at(
        r,
        h.shoff,
        usize::try_from(table_len).map_err(|_| bad("section table too large"))?,
    )?;
    let big = h.big_endian;
    let field = |i: u64, which: usize| -> Option<u64> {
        let base = usize::try_from(i * h.shentsize).ok()?;
        let (off, n) = match (h.is64, which) {
            (true, 0) => (0, 4),   // sh_name
            (true, 1) => (24, 8),  // sh_offset
            (true, 2) => (32, 8),  // sh_size
            (false, 0) => (0, 4),  // sh_name
            (false, 1) => (16, 4), // sh_offset
            (false, 2) => (20, 4), // sh_size
            _ => return None,
        };
        uint(&table, base.checked_add(off)?, n, big)
    };
    let (Some(str_off), Some(str_size)) = (field(h.shstrndx, 1), field(h.shstrndx, 2)) else {
        return Err(bad("cannot read the section-name table header"));
    };
    if str_size > MAX_SHSTRTAB || str_off.checked_add(str_size).is_none_or(|e| e > file_len) {
        return Err(bad("implausible section-name table"));
    }
    let names = read_at(r, str_off, usize::try_from(str_size).unwrap_or(0))?;
    for i in 0..h.shnum {
        let (Some(n), Some(off), Some(size)) = (field(i, 0), field(i, 1), field(i, 2)) else {
            continue;
        };
        let Some(rest) = usize::try_from(n).ok().and_then(|n| names.get(n..)) else {
            continue;
        };
        let nm = rest.split(|&b| b == 0).next().unwrap_or_default();
        if nm == name {
            if off.checked_add(size).is_none_or(|e| e > file_len) {
                return Err(bad("section lies past the end of the file"));
            }
            return Ok(Some((off, size)));
        }
    }
    Ok(None)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A minimal little-endian ELF64 with the given named sections, each with
    /// its data; section headers at the end, like real binaries.
    pub fn build_elf(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = 1;
        out[6] = 1;
        let mut shstr = vec![0u8];
        let mut hdrs = Vec::new(); // (name_off, off, size)
        hdrs.push((0u32, 0u64, 0u64)); // SHN_UNDEF
        for (name, data) in sections {
            let name_off = shstr.len() as u32;
            shstr.extend_from_slice(name.as_bytes());
            shstr.push(0);
            hdrs.push((name_off, out.len() as u64, data.len() as u64));
            out.extend_from_slice(data);
        }
        let name_off = shstr.len() as u32;
        shstr.extend_from_slice(b".shstrtab\0");
        hdrs.push((name_off, out.len() as u64, shstr.len() as u64));
        out.extend_from_slice(&shstr);
        let shoff = out.len() as u64;
        for (n, off, size) in &hdrs {
            let mut sh = vec![0u8; 64];
            sh[..4].copy_from_slice(&n.to_le_bytes());
            sh[24..32].copy_from_slice(&off.to_le_bytes());
            sh[32..40].copy_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&sh);
        }
        out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        out[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        out[0x3c..0x3e].copy_from_slice(&(hdrs.len() as u16).to_le_bytes());
        out[0x3e..0x40].copy_from_slice(&((hdrs.len() - 1) as u16).to_le_bytes());
        out
    }

    #[test]
    fn finds_a_named_section() {
        let elf = build_elf(&[(".text", b"code"), (".dep-v0", b"DATA")]);
        let mut c = std::io::Cursor::new(&elf);
        let (off, size) = find_section(&mut c, elf.len() as u64, b".dep-v0")
            .unwrap()
            .unwrap();
        assert_eq!(&elf[off as usize..(off + size) as usize], b"DATA");
        assert_eq!(
            find_section(&mut c, elf.len() as u64, b".nope").unwrap(),
            None
        );
    }

    #[test]
    fn truncated_elf_is_an_error_not_a_panic() {
        let elf = build_elf(&[(".dep-v0", b"DATA")]);
        for cut in [0, 10, 63, 64, 70, elf.len() - 1] {
            let t = &elf[..cut];
            let mut c = std::io::Cursor::new(t);
            assert!(find_section(&mut c, t.len() as u64, b".dep-v0").is_err());
        }
    }

    #[test]
    fn maps_addresses_through_segments() {
        let segs = [Segment {
            vaddr: 0x400000,
            offset: 0,
            filesz: 0x1000,
        }];
        assert_eq!(vaddr_to_offset(&segs, 0x400010), Some(0x10));
        assert_eq!(vaddr_to_offset(&segs, 0x401000), None);
        assert_eq!(vaddr_to_offset(&segs, 0x10), None);
    }
}
