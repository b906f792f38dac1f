//! OCI image layouts (directory or archive) and `docker save` archives.

use caisson_model::SourceInfo;
use caisson_oci::{
    parse_manifest_document, Descriptor, Digest, ImageConfig, Index, Manifest, ManifestDocument,
    Platform,
};

use crate::archive::Store;
use crate::source::OpenedImage;
use crate::ImageError;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Most nested indexes followed (index → index → manifest).
const MAX_INDEX_DEPTH: usize = 4;

fn invalid(store: &Store, what: &'static str, reason: impl Into<String>) -> ImageError {
    ImageError::Invalid {
        location: store.location(),
        what,
        reason: reason.into(),
    }
}

fn blob_name(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().name(), d.hex())
}

/// Reads a blob named by `desc`, checking its size and digest.
fn read_blob(store: &Store, desc: &Descriptor, what: &'static str) -> Result<Vec<u8>, ImageError> {
    let bytes = store.read_small(&blob_name(&desc.digest))?;
    if bytes.len() as u64 != desc.size {
        return Err(invalid(
            store,
            what,
            format!(
                "{} is {} bytes, descriptor says {}",
                desc.digest,
                bytes.len(),
                desc.size
            ),
        ));
    }
    if !desc.digest.verify(&bytes) {
        return Err(invalid(
            store,
            what,
            format!("content does not match digest {}", desc.digest),
        ));
    }
    Ok(bytes)
}

fn ref_names(index: &Index) -> String {
    let names: Vec<&str> = index
        .manifests
        .iter()
        .filter_map(|m| m.annotations.get(REF_NAME).map(String::as_str))
        .collect();
    if names.is_empty() {
        "no tags".to_string()
    } else {
        names.join(", ")
    }
}

pub fn open_oci(
    store: Store,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<OpenedImage, ImageError> {
    if !store.exists("oci-layout") {
        return Err(invalid(
            &store,
            "OCI layout",
            "no `oci-layout` file (is this an OCI image layout?)",
        ));
    }
    let layout: serde_json::Value = serde_json::from_slice(&store.read_small("oci-layout")?)
        .map_err(|e| invalid(&store, "oci-layout file", e.to_string()))?;
    let version = layout
        .get("imageLayoutVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if !version.starts_with("1.") {
        return Err(invalid(
            &store,
            "oci-layout file",
            format!("unsupported imageLayoutVersion {version:?}"),
        ));
    }
    let index: Index = serde_json::from_slice(&store.read_small("index.json")?)
        .map_err(|e| invalid(&store, "index.json", e.to_string()))?;
    let chosen = match tag {
        Some(t) => index
            .manifests
            .iter()
            .find(|m| m.annotations.get(REF_NAME).map(String::as_str) == Some(t))
            .ok_or_else(|| ImageError::TagNotFound {
                location: store.location(),
                tag: t.to_string(),
                available: ref_names(&index),
            })?,
        None => match index.manifests.as_slice() {
            [one] => one,
            [] => return Err(invalid(&store, "index.json", "lists no manifests")),
            many => {
                return Err(ImageError::Ambiguous {
                    location: store.location(),
                    count: many.len(),
                    available: ref_names(&index),
                })
            }
        },
    };
    let mut tags: Vec<String> = chosen
        .annotations
        .get(REF_NAME)
        .cloned()
        .into_iter()
        .collect();
    tags.dedup();
    let (manifest_digest, manifest) = resolve_manifest(&store, chosen.clone(), platform)?;
    let mut img = from_manifest(store, &manifest)?;
    img.info.manifest_digest = Some(manifest_digest.to_string());
    img.info.tags = tags;
    Ok(img)
}

/// Follows indexes down to one image manifest for `platform`.
fn resolve_manifest(
    store: &Store,
    mut desc: Descriptor,
    platform: &Platform,
) -> Result<(Digest, Manifest), ImageError> {
    for _ in 0..MAX_INDEX_DEPTH {
        let bytes = read_blob(store, &desc, "manifest")?;
        let mt = (!desc.media_type.is_empty()).then_some(desc.media_type.as_str());
        match parse_manifest_document(&bytes, mt)
            .map_err(|e| invalid(store, "manifest", format!("{}: {e}", desc.digest)))?
        {
            ManifestDocument::Manifest(m) => return Ok((desc.digest, m)),
            ManifestDocument::Index(idx) => {
                let found = idx.manifests.iter().find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| platform.matches(&p.to_platform()))
                });
                desc = match found {
                    Some(d) => d.clone(),
                    None => {
                        let available: Vec<String> = idx
                            .manifests
                            .iter()
                            .filter_map(|m| {
                                m.platform.as_ref().map(|p| p.to_platform().to_string())
                            })
                            .collect();
                        return Err(ImageError::NoPlatform {
                            location: store.location(),
                            platform: platform.to_string(),
                            available: available.join(", "),
                        });
                    }
                };
            }
        }
    }
    Err(invalid(
        store,
        "index",
        format!("indexes nested deeper than {MAX_INDEX_DEPTH}"),
    ))
}

