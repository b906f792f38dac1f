//! Errors of the engine client and the inventory; each names its input (the
//! engine endpoint, the container or image id, the spool or cache path).

use std::path::PathBuf;

/// Why talking to the container engine, or building the inventory, failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Nothing answers at the endpoint (socket missing, connection refused,
    /// timeout). The message is the one operators act on.
    #[error("cannot reach the container engine at {endpoint}: {reason} (hint: start Docker or `podman system service`, or point DOCKER_HOST / --docker-host at the engine, e.g. unix:///run/podman/podman.sock)")]
    Unreachable { endpoint: String, reason: String },
    /// No endpoint was given and none of the default sockets exists.
    #[error("no container engine socket found (tried {tried}) (hint: set DOCKER_HOST or --docker-host, e.g. unix:///var/run/docker.sock or tcp://host:2376)")]
    NoEngine { tried: String },
    #[error("unsupported engine address {endpoint:?} (expected unix://PATH, tcp://HOST:PORT, http://, https:// or an absolute socket path)")]
    BadEndpoint { endpoint: String },
    #[error("TLS to {endpoint}: {reason}")]
    Tls { endpoint: String, reason: String },
    /// The engine answered with an error for one request.
    #[error("{operation} on {endpoint}")]
    Api {
        operation: String,
        endpoint: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// The object the request named does not exist (any more).
    #[error("{what} {id} not found on {endpoint}")]
    NotFound {
        what: &'static str,
        id: String,
        endpoint: String,
    },
    #[error("the engine at {endpoint} answered no usable API version to /version")]
    NoApiVersion { endpoint: String },
    /// The advisory database could not be opened (its message has the hint).
    #[error(transparent)]
    Database(Box<caisson_scan::ScanError>),
    #[error("starting the runtime for the engine client")]
    Runtime(#[source] std::io::Error),
    /// The image export went past the spool's size limit.
    #[error("the export of image {image} is larger than the spool limit of {limit} bytes (hint: raise --spool-limit)")]
    SpoolLimit { image: String, limit: u64 },
    #[error("spooling the export of image {image} to {path}")]
    Spool {
        image: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("exporting image {image} from {endpoint}")]
    Export {
        image: String,
        endpoint: String,
        #[source]
        source: bollard::errors::Error,
    },
}

impl HostError {
    /// True when the engine said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, HostError::NotFound { .. })
    }
}

/// The error and its sources on one line ("connection refused" is a source).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let msg = c.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = c.source();
    }
    s
}
