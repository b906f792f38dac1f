//! Cosign-compatible image signing, pure (no network, no files).
//!
//! - [`keys`]: ECDSA P-256 / P-384 and RSA keys: generation, loading from PEM
//!   (cosign's encrypted envelope, PKCS#8, SEC1, PKCS#1, PKIX), signing and
//!   verification. Key material never appears in `Debug` output or errors.
//! - [`envelope`]: cosign's encrypted private key (the go-securesystemslib
//!   "encrypted" JSON: scrypt + NaCl secretbox) under the PEM type
//!   `ENCRYPTED SIGSTORE PRIVATE KEY` (or the older `ENCRYPTED COSIGN PRIVATE KEY`).
//! - [`payload`]: the simple-signing payload that names the signed digest.
//! - [`cosign`]: the signature manifest stored at tag `sha256-<hex>.sig`.
//! - [`bundle`]: Sigstore bundle v0.3 (`messageSignature`) and its OCI 1.1
//!   referrer manifest.
//! - [`verify`]: the decision: signatures fetched by the caller, keys and the
//!   expected digest in, verified payloads or the reasons for rejection out.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

pub mod bundle;
pub mod cosign;
pub mod envelope;
mod error;
pub mod keys;
pub mod payload;
pub mod verify;

pub use error::{KeyError, ParseError, Rejection, VerifyError};
pub use keys::{PublicKey, RsaPadding, SigningKey};