fn from_manifest(store: Store, manifest: &Manifest) -> Result<OpenedImage, ImageError> {
    let config_bytes = read_blob(&store, &manifest.config, "image config")?;
    let layers: Vec<String> = manifest
        .layers
        .iter()
        .map(|l| blob_name(&l.digest))
        .collect();
    let info = SourceInfo {
        config_digest: Some(manifest.config.digest.to_string()),
        ..SourceInfo::default()
    };
    assemble(store, &config_bytes, &layers, "manifest", info)
}

/// Parses the config, checks it names one diff id per layer (`listed_by` is
/// the document that lists the layers) and builds the image.
fn assemble(
    store: Store,
    config_bytes: &[u8],
    layer_names: &[String],
    listed_by: &str,
    info: SourceInfo,
) -> Result<OpenedImage, ImageError> {
    let config: ImageConfig = serde_json::from_slice(config_bytes)
        .map_err(|e| invalid(&store, "image config", e.to_string()))?;
    if config.rootfs.diff_ids.len() != layer_names.len() {
        return Err(invalid(
            &store,
            "image",
            format!(
                "{listed_by} lists {} layers but config has {} diff_ids",
                layer_names.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::with_capacity(layer_names.len());
    for (name, diff) in layer_names.iter().zip(&config.rootfs.diff_ids) {
        layers.push(store.layer(name, diff.to_string())?);
    }
    let mut img = OpenedImage {
        info,
        config: Some(config),
        layers,
        _keep: store.keep(),
    };
    img.fill_layer_info();
    Ok(img)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

pub fn open_docker_archive(store: Store, tag: Option<&str>) -> Result<OpenedImage, ImageError> {
    if !store.exists("manifest.json") {
        return Err(invalid(
            &store,
            "docker archive",
            "no manifest.json (is this a `docker save` archive?)",
        ));
    }
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&store.read_small("manifest.json")?)
            .map_err(|e| invalid(&store, "manifest.json", e.to_string()))?;
    let all_tags = || {
        let t: Vec<String> = entries
            .iter()
            .flat_map(|e| e.repo_tags.clone().unwrap_or_default())
            .collect();
        if t.is_empty() {
            "no tags".to_string()
        } else {
            t.join(", ")
        }
    };
    let entry = match tag {
        Some(t) => entries
            .iter()
            .find(|e| {
                e.repo_tags.as_ref().is_some_and(|tags| {
                    tags.iter()
                        .any(|x| x == t || x.rsplit_once(':').is_some_and(|(_, tt)| tt == t))
                })
            })
            .ok_or_else(|| ImageError::TagNotFound {
                location: store.location(),
                tag: t.to_string(),
                available: all_tags(),
            })?,
        None => match entries.as_slice() {
            [one] => one,
            [] => return Err(invalid(&store, "manifest.json", "lists no images")),
            many => {
                return Err(ImageError::Ambiguous {
                    location: store.location(),
                    count: many.len(),
                    available: all_tags(),
                })
            }
        },
    };
    let config_bytes = store.read_small(&entry.config)?;
    let info = SourceInfo {
        config_digest: Some(Digest::sha256(&config_bytes).to_string()),
        tags: entry.repo_tags.clone().unwrap_or_default(),
        ..SourceInfo::default()
    };
    assemble(store, &config_bytes, &entry.layers, "manifest.json", info)
}
