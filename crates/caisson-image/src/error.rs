use std::path::PathBuf;

/// Errors reading an image. Each names the source, layer or file involved.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("invalid source {0:?}: expected one of oci:<dir>[:<tag>], oci-archive:<file>[:<tag>], docker-archive:<file>[:<name:tag>], dir:<rootfs>, registry:<ref>")]
    SourceSyntax(String),
    #[error("{path}: {what}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}: invalid {what}: {reason}")]
    Invalid {
        location: String,
        what: &'static str,
        reason: String,
    },
    #[error("{location}: no image tagged {tag:?} (available: {available})")]
    TagNotFound {
        location: String,
        tag: String,
        available: String,
    },
    #[error("{location}: {count} images found; choose one with :<tag> (available: {available})")]
    Ambiguous {
        location: String,
        count: usize,
        available: String,
    },
    #[error("{location}: no manifest for platform {platform} (available: {available})")]
    NoPlatform {
        location: String,
        platform: String,
        available: String,
    },
    #[error("layer {index} ({diff_id}): {reason}")]
    Layer {
        index: usize,
        diff_id: String,
        reason: String,
    },
    #[error(
        "layer {index} ({diff_id}) exceeds the limit on {what}: {limit} (raise it with {hint})"
    )]
    LimitExceeded {
        index: usize,
        diff_id: String,
        what: &'static str,
        limit: u64,
        hint: &'static str,
    },
    #[error("{location}: blob {digest} is missing")]
    MissingBlob { location: String, digest: String },
    #[error("{0}")]
    Registry(String),
}

impl ImageError {
    pub(crate) fn io(path: impl Into<PathBuf>, what: &'static str, source: std::io::Error) -> Self {
        ImageError::Io {
            path: path.into(),
            what,
            source,
        }
    }
}
