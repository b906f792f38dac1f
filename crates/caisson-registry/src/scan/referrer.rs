//! Attaches a CycloneDX SBOM to an image as an OCI referrer, through the
//! same store calls a client push makes: blobs stored and linked in the
//! repository, manifest bytes in the blob store, manifest record (with
//! `subject`) in the metadata store, all under the shared GC lock.

use bytes::Bytes;
use caisson_oci::{media_type, Digest};
use caisson_registry_store::{
    now_ms, BlobStore, ManifestRecord, ManifestRef, MetaStore, RefKind, StoreError,
};

use super::SBOM_ARTIFACT_TYPE;
use crate::Registry;

/// The OCI empty descriptor's media type and content.
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY: &[u8] = b"{}";

/// The referrer manifest for an SBOM blob (pure).
pub(crate) fn sbom_manifest(
    subject: &Digest,
    subject_media_type: &str,
    subject_size: u64,
    sbom: &Digest,
    sbom_size: u64,
    created: &str,
) -> Vec<u8> {
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": SBOM_ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": Digest::sha256(EMPTY).to_string(),
            "size": EMPTY.len(),
            "data": "e30="
        },
        "layers": [{
            "mediaType": SBOM_ARTIFACT_TYPE,
            "digest": sbom.to_string(),
            "size": sbom_size,
        }],
        "subject": {
            "mediaType": subject_media_type,
            "digest": subject.to_string(),
            "size": subject_size,
        },
        "annotations": {
            "org.opencontainers.image.created": created,
            "dev.caisson.sbom.generator": "caisson serve scan",
        }
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Stores `sbom` and its referrer manifest in `repo`; returns (SBOM blob,
    /// referrer manifest) digests. `previous` (an older SBOM referrer of the
    /// same image) is removed.
    pub(crate) async fn attach_sbom(
        &self,
        repo: &str,
        subject: &ManifestRecord,
        sbom: Vec<u8>,
        created: &str,
        previous: Option<&Digest>,
    ) -> Result<(Digest, Digest), StoreError> {
        let sbom_digest = Digest::sha256(&sbom);
        let sbom_size = sbom.len() as u64;
        let empty_digest = Digest::sha256(EMPTY);
        let manifest = sbom_manifest(
            &subject.digest,
            &subject.media_type,
            subject.size,
            &sbom_digest,
            sbom_size,
            created,
        );
        let manifest_digest = Digest::sha256(&manifest);
        let _guard = self.gc_lock.read().await;
        self.blobs.put(&sbom_digest, Bytes::from(sbom)).await?;
        self.meta.link_blob(repo, &sbom_digest, sbom_size).await?;
        self.blobs
            .put(&empty_digest, Bytes::from_static(EMPTY))
            .await?;
        self.meta
            .link_blob(repo, &empty_digest, EMPTY.len() as u64)
            .await?;
        let size = manifest.len() as u64;
        self.blobs
            .put(&manifest_digest, Bytes::from(manifest))
            .await?;
        self.meta
            .put_manifest(
                ManifestRecord {
                    repo: repo.to_string(),
                    digest: manifest_digest.clone(),
                    media_type: media_type::OCI_MANIFEST.to_string(),
                    artifact_type: Some(SBOM_ARTIFACT_TYPE.to_string()),
                    size,
                    subject: Some(subject.digest.clone()),
                    annotations_json: Some(
                        serde_json::json!({
                            "org.opencontainers.image.created": created,
                            "dev.caisson.sbom.generator": "caisson serve scan",
                        })
                        .to_string(),
                    ),
                    created_ms: now_ms(),
                    refs: vec![
                        ManifestRef {
                            digest: empty_digest,
                            kind: RefKind::Blob,
                        },
                        ManifestRef {
                            digest: sbom_digest.clone(),
                            kind: RefKind::Blob,
                        },
                    ],
                },
                None,
                false,
            )
            .await?;
        if let Some(prev) = previous.filter(|p| **p != manifest_digest) {
            self.meta.delete_manifest(repo, prev).await?;
        }
        Ok((sbom_digest, manifest_digest))
    }
}
