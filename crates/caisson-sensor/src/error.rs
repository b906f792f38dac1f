//! Errors of the sensor crate; each names the operation and its input.

use std::path::PathBuf;

/// The container engine could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("container engine at {endpoint} is unreachable: {reason}\nhint: pass --docker-host or set DOCKER_HOST")]
    Unreachable { endpoint: String, reason: String },
    #[error("{operation} on the container engine at {endpoint}: {reason}")]
    Api {
        endpoint: String,
        operation: String,
        reason: String,
    },
}

/// A rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("reading rule file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("rule file {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error(transparent)]
    Condition(Box<ConditionError>),
    #[error("rule file {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// A source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("opening the {source_name} netlink socket")]
    Socket {
        source_name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the {0} source needs Linux")]
    Unsupported(&'static str),
}

/// A rule's condition (or allow condition) does not parse or type-check.
#[derive(Debug, thiserror::Error)]
#[error("rule file {origin}, rule `{rule}`, {what}: {message}\n  {condition}\n  {caret:>width$}", caret = "^", width = pos + 1)]
pub struct ConditionError {
    pub origin: String,
    pub rule: String,
    pub what: String,
    pub condition: String,
    /// Byte offset in `condition`.
    pub pos: usize,
    pub message: String,
}
