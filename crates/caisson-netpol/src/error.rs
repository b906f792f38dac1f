//! Errors that name their input.

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("flows {source_name}, line {line}: {reason}")]
    Flows {
        source_name: String,
        line: usize,
        reason: String,
    },
    #[error("reading flows from {source_name}")]
    Read {
        source_name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("NetworkPolicy {source_name}, document {document}: {reason}")]
    K8s {
        source_name: String,
        document: usize,
        reason: String,
    },
    #[error("nftables ruleset {source_name}, line {line}: {reason}")]
    Nft {
        source_name: String,
        line: usize,
        reason: String,
    },
    #[error("writing YAML: {0}")]
    Yaml(String),
}
