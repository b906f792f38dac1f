//! Errors. None carries key material, passwords or derived keys.

use caisson_oci::Digest;

/// Loading, decrypting, generating or using a key failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key {name}: no PEM block found (expected a PEM-armoured key)")]
    NotPem { name: String },
    #[error("key {name}: PEM block {label:?} is malformed: {reason}")]
    BadPem {
        name: String,
        label: String,
        reason: String,
    },
    #[error("key {name}: unsupported PEM type {label:?}; expected {expected}")]
    UnsupportedPemType {
        name: String,
        label: String,
        expected: &'static str,
    },
    #[error("key {name}: the {format} structure is malformed: {reason}")]
    Malformed {
        name: String,
        format: &'static str,
        reason: String,
    },
    #[error("key {name}: unsupported key algorithm: {what} (supported: ECDSA P-256, ECDSA P-384, RSA 2048-4096)")]
    UnsupportedAlgorithm { name: String, what: String },
    #[error("key {name}: the encrypted key envelope is malformed: {reason}")]
    Envelope { name: String, reason: String },
    #[error("key {name}: decryption failed: wrong password or corrupted key file")]
    Decrypt { name: String },
    #[error("key {name}: the key is encrypted but no password was given (set COSIGN_PASSWORD)")]
    NeedPassword { name: String },
    #[error("key {name}: openssl-encrypted PKCS#8 (\"ENCRYPTED PRIVATE KEY\") is not supported; convert with `openssl pkcs8 -in KEY -out PLAIN -nocrypt` or `caisson key generate`")]
    Pkcs8Encrypted { name: String },
    #[error("{operation}: {reason}")]
    Crypto {
        operation: &'static str,
        reason: String,
    },
}

/// A signature document (payload, signature manifest, bundle) could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("{what} is not valid JSON of the expected shape")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: {reason}")]
    Invalid { what: &'static str, reason: String },
}

/// Why one signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("digest mismatch: the payload names {found}, the image is {expected}")]
    DigestMismatch { expected: Digest, found: String },
    #[error("wrong reference: the payload names {found:?}, expected {expected:?}")]
    WrongReference { expected: String, found: String },
    #[error("annotation {key:?}: required {expected:?}, the payload has {}", found.as_deref().map_or_else(|| "none".to_string(), |f| format!("{f:?}")))]
    Annotation {
        key: String,
        expected: String,
        found: Option<String>,
    },
    #[error("malformed signature: {0}")]
    Malformed(String),
}

/// Verification found no acceptable signature.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("no signatures found for {digest} (looked in {looked})")]
    NoSignatures { digest: Digest, looked: String },
    #[error("no valid signature for {digest}: {}", summarize(.rejections))]
    NoValidSignature {
        digest: Digest,
        /// (where the signature came from, why it was rejected)
        rejections: Vec<(String, Rejection)>,
    },
}

fn summarize(rejections: &[(String, Rejection)]) -> String {
    rejections
        .iter()
        .map(|(source, r)| format!("{source}: {r}"))
        .collect::<Vec<_>>()
        .join("; ")
}
