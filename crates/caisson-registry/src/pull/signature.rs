//! Verifying an image's cosign signatures from the registry's own storage:
//! the `sha256-<hex>.sig` tag of the image's repository and the Sigstore
//! bundles among its referrers, decided by [`caisson_sign::verify`] with
//! the namespace's trusted keys (the same decision `caisson verify` makes
//! over the network).

use std::collections::BTreeMap;

use caisson_oci::Digest;
use caisson_policy::SignatureVerdict;
use caisson_registry_store::{BlobStore, MetaStore, StoreError};
use caisson_sign::verify::{Candidate, Expected};
use caisson_sign::{bundle, cosign, payload, PublicKey};

use crate::Registry;

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// The verdict for `repo@digest`: verified by a signature over the
    /// digest itself or over an index in `repo` that lists it (a signed
    /// multi-platform image covers its platforms).
    pub(crate) async fn signature_verdict(
        &self,
        repo: &str,
        digest: &Digest,
        keys: &[PublicKey],
    ) -> Result<SignatureVerdict, StoreError> {
        let own = self.verify_stored(repo, digest, keys).await?;
        if own.verified {
            return Ok(own);
        }
        for parent in self.meta.manifest_parents(repo, digest).await? {
            let v = self.verify_stored(repo, &parent, keys).await?;
            if v.verified {
                return Ok(SignatureVerdict {
                    reason: Some(format!("signed as part of index {parent}")),
                    ..v
                });
            }
        }
        Ok(own)
    }

    async fn verify_stored(
        &self,
        repo: &str,
        digest: &Digest,
        keys: &[PublicKey],
    ) -> Result<SignatureVerdict, StoreError> {
        let manifest_limit = self.config.max_manifest_bytes as u64;
        let Some(manifest) = self.blobs.read_small(digest, manifest_limit).await? else {
            return Ok(rejected(format!("manifest {digest} is not stored")));
        };
        let mut candidates = self.tag_candidates(repo, digest).await?;
        candidates.extend(self.bundle_candidates(repo, digest).await?);
        let annotations = BTreeMap::new();
        let expected = Expected {
            digest,
            manifest: &manifest,
            reference: None,
            annotations: &annotations,
        };
        let looked = format!(
            "tag {} and the referrers of {digest} in {repo}",
            cosign::signature_tag(digest)
        );
        Ok(
            match caisson_sign::verify::verify(keys, &expected, candidates, &looked) {
                Ok(verified) => SignatureVerdict {
                    verified: true,
                    key: verified.first().map(|v| v.key.clone()),
                    reason: None,
                },
                Err(e) => rejected(e.to_string()),
            },
        )
    }

    async fn tag_candidates(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Vec<Candidate>, StoreError> {
        let tag = cosign::signature_tag(digest);
        let Some(sig) = self.meta.resolve_tag(repo, &tag).await? else {
            return Ok(Vec::new());
        };
        let limit = self.config.max_manifest_bytes as u64;
        let Some(bytes) = self.blobs.read_small(&sig, limit).await? else {
            return Ok(vec![Candidate::malformed_signature_manifest(
                &tag,
                format!("the signature manifest {sig} is not stored"),
            )]);
        };
        let layers = match cosign::parse_signature_manifest(&bytes) {
            Ok(l) => l,
            Err(e) => {
                return Ok(vec![Candidate::malformed_signature_manifest(
                    &tag,
                    e.to_string(),
                )])
            }
        };
        let limit = u64::try_from(payload::MAX_PAYLOAD_BYTES).unwrap_or(u64::MAX);
        let mut out = Vec::with_capacity(layers.len());
        for (i, layer) in layers.into_iter().enumerate() {
            let payload = match self.blobs.read_small(&layer.payload.digest, limit).await {
                Ok(Some(b)) => Ok(b.to_vec()),
                Ok(None) => Err(format!(
                    "payload blob {} is not stored",
                    layer.payload.digest
                )),
                Err(e) => Err(format!("cannot read the payload: {e}")),
            };
            out.push(Candidate::SimpleSigning {
                source: format!("tag {tag} layer {i}"),
                layer: Box::new(layer),
                payload,
            });
        }
        Ok(out)
    }

    async fn bundle_candidates(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Vec<Candidate>, StoreError> {
        let manifest_limit = self.config.max_manifest_bytes as u64;
        let bundle_limit = u64::try_from(bundle::MAX_BUNDLE_BYTES).unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for r in self.meta.referrers(repo, digest).await? {
            if r.artifact_type.as_deref() != Some(bundle::BUNDLE_MEDIA_TYPE) {
                continue;
            }
            let source = format!("referrer {}", r.digest);
            let layers = match self.blobs.read_small(&r.digest, manifest_limit).await? {
                Some(m) => bundle::bundle_layers(&m, digest).map_err(|e| e.to_string()),
                None => Err(format!("referrer manifest {} is not stored", r.digest)),
            };
            match layers {
                Ok(layers) => {
                    for l in layers {
                        let bytes = match self.blobs.read_small(&l.digest, bundle_limit).await {
                            Ok(Some(b)) => Ok(b.to_vec()),
                            Ok(None) => Err(format!("bundle blob {} is not stored", l.digest)),
                            Err(e) => Err(format!("cannot read the bundle: {e}")),
                        };
                        out.push(Candidate::Bundle {
                            source: source.clone(),
                            bytes,
                        });
                    }
                }
                Err(reason) => out.push(Candidate::Bundle {
                    source,
                    bytes: Err(reason),
                }),
            }
        }
        Ok(out)
    }
}

fn rejected(reason: String) -> SignatureVerdict {
    SignatureVerdict {
        verified: false,
        key: None,
        reason: Some(reason),
    }
}
