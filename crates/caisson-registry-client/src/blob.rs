//! Blob downloads (`GET /v2/<repo>/blobs/<digest>`), streamed to a temporary
//! file beside the destination, size-capped and digest-verified before the
//! rename; and a content-addressed blob cache.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use caisson_oci::{Descriptor, Digest, Hasher};

use crate::client::Client;
use crate::error::{RegistryError, Target};

const CHUNK: usize = 64 * 1024;

/// A content-addressed directory of verified blobs: `<root>/blobs/<alg>/<hex>`.
#[derive(Debug, Clone)]
pub struct BlobCache {
    root: PathBuf,
}

impl BlobCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        BlobCache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` lives (whether or not it is there).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// True when the cached file exists with the descriptor's size and digest.
    pub fn contains_verified(&self, desc: &Descriptor) -> bool {
        let path = self.path(&desc.digest);
        match file_matches(&path, desc) {
            Ok(ok) => ok,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::debug!(path = %path.display(), error = %e, "cannot verify cached blob");
                }
                false
            }
        }
    }
}

fn file_matches(path: &Path, desc: &Descriptor) -> std::io::Result<bool> {
    let meta = fs_err::metadata(path)?;
    if meta.len() != desc.size {
        return Ok(false);
    }
    let mut f = fs_err::File::open(path)?;
    let mut h = Hasher::new(desc.digest.algorithm());
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(h.finish() == desc.digest)
}

impl Client {
    /// Downloads the blob `desc` of `registry/repository` to `dest`. The body
    /// streams into a temporary file in `dest`'s directory while being hashed;
    /// more bytes than `desc.size`, fewer, or a different digest fail the
    /// download and remove the temporary file; only a verified blob is
    /// renamed to `dest`. Redirects (to blob storage) are followed; the
    /// registry's `Authorization` is not sent to other hosts.
    pub fn fetch_blob(
        &self,
        registry: &str,
        repository: &str,
        desc: &Descriptor,
        dest: &Path,
    ) -> Result<(), RegistryError> {
        let target = Target::new(
            "fetching blob",
            desc.digest.to_string(),
            registry,
            repository,
        );
        let io = |what: &'static str, path: &Path| {
            let target = target.clone();
            let path = path.to_path_buf();
            move |source| RegistryError::Io {
                target,
                operation_detail: what,
                path,
                source,
            }
        };
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs_err::create_dir_all(&dir).map_err(io("creating directory", &dir))?;
        let url = self.api_url(&target, "blobs", &desc.digest.to_string())?;
        let mut resp = self.get(&target, url, None)?;
        if resp.content_length().is_some_and(|n| n > desc.size) {
            return Err(RegistryError::TooLarge {
                target,
                limit: desc.size,
            });
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&dir)
            .map_err(io("creating a temporary file in", &dir))?;
        let mut hasher = Hasher::new(desc.digest.algorithm());
        let mut received: u64 = 0;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = resp.read(&mut buf).map_err(|source| RegistryError::Body {
                target: target.clone(),
                source,
            })?;
            if n == 0 {
                break;
            }
            received = received.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
            if received > desc.size {
                // `tmp` is removed on drop.
                return Err(RegistryError::TooLarge {
                    target,
                    limit: desc.size,
                });
            }
            let chunk = buf.get(..n).unwrap_or_default();
            hasher.update(chunk);
            tmp.write_all(chunk).map_err(io("writing", tmp.path()))?;
        }
        if received < desc.size {
            return Err(RegistryError::Truncated {
                target,
                expected: desc.size,
                received,
            });
        }
        let actual = hasher.finish();
        if actual != desc.digest {
            return Err(RegistryError::DigestMismatch {
                target,
                expected: desc.digest.clone(),
                actual,
            });
        }
        tmp.flush().map_err(io("writing", tmp.path()))?;
        tmp.persist(dest)
            .map_err(|e| io("renaming the download to", dest)(e.error))?;
        tracing::debug!(digest = %desc.digest, size = desc.size, dest = %dest.display(), "fetched blob");
        Ok(())
    }

    /// The cached blob for `desc`, downloading it first unless a verified copy
    /// is already in `cache`. A cached file that fails verification is replaced.
    pub fn fetch_blob_cached(
        &self,
        registry: &str,
        repository: &str,
        desc: &Descriptor,
        cache: &BlobCache,
    ) -> Result<PathBuf, RegistryError> {
        let path = cache.path(&desc.digest);
        if cache.contains_verified(desc) {
            tracing::debug!(digest = %desc.digest, "blob cache hit");
            return Ok(path);
        }
        self.fetch_blob(registry, repository, desc, &path)?;
        Ok(path)
    }
}
