//! Attaches a CycloneDX SBOM to an image as an OCI referrer, through the
//! same store calls a client push makes: blobs stored and linked in the
//! repository, manifest bytes in the blob store, manifest record (with
//! `subject`) in the metadata store, all under the shared GC lock. When the
//! image is deleted, [`detach_sbom`] deletes that referrer again
//! (only it: referrers clients pushed stay).

use bytes::Bytes;
use caisson_audit::{AuditEvent, Outcome};
use caisson_oci::{media_type, Digest};
use caisson_registry_store::{
    now_ms, BlobStore, ManifestRecord, ManifestRef, MetaStore, RefKind, StoreError,
};

use crate::{ScanHost, SBOM_ARTIFACT_TYPE};

/// The OCI empty descriptor's media type and content.
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY: &[u8] = b"{}";

/// The annotation that marks the SBOM referrers this registry generates.
const GENERATOR_ANNOTATION: &str = "dev.caisson.sbom.generator";
const GENERATOR: &str = "caisson serve scan";

/// Whether `rec` is an SBOM referrer this registry generated for `subject`
/// (pure): SBOM artifact type, that subject, the generator annotation.
pub(crate) fn is_generated_sbom_of(rec: &ManifestRecord, subject: &Digest) -> bool {
    rec.subject.as_ref() == Some(subject)
        && rec.artifact_type.as_deref() == Some(SBOM_ARTIFACT_TYPE)
        && rec
            .annotations_json
            .as_deref()
            .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            .is_some_and(|a| {
                a.get(GENERATOR_ANNOTATION)
                    .and_then(serde_json::Value::as_str)
                    == Some(GENERATOR)
            })
}

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
            GENERATOR_ANNOTATION: GENERATOR,
        }
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// Stores `sbom` and its referrer manifest in `repo`; returns (SBOM blob,
/// referrer manifest) digests. `previous` (an older SBOM referrer of the
/// same image) is removed.
pub async fn attach_sbom<H: ScanHost>(
    host: &H,
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
    let (blobs, meta) = (host.blobs(), host.meta());
    let _guard = host.gc_lock().read().await;
    blobs.put(&sbom_digest, Bytes::from(sbom)).await?;
    meta.link_blob(repo, &sbom_digest, sbom_size).await?;
    blobs.put(&empty_digest, Bytes::from_static(EMPTY)).await?;
    meta.link_blob(repo, &empty_digest, EMPTY.len() as u64)
        .await?;
    let size = manifest.len() as u64;
    blobs.put(&manifest_digest, Bytes::from(manifest)).await?;
    meta.put_manifest(
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
                    GENERATOR_ANNOTATION: GENERATOR,
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
        meta.delete_manifest(repo, prev, false).await?;
    }
    Ok((sbom_digest, manifest_digest))
}

/// Deletes `sbom_manifest`, the SBOM referrer the registry attached to
/// the deleted image `subject` in `repo`, through the same store call as
/// a client's manifest DELETE (so the referrers API no longer lists it
/// and GC can collect its blobs), audited as a system action. A manifest
/// that is not a generated SBOM referrer of `subject` is left alone.
/// Returns whether a manifest was deleted.
pub async fn detach_sbom<H: ScanHost>(
    host: &H,
    repo: &str,
    subject: &Digest,
    sbom_manifest: &Digest,
) -> Result<bool, StoreError> {
    let Some(rec) = host.meta().get_manifest(repo, sbom_manifest).await? else {
        return Ok(false);
    };
    if !is_generated_sbom_of(&rec, subject) {
        tracing::warn!(
            "{repo}@{sbom_manifest} is not the generated SBOM referrer of {subject}: kept"
        );
        return Ok(false);
    }
    let ev = AuditEvent {
        time_ms: now_ms(),
        actor: "system".into(),
        source: String::new(),
        action: "delete-manifest".into(),
        target: format!("{repo}:{sbom_manifest}"),
        outcome: Outcome::Success,
        detail: format!("SBOM referrer of deleted {subject}"),
    };
    let change = caisson_registry_store::Change::DeleteManifest {
        repo: repo.to_string(),
        digest: sbom_manifest.clone(),
        immutable_tags: false,
    };
    let done = host.audited(change, move |done| done.removed().then_some(ev));
    Ok(done.await?.removed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(subject: Option<&Digest>, artifact_type: &str, annotations: &str) -> ManifestRecord {
        ManifestRecord {
            repo: "r".into(),
            digest: Digest::sha256(b"referrer"),
            media_type: media_type::OCI_MANIFEST.into(),
            artifact_type: Some(artifact_type.into()),
            size: 1,
            subject: subject.cloned(),
            annotations_json: Some(annotations.into()),
            created_ms: 0,
            refs: Vec::new(),
        }
    }

    #[test]
    fn only_generated_sbom_referrers_of_the_subject_are_ours() {
        let image = Digest::sha256(b"image");
        let other = Digest::sha256(b"other");
        let ours = r#"{"dev.caisson.sbom.generator":"caisson serve scan"}"#;
        assert!(is_generated_sbom_of(
            &record(Some(&image), SBOM_ARTIFACT_TYPE, ours),
            &image
        ));
        // Another subject, no subject, another artifact type, a client's
        // annotations, annotations that are not JSON: not ours.
        assert!(!is_generated_sbom_of(
            &record(Some(&other), SBOM_ARTIFACT_TYPE, ours),
            &image
        ));
        assert!(!is_generated_sbom_of(
            &record(None, SBOM_ARTIFACT_TYPE, ours),
            &image
        ));
        assert!(!is_generated_sbom_of(
            &record(
                Some(&image),
                "application/vnd.dev.cosign.artifact.sig.v1+json",
                ours
            ),
            &image
        ));
        assert!(!is_generated_sbom_of(
            &record(
                Some(&image),
                SBOM_ARTIFACT_TYPE,
                r#"{"dev.caisson.sbom.generator":"someone else"}"#
            ),
            &image
        ));
        assert!(!is_generated_sbom_of(
            &record(Some(&image), SBOM_ARTIFACT_TYPE, "not json"),
            &image
        ));
    }
}
