//! Image sources: the `<kind>:<location>` syntax and opening each kind.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use caisson_model::{LayerRef, SourceInfo};
use caisson_oci::{ImageConfig, Platform};

use crate::archive::Store;
use crate::{layout, ImageError};

/// Where an image comes from, as the user writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `oci:<dir>[:<tag>]`
    OciLayout { dir: PathBuf, tag: Option<String> },
    /// `oci-archive:<file>[:<tag>]`
    OciArchive { file: PathBuf, tag: Option<String> },
    /// `docker-archive:<file>[:<name:tag>]`
    DockerArchive { file: PathBuf, tag: Option<String> },
    /// `dir:<rootfs>`
    Dir { path: PathBuf },
    /// `registry:<host/repo:tag|@digest>`
    Registry { reference: String },
}

/// Splits `location[:suffix]` where `location` is a path: the whole string
/// when it exists on disk, else the longest existing prefix before a `:`.
fn split_path_suffix(s: &str) -> (PathBuf, Option<String>) {
    if Path::new(s).exists() {
        return (PathBuf::from(s), None);
    }
    let mut idx = s.len();
    while let Some(i) = s.get(..idx).and_then(|h| h.rfind(':')) {
        let (head, tail) = (s.get(..i).unwrap_or(""), s.get(i + 1..).unwrap_or(""));
        if Path::new(head).exists() {
            return (PathBuf::from(head), Some(tail.to_string()));
        }
        idx = i;
    }
    // Nothing exists: fall back to "path has no ':'" (skopeo's rule) so the
    // error names the missing file.
    match s.split_once(':') {
        Some((p, t)) => (PathBuf::from(p), Some(t.to_string())),
        None => (PathBuf::from(s), None),
    }
}

impl FromStr for Source {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| ImageError::SourceSyntax(s.to_string()))?;
        if rest.is_empty() {
            return Err(ImageError::SourceSyntax(s.to_string()));
        }
        let src = match kind {
            "oci" => {
                let (dir, tag) = split_path_suffix(rest);
                Source::OciLayout { dir, tag }
            }
            "oci-archive" => {
                let (file, tag) = split_path_suffix(rest);
                Source::OciArchive { file, tag }
            }
            "docker-archive" => {
                let (file, tag) = split_path_suffix(rest);
                Source::DockerArchive { file, tag }
            }
            "dir" => Source::Dir {
                path: PathBuf::from(rest),
            },
            "registry" | "docker" => Source::Registry {
                reference: rest.trim_start_matches("//").to_string(),
            },
            _ => return Err(ImageError::SourceSyntax(s.to_string())),
        };
        Ok(src)
    }
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Source::OciLayout { .. } => "oci",
            Source::OciArchive { .. } => "oci-archive",
            Source::DockerArchive { .. } => "docker-archive",
            Source::Dir { .. } => "dir",
            Source::Registry { .. } => "registry",
        }
    }

    /// Opens a local source. Registry sources are pulled by the caller (see
    /// `caisson-registry-client`) and opened with [`OpenedImage::from_pulled`].
    pub fn open(
        &self,
        reference: &str,
        platform: Option<&Platform>,
    ) -> Result<OpenedImage, ImageError> {
        let host = Platform::host();
        let platform = platform.unwrap_or(&host);
        let mut img = match self {
            Source::OciLayout { dir, tag } => {
                let store = Store::dir(dir)?;
                layout::open_oci(store, tag.as_deref(), platform)?
            }
            Source::OciArchive { file, tag } => {
                let store = Store::tar(file)?;
                layout::open_oci(store, tag.as_deref(), platform)?
            }
            Source::DockerArchive { file, tag } => {
                let store = Store::tar(file)?;
                layout::open_docker_archive(store, tag.as_deref())?
            }
            Source::Dir { path } => {
                let meta = fs_err::metadata(path)
                    .map_err(|e| ImageError::io(path, "cannot read root filesystem", e))?;
                if !meta.is_dir() {
                    return Err(ImageError::Invalid {
                        location: path.display().to_string(),
                        what: "root filesystem",
                        reason: "not a directory".into(),
                    });
                }
                OpenedImage {
                    info: SourceInfo::default(),
                    config: None,
                    layers: vec![LayerSource::Dir { path: path.clone() }],
                    _keep: None,
                }
            }
            Source::Registry { reference } => {
                return Err(ImageError::Registry(format!(
                    "registry source {reference} must be pulled before opening"
                )))
            }
        };
        img.info.reference = reference.to_string();
        img.info.kind = self.kind().to_string();
        Ok(img)
    }
}

