//! The verification decision, without I/O: the caller fetched the image
//! manifest, the signature payloads and bundles; this decides which of them
//! are valid for the image and says why the others are not.

use std::collections::BTreeMap;

use caisson_oci::Digest;
use serde::Serialize;

use crate::bundle::{self, describe_failures};
use crate::cosign::SignatureLayer;
use crate::error::{Rejection, VerifyError};
use crate::keys::PublicKey;
use crate::payload;

/// What the signatures must name.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The image manifest digest, and its bytes (bundles sign the manifest).
    pub digest: &'a Digest,
    pub manifest: &'a [u8],
    /// `registry/repository` the payload must name, when checked.
    pub reference: Option<&'a str>,
    /// `optional` entries every accepted payload must carry.
    pub annotations: &'a BTreeMap<String, String>,
}

/// One signature as fetched.
#[derive(Debug, Clone)]
pub enum Candidate {
    /// A layer of the `sha256-<hex>.sig` manifest with its payload blob
    /// (`Err` with the reason when the blob could not be fetched).
    SimpleSigning {
        source: String,
        layer: Box<SignatureLayer>,
        payload: Result<Vec<u8>, String>,
    },
    /// A Sigstore bundle found through the referrers API or tag.
    Bundle {
        source: String,
        bytes: Result<Vec<u8>, String>,
    },
}

impl Candidate {
    /// A `sha256-<hex>.sig` manifest that is not in cosign's layout: one
    /// rejected candidate carrying the reason (not an I/O error).
    pub fn malformed_signature_manifest(tag: &str, reason: String) -> Candidate {
        Candidate::SimpleSigning {
            source: format!("tag {tag}"),
            layer: Box::new(crate::cosign::signature_layer(b"", b"")),
            payload: Err(reason),
        }
    }
}

/// An accepted signature.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// Where it was found (`tag sha256-….sig layer 0`, `referrer sha256:…`).
    pub source: String,
    /// `simple-signing` or `sigstore-bundle`.
    pub kind: &'static str,
    /// Fingerprint of the key that verified it.
    pub key: String,
    /// The simple-signing payload (for bundles: the bundle).
    pub payload: serde_json::Value,
}

/// Verifies every candidate; `Ok` holds the accepted ones (at least one),
/// `Err` says there were none or why each was rejected.
pub fn verify(
    keys: &[PublicKey],
    expected: &Expected<'_>,
    candidates: Vec<Candidate>,
    looked: &str,
) -> Result<Vec<Verified>, VerifyError> {
    if candidates.is_empty() {
        return Err(VerifyError::NoSignatures {
            digest: expected.digest.clone(),
            looked: looked.to_string(),
        });
    }
    let mut ok = Vec::new();
    let mut rejections = Vec::new();
    for c in candidates {
        let (source, result) = match c {
            Candidate::SimpleSigning {
                source,
                layer,
                payload,
            } => {
                let r = check_simple(keys, expected, &layer, payload);
                (source, r.map(|(k, v)| ("simple-signing", k, v)))
            }
            Candidate::Bundle { source, bytes } => {
                let r = check_bundle(keys, expected, bytes);
                (source, r.map(|(k, v)| ("sigstore-bundle", k, v)))
            }
        };
        match result {
            Ok((kind, key, payload)) => ok.push(Verified {
                source,
                kind,
                key: keys
                    .get(key)
                    .map(PublicKey::fingerprint)
                    .unwrap_or_default(),
                payload,
            }),
            Err(r) => rejections.push((source, r)),
        }
    }
    if ok.is_empty() {
        return Err(VerifyError::NoValidSignature {
            digest: expected.digest.clone(),
            rejections,
        });
    }
    Ok(ok)
}

/// Signature first (over the exact payload bytes), then the claims.
fn check_simple(
    keys: &[PublicKey],
    expected: &Expected<'_>,
    layer: &SignatureLayer,
    payload: Result<Vec<u8>, String>,
) -> Result<(usize, serde_json::Value), Rejection> {
    let bytes = payload.map_err(Rejection::Malformed)?;
    let sig = layer.signature().map_err(Rejection::Malformed)?;
    if sig.is_empty() {
        return Err(Rejection::BadSignature(
            "the signature is empty".to_string(),
        ));
    }
    let mut reasons = Vec::new();
    let mut which = None;
    for (i, k) in keys.iter().enumerate() {
        match k.verify(&bytes, &sig) {
            Ok(()) => {
                which = Some(i);
                break;
            }
            Err(r) => reasons.push(r),
        }
    }
    let Some(key) = which else {
        return Err(Rejection::BadSignature(describe_failures(
            keys.len(),
            &reasons,
        )));
    };
    let parsed = payload::parse(&bytes).map_err(|e| Rejection::Malformed(e.to_string()))?;
    parsed.check(expected.digest, expected.reference, expected.annotations)?;
    let value = serde_json::to_value(&parsed).map_err(|e| Rejection::Malformed(e.to_string()))?;
    Ok((key, value))
}

fn check_bundle(
    keys: &[PublicKey],
    expected: &Expected<'_>,
    bytes: Result<Vec<u8>, String>,
) -> Result<(usize, serde_json::Value), Rejection> {
    let bytes = bytes.map_err(Rejection::Malformed)?;
    let b = bundle::parse(&bytes).map_err(|e| Rejection::Malformed(e.to_string()))?;
    let key = b.verify(expected.manifest, expected.digest, keys)?;
    // Bundles sign the manifest only: they carry no annotations to satisfy.
    payload::check_annotations(None, expected.annotations)?;
    let value = serde_json::to_value(&b).map_err(|e| Rejection::Malformed(e.to_string()))?;
    Ok((key, value))
}
