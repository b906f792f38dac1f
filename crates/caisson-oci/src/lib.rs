//! OCI image-spec and distribution-spec types, pure and I/O free.
//!
//! - [`Digest`]: `algorithm:hex`, validated; sha256 and sha512 verified with [`Digest::verify`].
//! - [`Manifest`], [`Index`], [`ImageConfig`], [`Descriptor`]: the JSON documents, decoded
//!   leniently for both OCI and Docker schema2 media types.
//! - [`Reference`]: `host/repo:tag@digest` parsing with Docker's normalisation rules.
//! - [`Platform`]: `os/arch[/variant]` parsing and matching.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
#![cfg_attr(
    test,
    allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod digest;
mod manifest;
mod platform;
mod reference;

pub use digest::{Digest, DigestAlgorithm, DigestError, Hasher};
pub use manifest::{
    media_type, parse_manifest_document, Descriptor, ImageConfig, Index, Manifest,
    ManifestDocument, ManifestError, RootFs, MAX_MANIFEST_BYTES,
};
pub use platform::{Platform, PlatformError};
pub use reference::{Reference, ReferenceError};
