//! OCI 1.1 referrers: `GET /v2/<repository>/referrers/<digest>`, falling back
//! to the referrers tag schema (an index at tag `sha256-<hex>`) when the
//! registry has no referrers API; pushing a referrer keeps that fallback
//! index up to date unless the registry processed the `subject` itself.

use std::collections::BTreeMap;

use caisson_oci::{media_type, Descriptor, Digest, Index, ManifestDocument, MAX_MANIFEST_BYTES};
use reqwest::StatusCode;

use crate::client::{check_status, read_limited, Client, Request};
use crate::error::{RegistryError, Target};

/// Where referrers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferrersSource {
    /// The registry's referrers API.
    Api,
    /// The fallback index at tag `sha256-<hex>`.
    TagSchema,
}

#[derive(Debug, Clone)]
pub struct Referrers {
    pub source: ReferrersSource,
    /// Descriptors of the referring manifests (filtered by artifact type
    /// when one was asked for).
    pub manifests: Vec<Descriptor>,
}

/// `sha256-<hex>`: the referrers tag schema's tag for `digest`.
pub fn referrers_tag(digest: &Digest) -> String {
    format!("{}-{}", digest.algorithm().name(), digest.hex())
}

fn filter(manifests: Vec<Descriptor>, artifact_type: Option<&str>) -> Vec<Descriptor> {
    manifests
        .into_iter()
        .filter(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t)))
        .collect()
}

impl Client {
    /// The manifests that name `subject` as their subject.
    pub fn referrers(
        &self,
        registry: &str,
        repository: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers, RegistryError> {
        let target = Target::new(
            "listing referrers of",
            subject.to_string(),
            registry,
            repository,
        );
        let mut url = self.api_url(&target, "referrers", &subject.to_string())?;
        if let Some(t) = artifact_type {
            url.query_pairs_mut().append_pair("artifactType", t);
        }
        let resp = self.request(&target, Request::get(url, Some(media_type::OCI_INDEX)))?;
        if resp.status() == StatusCode::NOT_FOUND {
            tracing::debug!(%subject, "no referrers API; reading the referrers tag");
            return self.referrers_from_tag(registry, repository, subject, artifact_type);
        }
        let resp = check_status(&target, resp)?;
        let limit = u64::try_from(MAX_MANIFEST_BYTES).unwrap_or(u64::MAX);
        let body = read_limited(&target, resp, limit)?;
        let index: Index = serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
            target: target.clone(),
            reason: format!("referrers answer is not an OCI index: {e}"),
        })?;
        Ok(Referrers {
            source: ReferrersSource::Api,
            manifests: filter(index.manifests, artifact_type),
        })
    }

    fn referrers_from_tag(
        &self,
        registry: &str,
        repository: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers, RegistryError> {
        let manifests = match self.fallback_index(registry, repository, subject)? {
            Some(index) => filter(index.manifests, artifact_type),
            None => Vec::new(),
        };
        Ok(Referrers {
            source: ReferrersSource::TagSchema,
            manifests,
        })
    }

    /// The index at the referrers tag, `None` when the tag does not exist.
    fn fallback_index(
        &self,
        registry: &str,
        repository: &str,
        subject: &Digest,
    ) -> Result<Option<Index>, RegistryError> {
        let tag = referrers_tag(subject);
        match self.fetch_manifest(registry, repository, &tag, None) {
            Ok(m) => match m.document {
                ManifestDocument::Index(i) => Ok(Some(i)),
                ManifestDocument::Manifest(_) => Err(RegistryError::Protocol {
                    target: Target::new("listing referrers of", tag, registry, repository),
                    reason: "the referrers tag holds an image manifest, not an index".to_string(),
                }),
            },
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pushes `manifest` (an image manifest with a `subject`) by digest. When
    /// the registry does not answer `OCI-Subject`, also adds it to the
    /// fallback index at tag `sha256-<hex>` of `subject`. The blobs it names
    /// must already be pushed.
    pub fn push_referrer(
        &self,
        registry: &str,
        repository: &str,
        subject: &Digest,
        manifest: &[u8],
        artifact_type: &str,
        annotations: BTreeMap<String, String>,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::sha256(manifest);
        let pushed = self.put_manifest(
            registry,
            repository,
            &digest.to_string(),
            media_type::OCI_MANIFEST,
            manifest,
        )?;
        if pushed.subject_processed {
            return Ok(digest);
        }
        let mut index = self
            .fallback_index(registry, repository, subject)?
            .unwrap_or(Index {
                schema_version: 2,
                media_type: Some(media_type::OCI_INDEX.to_string()),
                manifests: Vec::new(),
                subject: None,
                annotations: BTreeMap::new(),
            });
        if !index.manifests.iter().any(|d| d.digest == digest) {
            index.manifests.push(Descriptor {
                media_type: media_type::OCI_MANIFEST.to_string(),
                digest: digest.clone(),
                size: u64::try_from(manifest.len()).unwrap_or(u64::MAX),
                platform: None,
                annotations,
                artifact_type: Some(artifact_type.to_string()),
                urls: Vec::new(),
            });
            index.media_type = Some(media_type::OCI_INDEX.to_string());
            let bytes = serde_json::to_vec(&index).map_err(|e| RegistryError::Protocol {
                target: Target::new("pushing referrers index", "", registry, repository),
                reason: e.to_string(),
            })?;
            self.put_manifest(
                registry,
                repository,
                &referrers_tag(subject),
                media_type::OCI_INDEX,
                &bytes,
            )?;
        }
        Ok(digest)
    }
}
