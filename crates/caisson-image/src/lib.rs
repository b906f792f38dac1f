//! Reading container images.
//!
//! An image is opened from a [`Source`] into an [`OpenedImage`]: its config and
//! an ordered list of layers, each readable as a stream. [`scan`] then walks
//! every layer once (in parallel, streaming, never extracting to disk), keeps
//! only the files an [`Interest`] asks for, applies OCI whiteouts and opaque
//! directories, and returns a [`Squashed`] view: a small virtual filesystem
//! with symlinks resolved inside the image root, plus per-layer snapshots so a
//! caller can tell which layer introduced something.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
#![cfg_attr(
    test,
    allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod archive;
mod dirsrc;
mod error;
mod layer;
mod layout;
mod limits;
mod path;
mod share;
mod source;
mod vfs;

pub use error::ImageError;
pub use layer::{Compression, LayerScan};
pub use limits::Limits;
pub use path::normalize;
pub use share::MAX_SHARED_FILE_BYTES;
pub use source::{LayerSource, OpenedImage, Source};
pub use vfs::{Squashed, Vfs, VfsError, VfsFile};

use caisson_model::Warning;

/// Decides which files are captured while walking layers.
pub trait Interest: Sync {
    /// `path` is normalised and absolute (`/var/lib/dpkg/status`). Return the
    /// largest size to capture for that file, or `None` to skip it.
    fn wants(&self, path: &str) -> Option<u64>;

    /// For a file not captured by [`Interest::wants`]: an extractor that reads
    /// the file's stream and keeps a small derived result instead (a Go
    /// binary's build info, a jar's Maven metadata). `mode` is the Unix mode.
    fn extractor(&self, _path: &str, _mode: u32, _size: u64) -> Option<&dyn Extractor> {
        None
    }
}

/// Reads one file's contents while the layer streams past and returns the
/// small part worth keeping. The result is stored in the view under the
/// file's path (whiteouts apply as to any file) and marked with [`Extractor::name`].
pub trait Extractor: Sync {
    /// Stable name, e.g. `go-buildinfo`.
    fn name(&self) -> &'static str;
    /// `Ok(None)` when the file is not of the expected kind. Must bound its
    /// own memory; `size` is the file's declared size.
    fn extract(
        &self,
        path: &str,
        reader: &mut dyn std::io::Read,
        size: u64,
    ) -> std::io::Result<Option<Vec<u8>>>;

    /// [`Extractor::extract`] told which layer (zero-based) the file is in.
    /// Extractors that report per-layer facts (the secret scanner: a secret
    /// deleted by a later layer is still in the image) override this one; the
    /// walker always calls it.
    fn extract_in_layer(
        &self,
        _layer: usize,
        path: &str,
        reader: &mut dyn std::io::Read,
        size: u64,
    ) -> std::io::Result<Option<Vec<u8>>> {
        self.extract(path, reader, size)
    }

    /// The most bytes of `path` (declared `size`) this extractor reads:
    /// `Some(0)` when it reads none (it only marks the file, or the file is
    /// over its own limit), `None` (the default) when it may read all of it.
    /// A walk serving several interests ([`scan_many`]) buffers a file shared
    /// by several readers only up to the largest such limit; an extractor must
    /// not read more than it declares.
    fn read_limit(&self, _path: &str, _size: u64) -> Option<u64> {
        None
    }
}

impl<F: Fn(&str) -> Option<u64> + Sync> Interest for F {
    fn wants(&self, path: &str) -> Option<u64> {
        self(path)
    }
}

/// Walks layers given as in-memory byte strings (tests and fuzzing).
pub fn scan_bytes(
    layers: &[&[u8]],
    interest: &dyn Interest,
    limits: &Limits,
) -> Result<Squashed, ImageError> {
    let mut out = scan_bytes_many(layers, &[interest], limits)?;
    Ok(out.pop().unwrap_or_default())
}

/// [`scan_bytes`] for several interests in one pass ([`scan_many`]).
pub fn scan_bytes_many(
    layers: &[&[u8]],
    interests: &[&dyn Interest],
    limits: &Limits,
) -> Result<Vec<Squashed>, ImageError> {
    let mut per_layer = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        per_layer.push(layer::scan_stream_many(i, "", *l, interests, limits)?);
    }
    squash_each(per_layer, interests.len(), limits)
}

/// Walks every layer of `image` and squashes the captured files.
pub fn scan(
    image: &OpenedImage,
    interest: &dyn Interest,
    limits: &Limits,
) -> Result<Squashed, ImageError> {
    let mut out = scan_many(image, &[interest], limits)?;
    Ok(out.pop().unwrap_or_default())
}

/// Walks every layer of `image` once (layers in parallel) for several
/// interests and squashes each one's files into its own view: `out[i]` is
/// what [`scan`] with `interests[i]` alone returns, but each layer is
/// decompressed and each file's bytes read from it once, shared by the
/// interests that want them (see [`Extractor::read_limit`]).
pub fn scan_many(
    image: &OpenedImage,
    interests: &[&dyn Interest],
    limits: &Limits,
) -> Result<Vec<Squashed>, ImageError> {
    use rayon::prelude::*;
    let scans: Vec<Result<Vec<LayerScan>, ImageError>> = image
        .layers
        .par_iter()
        .enumerate()
        .map(|(i, l)| layer::scan_layer_many(i, l, interests, limits))
        .collect();
    let mut per_layer = Vec::with_capacity(scans.len());
    for s in scans {
        per_layer.push(s?);
    }
    squash_each(per_layer, interests.len(), limits)
}

/// `per_layer[l][i]`: layer `l` as interest `i` saw it; squashes each
/// interest's layers into its view, layer warnings first.
fn squash_each(
    per_layer: Vec<Vec<LayerScan>>,
    interests: usize,
    limits: &Limits,
) -> Result<Vec<Squashed>, ImageError> {
    let mut by_interest: Vec<Vec<LayerScan>> = (0..interests)
        .map(|_| Vec::with_capacity(per_layer.len()))
        .collect();
    for layer in per_layer {
        for (dst, s) in by_interest.iter_mut().zip(layer) {
            dst.push(s);
        }
    }
    by_interest
        .into_iter()
        .map(|mut scans| {
            let mut warnings: Vec<Warning> = Vec::new();
            for s in &mut scans {
                warnings.append(&mut s.warnings);
            }
            let mut squashed = vfs::squash(scans, limits)?;
            squashed.warnings.splice(0..0, warnings);
            Ok(squashed)
        })
        .collect()
}
