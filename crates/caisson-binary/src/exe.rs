//! The extractor for executables: one pass over the stream looks for Go build
//! info (streamed, nothing buffered but a small window) and, for ELF files
//! that are not Go, keeps a bounded copy to read the `cargo auditable`
//! section from the section table at the end of the file.

use std::io::{self, Read};

use caisson_image::Extractor;
use serde::{Deserialize, Serialize};

use crate::elf;
use crate::go::buildinfo::{BuildInfo, Scanner};
use crate::rust::{self, Crate};
use crate::spool::Spool;

/// Largest executable looked at.
pub const MAX_EXE: u64 = 1 << 30;
/// Smallest executable looked at (an ELF header is 52 bytes).
pub const MIN_EXE: u64 = 52;
pub const NAME: &str = "executable-deps";
const HEAD: usize = 4096;
const CHUNK: usize = 256 << 10;

/// What the extractor keeps for one executable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Extracted {
    Go(BuildInfo),
    Rust { crates: Vec<Crate> },
}

/// Executable formats worth reading.
fn is_binary(head: &[u8]) -> bool {
    elf::is_elf(head)
        || matches!(
            head.get(..4),
            Some(
                [0xfe, 0xed, 0xfa, 0xce | 0xcf]
                    | [0xce | 0xcf, 0xfa, 0xed, 0xfe]
                    | [0xca, 0xfe, 0xba, 0xbe]
                    | [b'M', b'Z', _, _]
            )
        )
}

/// Go's linker writes a `Go` ELF note (the build ID) into the first page.
fn looks_like_go(head: &[u8]) -> bool {
    head.windows(8)
        .any(|w| w == b"Go\0\0\x04\0\0\0" || w == b"\x04\0\0\0Go\0\0")
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads one executable's stream. Pure over its input (tests and fuzzing call it).
pub fn extract_exe(reader: &mut dyn Read, spool_cap: u64) -> io::Result<Option<Extracted>> {
    let mut head = vec![0u8; HEAD];
    let n = read_full(reader, &mut head)?;
    head.truncate(n);
    if !is_binary(&head) {
        return Ok(None);
    }
    let mut scanner = Scanner::new(&head);
    let mut spool = (elf::is_elf(&head) && !looks_like_go(&head)).then(|| Spool::new(spool_cap));
    let mut chunk = head;
    let mut buf = vec![0u8; CHUNK];
    loop {
        if let Some(info) = scanner.feed(&chunk) {
            return Ok(Some(Extracted::Go(info)));
        }
        if let Some(s) = &mut spool {
            if s.push(&chunk).is_err() {
                spool = None; // too large to keep: Go info may still be found
            }
        }
        let n = read_full(reader, &mut buf)?;
        if n == 0 {
            break;
        }
        chunk.clear();
        chunk.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    if let Some(info) = scanner.finish() {
        return Ok(Some(Extracted::Go(info)));
    }
    let Some(s) = spool else { return Ok(None) };
    let len = s.len();
    let mut r = s.finish()?;
    Ok(rust::read_auditable(&mut r, len)?.map(|crates| Extracted::Rust { crates }))
}

/// The [`Extractor`] for executables.
pub struct ExeExtractor;

impl Extractor for ExeExtractor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn extract(
        &self,
        _path: &str,
        reader: &mut dyn Read,
        size: u64,
    ) -> io::Result<Option<Vec<u8>>> {
        if size > MAX_EXE {
            return Ok(None);
        }
        match extract_exe(reader, MAX_EXE)? {
            Some(x) => serde_json::to_vec(&x).map(Some).map_err(io::Error::other),
            None => Ok(None),
        }
    }
}

/// Whether the executable extractor should see this file.
pub fn offered(mode: u32, size: u64) -> bool {
    mode & 0o111 != 0 && (MIN_EXE..=MAX_EXE).contains(&size)
}

/// Parses what [`ExeExtractor`] stored.
pub fn decode(data: &[u8]) -> Option<Extracted> {
    serde_json::from_slice(data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_binary_is_skipped() {
        assert_eq!(
            extract_exe(&mut &b"#!/bin/sh\necho hi\n"[..], 1 << 20).unwrap(),
            None
        );
        assert_eq!(extract_exe(&mut &b""[..], 1 << 20).unwrap(), None);
    }

    #[test]
    fn truncated_elf_is_an_error_or_nothing() {
        let elf = crate::elf::tests::build_elf(&[(".dep-v0", b"x")]);
        for cut in [4, 20, 64, 80, elf.len() - 3] {
            let r = extract_exe(&mut &elf[..cut], 1 << 20);
            assert!(matches!(r, Ok(None) | Err(_)), "{cut}: {r:?}");
        }
    }

    #[test]
    fn spool_cap_turns_rust_reading_off_but_not_go() {
        let elf = crate::elf::tests::build_elf(&[(".dep-v0", b"x")]);
        // Cap smaller than the file: the section cannot be read, no error.
        assert_eq!(extract_exe(&mut &elf[..], 16).unwrap(), None);
    }
}
