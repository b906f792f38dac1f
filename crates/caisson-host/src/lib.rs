//! Host posture, first part: one Docker Engine API client (Docker and
//! Podman's compatible service, through `bollard`) and the inventory of a
//! host's containers mapped to the vulnerabilities of their images.
//!
//! - [`engine`]: endpoint resolution (`--docker-host`, `DOCKER_HOST`,
//!   `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`, default Docker and Podman
//!   sockets), API version negotiation, and the blocking [`Engine`] whose
//!   calls return bollard's model types (`connect`, `info`, `version`,
//!   `containers`, `inspect`, `image_inspect`, `top`, `export_image`,
//!   `events`).
//! - [`spool`]: the bounded spool image exports stream into.
//! - [`inventory`]: the inventory flow (fetch from the engine, then pure
//!   assembly in [`inventory::model`]), the SBOM cache by image id and the
//!   Caisson registry lookup for `--registry`.
//! - [`render`]: table, inventory JSON, SARIF and CycloneDX reports.
//!
//! Engine answers and image exports are untrusted input: no panics, no
//! unchecked indexing, bounded spooling.
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
#![cfg_attr(
    test,
    allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

pub mod engine;
pub mod error;
pub mod inventory;
pub mod render;
pub mod spool;

pub use bollard;
pub use engine::{connect, Endpoint, Engine, EngineKind};
pub use error::HostError;
