//! One regular file of a layer offered to several [`Interest`]s: its bytes are
//! read from the layer stream once and shared.
//!
//! Each interest either captures the file (up to its cap), hands it to an
//! extractor, or ignores it. When at most one of them reads bytes, that one
//! reads the entry's stream directly (no copy, as a single-interest walk
//! does). When several do, the walker reads the prefix the bounded readers
//! need (a capture's whole file, an extractor's [`Extractor::read_limit`])
//! into one buffer and serves each reader from it; an extractor without a
//! limit reads that buffer followed by the rest of the stream. So a file is
//! held in memory only up to the largest bounded reader's limit, and one file
//! at a time per layer worker.

use std::io::{self, Read};
use std::sync::Arc;

use caisson_model::Warning;

use crate::layer::{capture, Change, LayerScan};
use crate::{Extractor, Interest, Limits};

/// Largest file read whole so that two extractors without a read limit (from
/// two interests) can both see it; above it only the first one gets the file.
pub const MAX_SHARED_FILE_BYTES: u64 = 64 << 20;

/// What one interest does with one file.
#[derive(Clone, Copy)]
pub(crate) enum Action<'a> {
    Capture(u64),
    Extract(&'a dyn Extractor),
}

impl Action<'_> {
    /// Bytes this action reads of a `size`-byte file: `Some(n)` at most `n`
    /// (0: none), `None` all of it whatever its size.
    fn reads(&self, path: &str, size: u64) -> Option<u64> {
        match self {
            Action::Capture(cap) => Some(if size <= *cap { size } else { 0 }),
            Action::Extract(ex) => ex.read_limit(path, size).map(|l| l.min(size)),
        }
    }
}

/// The interests' choices for one file (`None`: not wanted).
pub(crate) fn actions<'a>(
    interests: &[&'a dyn Interest],
    path: &str,
    mode: u32,
    size: u64,
) -> Vec<Option<Action<'a>>> {
    interests
        .iter()
        .map(|i| match i.wants(path) {
            Some(cap) => Some(Action::Capture(cap)),
            None => i.extractor(path, mode, size).map(Action::Extract),
        })
        .collect()
}

/// Per-interest running total of captured bytes in one layer.
pub(crate) struct Captured(pub Vec<u64>);

fn warn(code: &str, message: String) -> Warning {
    Warning {
        code: code.to_string(),
        message,
    }
}

/// Runs every interest's action on one regular file whose contents `entry`
/// streams, recording the results in the matching `scans[i]`.
pub(crate) fn dispatch(
    entry: &mut dyn Read,
    path: &str,
    size: u64,
    actions: &[Option<Action<'_>>],
    scans: &mut [LayerScan],
    captured: &mut Captured,
    limits: &Limits,
) -> io::Result<()> {
    let readers: Vec<(usize, Option<u64>)> = actions
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.map(|a| (i, a.reads(path, size))))
        .filter(|(_, r)| *r != Some(0))
        .collect();
    if readers.len() <= 1 {
        // Nobody else needs the bytes: the one reader streams the entry.
        let only = readers.first().map(|(i, _)| *i);
        for (i, a) in actions.iter().enumerate() {
            let Some(a) = a else { continue };
            if Some(i) == only {
                run(*a, entry, path, size, i, scans, captured, limits)?;
            } else {
                run(*a, &mut io::empty(), path, size, i, scans, captured, limits)?;
            }
        }
        return Ok(());
    }
    let unbounded: Vec<usize> = readers
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(i, _)| *i)
        .collect();
    let mut prefix = readers.iter().filter_map(|(_, r)| *r).max().unwrap_or(0);
    if unbounded.len() > 1 && size <= MAX_SHARED_FILE_BYTES {
        prefix = size;
    }
    let mut buf = Vec::with_capacity(usize::try_from(prefix.min(1 << 20)).unwrap_or(0));
    entry.take(prefix).read_to_end(&mut buf)?;
    let whole = buf.len() as u64 >= size;
    let first_unbounded = unbounded.first().copied();
    for (i, a) in actions.iter().enumerate() {
        let Some(a) = a else { continue };
        match a.reads(path, size) {
            Some(n) => {
                let end = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
                let mut part = buf.get(..end).unwrap_or_default();
                run(*a, &mut part, path, size, i, scans, captured, limits)?;
            }
            None if whole => {
                run(
                    *a,
                    &mut buf.as_slice(),
                    path,
                    size,
                    i,
                    scans,
                    captured,
                    limits,
                )?;
            }
            None if Some(i) == first_unbounded => {
                let mut rest = buf.as_slice().chain(&mut *entry);
                run(*a, &mut rest, path, size, i, scans, captured, limits)?;
            }
            None => {
                let name = match a {
                    Action::Extract(ex) => ex.name(),
                    Action::Capture(_) => "capture",
                };
                if let Some(scan) = scans.get_mut(i) {
                    let layer = scan.index;
                    scan.warnings.push(warn(
                        "extractor-skipped",
                        format!("layer {layer}: {name} did not read {path}: another extractor read its {size} bytes (over {MAX_SHARED_FILE_BYTES} bytes are not shared)"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// One action on one file, its result recorded in `scans[i]`.
#[allow(clippy::too_many_arguments)]
fn run(
    action: Action<'_>,
    reader: &mut dyn Read,
    path: &str,
    size: u64,
    i: usize,
    scans: &mut [LayerScan],
    captured: &mut Captured,
    limits: &Limits,
) -> io::Result<()> {
    let Some(scan) = scans.get_mut(i) else {
        return Ok(());
    };
    match action {
        Action::Extract(ex) => match ex.extract_in_layer(scan.index, path, reader, size) {
            Ok(Some(d)) => scan.changes.push(Change::File {
                path: path.to_string(),
                data: Arc::from(d),
                by: Some(ex.name()),
            }),
            Ok(None) => {}
            // The layer stream itself failing must stop the walk;
            // a file the extractor cannot make sense of is a warning.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                scan.warnings.push(warn(
                    "extractor-failed",
                    format!(
                        "layer {}: {} could not read {path}: {e}",
                        scan.index,
                        ex.name()
                    ),
                ));
            }
            Err(e) => return Err(e),
        },
        Action::Capture(cap) => match capture(reader, size, cap)? {
            Some(d) => {
                let total = captured.0.get_mut(i).map_or(0, |c| {
                    *c += d.len() as u64;
                    *c
                });
                if total > limits.max_captured_bytes {
                    return Err(io::Error::other(format!(
                        "captured files exceed {} bytes",
                        limits.max_captured_bytes
                    )));
                }
                scan.changes.push(Change::File {
                    path: path.to_string(),
                    data: d,
                    by: None,
                });
            }
            None => {
                scan.warnings.push(warn(
                    "file-too-large",
                    format!("layer {}: skipped {path}: {size} bytes is over the {cap}-byte limit for this file", scan.index),
                ));
                scan.changes.push(Change::Replaced(path.to_string()));
            }
        },
    }
    Ok(())
}
