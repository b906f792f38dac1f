//! Errors. Every variant names what was being done, to which registry and
//! repository ([`Target`]); none carries a credential or token.

use std::fmt;
use std::path::PathBuf;

use caisson_oci::Digest;
use serde::Deserialize;

use crate::auth::CredentialError;

/// What the client was doing when something failed (boxed: errors stay small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(Box<TargetInfo>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// e.g. "fetching manifest", "fetching blob", "requesting a token for".
    pub operation: &'static str,
    /// The tag or digest, or another object name.
    pub object: String,
    pub registry: String,
    pub repository: String,
}

impl Target {
    pub fn new(
        operation: &'static str,
        object: impl Into<String>,
        registry: impl Into<String>,
        repository: impl Into<String>,
    ) -> Target {
        Target(Box::new(TargetInfo {
            operation,
            object: object.into(),
            registry: registry.into(),
            repository: repository.into(),
        }))
    }

    /// The same object, another operation.
    pub fn with_operation(&self, operation: &'static str) -> Target {
        let mut t = self.clone();
        t.0.operation = operation;
        t
    }
}

impl std::ops::Deref for Target {
    type Target = TargetInfo;
    fn deref(&self) -> &TargetInfo {
        &self.0
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} from {}/{}",
            self.operation, self.object, self.registry, self.repository
        )
    }
}

/// The `{"errors":[{"code","message"}]}` body of a distribution-spec error,
/// rendered as `: CODE: message; CODE2: message2` (empty when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteDetail(pub String);

impl fmt::Display for RemoteDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, ": {}", self.0)
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

const MAX_DETAIL_CHARS: usize = 300;

impl RemoteDetail {
    /// Decodes an OCI error body; anything else gives an empty detail.
    pub fn from_body(body: &[u8]) -> RemoteDetail {
        let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) else {
            return RemoteDetail::default();
        };
        let text = parsed
            .errors
            .iter()
            .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                (false, false) => format!("{}: {}", e.code, e.message),
                (false, true) => e.code.clone(),
                _ => e.message.clone(),
            })
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let clean: String = text
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_DETAIL_CHARS)
            .collect();
        RemoteDetail(clean)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{target}: authentication required (HTTP 401){detail}\nhint: run `docker login {registry}` (or `podman login`), or point REGISTRY_AUTH_FILE at an auth.json with credentials for {registry}", registry = target.registry)]
    Unauthorized {
        target: Target,
        detail: RemoteDetail,
    },
    #[error("{target}: access denied (HTTP 403){detail}\nhint: the credentials in use lack pull access to {repository}; check `docker login {registry}` or REGISTRY_AUTH_FILE", registry = target.registry, repository = target.repository)]
    Denied {
        target: Target,
        detail: RemoteDetail,
    },
    #[error("{target}: not found (HTTP 404){detail}")]
    NotFound {
        target: Target,
        detail: RemoteDetail,
    },
    #[error("{target}: registry answered HTTP {status}{detail}")]
    Status {
        target: Target,
        status: u16,
        detail: RemoteDetail,
    },
    #[error("{target}: TLS connection to {url} failed: {reason}\nhint: if the registry uses a private CA, pass its certificate bundle; if it serves plain HTTP, mark it as an insecure registry")]
    Tls {
        target: Target,
        url: String,
        reason: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{target}: request to {url} failed")]
    Http {
        target: Target,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{target}: digest mismatch: expected {expected}, content hashes to {actual}")]
    DigestMismatch {
        target: Target,
        expected: Digest,
        actual: Digest,
    },
    #[error("{target}: registry sent more than the {limit} bytes allowed")]
    TooLarge { target: Target, limit: u64 },
    #[error("{target}: body ended after {received} bytes, {expected} were declared")]
    Truncated {
        target: Target,
        expected: u64,
        received: u64,
    },
    #[error("{target}: reading the response body failed")]
    Body {
        target: Target,
        #[source]
        source: std::io::Error,
    },
    #[error("{target}: invalid manifest")]
    Manifest {
        target: Target,
        #[source]
        source: caisson_oci::ManifestError,
    },
    #[error("{target}: invalid image config JSON")]
    Config {
        target: Target,
        #[source]
        source: serde_json::Error,
    },
    #[error("{target}: {reason}")]
    Protocol { target: Target, reason: String },
    #[error("{target}: no manifest for platform {platform} (available: {available})")]
    NoMatchingPlatform {
        target: Target,
        platform: String,
        available: String,
    },
    #[error("{target}: {operation_detail} {path}")]
    Io {
        target: Target,
        operation_detail: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading registry credentials for {registry}")]
    Credentials {
        registry: String,
        #[source]
        source: CredentialError,
    },
    #[error("building the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("reading CA bundle {path}: {reason}")]
    CaBundle { path: PathBuf, reason: String },
}

impl RegistryError {
    /// The operation context, when the error has one.
    pub fn target(&self) -> Option<&Target> {
        use RegistryError::*;
        match self {
            Unauthorized { target, .. }
            | Denied { target, .. }
            | NotFound { target, .. }
            | Status { target, .. }
            | Tls { target, .. }
            | Http { target, .. }
            | DigestMismatch { target, .. }
            | TooLarge { target, .. }
            | Truncated { target, .. }
            | Body { target, .. }
            | Manifest { target, .. }
            | Config { target, .. }
            | Protocol { target, .. }
            | NoMatchingPlatform { target, .. }
            | Io { target, .. } => Some(target),
            Credentials { .. } | Client(_) | CaBundle { .. } => None,
        }
    }
}

/// Classifies a transport error: TLS trouble gets its own variant and hint.
pub(crate) fn transport_error(target: &Target, url: &str, source: reqwest::Error) -> RegistryError {
    // The URL is shown by us, without its query (pre-signed URLs carry secrets).
    let source = source.without_url();
    let mut chain = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&source);
    while let Some(e) = cur {
        chain.push(e.to_string());
        cur = e.source();
    }
    let joined = chain.join(": ");
    let lower = joined.to_ascii_lowercase();
    let tls = ["certificate", "tls", "handshake", "unknownissuer", "ssl"]
        .iter()
        .any(|k| lower.contains(k));
    if tls {
        let reason = chain.last().cloned().unwrap_or_default();
        RegistryError::Tls {
            target: target.clone(),
            url: url.to_string(),
            reason,
            source,
        }
    } else {
        RegistryError::Http {
            target: target.clone(),
            url: url.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_error_bodies_become_details() {
        let d = RemoteDetail::from_body(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":"DENIED"}]}"#,
        );
        assert_eq!(d.0, "MANIFEST_UNKNOWN: manifest unknown; DENIED");
        assert_eq!(RemoteDetail::from_body(b"<html>").0, "");
        let long = format!(
            r#"{{"errors":[{{"code":"X","message":"{}\n"}}]}}"#,
            "a".repeat(1000)
        );
        assert_eq!(
            RemoteDetail::from_body(long.as_bytes()).0.len(),
            MAX_DETAIL_CHARS
        );
    }

    #[test]
    fn unauthorized_message_has_hint() {
        let e = RegistryError::Unauthorized {
            target: Target::new("fetching manifest", "v1", "r.example", "a/b"),
            detail: RemoteDetail("UNAUTHORIZED: authentication required".into()),
        };
        let s = e.to_string();
        assert!(s.starts_with("fetching manifest v1 from r.example/a/b: authentication required (HTTP 401): UNAUTHORIZED"), "{s}");
        assert!(s.contains("hint: run `docker login r.example`"), "{s}");
    }
}
