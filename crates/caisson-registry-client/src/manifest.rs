//! Manifest resolution (`GET /v2/<repo>/manifests/<ref>`) with digest checks,
//! and platform selection in an index.

use caisson_oci::{
    media_type, parse_manifest_document, Descriptor, Digest, Hasher, Index, ManifestDocument,
    Platform, Reference, MAX_MANIFEST_BYTES,
};

use crate::client::{read_limited, Client};
use crate::error::{RegistryError, Target};

/// The `Accept` header for manifest requests: OCI and Docker schema2,
/// manifests and indexes.
pub const MANIFEST_ACCEPT: &str = concat!(
    "application/vnd.oci.image.index.v1+json, ",
    "application/vnd.oci.image.manifest.v1+json, ",
    "application/vnd.docker.distribution.manifest.list.v2+json, ",
    "application/vnd.docker.distribution.manifest.v2+json"
);

/// A manifest or index as the registry served it, digest-verified.
#[derive(Debug, Clone)]
pub struct ResolvedManifest {
    /// Digest of `bytes` (the algorithm of the requested digest, else sha256).
    pub digest: Digest,
    /// The document's media type (its own `mediaType`, else Content-Type).
    pub media_type: String,
    /// The exact bytes served, which hash to `digest`.
    pub bytes: Vec<u8>,
    pub document: ManifestDocument,
}

fn content_type(resp: &reqwest::blocking::Response) -> Option<String> {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Client {
    /// Resolves a reference to its manifest or index: by digest when the
    /// reference pins one (the bytes must hash to it), else by tag (the bytes
    /// must match `Docker-Content-Digest` when the registry sends it).
    pub fn resolve(&self, reference: &Reference) -> Result<ResolvedManifest, RegistryError> {
        self.fetch_manifest(
            &reference.registry,
            &reference.repository,
            &reference.target(),
            reference.digest.as_ref(),
        )
    }

    /// Fetches `/v2/<repository>/manifests/<tag_or_digest>`. `expected` is the
    /// digest the bytes must hash to, when known.
    pub fn fetch_manifest(
        &self,
        registry: &str,
        repository: &str,
        tag_or_digest: &str,
        expected: Option<&Digest>,
    ) -> Result<ResolvedManifest, RegistryError> {
        let target = Target::new("fetching manifest", tag_or_digest, registry, repository);
        let url = self.api_url(&target, "manifests", tag_or_digest)?;
        let resp = self.get(&target, url, Some(MANIFEST_ACCEPT))?;
        let declared_type = content_type(&resp);
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let limit = u64::try_from(MAX_MANIFEST_BYTES).unwrap_or(u64::MAX);
        let bytes = read_limited(&target, resp, limit)?;
        let digest = verify_manifest_digest(&target, &bytes, expected, header_digest.as_deref())?;
        let document =
            parse_manifest_document(&bytes, declared_type.as_deref()).map_err(|source| {
                RegistryError::Manifest {
                    target: target.clone(),
                    source,
                }
            })?;
        let own = match &document {
            ManifestDocument::Manifest(m) => m.media_type.clone(),
            ManifestDocument::Index(i) => i.media_type.clone(),
        };
        let media_type = own
            .or(declared_type.filter(|t| media_type::is_index(t) || media_type::is_manifest(t)))
            .unwrap_or_else(|| match &document {
                ManifestDocument::Manifest(_) => media_type::OCI_MANIFEST.to_string(),
                ManifestDocument::Index(_) => media_type::OCI_INDEX.to_string(),
            });
        tracing::debug!(%digest, %media_type, size = bytes.len(), "resolved manifest");
        Ok(ResolvedManifest {
            digest,
            media_type,
            bytes,
            document,
        })
    }
}

/// Decides the digest of manifest bytes, checking it against what was asked
/// for (`expected`) or, for a tag, against `Docker-Content-Digest`.
pub(crate) fn verify_manifest_digest(
    target: &Target,
    bytes: &[u8],
    expected: Option<&Digest>,
    header: Option<&str>,
) -> Result<Digest, RegistryError> {
    let hash = |d: &Digest| {
        let mut h = Hasher::new(d.algorithm());
        h.update(bytes);
        h.finish()
    };
    if let Some(want) = expected {
        let got = hash(want);
        if &got != want {
            return Err(RegistryError::DigestMismatch {
                target: target.clone(),
                expected: want.clone(),
                actual: got,
            });
        }
        return Ok(got);
    }
    match header.map(str::parse::<Digest>) {
        Some(Ok(claimed)) => {
            let got = hash(&claimed);
            if got != claimed {
                return Err(RegistryError::DigestMismatch {
                    target: target.clone(),
                    expected: claimed,
                    actual: got,
                });
            }
        }
        Some(Err(e)) => {
            tracing::debug!(error = %e, "ignoring an unparseable Docker-Content-Digest header");
        }
        None => {}
    }
    Ok(Digest::sha256(bytes))
}

/// True for index entries that are not runnable images (attestations,
/// signatures, artifacts).
fn is_image_entry(d: &Descriptor) -> bool {
    let kind_ok = d.media_type.is_empty()
        || media_type::is_manifest(&d.media_type)
        || media_type::is_index(&d.media_type);
    let attestation = d
        .annotations
        .get("vnd.docker.reference.type")
        .is_some_and(|t| t == "attestation-manifest");
    kind_ok && !attestation
}

/// The index entry for `platform`: an exact variant match first, then an
/// entry without variant, then any entry `platform` accepts. Entries without
/// a platform, and attestation manifests, are never chosen.
pub fn select_platform<'a>(index: &'a Index, platform: &Platform) -> Option<&'a Descriptor> {
    let mut best: Option<(u8, &Descriptor)> = None;
    for d in index.manifests.iter().filter(|d| is_image_entry(d)) {
        let Some(p) = d.platform.as_ref().map(|p| p.to_platform()) else {
            continue;
        };
        if !platform.matches(&p) {
            continue;
        }
        let score = match (&platform.variant, &p.variant) {
            (a, b) if a == b => 2,
            (_, None) => 1,
            _ => 0,
        };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, d));
        }
    }
    best.map(|(_, d)| d)
}

