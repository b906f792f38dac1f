//! Pulling a whole image: resolve, pick the platform, fetch config and layers
//! into the blob cache (a few at a time).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use caisson_oci::{
    Descriptor, Digest, ImageConfig, Manifest, ManifestDocument, Platform, Reference,
};

use crate::blob::BlobCache;
use crate::client::Client;
use crate::error::{RegistryError, Target};
use crate::manifest::{available_platforms, select_platform};

/// Image configs larger than this are refused (they are JSON read into memory).
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024 * 1024;
/// Indexes nested deeper than this are refused.
const MAX_INDEX_DEPTH: usize = 4;

/// An image pulled into a blob cache.
#[derive(Debug, Clone)]
pub struct PulledImage {
    pub reference: Reference,
    /// Digest of the index the reference resolved to, when it was an index.
    pub index_digest: Option<Digest>,
    /// Digest of the image manifest (the one for the chosen platform).
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    pub manifest: Manifest,
    pub manifest_bytes: Vec<u8>,
    pub config: ImageConfig,
    pub config_digest: Digest,
    pub config_bytes: Vec<u8>,
    /// Each layer's descriptor (its media type says gzip, zstd or plain tar)
    /// and the path of the verified compressed blob in the cache, in manifest order.
    pub layers: Vec<(Descriptor, PathBuf)>,
}

impl Client {
    /// Pulls `reference` for `platform` (the host's when `None`) into the blob
    /// cache at `cache_dir` (`<cache_dir>/blobs/sha256/<hex>`).
    pub fn pull_image(
        &self,
        reference: &Reference,
        platform: Option<&Platform>,
        cache_dir: &Path,
    ) -> Result<PulledImage, RegistryError> {
        let host = Platform::host();
        let platform = platform.unwrap_or(&host);
        let registry = reference.registry.as_str();
        let repository = reference.repository.as_str();
        let cache = BlobCache::new(cache_dir);

        let mut resolved = self.resolve(reference)?;
        let mut index_digest = None;
        let mut depth = 0;
        let manifest = loop {
            match &resolved.document {
                ManifestDocument::Manifest(m) => break m.clone(),
                ManifestDocument::Index(index) => {
                    let target = Target::new(
                        "selecting a platform in index",
                        resolved.digest.to_string(),
                        registry,
                        repository,
                    );
                    depth += 1;
                    if depth > MAX_INDEX_DEPTH {
                        return Err(RegistryError::Protocol {
                            target,
                            reason: format!("indexes nested more than {MAX_INDEX_DEPTH} deep"),
                        });
                    }
                    let chosen = select_platform(index, platform).ok_or_else(|| {
                        RegistryError::NoMatchingPlatform {
                            target: target.clone(),
                            platform: platform.to_string(),
                            available: available_platforms(index),
                        }
                    })?;
                    tracing::debug!(%platform, digest = %chosen.digest, "selected platform manifest");
                    index_digest.get_or_insert_with(|| resolved.digest.clone());
                    let digest = chosen.digest.clone();
                    resolved = self.fetch_manifest(
                        registry,
                        repository,
                        &digest.to_string(),
                        Some(&digest),
                    )?;
                }
            }
        };

        let config_target = Target::new(
            "fetching config",
            manifest.config.digest.to_string(),
            registry,
            repository,
        );
        if manifest.config.size > MAX_CONFIG_BYTES {
            return Err(RegistryError::TooLarge {
                target: config_target,
                limit: MAX_CONFIG_BYTES,
            });
        }
        let config_path = self.fetch_blob_cached(registry, repository, &manifest.config, &cache)?;
        let config_bytes = fs_err::read(&config_path).map_err(|source| RegistryError::Io {
            target: config_target.clone(),
            operation_detail: "reading",
            path: config_path.clone(),
            source,
        })?;
        let config: ImageConfig =
            serde_json::from_slice(&config_bytes).map_err(|source| RegistryError::Config {
                target: config_target,
                source,
            })?;
        if !platform.matches(&config.platform()) {
            tracing::warn!(wanted = %platform, got = %config.platform(), "image config platform differs from the requested platform");
        }

        let layers = self.fetch_layers(registry, repository, &manifest.layers, &cache)?;
        Ok(PulledImage {
            reference: reference.clone(),
            index_digest,
            manifest_digest: resolved.digest,
            manifest_media_type: resolved.media_type,
            manifest_bytes: resolved.bytes,
            config_digest: manifest.config.digest.clone(),
            manifest,
            config,
            config_bytes,
            layers,
        })
    }

    /// Fetches `layers` into `cache` with up to `max_parallel_downloads`
    /// workers; returns them in the given order. The first error wins and
    /// stops workers from starting new downloads.
    fn fetch_layers(
        &self,
        registry: &str,
        repository: &str,
        layers: &[Descriptor],
        cache: &BlobCache,
    ) -> Result<Vec<(Descriptor, PathBuf)>, RegistryError> {
        let workers = self
            .opts
            .max_parallel_downloads
            .clamp(1, 8)
            .min(layers.len().max(1));
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<PathBuf>>> = Mutex::new(vec![None; layers.len()]);
        let failure: Mutex<Option<RegistryError>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(desc) = layers.get(i) else { return };
                    match self.fetch_blob_cached(registry, repository, desc, cache) {
                        Ok(p) => {
                            if let Ok(mut r) = results.lock() {
                                if let Some(slot) = r.get_mut(i) {
                                    *slot = Some(p);
                                }
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                            return;
                        }
                    }
                });
            }
        });
        if let Some(e) = failure
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Err(e);
        }
        let paths = results
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        layers
            .iter()
            .zip(paths)
            .map(|(d, p)| {
                p.map(|p| (d.clone(), p))
                    .ok_or_else(|| RegistryError::Protocol {
                        target: Target::new(
                            "fetching blob",
                            d.digest.to_string(),
                            registry,
                            repository,
                        ),
                        reason: "download did not complete".to_string(),
                    })
            })
            .collect()
    }
}
