//! Errors of setting up and running the webhook.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    #[error("starting policy evaluation thread {index}")]
    SpawnWorker {
        index: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("reading TLS {what} {path}")]
    ReadPem {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing TLS {what} {origin}: {message}")]
    Pem {
        what: &'static str,
        origin: String,
        message: String,
    },
    #[error("building the TLS server configuration")]
    Tls(#[source] rustls::Error),
    #[error("generating {what}")]
    Certificate {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error("invalid manifest option: {0}")]
    Options(String),
    /// The decision sink could not record the decision (the webhook then
    /// denies the request: fail closed).
    #[error("recording the decision: {0}")]
    Record(String),
    #[error("writing decision log {path}")]
    Sink {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
