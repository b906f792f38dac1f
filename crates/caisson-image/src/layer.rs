//! Streaming one layer: detect compression, walk the tar, keep what is asked for.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

use caisson_model::Warning;

use crate::source::LayerSource;
use crate::{normalize, ImageError, Interest, Limits};

/// Compression of a layer stream, detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// What one layer contributes to the squashed view, in tar order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `.wh.<name>`: hides `path` (and everything under it) in lower layers.
    Whiteout(String),
    /// `.wh..wh..opq`: hides lower-layer contents of directory `path`.
    Opaque(String),
    /// A symlink; `target` is stored as written.
    Symlink { path: String, target: String },
    /// A hard link to another entry of the same layer.
    Hardlink { path: String, target: String },
    /// A captured regular file, or an extractor's result for it (`by`).
    File {
        path: String,
        data: Arc<[u8]>,
        by: Option<&'static str>,
    },
    /// An entry at a captured path that is not kept (too large, or not a
    /// regular file): it still replaces whatever lower layers had there.
    Replaced(String),
}

/// The result of walking one layer.
#[derive(Debug, Default)]
pub struct LayerScan {
    pub index: usize,
    pub diff_id: String,
    pub changes: Vec<Change>,
    pub entries: u64,
    pub uncompressed_bytes: u64,
    pub warnings: Vec<Warning>,
}

/// Which limit a stream hit, carried inside an `io::Error`.
#[derive(Debug)]
enum Hit {
    Size,
    Ratio,
}

impl std::fmt::Display for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for Hit {}

/// Counts bytes read from the compressed side.
struct Counting<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Enforces the uncompressed-size and compression-ratio limits.
struct Bounded<R> {
    inner: R,
    read: u64,
    compressed: Arc<std::sync::atomic::AtomicU64>,
    limits: Limits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limits.max_layer_bytes {
            return Err(io::Error::other(Hit::Size));
        }
        if self.read > self.limits.ratio_grace_bytes {
            let c = self
                .compressed
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(1);
            if self.read / c > self.limits.max_compression_ratio {
                return Err(io::Error::other(Hit::Ratio));
            }
        }
        Ok(n)
    }
}

fn warn(code: &str, message: String) -> Warning {
    Warning {
        code: code.to_string(),
        message,
    }
}

/// Walks one layer once for several interests; `out[i]` is what
/// `interests[i]` keeps. A root-filesystem source (nothing to decompress) is
/// walked once per interest.
pub fn scan_layer_many(
    index: usize,
    layer: &LayerSource,
    interests: &[&dyn Interest],
    limits: &Limits,
) -> Result<Vec<LayerScan>, ImageError> {
    match layer {
        LayerSource::Dir { path } => interests
            .iter()
            .map(|i| crate::dirsrc::scan_dir(path, *i, limits))
            .collect(),
        LayerSource::Blob {
            path,
            offset,
            size,
            diff_id,
        } => {
            let mut f = fs_err::File::open(path)
                .map_err(|e| ImageError::io(path, "cannot open layer", e))?;
            f.seek(SeekFrom::Start(*offset))
                .map_err(|e| ImageError::io(path, "cannot seek to layer", e))?;
            scan_stream_many(index, diff_id, f.take(*size), interests, limits).map_err(
                |e| match e {
                    ImageError::Io { source, what, .. } => ImageError::io(path, what, source),
                    other => other,
                },
            )
        }
    }
}

/// Walks one layer given as a stream of (possibly compressed) tar bytes,
/// once for several interests; `out[i]` is what `interests[i]` keeps.
pub fn scan_stream_many<R: Read>(
    index: usize,
    diff_id: &str,
    reader: R,
    interests: &[&dyn Interest],
    limits: &Limits,
) -> Result<Vec<LayerScan>, ImageError> {
    let compressed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = Counting {
        inner: reader,
        count: compressed.clone(),
    };
    let mut buffered = BufReader::with_capacity(256 << 10, counted);
    let head = buffered
        .fill_buf()
        .map_err(|e| ImageError::io(diff_id, "cannot read layer", e))?;
    let compression = Compression::sniff(head);
    let decoded: Box<dyn Read> = match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| ImageError::io(diff_id, "cannot start zstd decoder", e))?,
        ),
    };
    let bounded = Bounded {
        inner: decoded,
        read: 0,
        compressed,
        limits: limits.clone(),
    };
    let mut scans: Vec<LayerScan> = interests
        .iter()
        .map(|_| LayerScan {
            index,
            diff_id: diff_id.to_string(),
            ..LayerScan::default()
        })
        .collect();
    walk_tar(
        BufReader::with_capacity(256 << 10, bounded),
        &mut scans,
        interests,
        limits,
    )
    .map_err(|e| layer_error(index, diff_id, compression, e, limits))?;
    Ok(scans)
}

