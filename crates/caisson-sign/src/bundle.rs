//! Sigstore bundle v0.3 with a `messageSignature` over the image manifest,
//! and the OCI 1.1 referrer manifest that carries it.
//!
//! ```json
//! {"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",
//!  "verificationMaterial":{"publicKey":{"hint":"<base64 SHA-256 of the PKIX key>"}},
//!  "messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"<base64>"},
//!                      "signature":"<base64>"}}
//! ```
//!
//! The signed message is the image manifest itself, so `messageDigest` is the
//! image digest and `cosign verify-blob --bundle … --key …` over the manifest
//! bytes checks it too. Key-signed bundles carry no transparency-log entry.

use std::collections::BTreeMap;

use base64::Engine as _;
use caisson_oci::{media_type, Descriptor, Digest, DigestAlgorithm, Manifest, MAX_MANIFEST_BYTES};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ParseError, Rejection};
use crate::keys::{PublicKey, SigningKey};
use crate::KeyError;

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_BLOB: &[u8] = b"{}";
/// Annotation cosign puts on bundle referrers.
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
pub const MAX_BUNDLE_BYTES: usize = 1024 * 1024;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<MessageSignature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyHint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tlog_entries: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyHint {
    #[serde(default)]
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<HashOutput>,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashOutput {
    pub algorithm: String,
    pub digest: String,
}

/// The public key hint: base64 of the SHA-256 of the PKIX DER.
pub fn key_hint(key: &PublicKey) -> Result<String, KeyError> {
    Ok(B64.encode(Sha256::digest(key.to_spki_der()?)))
}

/// Signs the image manifest `manifest` and wraps the signature in a bundle.
pub fn sign_manifest(key: &SigningKey, manifest: &[u8]) -> Result<Vec<u8>, KeyError> {
    let signature = key.sign(manifest)?;
    let bundle = Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_string(),
        verification_material: VerificationMaterial {
            public_key: Some(PublicKeyHint {
                hint: key_hint(&key.public_key())?,
            }),
            certificate: None,
            x509_certificate_chain: None,
            tlog_entries: Vec::new(),
            timestamp_verification_data: None,
        },
        message_signature: Some(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: "SHA2_256".to_string(),
                digest: B64.encode(Sha256::digest(manifest)),
            }),
            signature: B64.encode(signature),
        }),
        dsse_envelope: None,
    };
    serde_json::to_vec(&bundle).map_err(|e| KeyError::Crypto {
        operation: "encoding the bundle",
        reason: e.to_string(),
    })
}

pub fn parse(bytes: &[u8]) -> Result<Bundle, ParseError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(ParseError::TooLarge {
            what: "Sigstore bundle",
            size: bytes.len(),
            limit: MAX_BUNDLE_BYTES,
        });
    }
    let b: Bundle = serde_json::from_slice(bytes).map_err(|source| ParseError::Json {
        what: "Sigstore bundle",
        source,
    })?;
    if !b
        .media_type
        .starts_with("application/vnd.dev.sigstore.bundle")
    {
        return Err(ParseError::Invalid {
            what: "Sigstore bundle",
            reason: format!("mediaType {:?} is not a Sigstore bundle", b.media_type),
        });
    }
    Ok(b)
}

