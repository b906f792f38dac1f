//! Finding and verifying an image's cosign signatures over the network: the
//! `sha256-<hex>.sig` tag and the OCI referrers carrying Sigstore bundles,
//! fetched with a [`Client`] and decided by [`caisson_sign::verify`]. Used by
//! `caisson verify` and by the admission webhook's signature facts.

use std::collections::BTreeMap;

use caisson_oci::{Digest, Reference};
use caisson_sign::verify::{Candidate, Expected, Verified};
use caisson_sign::{bundle, cosign, payload, PublicKey, VerifyError};

use crate::{Client, RegistryError, ResolvedManifest};

/// What to require of a signature besides a trusted key.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// Payloads must name the image's `registry/repository` (cosign's default).
    pub check_reference: bool,
    /// `optional` annotations every accepted payload must carry.
    pub annotations: BTreeMap<String, String>,
}

/// The outcome for one image.
#[derive(Debug)]
pub struct ImageVerification {
    /// The manifest the reference resolved to.
    pub image: ResolvedManifest,
    /// The accepted signatures, or why there are none.
    pub result: Result<Vec<Verified>, VerifyError>,
    /// Set when the referrers could not be listed (only the tag was searched).
    pub referrers_error: Option<String>,
}

/// Resolves `reference`, fetches its signatures and verifies them with `keys`.
/// `Err` only for I/O: the image or its signature tag could not be read.
pub fn verify_image(
    client: &Client,
    reference: &Reference,
    keys: &[PublicKey],
    requirements: &Requirements,
) -> Result<ImageVerification, RegistryError> {
    let image = client.resolve(reference)?;
    verify_resolved(client, reference, image, keys, requirements)
}

/// [`verify_image`] for a manifest already resolved (and perhaps cached).
pub fn verify_resolved(
    client: &Client,
    reference: &Reference,
    image: ResolvedManifest,
    keys: &[PublicKey],
    requirements: &Requirements,
) -> Result<ImageVerification, RegistryError> {
    let digest = image.digest.clone();
    let mut candidates = tag_candidates(client, reference, &digest)?;
    let referrers_error = match referrer_candidates(client, reference, &digest) {
        Ok(c) => {
            candidates.extend(c);
            None
        }
        Err(e) => Some(e.to_string()),
    };
    let name = reference.name();
    let expected = Expected {
        digest: &digest,
        manifest: &image.bytes,
        reference: requirements.check_reference.then_some(name.as_str()),
        annotations: &requirements.annotations,
    };
    let looked = format!(
        "tag {} and the referrers of {digest}",
        cosign::signature_tag(&digest)
    );
    let result = caisson_sign::verify::verify(keys, &expected, candidates, &looked);
    Ok(ImageVerification {
        image,
        result,
        referrers_error,
    })
}

fn tag_candidates(
    client: &Client,
    reference: &Reference,
    digest: &Digest,
) -> Result<Vec<Candidate>, RegistryError> {
    let (reg, repo) = (reference.registry.as_str(), reference.repository.as_str());
    let tag = cosign::signature_tag(digest);
    let manifest = match client.fetch_manifest(reg, repo, &tag, None) {
        Ok(m) => m,
        Err(RegistryError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let layers = match cosign::parse_signature_manifest(&manifest.bytes) {
        Ok(l) => l,
        Err(e) => {
            return Ok(vec![Candidate::malformed_signature_manifest(
                &tag,
                e.to_string(),
            )])
        }
    };
    let limit = u64::try_from(payload::MAX_PAYLOAD_BYTES).unwrap_or(u64::MAX);
    Ok(layers
        .into_iter()
        .enumerate()
        .map(|(i, layer)| {
            let payload = client
                .fetch_blob_bytes(reg, repo, &layer.payload, limit)
                .map_err(|e| format!("cannot fetch the payload: {e}"));
            Candidate::SimpleSigning {
                source: format!("tag {tag} layer {i}"),
                layer: Box::new(layer),
                payload,
            }
        })
        .collect())
}

fn referrer_candidates(
    client: &Client,
    reference: &Reference,
    digest: &Digest,
) -> Result<Vec<Candidate>, RegistryError> {
    let (reg, repo) = (reference.registry.as_str(), reference.repository.as_str());
    let refs = client.referrers(reg, repo, digest, Some(bundle::BUNDLE_MEDIA_TYPE))?;
    let limit = u64::try_from(bundle::MAX_BUNDLE_BYTES).unwrap_or(u64::MAX);
    let mut out = Vec::new();
    for d in refs.manifests {
        let source = format!("referrer {}", d.digest);
        let m = match client.fetch_manifest(reg, repo, &d.digest.to_string(), Some(&d.digest)) {
            Ok(m) => m,
            Err(e) => {
                out.push(Candidate::Bundle {
                    source,
                    bytes: Err(e.to_string()),
                });
                continue;
            }
        };
        match bundle::bundle_layers(&m.bytes, digest) {
            Ok(layers) => out.extend(layers.into_iter().map(|l| {
                Candidate::Bundle {
                    source: source.clone(),
                    bytes: client
                        .fetch_blob_bytes(reg, repo, &l, limit)
                        .map_err(|e| format!("cannot fetch the bundle: {e}")),
                }
            })),
            Err(e) => out.push(Candidate::Bundle {
                source,
                bytes: Err(e.to_string()),
            }),
        }
    }
    Ok(out)
}
