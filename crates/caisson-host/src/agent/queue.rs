//! The agent's on-disk report queue: one file per report, named by its
//! sequence number (`00000001733500000000.json`), sent oldest first. The
//! runtime sensor queues its alert batches in one too (`caisson sensor run
//! --server`); "report" below is either.
//!
//! A report is written to a temporary file, synced and renamed into place
//! (then the directory is synced), so a crash or power loss leaves either
//! the whole report or none of it. The queue is bounded by a number of
//! files and a number of bytes: going past either drops the oldest reports
//! (each report is a full snapshot of the host, so the newest state is
//! always kept) and counts the drops. The sequence number is persisted in
//! `seq` beside the reports and never goes backwards, even when the clock
//! does.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::HostError;

/// Default bound: reports kept while the server is unreachable.
pub const DEFAULT_MAX_REPORTS: usize = 1000;
/// Default bound: bytes kept while the server is unreachable.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// The queue directory and its bounds.
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
    max_reports: usize,
    max_bytes: u64,
}

/// What [`Queue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    pub seq: i64,
    /// Oldest reports dropped to stay within the bounds.
    pub dropped: usize,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> HostError + 'a {
    move |source| HostError::Queue {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn file_name(seq: i64) -> String {
    format!("{seq:020}.json")
}

fn seq_of(name: &str) -> Option<i64> {
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn sync_dir(dir: &Path) {
    // Best effort: some filesystems refuse to sync a directory handle.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` to `path` atomically (temporary file, sync, rename).
fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io("create a temporary file in", dir))?;
    tmp.write_all(bytes).map_err(io("write", tmp.path()))?;
    tmp.as_file().sync_all().map_err(io("sync", path))?;
    tmp.persist(path).map_err(|e| HostError::Queue {
        op: "rename into",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(dir);
    Ok(())
}

impl Queue {
    /// Opens (creating) the queue in `dir`; removes temporary files a crash
    /// left behind.
    pub fn open(dir: &Path, max_reports: usize, max_bytes: u64) -> Result<Queue, HostError> {
        fs_err::create_dir_all(dir).map_err(io("create", dir))?;
        for e in fs_err::read_dir(dir).map_err(io("list", dir))?.flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = fs_err::remove_file(e.path());
            }
        }
        Ok(Queue {
            dir: dir.to_path_buf(),
            max_reports: max_reports.max(1),
            max_bytes: max_bytes.max(1),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The next sequence number: above every one handed out before (the
    /// last is persisted in `seq`), and at least `now_ms`.
    pub fn next_seq(&self, now_ms: i64) -> Result<i64, HostError> {
        let path = self.dir.join("seq");
        let last = fs_err::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        let newest_file = self.list()?.last().map_or(0, |(s, _)| *s);
        let seq = now_ms.max(last.max(newest_file).saturating_add(1));
        write_atomic(&self.dir, &path, seq.to_string().as_bytes())?;
        Ok(seq)
    }

    /// Queued reports, oldest first, with their sizes.
    pub fn list(&self) -> Result<Vec<(i64, u64)>, HostError> {
        let mut out = Vec::new();
        for e in fs_err::read_dir(&self.dir)
            .map_err(io("list", &self.dir))?
            .flatten()
        {
            if let Some(seq) = seq_of(&e.file_name().to_string_lossy()) {
                out.push((seq, e.metadata().map(|m| m.len()).unwrap_or(0)));
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Queues `body` as report `seq`, then drops the oldest reports while
    /// the queue is over its bounds (never the one just queued).
    pub fn push(&self, seq: i64, body: &[u8]) -> Result<Pushed, HostError> {
        let path = self.dir.join(file_name(seq));
        write_atomic(&self.dir, &path, body)?;
        let mut queued = self.list()?;
        let mut total: u64 = queued.iter().map(|(_, n)| *n).sum();
        let mut dropped = 0;
        while queued.len() > 1 && (queued.len() > self.max_reports || total > self.max_bytes) {
            let (old, size) = queued.remove(0);
            self.remove(old)?;
            total = total.saturating_sub(size);
            dropped += 1;
        }
        Ok(Pushed { seq, dropped })
    }

    /// The oldest queued report and its body.
    pub fn oldest(&self) -> Result<Option<(i64, Vec<u8>)>, HostError> {
        for (seq, _) in self.list()? {
            let path = self.dir.join(file_name(seq));
            match fs_err::read(&path) {
                Ok(b) => return Ok(Some((seq, b))),
                // Dropped by a concurrent push: take the next one.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("read", &path)(e)),
            }
        }
        Ok(None)
    }

    /// Removes report `seq` (sent, or dropped).
    pub fn remove(&self, seq: i64) -> Result<(), HostError> {
        let path = self.dir.join(file_name(seq));
        match fs_err::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &path)(e)),
        }
    }

    /// Moves report `seq`, which the server refused as invalid, to
    /// `rejected/` (keeping the newest 20) so it stops blocking the queue.
    pub fn reject(&self, seq: i64) -> Result<PathBuf, HostError> {
        let dir = self.dir.join("rejected");
        fs_err::create_dir_all(&dir).map_err(io("create", &dir))?;
        let from = self.dir.join(file_name(seq));
        let to = dir.join(file_name(seq));
        fs_err::rename(&from, &to).map_err(io("move", &from))?;
        let mut kept: Vec<PathBuf> = fs_err::read_dir(&dir)
            .map_err(io("list", &dir))?
            .flatten()
            .map(|e| e.path())
            .collect();
        kept.sort();
        let excess = kept.len().saturating_sub(20);
        for p in kept.into_iter().take(excess) {
            let _ = fs_err::remove_file(p);
        }
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_come_out_oldest_first_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path(), 10, 1 << 20).expect("open");
        let a = q.next_seq(100).expect("seq");
        let b = q.next_seq(50).expect("seq");
        assert!(b > a, "the sequence never goes backwards with the clock");
        q.push(b, b"second").expect("push");
        q.push(a, b"first").expect("push");
        // A crash mid-write leaves a temporary file; reopening removes it.
        fs_err::write(dir.path().join(".tmp-crash"), b"partial").expect("tmp");
        let q = Queue::open(dir.path(), 10, 1 << 20).expect("reopen");
        assert!(!dir.path().join(".tmp-crash").exists());
        assert!(
            q.next_seq(0).expect("seq") > b,
            "seq persisted across opens"
        );
        let (seq, body) = q.oldest().expect("read").expect("queued");
        assert_eq!((seq, body.as_slice()), (a, &b"first"[..]));
        q.remove(a).expect("remove");
        let (seq, _) = q.oldest().expect("read").expect("queued");
        assert_eq!(seq, b);
        q.remove(b).expect("remove");
        assert!(q.oldest().expect("read").is_none());
    }

    #[test]
    fn past_the_bounds_the_oldest_are_dropped_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path(), 3, 1 << 20).expect("open");
        let mut dropped = 0;
        for i in 1..=5 {
            dropped += q.push(i, b"r").expect("push").dropped;
        }
        assert_eq!(dropped, 2);
        let seqs: Vec<i64> = q
            .list()
            .expect("list")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        // The byte bound: each report is 10 bytes, 25 allowed → 2 kept.
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path(), 100, 25).expect("open");
        for i in 1..=4 {
            q.push(i, &[b'x'; 10]).expect("push");
        }
        let seqs: Vec<i64> = q
            .list()
            .expect("list")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(seqs, vec![3, 4]);
        // A single report over the byte bound is still kept (never the newest).
        q.push(9, &[b'y'; 100]).expect("push");
        let seqs: Vec<i64> = q
            .list()
            .expect("list")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(seqs, vec![9]);
    }

    #[test]
    fn rejected_reports_leave_the_queue() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = Queue::open(dir.path(), 10, 1 << 20).expect("open");
        q.push(1, b"bad").expect("push");
        let to = q.reject(1).expect("reject");
        assert!(to.exists());
        assert!(q.oldest().expect("read").is_none());
    }
}
