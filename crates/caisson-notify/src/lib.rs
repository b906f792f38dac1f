//! Registry notifications: each [`Notification`] (push, delete, scan
//! completed, new critical finding, policy violation, runtime alert) is POSTed as JSON to
//! every configured [`Endpoint`] that wants its event, signed with
//! HMAC-SHA256 over the body (`X-Caisson-Signature-256: sha256=<hex>`, the
//! convention GitHub's webhooks use), retried with exponential backoff on
//! network errors, timeouts, 408, 429 and 5xx, and every attempt recorded in
//! a [`DeliveryLog`].
//!
//! [`Notifier::start`] runs the deliveries on the current tokio runtime;
//! [`Notifier::send`] never blocks the caller (a full queue drops the
//! notification and says so in the log).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod config;
mod deliver;
mod log;

pub use config::{load_endpoints, Endpoint, EndpointConfig};
pub use deliver::{signature, Notifier, Options};
pub use log::{AttemptOutcome, DeliveryAttempt, DeliveryLog, JsonLinesLog};

use serde::{Deserialize, Serialize};

/// Event names, as endpoints filter them and receivers see them in
/// `X-Caisson-Event`.
pub mod events {
    pub const PUSH: &str = "push";
    pub const DELETE: &str = "delete";
    pub const SCAN_COMPLETED: &str = "scan.completed";
    pub const NEW_CRITICAL: &str = "finding.new-critical";
    /// A re-scan changed a stored digest's findings (none of them new critical ones).
    pub const FINDINGS_CHANGED: &str = "findings.changed";
    pub const POLICY_VIOLATION: &str = "policy.violation";
    /// A re-scan added findings to an image a reported host's running container uses.
    pub const CONTAINER_VULNERABLE: &str = "container.vulnerable";
    /// A host's CIS benchmark result has more warnings than its previous one.
    pub const BENCH_REGRESSED: &str = "bench.regressed";
    /// A signed checkpoint of the registry's audit chain head.
    pub const AUDIT_CHECKPOINT: &str = "audit.checkpoint";
    /// A runtime sensor's alert, stored for the first time.
    pub const RUNTIME_ALERT: &str = "runtime.alert";
    /// Every event name, for validating configurations.
    pub const ALL: &[&str] = &[
        PUSH,
        DELETE,
        SCAN_COMPLETED,
        NEW_CRITICAL,
        FINDINGS_CHANGED,
        POLICY_VIOLATION,
        CONTAINER_VULNERABLE,
        BENCH_REGRESSED,
        AUDIT_CHECKPOINT,
        RUNTIME_ALERT,
    ];
}

/// One notification: the body every endpoint receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique id (also `X-Caisson-Delivery`); receivers de-duplicate on it.
    pub id: String,
    /// One of [`events::ALL`].
    pub event: String,
    /// Unix milliseconds when it happened.
    pub time_ms: i64,
    /// Event-specific data (repository, digest, findings…).
    pub data: serde_json::Value,
}

impl Notification {
    pub fn new(event: &str, data: serde_json::Value) -> Notification {
        let id: [u8; 16] = rand::random();
        Notification {
            id: hex::encode(id),
            event: event.to_string(),
            time_ms: now_ms(),
            data,
        }
    }
}

/// Why notifications could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("reading webhook configuration {path}")]
    ReadConfig {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("webhook configuration {path} is not valid YAML")]
    ParseConfig {
        path: String,
        #[source]
        source: serde_norway::Error,
    },
    #[error("webhook {name:?}: {problem}")]
    Endpoint { name: String, problem: String },
    #[error("setting up the webhook HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("opening the delivery log {path}")]
    OpenLog {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