fn layer_error(
    index: usize,
    diff_id: &str,
    c: Compression,
    e: io::Error,
    limits: &Limits,
) -> ImageError {
    if let Some(hit) = e.get_ref().and_then(|r| r.downcast_ref::<Hit>()) {
        return match hit {
            Hit::Size => ImageError::LimitExceeded {
                index,
                diff_id: diff_id.to_string(),
                what: "uncompressed size (bytes)",
                limit: limits.max_layer_bytes,
                hint: "--max-layer-size",
            },
            Hit::Ratio => ImageError::LimitExceeded {
                index,
                diff_id: diff_id.to_string(),
                what: "compression ratio (possible decompression bomb)",
                limit: limits.max_compression_ratio,
                hint: "--max-compression-ratio",
            },
        };
    }
    let kind = match c {
        Compression::Gzip => "gzip stream is truncated or corrupt",
        Compression::Zstd => "zstd stream is truncated or corrupt",
        Compression::None => "tar stream is truncated or corrupt",
    };
    ImageError::Layer {
        index,
        diff_id: diff_id.to_string(),
        reason: format!("{kind}: {e}"),
    }
}

/// Reads a captured file's contents, refusing more than `cap` bytes.
pub(crate) fn capture(r: &mut dyn Read, size: u64, cap: u64) -> io::Result<Option<Arc<[u8]>>> {
    if size > cap {
        return Ok(None);
    }
    let mut buf = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
    r.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Ok(None);
    }
    Ok(Some(Arc::from(buf)))
}

/// Records a change or warning every interest sees (the tar structure:
/// whiteouts, links, skipped paths), as a walk for each alone would.
fn push_all(scans: &mut [LayerScan], c: Change) {
    if let Some((last, rest)) = scans.split_last_mut() {
        for s in rest {
            s.changes.push(c.clone());
        }
        last.changes.push(c);
    }
}

fn warn_all(scans: &mut [LayerScan], code: &str, message: String) {
    for s in scans {
        s.warnings.push(warn(code, message.clone()));
    }
}

fn walk_tar<R: Read>(
    reader: R,
    scans: &mut [LayerScan],
    interests: &[&dyn Interest],
    limits: &Limits,
) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut captured = crate::share::Captured(vec![0; scans.len()]);
    let mut entries: u64 = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        entries += 1;
        for s in scans.iter_mut() {
            s.entries = entries;
        }
        if entries > limits.max_entries_per_layer {
            return Err(io::Error::other(format!(
                "more than {} entries in one layer",
                limits.max_entries_per_layer
            )));
        }
        let index = scans.first().map_or(0, |s| s.index);
        let raw = entry.path_bytes();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let Some(path) = normalize(&raw) else {
            warn_all(
                scans,
                "tar-path-escapes-root",
                format!("layer {index}: skipped entry {raw:?}: its path climbs above the root"),
            );
            continue;
        };
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (if d.is_empty() { "/" } else { d }, b),
            None => ("/", path.as_str()),
        };
        if let Some(hidden) = base.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                push_all(scans, Change::Opaque(dir.to_string()));
            } else if !hidden.is_empty() {
                let p = if dir == "/" {
                    format!("/{hidden}")
                } else {
                    format!("{dir}/{hidden}")
                };
                push_all(scans, Change::Whiteout(p));
            }
            continue;
        }
        let ty = entry.header().entry_type();
        match ty {
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                push_all(scans, Change::Symlink { path, target });
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                match normalize(&target) {
                    Some(t) => push_all(scans, Change::Hardlink { path, target: t }),
                    None => warn_all(
                        scans,
                        "tar-path-escapes-root",
                        format!("layer {index}: skipped hard link {path} → {target:?}: target climbs above the root"),
                    ),
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let size = entry.size();
                let mode = entry.header().mode().unwrap_or(0);
                let actions = crate::share::actions(interests, &path, mode, size);
                if actions.iter().all(Option::is_none) {
                    continue;
                }
                crate::share::dispatch(
                    &mut entry,
                    &path,
                    size,
                    &actions,
                    scans,
                    &mut captured,
                    limits,
                )?;
            }
            _ => {
                for (s, i) in scans.iter_mut().zip(interests) {
                    if i.wants(&path).is_some() {
                        s.changes.push(Change::Replaced(path.clone()));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_compression() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"usr/"), Compression::None);
        assert_eq!(Compression::sniff(&[]), Compression::None);
    }
}
