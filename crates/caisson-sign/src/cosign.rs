//! The signature manifest cosign stores at tag `sha256-<hex>.sig` in the
//! image's repository: an OCI image manifest whose layers are simple-signing
//! payloads (`application/vnd.dev.cosign.simplesigning.v1+json`), each with
//! its base64 signature in the annotation `dev.cosignproject.cosign/signature`.
//! Signing again appends a layer; the config is the image config of those
//! layers, as go-containerregistry writes it for cosign.

use std::collections::BTreeMap;

use base64::Engine as _;
use caisson_oci::{media_type, Descriptor, Digest, Manifest, MAX_MANIFEST_BYTES};
use serde::Serialize;

use crate::error::ParseError;

pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Signature annotations longer than this (base64 characters) are refused:
/// a 4096-bit RSA signature is 684 characters.
pub const MAX_SIGNATURE_B64: usize = 16 * 1024;
/// Layers read from one signature manifest.
pub const MAX_SIGNATURE_LAYERS: usize = 256;

/// `sha256-<hex>.sig`: the tag of `digest`'s signatures.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm().name(), digest.hex())
}

/// One signature in a signature manifest: the payload's descriptor (fetch
/// the blob by it) and the signature, still base64 as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    pub payload: Descriptor,
    pub signature_b64: String,
}

impl SignatureLayer {
    /// The signature bytes; a malformed annotation is a reason to reject.
    pub fn signature(&self) -> Result<Vec<u8>, String> {
        base64::engine::general_purpose::STANDARD
            .decode(self.signature_b64.trim().as_bytes())
            .map_err(|e| format!("the {SIGNATURE_ANNOTATION} annotation is not base64: {e}"))
    }
}

/// Reads the signature layers of a signature manifest. Layers of other media
/// types are skipped; a simple-signing layer without a signature annotation
/// is an error (the manifest is not in cosign's layout).
pub fn parse_signature_manifest(bytes: &[u8]) -> Result<Vec<SignatureLayer>, ParseError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ParseError::TooLarge {
            what: "signature manifest",
            size: bytes.len(),
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let m: Manifest = serde_json::from_slice(bytes).map_err(|source| ParseError::Json {
        what: "signature manifest",
        source,
    })?;
    let invalid = |reason: String| ParseError::Invalid {
        what: "signature manifest",
        reason,
    };
    if m.layers.len() > MAX_SIGNATURE_LAYERS {
        return Err(invalid(format!(
            "{} layers, over the limit of {MAX_SIGNATURE_LAYERS}",
            m.layers.len()
        )));
    }
    let mut out = Vec::new();
    for (i, layer) in m.layers.into_iter().enumerate() {
        if layer.media_type != SIMPLESIGNING_MEDIA_TYPE {
            continue;
        }
        let sig = layer
            .annotations
            .get(SIGNATURE_ANNOTATION)
            .cloned()
            .ok_or_else(|| {
                invalid(format!(
                    "layer {i} ({}) has no {SIGNATURE_ANNOTATION} annotation",
                    layer.digest
                ))
            })?;
        if sig.len() > MAX_SIGNATURE_B64 {
            return Err(invalid(format!(
                "layer {i} signature annotation is {} characters, over {MAX_SIGNATURE_B64}",
                sig.len()
            )));
        }
        out.push(SignatureLayer {
            payload: layer,
            signature_b64: sig,
        });
    }
    Ok(out)
}

/// A signature manifest and its config blob, ready to push (config first).
#[derive(Debug, Clone)]
pub struct BuiltManifest {
    pub manifest: Vec<u8>,
    pub media_type: &'static str,
    pub config: Vec<u8>,
    pub config_digest: Digest,
}

#[derive(Serialize)]
struct SigConfig<'a> {
    architecture: &'a str,
    config: BTreeMap<String, String>,
    created: &'a str,
    history: Vec<BTreeMap<&'a str, &'a str>>,
    os: &'a str,
    rootfs: RootFs,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

