//! The delivery log: one record per attempt.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::NotifyError;

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptOutcome {
    /// 2xx: done.
    Delivered,
    /// Failed; another attempt follows.
    Retrying,
    /// Failed for good (attempts exhausted, or a 4xx the receiver means).
    Failed,
    /// The queue was full; the notification was never sent.
    Dropped,
}

/// One attempt to deliver one notification to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// The notification id (`X-Caisson-Delivery`).
    pub delivery: String,
    pub endpoint: String,
    pub event: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// HTTP status, when the receiver answered.
    pub status: Option<u16>,
    /// Transport error or why the status counts as a failure.
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    /// Unix milliseconds.
    pub at_ms: i64,
}

/// Where attempts are recorded. Called from delivery tasks; must not block
/// for long.
pub trait DeliveryLog: Send + Sync + 'static {
    fn record(&self, attempt: &DeliveryAttempt);
}

/// A JSON-lines file, appended and flushed per record.
#[derive(Debug)]
pub struct JsonLinesLog {
    file: Mutex<std::fs::File>,
}

impl JsonLinesLog {
    pub fn open(path: &Path) -> Result<JsonLinesLog, NotifyError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| NotifyError::OpenLog {
                path: path.display().to_string(),
                source,
            })?;
        Ok(JsonLinesLog {
            file: Mutex::new(file),
        })
    }
}

impl DeliveryLog for JsonLinesLog {
    fn record(&self, attempt: &DeliveryAttempt) {
        let Ok(mut line) = serde_json::to_vec(attempt) else {
            return;
        };
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = f.write_all(&line).and_then(|()| f.flush()) {
            tracing::error!(error = %e, "writing the webhook delivery log");
        }
    }
}
