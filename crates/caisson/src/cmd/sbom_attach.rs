//! `caisson sbom … --attach REF`: store the SBOM in a registry as an OCI 1.1
//! referrer of the image (`artifactType` the document's media type, the
//! empty config, one layer holding the document, `subject` the image), the
//! way the registry stores the SBOMs of its own scans and `caisson sign
//! --referrers` stores bundles. Registries without the referrers API get
//! the referrers tag schema (`sha256-<hex>` index) from the client.

use std::collections::BTreeMap;

use anyhow::Context;
use caisson_oci::{media_type, Descriptor, Digest, Manifest, Reference};
use caisson_sign::bundle::{EMPTY_BLOB, EMPTY_MEDIA_TYPE};

use super::registry_args::RegistryArgs;

fn descriptor(media: &str, bytes: &[u8]) -> anyhow::Result<Descriptor> {
    Ok(Descriptor {
        media_type: media.to_string(),
        digest: Digest::sha256(bytes),
        size: u64::try_from(bytes.len())?,
        platform: None,
        annotations: BTreeMap::new(),
        artifact_type: None,
        urls: Vec::new(),
    })
}

/// Pushes `document` (of `media`, e.g. `application/vnd.cyclonedx+json`) as
/// a referrer of `image`; returns the subject's and the referrer's digests.
pub fn attach(
    image: &str,
    registry: &RegistryArgs,
    document: &[u8],
    media: &str,
    created: &str,
) -> anyhow::Result<(Digest, Digest)> {
    let reference: Reference = image
        .parse()
        .with_context(|| format!("--attach {image:?} is not an image reference"))?;
    let client = registry.client()?;
    let (reg, repo) = (reference.registry.as_str(), reference.repository.as_str());
    let subject = client
        .resolve(&reference)
        .with_context(|| format!("cannot resolve {image}"))?;
    client.push_blob(reg, repo, EMPTY_BLOB)?;
    client.push_blob(reg, repo, document)?;
    let annotations = BTreeMap::from([(
        "org.opencontainers.image.created".to_string(),
        created.to_string(),
    )]);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_string()),
        artifact_type: Some(media.to_string()),
        config: descriptor(EMPTY_MEDIA_TYPE, EMPTY_BLOB)?,
        layers: vec![descriptor(media, document)?],
        subject: Some(Descriptor {
            digest: subject.digest.clone(),
            ..descriptor(&subject.media_type, &subject.bytes)?
        }),
        annotations: annotations.clone(),
    };
    let bytes = serde_json::to_vec(&manifest).context("encoding the referrer manifest")?;
    let referrer = client.push_referrer(reg, repo, &subject.digest, &bytes, media, annotations)?;
    Ok((subject.digest, referrer))
}
