//! Finding a Go binary's build information in a stream.
//!
//! The Go linker writes a 32-byte header starting with `\xff Go buildinf:`,
//! then the pointer size (byte 14) and flags (byte 15: bit 0 big-endian,
//! bit 1 "strings inline"). Since Go 1.18 the toolchain version and the
//! module info follow the header inline, each prefixed by an unsigned LEB128
//! length. Older binaries instead hold two pointers at byte 16 to Go string
//! headers (data pointer, length) for `runtime.buildVersion` and
//! `runtime.modinfo`; following them needs the ELF segment table (from the
//! file's first bytes) and the bytes at the targets. Those strings sit in
//! read-only data, which precedes the header in the file, so while streaming
//! this scanner remembers the places where they may lie: every `go1.`
//! string (a short prefix of each) and every module-info block between Go's
//! 16-byte sentinels. The string headers themselves lie after the header
//! and are read as they stream past.

use crate::elf::{self, Segment};

pub const MAGIC: &[u8] = b"\xff Go buildinf:";
const MODINFO_START: [u8; 16] = [
    0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6,
];
const MODINFO_END: [u8; 16] = [
    0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2,
];
/// Longest toolchain version string accepted.
pub const MAX_VERSION: usize = 128;
/// Longest module info accepted (kubernetes-sized binaries hold ~40 KiB).
pub const MAX_MODINFO: usize = 4 << 20;
/// Most `go1.` strings remembered for the pointer format.
const MAX_VERSION_CANDIDATES: usize = 4096;
/// Most module-info blocks remembered for the pointer format.
const MAX_MODINFO_CANDIDATES: usize = 8;

/// A Go binary's toolchain version and module info text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildInfo {
    pub go_version: String,
    pub modinfo: String,
}

/// Outcome of parsing the bytes at a magic.
#[derive(Debug, PartialEq, Eq)]
pub enum Parse {
    Done(BuildInfo),
    /// Pointer format: addresses of the version and modinfo string headers.
    Pointers {
        ptr_size: usize,
        big_endian: bool,
        version: u64,
        modinfo: u64,
    },
    NeedMore,
    Invalid,
}

fn uvarint(b: &[u8]) -> Option<Option<(u64, usize)>> {
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate().take(10) {
        v |= u64::from(x & 0x7f).checked_shl(7 * i as u32)?;
        if x & 0x80 == 0 {
            return Some(Some((v, i + 1)));
        }
    }
    if b.len() >= 10 {
        None // malformed
    } else {
        Some(None) // need more
    }
}

/// Strips the sentinels Go wraps module info in.
pub fn strip_modinfo(m: &[u8]) -> &[u8] {
    if m.len() >= 33 && m.get(m.len() - 17) == Some(&b'\n') {
        m.get(16..m.len() - 16).unwrap_or(m)
    } else {
        m
    }
}

fn plausible_version(v: &[u8]) -> bool {
    (v.starts_with(b"go") || v.starts_with(b"devel"))
        && v.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
}

