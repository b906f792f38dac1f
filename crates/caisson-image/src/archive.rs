//! Where a layout's files live: a directory, or entries of an (uncompressed or
//! gzip-compressed) tar archive indexed once so each blob can be read directly.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::source::LayerSource;
use crate::{normalize, ImageError};

/// Largest JSON document (index, manifest, config) read into memory.
pub const MAX_JSON_BYTES: u64 = 16 << 20;
/// Most entries in an outer archive (an image archive has a handful per layer).
const MAX_ARCHIVE_ENTRIES: usize = 1_000_000;

pub enum Store {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        /// Normalised relative path → (offset, size) of the entry's data.
        entries: HashMap<String, (u64, u64)>,
        /// Symlinks inside the archive (docker save writes layer symlinks).
        links: HashMap<String, String>,
        keep: Option<Arc<tempfile::TempPath>>,
    },
}

impl Store {
    pub fn dir(dir: &Path) -> Result<Store, ImageError> {
        let meta =
            fs_err::metadata(dir).map_err(|e| ImageError::io(dir, "cannot open OCI layout", e))?;
        if !meta.is_dir() {
            return Err(ImageError::Invalid {
                location: dir.display().to_string(),
                what: "OCI layout",
                reason: "not a directory (use oci-archive: for a tar file)".into(),
            });
        }
        Ok(Store::Dir(dir.to_path_buf()))
    }

    /// Indexes a tar archive. A gzip-compressed archive is first decompressed to
    /// a temporary file (blobs must be readable at random).
    pub fn tar(file: &Path) -> Result<Store, ImageError> {
        let mut f =
            fs_err::File::open(file).map_err(|e| ImageError::io(file, "cannot open archive", e))?;
        let mut magic = [0u8; 2];
        let n = f
            .read(&mut magic)
            .map_err(|e| ImageError::io(file, "cannot read archive", e))?;
        let (path, keep) = if n == 2 && magic == [0x1f, 0x8b] {
            let tmp = tempfile::NamedTempFile::new().map_err(|e| {
                ImageError::io(std::env::temp_dir(), "cannot create temporary file", e)
            })?;
            let (out, tmp_path) = tmp.into_parts();
            let src = fs_err::File::open(file)
                .map_err(|e| ImageError::io(file, "cannot open archive", e))?;
            let mut dec = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(src));
            let mut w = std::io::BufWriter::new(out);
            std::io::copy(&mut dec, &mut w)
                .map_err(|e| ImageError::io(file, "cannot decompress archive", e))?;
            (tmp_path.to_path_buf(), Some(Arc::new(tmp_path)))
        } else {
            (file.to_path_buf(), None)
        };
        let f = fs_err::File::open(&path)
            .map_err(|e| ImageError::io(&path, "cannot open archive", e))?;
        let mut ar = tar::Archive::new(std::io::BufReader::new(f));
        let mut entries = HashMap::new();
        let mut links = HashMap::new();
        let bad = |reason: String| ImageError::Invalid {
            location: file.display().to_string(),
            what: "archive",
            reason,
        };
        let iter = ar.entries().map_err(|e| bad(e.to_string()))?;
        for entry in iter {
            let entry = entry.map_err(|e| bad(format!("corrupt tar: {e}")))?;
            if entries.len() + links.len() > MAX_ARCHIVE_ENTRIES {
                return Err(bad(format!("more than {MAX_ARCHIVE_ENTRIES} entries")));
            }
            let raw = entry.path_bytes();
            let Some(name) = normalize(&String::from_utf8_lossy(&raw)) else {
                continue;
            };
            let name = name.trim_start_matches('/').to_string();
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    entries.insert(name, (entry.raw_file_position(), entry.size()));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(t) = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                    {
                        let target = if entry.header().entry_type() == tar::EntryType::Symlink {
                            crate::path::resolve_link(crate::path::parent(&format!("/{name}")), &t)
                        } else {
                            normalize(&t).unwrap_or_default()
                        };
                        links.insert(name, target.trim_start_matches('/').to_string());
                    }
                }
                _ => {}
            }
        }
        Ok(Store::Tar {
            file: path,
            entries,
            links,
            keep,
        })
    }

    pub fn location(&self) -> String {
        match self {
            Store::Dir(d) => d.display().to_string(),
            Store::Tar { file, .. } => file.display().to_string(),
        }
    }

    pub fn keep(&self) -> Option<Arc<tempfile::TempPath>> {
        match self {
            Store::Dir(_) => None,
            Store::Tar { keep, .. } => keep.clone(),
        }
    }

    fn lookup(&self, name: &str) -> Option<(PathBuf, u64, u64)> {
        match self {
            Store::Dir(d) => {
                let p = d.join(name);
                let meta = fs_err::metadata(&p).ok()?;
                meta.is_file().then_some((p, 0, meta.len()))
            }
            Store::Tar {
                file,
                entries,
                links,
                ..
            } => {
                let mut n = normalize(name)?.trim_start_matches('/').to_string();
                for _ in 0..8 {
                    if let Some(&(off, size)) = entries.get(&n) {
                        return Some((file.clone(), off, size));
                    }
                    n = links.get(&n)?.clone();
                }
                None
            }
        }
    }

    pub fn exists(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }

    /// Reads a small file (JSON) fully, refusing anything over `MAX_JSON_BYTES`.
    pub fn read_small(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let (path, off, size) = self.lookup(name).ok_or_else(|| ImageError::MissingBlob {
            location: self.location(),
            digest: name.to_string(),
        })?;
        if size > MAX_JSON_BYTES {
            return Err(ImageError::Invalid {
                location: format!("{}:{name}", self.location()),
                what: "document",
                reason: format!("{size} bytes is over the {MAX_JSON_BYTES}-byte limit"),
            });
        }
        let mut f =
            fs_err::File::open(&path).map_err(|e| ImageError::io(&path, "cannot open", e))?;
        f.seek(SeekFrom::Start(off))
            .map_err(|e| ImageError::io(&path, "cannot seek", e))?;
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        f.take(size)
            .read_to_end(&mut buf)
            .map_err(|e| ImageError::io(&path, "cannot read", e))?;
        Ok(buf)
    }

    pub fn layer(&self, name: &str, diff_id: String) -> Result<LayerSource, ImageError> {
        let (path, offset, size) = self.lookup(name).ok_or_else(|| ImageError::MissingBlob {
            location: self.location(),
            digest: name.to_string(),
        })?;
        Ok(LayerSource::Blob {
            path,
            offset,
            size,
            diff_id,
        })
    }
}
