//! From a source string to an [`Sbom`]: the flow `caisson sbom` runs.
//!
//! 1. parse the source (`oci:`, `oci-archive:`, `docker-archive:`, `dir:`, `registry:`),
//! 2. open it (a registry image is pulled into the blob cache first),
//! 3. walk every layer once, keeping only what the catalogers need,
//! 4. run the catalogers over the squashed view.

use caisson_image::{ImageError, Limits, OpenedImage, Source};
use caisson_model::Sbom;
use caisson_oci::Platform;

/// Options for one SBOM run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Platform to pick from a multi-platform index (host platform when `None`).
    pub platform: Option<Platform>,
    pub limits: Limits,
    /// Registry hosts reached over plain HTTP.
    pub insecure_registries: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("registry sources are not available in this build: {0}")]
    Registry(String),
}

/// Opens a local source. Registry sources go through [`generate_with`].
pub fn open(source: &str, opts: &Options) -> Result<OpenedImage, SbomError> {
    let parsed: Source = source.parse()?;
    Ok(parsed.open(source, opts.platform.as_ref())?)
}

/// Scans an opened image and catalogs it.
pub fn from_image(image: &OpenedImage, opts: &Options) -> Result<Sbom, SbomError> {
    let squashed = caisson_image::scan(image, &caisson_catalog::OsInterest, &opts.limits)?;
    tracing::info!(entries = squashed.entries, "walked layers");
    Ok(caisson_catalog::catalog(&squashed, image.info.clone()))
}

/// Builds the SBOM of a local source.
pub fn generate(source: &str, opts: &Options) -> Result<Sbom, SbomError> {
    let image = open(source, opts)?;
    from_image(&image, opts)
}