/// Parses the bytes starting at a magic.
pub fn parse_header(b: &[u8]) -> Parse {
    if b.len() < 32 {
        return Parse::NeedMore;
    }
    if !b.starts_with(MAGIC) {
        return Parse::Invalid;
    }
    let (Some(&ptr_size), Some(&flags)) = (b.get(14), b.get(15)) else {
        return Parse::NeedMore;
    };
    let big_endian = flags & 1 != 0;
    if flags & 2 == 0 {
        if ptr_size != 4 && ptr_size != 8 {
            return Parse::Invalid;
        }
        let n = usize::from(ptr_size);
        let (Some(version), Some(modinfo)) = (
            elf::uint(b, 16, n, big_endian),
            elf::uint(b, 16 + n, n, big_endian),
        ) else {
            return Parse::Invalid;
        };
        return Parse::Pointers {
            ptr_size: n,
            big_endian,
            version,
            modinfo,
        };
    }
    let rest = b.get(32..).unwrap_or_default();
    let mut strings: Vec<&[u8]> = Vec::with_capacity(2);
    let mut at = 0usize;
    for max in [MAX_VERSION, MAX_MODINFO] {
        let Some(tail) = rest.get(at..) else {
            return Parse::NeedMore;
        };
        let (len, used) = match uvarint(tail) {
            None => return Parse::Invalid,
            Some(None) => return Parse::NeedMore,
            Some(Some(x)) => x,
        };
        let Ok(len) = usize::try_from(len) else {
            return Parse::Invalid;
        };
        if len > max {
            return Parse::Invalid;
        }
        let start = at + used;
        let Some(s) = rest.get(start..start + len) else {
            return Parse::NeedMore;
        };
        strings.push(s);
        at = start + len;
    }
    let (Some(v), Some(m)) = (strings.first(), strings.get(1)) else {
        return Parse::Invalid;
    };
    if !plausible_version(v) {
        return Parse::Invalid;
    }
    Parse::Done(BuildInfo {
        go_version: String::from_utf8_lossy(v).into_owned(),
        modinfo: String::from_utf8_lossy(strip_modinfo(m)).into_owned(),
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let h = hay.get(from..)?;
    h.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A Go string header wanted at a file offset (pointer format).
#[derive(Debug, Clone, Copy)]
struct Want {
    offset: u64,
    version: bool,
}

/// Streaming scanner. Feed the file in order with [`Scanner::feed`]; it
/// returns the build info as soon as it is known.
pub struct Scanner {
    segments: Vec<Segment>,
    window: Vec<u8>,
    /// File offset of `window[0]`.
    base: u64,
    /// Offset in `window` where the magic search resumes.
    search_from: usize,
    /// Offset in `window` where the sentinel / `go1.` search resumes.
    side_from: usize,
    versions: Vec<(u64, Vec<u8>)>,
    modinfos: Vec<(u64, Vec<u8>)>,
    /// An open module-info block: (offset of its start sentinel, bytes so far).
    open_modinfo: Option<(u64, Vec<u8>)>,
    pointer: Option<(usize, bool)>,
    wants: Vec<Want>,
    found_version: Option<(u64, u64)>,
    found_modinfo: Option<(u64, u64)>,
    done: bool,
}

/// Bytes kept after a chunk so patterns spanning two chunks are seen.
const CARRY: usize = 64;
/// Largest window kept while an inline header waits for its strings.
const MAX_PENDING: usize = MAX_MODINFO + MAX_VERSION + 64;

impl Scanner {
    /// `head` is the file's first bytes (for the ELF segment table).
    pub fn new(head: &[u8]) -> Scanner {
        let segments = elf::header(head)
            .map(|h| elf::segments(head, &h))
            .unwrap_or_default();
        Scanner {
            segments,
            window: Vec::new(),
            base: 0,
            search_from: 0,
            side_from: 0,
            versions: Vec::new(),
            modinfos: Vec::new(),
            open_modinfo: None,
            pointer: None,
            wants: Vec::new(),
            found_version: None,
            found_modinfo: None,
            done: false,
        }
    }

    /// Feeds the next bytes. `Some` once the build info is complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Option<BuildInfo> {
        if self.done {
            return None;
        }
        self.window.extend_from_slice(chunk);
        if self.pointer.is_some() {
            let r = self.serve_wants();
            self.trim(self.window.len().saturating_sub(CARRY));
            return r;
        }
        self.side_scan();
        loop {
            let Some(i) = find(&self.window, MAGIC, self.search_from) else {
                let keep = self.window.len().saturating_sub(CARRY);
                self.trim(keep);
                return None;
            };
            let parsed = parse_header(self.window.get(i..).unwrap_or_default());
            match parsed {
                Parse::Done(info) => {
                    self.done = true;
                    return Some(info);
                }
                Parse::NeedMore if self.window.len() - i <= MAX_PENDING => {
                    self.trim(i);
                    return None;
                }
                Parse::Pointers {
                    ptr_size,
                    big_endian,
                    version,
                    modinfo,
                } => {
                    let to_off = |a| elf::vaddr_to_offset(&self.segments, a);
                    if let (Some(v), Some(m)) = (to_off(version), to_off(modinfo)) {
                        self.pointer = Some((ptr_size, big_endian));
                        self.wants = vec![
                            Want {
                                offset: v,
                                version: true,
                            },
                            Want {
                                offset: m,
                                version: false,
                            },
                        ];
                        let r = self.serve_wants();
                        self.trim(self.window.len().saturating_sub(CARRY));
                        return r;
                    }
                    self.search_from = i + 1;
                }
                Parse::NeedMore | Parse::Invalid => self.search_from = i + 1,
            }
        }
    }

    fn trim(&mut self, keep_from: usize) {
        let keep_from = keep_from.min(self.window.len());
        self.window.drain(..keep_from);
        self.base += keep_from as u64;
        self.search_from = self.search_from.saturating_sub(keep_from);
        self.side_from = self.side_from.saturating_sub(keep_from);
    }

    /// Remembers `go1.` strings and module-info blocks (pointer format).
    fn side_scan(&mut self) {
        let w = &self.window;
        let mut i = self.side_from;
        // Only look where the next 32 bytes are present; the rest waits for more.
        let limit = w.len().saturating_sub(32);
        while i < limit {
            if let Some((start, mut buf)) = self.open_modinfo.take() {
                match find(w, &MODINFO_END, i) {
                    Some(e) => {
                        buf.extend_from_slice(w.get(i..e).unwrap_or_default());
                        if buf_ok(&buf) && self.modinfos.len() < MAX_MODINFO_CANDIDATES {
                            self.modinfos.push((start, buf));
                        }
                        i = e + 16;
                    }
                    None => {
                        buf.extend_from_slice(w.get(i..limit).unwrap_or_default());
                        if buf.len() <= MAX_MODINFO {
                            self.open_modinfo = Some((start, buf));
                        }
                        i = limit;
                    }
                }
                continue;
            }
            let Some(&b) = w.get(i) else { break };
            if b == b'g' && w.get(i..i + 4) == Some(b"go1.") {
                if self.versions.len() < MAX_VERSION_CANDIDATES {
                    let s = w.get(i..i + 32).unwrap_or_default().to_vec();
                    self.versions.push((self.base + i as u64, s));
                }
            } else if b == MODINFO_START[0] && w.get(i..i + 16) == Some(&MODINFO_START[..]) {
                self.open_modinfo = Some((self.base + i as u64, Vec::new()));
                i += 16;
                continue;
            }
            i += 1;
        }
        self.side_from = i;
    }

    /// Reads string headers as they stream past; resolves when both are known.
    fn serve_wants(&mut self) -> Option<BuildInfo> {
        let (ptr_size, big) = self.pointer?;
        let end = self.base + self.window.len() as u64;
        let mut remaining = Vec::new();
        for w in std::mem::take(&mut self.wants) {
            let need = 2 * ptr_size as u64;
            if w.offset < self.base {
                continue; // behind us: cannot be read any more
            }
            if w.offset + need > end {
                remaining.push(w);
                continue;
            }
            let at = usize::try_from(w.offset - self.base).unwrap_or(usize::MAX);
            let data = elf::uint(&self.window, at, ptr_size, big);
            let len = elf::uint(&self.window, at.saturating_add(ptr_size), ptr_size, big);
            if let (Some(d), Some(l)) = (data, len) {
                let off = elf::vaddr_to_offset(&self.segments, d);
                if let Some(off) = off {
                    if w.version {
                        self.found_version = Some((off, l));
                    } else {
                        self.found_modinfo = Some((off, l));
                    }
                }
            }
        }
        self.wants = remaining;
        if !self.wants.is_empty() {
            return None;
        }
        self.done = true;
        self.resolve_pointers()
    }

    fn resolve_pointers(&self) -> Option<BuildInfo> {
        let (voff, vlen) = self.found_version?;
        let v = self.versions.iter().find(|(o, _)| *o == voff)?;
        let vlen = usize::try_from(vlen).ok()?;
        let version = v.1.get(..vlen)?;
        if !plausible_version(version) {
            return None;
        }
        // The modinfo string starts with the start sentinel: our block starts there too.
        let modinfo = match self.found_modinfo {
            Some((moff, _)) => self
                .modinfos
                .iter()
                .find(|(o, _)| *o == moff)
                .map(|(_, m)| String::from_utf8_lossy(m).into_owned())
                .unwrap_or_default(),
            None => String::new(),
        };
        Some(BuildInfo {
            go_version: String::from_utf8_lossy(version).into_owned(),
            modinfo,
        })
    }

    /// Call at end of stream: resolves what can be resolved.
    pub fn finish(&mut self) -> Option<BuildInfo> {
        if self.done || self.pointer.is_none() {
            return None;
        }
        // Strings whose headers lay within the last bytes.
        let r = self.serve_wants();
        if r.is_some() {
            return r;
        }
        self.done = true;
        self.resolve_pointers()
    }
}

fn buf_ok(b: &[u8]) -> bool {
    b.len() <= MAX_MODINFO && b.last() == Some(&b'\n')
}

#[cfg(test)]
#[path = "buildinfo_tests.rs"]
mod tests;
