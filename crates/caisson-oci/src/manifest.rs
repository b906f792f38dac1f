//! Manifests, indexes, descriptors and image configs (OCI and Docker schema2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Digest, Platform};

/// Manifests larger than this are refused (the distribution spec's suggested limit).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

pub mod media_type {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

    /// True for media types that name an index / manifest list.
    pub fn is_index(mt: &str) -> bool {
        mt == OCI_INDEX || mt == DOCKER_MANIFEST_LIST
    }

    /// True for media types that name an image manifest.
    pub fn is_manifest(mt: &str) -> bool {
        mt == OCI_MANIFEST || mt == DOCKER_MANIFEST
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<DescriptorPlatform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescriptorPlatform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl DescriptorPlatform {
    pub fn to_platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    #[serde(default)]
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Either an image manifest or an index, decided by `mediaType` or, when
/// absent, by shape (`manifests` vs `layers`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per pull; boxing would only add noise
pub enum ManifestDocument {
    Manifest(Manifest),
    Index(Index),
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("manifest is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("unsupported manifest media type {0:?}")]
    MediaType(String),
    #[error(
        "document is neither an image manifest nor an index (no `layers`/`config` or `manifests`)"
    )]
    Shape,
    #[error("Docker schema1 manifests are not supported (repush the image with a current client)")]
    Schema1,
}

/// Parses a manifest or index. `declared` is the media type the transport
/// reported (HTTP Content-Type or descriptor), used when the document has none.
pub fn parse_manifest_document(
    bytes: &[u8],
    declared: Option<&str>,
) -> Result<ManifestDocument, ManifestError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            size: bytes.len(),
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(ManifestError::Json)?;
    let own = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .map(str::to_string);
    let mt = own.or_else(|| declared.map(str::to_string));
    if value.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) {
        return Err(ManifestError::Schema1);
    }
    let as_index = match mt.as_deref() {
        Some(m) if media_type::is_index(m) => true,
        Some(m) if media_type::is_manifest(m) => false,
        Some(m) if !m.is_empty() && m != "application/json" => {
            return Err(ManifestError::MediaType(m.to_string()))
        }
        _ => {
            if value.get("manifests").is_some() {
                true
            } else if value.get("config").is_some() {
                false
            } else {
                return Err(ManifestError::Shape);
            }
        }
    };
    if as_index {
        serde_json::from_value(value)
            .map(ManifestDocument::Index)
            .map_err(ManifestError::Json)
    } else {
        serde_json::from_value(value)
            .map(ManifestDocument::Manifest)
            .map_err(ManifestError::Json)
    }
}

/// The parts of an image config Caisson reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(default, rename = "type")]
    pub fs_type: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl ImageConfig {
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn detects_index_by_shape_when_media_type_missing() {
        let doc = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{D}","size":3,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            media_type::OCI_MANIFEST
        );
        let parsed = parse_manifest_document(doc.as_bytes(), None).expect("index parses");
        assert!(matches!(parsed, ManifestDocument::Index(i) if i.manifests.len() == 1));
    }

    #[test]
    fn rejects_schema1_and_oversized_and_garbage() {
        assert!(matches!(
            parse_manifest_document(br#"{"schemaVersion":1,"fsLayers":[]}"#, None),
            Err(ManifestError::Schema1)
        ));
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(matches!(
            parse_manifest_document(&big, None),
            Err(ManifestError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_manifest_document(b"{", None),
            Err(ManifestError::Json(_))
        ));
        assert!(matches!(
            parse_manifest_document(br#"{"schemaVersion":2}"#, None),
            Err(ManifestError::Shape)
        ));
    }

    #[test]
    fn bad_digest_in_descriptor_is_a_json_error() {
        let doc = r#"{"schemaVersion":2,"config":{"digest":"sha256:xyz","size":1},"layers":[]}"#;
        assert!(matches!(
            parse_manifest_document(doc.as_bytes(), None),
            Err(ManifestError::Json(_))
        ));
    }
}
