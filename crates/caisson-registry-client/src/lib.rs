//! An OCI Distribution client for pulling images.
//!
//! - [`Client::resolve`]: a reference to its manifest or index bytes, digest-verified.
//! - [`select_platform`]: the manifest for a platform in an index.
//! - [`Client::fetch_blob`] / [`Client::fetch_blob_cached`]: blobs streamed to disk,
//!   size-capped and digest-verified before they are renamed into place.
//! - [`Client::pull_image`]: all of the above into a content-addressed [`BlobCache`].
//! - [`Client::push_blob`], [`Client::put_manifest`], [`Client::list_tags`],
//!   [`Client::fetch_blob_bytes`]: what signing needs to store and read back.
//! - [`Client::referrers`] / [`Client::push_referrer`]: OCI 1.1 referrers, with
//!   the `sha256-<hex>` tag schema when the registry has no referrers API.
//! - [`signatures::verify_image`]: an image's cosign signatures (tag and
//!   referrers) fetched and verified.
//!
//! HTTPS always, except for registries named in
//! [`ClientOptions::insecure_registries`]. Authentication follows the
//! registry's `WWW-Authenticate` challenge: the Docker token flow for `Bearer`,
//! credentials directly for `Basic`. Credentials come from the auth files
//! listed in [`auth::default_auth_files`] and Docker credential helpers; they
//! never appear in logs, errors or `Debug` output.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

pub mod auth;
mod blob;
pub mod caisson_api;
mod client;
pub mod env;
mod error;
mod manifest;
mod pull;
mod push;
mod referrers;
pub mod signatures;

pub use blob::BlobCache;
pub use client::{Client, ClientOptions};
pub use error::{RegistryError, RemoteDetail, Target};
pub use manifest::{select_platform, ResolvedManifest, MANIFEST_ACCEPT};
pub use pull::{PulledImage, MAX_CONFIG_BYTES};
pub use push::PushedManifest;
pub use referrers::{referrers_tag, Referrers, ReferrersSource};