/// `linux/amd64, linux/arm64/v8` — the platforms an index offers.
pub(crate) fn available_platforms(index: &Index) -> String {
    let list: Vec<String> = index
        .manifests
        .iter()
        .filter(|d| is_image_entry(d))
        .filter_map(|d| d.platform.as_ref().map(|p| p.to_platform().to_string()))
        .collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn index(entries: &[(&str, Option<&str>)]) -> Index {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .enumerate()
            .map(|(i, (p, ann))| {
                let mut parts = p.split('/');
                let os = parts.next().unwrap_or("");
                let arch = parts.next().unwrap_or("");
                let variant = parts.next();
                let mut plat = serde_json::json!({"os": os, "architecture": arch});
                if let Some(v) = variant {
                    plat["variant"] = v.into();
                }
                let mut d = serde_json::json!({
                    "mediaType": media_type::OCI_MANIFEST,
                    "digest": Digest::sha256(format!("{i}").as_bytes()).to_string(),
                    "size": i,
                    "platform": plat,
                });
                if let Some(a) = ann {
                    d["annotations"] = serde_json::json!({"vnd.docker.reference.type": a});
                }
                d
            })
            .collect();
        serde_json::from_value(serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
            .expect("test index")
    }

    fn pick(idx: &Index, p: &str) -> Option<u64> {
        select_platform(idx, &p.parse().expect("platform")).map(|d| d.size)
    }

    #[test]
    fn prefers_exact_variant_then_variantless() {
        let idx = index(&[
            ("linux/arm/v6", None),
            ("linux/arm/v7", None),
            ("linux/arm64", None),
            ("linux/amd64/v3", None),
            ("linux/amd64", None),
            ("unknown/unknown", Some("attestation-manifest")),
        ]);
        assert_eq!(pick(&idx, "linux/arm/v7"), Some(1));
        assert_eq!(pick(&idx, "linux/arm64/v8"), Some(2));
        assert_eq!(pick(&idx, "linux/amd64"), Some(4));
        assert_eq!(pick(&idx, "linux/s390x"), None);
        assert_eq!(pick(&idx, "unknown/unknown"), None);
        assert_eq!(
            available_platforms(&idx),
            "linux/arm/v6, linux/arm/v7, linux/arm64, linux/amd64/v3, linux/amd64"
        );
    }

    #[test]
    fn digest_checks() {
        let t = Target::new("fetching manifest", "x", "r", "a");
        let good = Digest::sha256(b"{}");
        let bad = Digest::sha256(b"other");
        assert_eq!(
            verify_manifest_digest(&t, b"{}", Some(&good), None).expect("ok"),
            good
        );
        assert!(matches!(
            verify_manifest_digest(&t, b"{}", Some(&bad), None),
            Err(RegistryError::DigestMismatch { .. })
        ));
        assert!(matches!(
            verify_manifest_digest(&t, b"{}", None, Some(&bad.to_string())),
            Err(RegistryError::DigestMismatch { .. })
        ));
        assert_eq!(
            verify_manifest_digest(&t, b"{}", None, Some("garbage")).expect("ok"),
            good
        );
    }
}
