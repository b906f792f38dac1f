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
mod source;
mod vfs;

pub use error::ImageError;
pub use layer::{Compression, LayerScan};
pub use limits::Limits;
pub use path::normalize;
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
    let mut scans = Vec::with_capacity(layers.len());
    let mut warnings = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let mut s = layer::scan_stream(i, "", *l, interest, limits)?;
        warnings.append(&mut s.warnings);
        scans.push(s);
    }
    let mut squashed = vfs::squash(scans, limits)?;
    squashed.warnings.splice(0..0, warnings);
    Ok(squashed)
}

/// Walks every layer of `image` and squashes the captured files.
pub fn scan(
    image: &OpenedImage,
    interest: &dyn Interest,
    limits: &Limits,
) -> Result<Squashed, ImageError> {
    use rayon::prelude::*;
    let scans: Vec<Result<LayerScan, ImageError>> = image
        .layers
        .par_iter()
        .enumerate()
        .map(|(i, l)| layer::scan_layer(i, l, interest, limits))
        .collect();
    let mut ok = Vec::with_capacity(scans.len());
    for s in scans {
        ok.push(s?);
    }
    let mut warnings: Vec<Warning> = Vec::new();
    for s in &mut ok {
        warnings.append(&mut s.warnings);
    }
    let mut squashed = vfs::squash(ok, limits)?;
    squashed.warnings.splice(0..0, warnings);
    Ok(squashed)
}
