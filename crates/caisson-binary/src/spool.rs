//! A bounded copy of one file's stream: in memory while small, in an anonymous
//! temp file beyond that, refused beyond a hard cap. Readers that need random
//! access (ELF section headers at the end, a zip's central directory) read it
//! back through [`Spooled`].

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

/// Bytes kept in memory before spilling to a temp file.
pub const MEMORY_BYTES: usize = 64 << 20;

/// Where a spool keeps its bytes.
enum Store {
    Memory(Vec<u8>),
    File(std::fs::File),
}

/// Accumulates bytes up to `cap`.
pub struct Spool {
    store: Store,
    len: u64,
    cap: u64,
    memory: usize,
}

/// Error kind used when a spool would exceed its cap.
pub fn too_large(what: &str, cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} is larger than the {cap}-byte limit"),
    )
}

impl Spool {
    pub fn new(cap: u64) -> Spool {
        Spool::with_memory(cap, MEMORY_BYTES)
    }

    /// A spool that spills to disk after `memory` bytes (tests use a small value).
    pub fn with_memory(cap: u64, memory: usize) -> Spool {
        Spool {
            store: Store::Memory(Vec::new()),
            len: 0,
            cap,
            memory,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `data`; fails with `InvalidData` past the cap.
    pub fn push(&mut self, data: &[u8]) -> io::Result<()> {
        let new_len = self.len.saturating_add(data.len() as u64);
        if new_len > self.cap {
            return Err(too_large("file", self.cap));
        }
        if let Store::Memory(v) = &mut self.store {
            if new_len > self.memory as u64 {
                let mut f = tempfile::tempfile()?;
                f.write_all(v)?;
                self.store = Store::File(f);
            }
        }
        match &mut self.store {
            Store::Memory(v) => v.extend_from_slice(data),
            Store::File(f) => f.write_all(data)?,
        }
        self.len = new_len;
        Ok(())
    }

    /// Copies the rest of `r` in.
    pub fn fill(&mut self, r: &mut dyn Read) -> io::Result<()> {
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.push(buf.get(..n).unwrap_or_default())?;
        }
    }

    /// Random access to what was spooled.
    pub fn finish(self) -> io::Result<Spooled> {
        Ok(match self.store {
            Store::Memory(v) => Spooled::Memory(Cursor::new(v)),
            Store::File(mut f) => {
                f.flush()?;
                f.seek(SeekFrom::Start(0))?;
                Spooled::File(f)
            }
        })
    }
}

/// A finished spool, readable and seekable.
pub enum Spooled {
    Memory(Cursor<Vec<u8>>),
    File(std::fs::File),
}

impl Read for Spooled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Spooled::Memory(c) => c.read(buf),
            Spooled::File(f) => f.read(buf),
        }
    }
}

impl Seek for Spooled {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Spooled::Memory(c) => c.seek(pos),
            Spooled::File(f) => f.seek(pos),
        }
    }
}

/// Reads exactly `len` bytes at `offset` (callers bound `len`).
pub fn read_at<R: Read + Seek>(r: &mut R, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_disk_and_reads_back() {
        let mut s = Spool::with_memory(100, 10);
        s.push(b"0123456789").unwrap();
        s.push(b"abcdef").unwrap();
        assert_eq!(s.len(), 16);
        let mut r = s.finish().unwrap();
        assert!(matches!(r, Spooled::File(_)));
        assert_eq!(read_at(&mut r, 8, 4).unwrap(), b"89ab");
    }

    #[test]
    fn refuses_past_cap() {
        let mut s = Spool::with_memory(8, 4);
        let e = s.fill(&mut &b"0123456789"[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
