//! The SBOM of each image, cached on disk by image id:
//! `<cache>/images/sha256/<hex>.json`. An image id names its content, so an
//! entry never goes stale; it is rebuilt when the entry was written by
//! another Caisson version or cache format (catalogers change). Findings are
//! not cached: the SBOM is matched again on every run, so a new advisory
//! database is seen without reading the image again.
//!
//! Writes go to a temporary file in the same directory, renamed into place,
//! so a crash or a concurrent run never leaves a half-written entry.

use std::io::Write;
use std::path::{Path, PathBuf};

use caisson_model::Sbom;
use serde::{Deserialize, Serialize};

use super::model::normalize_image_id;

/// Bumped when the entry's shape changes.
const CACHE_FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Entry {
    cache_format: u32,
    caisson_version: String,
    image_id: String,
    sbom: Sbom,
}

/// The image SBOM cache under one directory.
#[derive(Debug, Clone)]
pub struct SbomCache {
    dir: PathBuf,
}

impl SbomCache {
    pub fn new(dir: impl Into<PathBuf>) -> SbomCache {
        SbomCache { dir: dir.into() }
    }

    /// The entry's path, for a well-formed image id only.
    pub fn path(&self, image_id: &str) -> Option<PathBuf> {
        let id = normalize_image_id(image_id)?;
        let hex = id.strip_prefix("sha256:")?;
        Some(self.dir.join("images/sha256").join(format!("{hex}.json")))
    }

    /// The cached SBOM, if a current entry exists; unreadable or outdated
    /// entries count as absent.
    pub fn get(&self, image_id: &str) -> Option<Sbom> {
        let path = self.path(image_id)?;
        let bytes = fs_err::read(&path).ok()?;
        let entry: Entry = match serde_json::from_slice(&bytes) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable cache entry");
                return None;
            }
        };
        let current = entry.cache_format == CACHE_FORMAT
            && entry.caisson_version == env!("CARGO_PKG_VERSION")
            && normalize_image_id(&entry.image_id) == normalize_image_id(image_id);
        current.then_some(entry.sbom)
    }

    /// Stores `sbom` for `image_id` (atomically).
    pub fn put(&self, image_id: &str, sbom: &Sbom) -> std::io::Result<()> {
        let Some(path) = self.path(image_id) else {
            return Ok(());
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        fs_err::create_dir_all(dir)?;
        let entry = Entry {
            cache_format: CACHE_FORMAT,
            caisson_version: env!("CARGO_PKG_VERSION").to_string(),
            image_id: image_id.to_string(),
            sbom: sbom.clone(),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".entry-")
            .tempfile_in(dir)?;
        serde_json::to_writer(&mut tmp, &entry).map_err(std::io::Error::other)?;
        tmp.flush()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_odd_ids() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SbomCache::new(dir.path());
        let id = format!("sha256:{}", "c".repeat(64));
        assert!(cache.get(&id).is_none());
        let mut sbom = Sbom::default();
        sbom.source.reference = "img".into();
        cache.put(&id, &sbom).expect("put");
        assert_eq!(cache.get(&id), Some(sbom.clone()));
        // Podman's bare hex id names the same entry.
        assert_eq!(cache.get(&"c".repeat(64)), Some(sbom.clone()));
        // Ids that are not sha256 hex are never turned into paths.
        assert!(cache.path("sha256:../../x").is_none());
        cache.put("../../x", &sbom).expect("ignored");
        // A corrupt entry is a miss, not an error.
        let path = cache.path(&id).expect("path");
        fs_err::write(&path, b"{not json").expect("corrupt");
        assert!(cache.get(&id).is_none());
    }
}