/// One layer, readable as a stream.
#[derive(Debug, Clone)]
pub enum LayerSource {
    /// A tar stream (gzip, zstd or plain, detected from its first bytes) stored
    /// at `offset..offset + size` of `path`.
    Blob {
        path: PathBuf,
        offset: u64,
        size: u64,
        diff_id: String,
    },
    /// An unpacked root filesystem on the host.
    Dir { path: PathBuf },
}

impl LayerSource {
    pub fn diff_id(&self) -> &str {
        match self {
            LayerSource::Blob { diff_id, .. } => diff_id,
            LayerSource::Dir { .. } => "",
        }
    }
}

/// An image ready to be scanned.
#[derive(Debug)]
pub struct OpenedImage {
    pub info: SourceInfo,
    pub config: Option<ImageConfig>,
    pub layers: Vec<LayerSource>,
    /// Keeps temporary files (a decompressed outer archive) alive.
    pub(crate) _keep: Option<std::sync::Arc<tempfile::TempPath>>,
}

impl OpenedImage {
    /// Builds an image from already-downloaded parts (a registry pull).
    pub fn from_pulled(
        info: SourceInfo,
        config: ImageConfig,
        layer_files: Vec<PathBuf>,
    ) -> Result<OpenedImage, ImageError> {
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != layer_files.len() {
            return Err(ImageError::Invalid {
                location: info.reference.clone(),
                what: "image config",
                reason: format!(
                    "{} layers but {} diff_ids",
                    layer_files.len(),
                    diff_ids.len()
                ),
            });
        }
        let mut layers = Vec::with_capacity(layer_files.len());
        for (path, d) in layer_files.into_iter().zip(diff_ids) {
            let size = fs_err::metadata(&path)
                .map_err(|e| ImageError::io(&path, "cannot stat layer blob", e))?
                .len();
            layers.push(LayerSource::Blob {
                path,
                offset: 0,
                size,
                diff_id: d.to_string(),
            });
        }
        let mut img = OpenedImage {
            info,
            config: Some(config),
            layers,
            _keep: None,
        };
        img.fill_layer_info();
        Ok(img)
    }

    pub(crate) fn fill_layer_info(&mut self) {
        self.info.layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(index, l)| LayerRef {
                index,
                diff_id: l.diff_id().to_string(),
            })
            .collect();
        if let Some(c) = &self.config {
            if !c.os.is_empty() {
                self.info.platform = Some(c.platform().to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_syntax() {
        let s: Source = "oci:/no/such/dir:v1".parse().expect("valid");
        assert_eq!(
            s,
            Source::OciLayout {
                dir: "/no/such/dir".into(),
                tag: Some("v1".into())
            }
        );
        let s: Source = "registry:localhost:5000/a/b:t".parse().expect("valid");
        assert_eq!(
            s,
            Source::Registry {
                reference: "localhost:5000/a/b:t".into()
            }
        );
        assert!("nope:/x".parse::<Source>().is_err());
        assert!("oci:".parse::<Source>().is_err());
        assert!("justapath".parse::<Source>().is_err());
    }

    #[test]
    fn existing_path_with_colon_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("we:ird");
        fs_err::create_dir(&p).expect("mkdir");
        let s: Source = format!("oci:{}:tag", p.display()).parse().expect("valid");
        assert_eq!(
            s,
            Source::OciLayout {
                dir: p.clone(),
                tag: Some("tag".into())
            }
        );
        let s: Source = format!("oci:{}", p.display()).parse().expect("valid");
        assert_eq!(s, Source::OciLayout { dir: p, tag: None });
    }
}
