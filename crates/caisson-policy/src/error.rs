//! Errors of loading policies, configs and manifests.

use std::path::PathBuf;

/// Errors raised while building a [`crate::PolicySet`] or reading its inputs.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("unknown policy {0:?} (not a built-in id, file or directory; `caisson policy list` shows the built-ins)")]
    UnknownPolicy(String),
    #[error("reading policy {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("compiling Rego policy {path}: {message}")]
    Rego { path: String, message: String },
    #[error("policy {path}: {message}")]
    Contract { path: String, message: String },
    #[error("Gatekeeper {what} {path}: {message}")]
    Gatekeeper {
        what: &'static str,
        path: String,
        message: String,
    },
    #[error("policy id {id:?} is defined twice ({first} and {second})")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
    #[error("config {path}: {message}")]
    Config { path: String, message: String },
    #[error("{origin}: {message}")]
    Manifest { origin: String, message: String },
    #[error("admission review: {0}")]
    Review(String),
}

pub(crate) fn rego_err(path: impl Into<String>, err: impl std::fmt::Display) -> PolicyError {
    PolicyError::Rego {
        path: path.into(),
        message: err.to_string(),
    }
}