impl Bundle {
    /// Checks the bundle against the image manifest bytes it should sign
    /// (`digest` is their digest) with any of `keys`; returns the index of
    /// the key that verified.
    pub fn verify(
        &self,
        manifest: &[u8],
        digest: &Digest,
        keys: &[PublicKey],
    ) -> Result<usize, Rejection> {
        let Some(ms) = &self.message_signature else {
            return Err(Rejection::Malformed(if self.dsse_envelope.is_some() {
                "DSSE bundles (attestations) are not image signatures".to_string()
            } else {
                "bundle has no messageSignature".to_string()
            }));
        };
        if digest.algorithm() != DigestAlgorithm::Sha256 || !digest.verify(manifest) {
            return Err(Rejection::Malformed(format!(
                "the image manifest given does not hash to {digest}"
            )));
        }
        if let Some(md) = &ms.message_digest {
            if md.algorithm != "SHA2_256" {
                return Err(Rejection::Malformed(format!(
                    "messageDigest algorithm {:?} is not supported (SHA2_256 only)",
                    md.algorithm
                )));
            }
            let claimed = B64
                .decode(md.digest.as_bytes())
                .map_err(|e| Rejection::Malformed(format!("messageDigest is not base64: {e}")))?;
            let actual = Sha256::digest(manifest);
            if !bool::from(claimed.as_slice().ct_eq(actual.as_slice())) {
                let hex: String = claimed.iter().map(|b| format!("{b:02x}")).collect();
                return Err(Rejection::DigestMismatch {
                    expected: digest.clone(),
                    found: format!("sha256:{hex}"),
                });
            }
        }
        let sig = B64
            .decode(ms.signature.as_bytes())
            .map_err(|e| Rejection::Malformed(format!("signature is not base64: {e}")))?;
        let mut reasons = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            match k.verify(manifest, &sig) {
                Ok(()) => return Ok(i),
                Err(r) => reasons.push(r),
            }
        }
        Err(Rejection::BadSignature(describe_failures(
            keys.len(),
            &reasons,
        )))
    }
}

pub(crate) fn describe_failures(keys: usize, reasons: &[String]) -> String {
    let mut uniq: Vec<&String> = reasons.iter().collect();
    uniq.dedup();
    format!(
        "does not verify with {} ({})",
        if keys == 1 {
            "the key".to_string()
        } else {
            format!("any of the {keys} keys")
        },
        uniq.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// The referrer manifest carrying a bundle blob for `subject` (the image).
pub fn referrer_manifest(subject: &Descriptor, bundle: &[u8]) -> Result<Vec<u8>, ParseError> {
    let blank = |media: &str, digest: Digest, size: usize| Descriptor {
        media_type: media.to_string(),
        digest,
        size: u64::try_from(size).unwrap_or(u64::MAX),
        platform: None,
        annotations: BTreeMap::new(),
        artifact_type: None,
        urls: Vec::new(),
    };
    let subject = Descriptor {
        platform: None,
        annotations: BTreeMap::new(),
        artifact_type: None,
        urls: Vec::new(),
        ..subject.clone()
    };
    let m = Manifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_string()),
        artifact_type: Some(BUNDLE_MEDIA_TYPE.to_string()),
        config: blank(
            EMPTY_MEDIA_TYPE,
            Digest::sha256(EMPTY_BLOB),
            EMPTY_BLOB.len(),
        ),
        layers: vec![blank(
            BUNDLE_MEDIA_TYPE,
            Digest::sha256(bundle),
            bundle.len(),
        )],
        subject: Some(subject),
        annotations: BTreeMap::from([(
            CONTENT_ANNOTATION.to_string(),
            "message-signature".to_string(),
        )]),
    };
    serde_json::to_vec(&m).map_err(|source| ParseError::Json {
        what: "referrer manifest",
        source,
    })
}

/// The bundle layers of a referrer manifest (for `subject`), to fetch.
pub fn bundle_layers(manifest: &[u8], subject: &Digest) -> Result<Vec<Descriptor>, ParseError> {
    if manifest.len() > MAX_MANIFEST_BYTES {
        return Err(ParseError::TooLarge {
            what: "referrer manifest",
            size: manifest.len(),
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let m: Manifest = serde_json::from_slice(manifest).map_err(|source| ParseError::Json {
        what: "referrer manifest",
        source,
    })?;
    if m.subject.as_ref().map(|s| &s.digest) != Some(subject) {
        return Err(ParseError::Invalid {
            what: "referrer manifest",
            reason: format!("its subject is not {subject}"),
        });
    }
    Ok(m.layers
        .into_iter()
        .filter(|l| {
            l.media_type
                .starts_with("application/vnd.dev.sigstore.bundle")
        })
        .collect())
}
