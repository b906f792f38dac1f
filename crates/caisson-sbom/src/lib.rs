//! From a source string to an [`Sbom`]: the flow `caisson sbom` runs.
//!
//! 1. parse the source (`oci:`, `oci-archive:`, `docker-archive:`, `dir:`, `registry:`),
//! 2. open it (a registry image is pulled into the blob cache first),
//! 3. walk every layer once, keeping only what the catalogers need (and, for
//!    `caisson scan`, what the secret and misconfiguration walk subscribed to
//!    the same pass keeps: [`from_image_with`]),
//! 4. run the catalogers over the squashed view.

use std::path::PathBuf;

use caisson_image::{ImageError, Interest, Limits, OpenedImage, Source, Squashed};
use caisson_model::{Sbom, SourceInfo};
use caisson_oci::{Platform, Reference};
use caisson_registry_client::{Client, ClientOptions, RegistryError};

/// Options for one SBOM run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Platform to pick from a multi-platform index (host platform when `None`).
    pub platform: Option<Platform>,
    pub limits: Limits,
    /// Registry hosts reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Extra CA certificates (PEM) to trust for registries.
    pub ca_bundle: Option<PathBuf>,
    /// Where pulled blobs are cached (default: the user cache dir).
    pub cache_dir: Option<PathBuf>,
}

/// `$CAISSON_CACHE_DIR`, else `$XDG_CACHE_HOME/caisson`, else `~/.cache/caisson`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CAISSON_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("caisson");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/caisson"))
        .unwrap_or_else(|| std::env::temp_dir().join("caisson-cache"))
}

#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("invalid image reference: {0}")]
    Reference(#[from] caisson_oci::ReferenceError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Opens a source; a registry image is pulled into the blob cache first.
pub fn open(source: &str, opts: &Options) -> Result<OpenedImage, SbomError> {
    let parsed: Source = source.parse()?;
    match &parsed {
        Source::Registry { reference } => pull(source, reference, opts),
        _ => Ok(parsed.open(source, opts.platform.as_ref())?),
    }
}

fn pull(source: &str, reference: &str, opts: &Options) -> Result<OpenedImage, SbomError> {
    let reference: Reference = reference.parse()?;
    let client = Client::new(ClientOptions {
        insecure_registries: opts.insecure_registries.clone(),
        ca_bundle: opts.ca_bundle.clone(),
        ..ClientOptions::default()
    })?;
    let cache = opts.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let pulled = client.pull_image(&reference, opts.platform.as_ref(), &cache)?;
    let info = SourceInfo {
        reference: source.to_string(),
        kind: "registry".to_string(),
        manifest_digest: Some(pulled.manifest_digest.to_string()),
        config_digest: Some(pulled.config_digest.to_string()),
        tags: vec![reference.to_string()],
        ..SourceInfo::default()
    };
    let files = pulled.layers.into_iter().map(|(_, p)| p).collect();
    Ok(OpenedImage::from_pulled(info, pulled.config, files)?)
}

/// The catalogers `caisson sbom` runs: OS packages, then language packages
/// (package metadata, then compiled artifacts: Java archives, Go and Rust binaries).
pub fn default_catalogers() -> caisson_catalog::Catalogers {
    let mut all = caisson_catalog::os_catalogers();
    all.extend(caisson_lang::lang_catalogers());
    all.extend(caisson_binary::binary_catalogers());
    caisson_catalog::Catalogers(all)
}

/// Scans an opened image and catalogs it.
pub fn from_image(image: &OpenedImage, opts: &Options) -> Result<Sbom, SbomError> {
    Ok(from_image_with(image, opts, &[])?.0)
}

/// [`from_image`] with more interests subscribed to the same pass over the
/// layers (`caisson scan`'s secret and misconfiguration walk): each layer is
/// decompressed once and each file read once for all of them
/// ([`caisson_image::scan_many`]). Returns the SBOM and the views of `also`,
/// in order.
pub fn from_image_with(
    image: &OpenedImage,
    opts: &Options,
    also: &[&dyn Interest],
) -> Result<(Sbom, Vec<Squashed>), SbomError> {
    let catalogers = default_catalogers();
    let mut interests: Vec<&dyn Interest> = Vec::with_capacity(1 + also.len());
    interests.push(&catalogers);
    interests.extend_from_slice(also);
    let mut views = caisson_image::scan_many(image, &interests, &opts.limits)?.into_iter();
    let squashed = views.next().unwrap_or_default();
    tracing::info!(entries = squashed.entries, "walked layers");
    let sbom = caisson_catalog::catalog(&catalogers, &squashed, image.info.clone());
    Ok((sbom, views.collect()))
}

/// Builds the SBOM of a local source.
pub fn generate(source: &str, opts: &Options) -> Result<Sbom, SbomError> {
    let image = open(source, opts)?;
    from_image(&image, opts)
}