const EPOCH: &str = "0001-01-01T00:00:00Z";

/// The layer descriptor for a payload with its signature.
pub fn signature_layer(payload: &[u8], signature: &[u8]) -> SignatureLayer {
    let mut annotations = BTreeMap::new();
    let b64 = base64::engine::general_purpose::STANDARD.encode(signature);
    annotations.insert(SIGNATURE_ANNOTATION.to_string(), b64.clone());
    SignatureLayer {
        payload: Descriptor {
            media_type: SIMPLESIGNING_MEDIA_TYPE.to_string(),
            digest: Digest::sha256(payload),
            size: u64::try_from(payload.len()).unwrap_or(u64::MAX),
            platform: None,
            annotations,
            artifact_type: None,
            urls: Vec::new(),
        },
        signature_b64: b64,
    }
}

/// The signature manifest holding `existing` layers (from the manifest
/// already at the tag, if any) plus `new`, unless an identical layer (same
/// payload and signature) is already there.
pub fn build_signature_manifest(
    existing: Option<&[u8]>,
    new: &SignatureLayer,
) -> Result<BuiltManifest, ParseError> {
    let mut layers: Vec<Descriptor> = match existing {
        Some(bytes) => {
            let m: Manifest = serde_json::from_slice(bytes).map_err(|source| ParseError::Json {
                what: "existing signature manifest",
                source,
            })?;
            m.layers
        }
        None => Vec::new(),
    };
    if !layers.iter().any(|l| l == &new.payload) {
        layers.push(new.payload.clone());
    }
    let config = SigConfig {
        architecture: "",
        config: BTreeMap::new(),
        created: EPOCH,
        history: layers
            .iter()
            .map(|_| BTreeMap::from([("created", EPOCH)]))
            .collect(),
        os: "",
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.digest.to_string()).collect(),
        },
    };
    let json = |what: &'static str| move |source| ParseError::Json { what, source };
    let config = serde_json::to_vec(&config).map_err(json("signature config"))?;
    let config_digest = Digest::sha256(&config);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: Descriptor {
            media_type: media_type::OCI_CONFIG.to_string(),
            digest: config_digest.clone(),
            size: u64::try_from(config.len()).unwrap_or(u64::MAX),
            platform: None,
            annotations: BTreeMap::new(),
            artifact_type: None,
            urls: Vec::new(),
        },
        layers,
        subject: None,
        annotations: BTreeMap::new(),
    };
    Ok(BuiltManifest {
        manifest: serde_json::to_vec(&manifest).map_err(json("signature manifest"))?,
        media_type: media_type::OCI_MANIFEST,
        config,
        config_digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_layout() {
        let d = Digest::sha256(b"img");
        assert_eq!(signature_tag(&d), format!("sha256-{}.sig", d.hex()));
    }

    #[test]
    fn build_appends_dedupes_and_parses_back() {
        let a = signature_layer(b"payload-a", b"sig-a");
        let b = signature_layer(b"payload-b", b"sig-b");
        let first = build_signature_manifest(None, &a).expect("build");
        let second = build_signature_manifest(Some(&first.manifest), &b).expect("append");
        let again = build_signature_manifest(Some(&second.manifest), &b).expect("dedupe");
        assert_eq!(again.manifest, second.manifest);
        let layers = parse_signature_manifest(&second.manifest).expect("parse");
        assert_eq!(layers, vec![a, b]);
        assert_eq!(layers[1].signature().expect("b64"), b"sig-b");
        let cfg: serde_json::Value = serde_json::from_slice(&second.config).expect("config");
        assert_eq!(cfg["rootfs"]["diff_ids"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn layer_without_signature_is_malformed() {
        let mut l = signature_layer(b"p", b"s");
        l.payload.annotations.clear();
        let m = build_signature_manifest(None, &l).expect("build");
        let err = parse_signature_manifest(&m.manifest).expect_err("no annotation");
        assert!(err.to_string().contains(SIGNATURE_ANNOTATION), "{err}");
    }
}
