//! Where decisions go: a small trait (the registry's hash-chained audit log
//! implements it too) and a JSON-lines file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::AdmissionError;

/// One admission decision, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRecord {
    /// RFC 3339 UTC time of the decision.
    pub time: String,
    /// The AdmissionReview request uid.
    pub uid: String,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT` (empty when the request was malformed).
    pub operation: String,
    pub allowed: bool,
    /// `group/version/Kind` of the object (`apps/v1/Deployment`, `v1/Pod`).
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_resource: Option<String>,
    /// `userInfo.username` of the requester.
    pub user: String,
    pub dry_run: bool,
    /// Policies whose enforce-mode violations (or failures) denied the object.
    pub denied_by: Vec<String>,
    /// Policies that reported warn-mode violations.
    pub warned_by: Vec<String>,
    /// Policies that reported audit-mode violations.
    pub audited_by: Vec<String>,
    /// Why the request was not evaluated (malformed, skipped sub-resource,
    /// deadline exceeded), when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Receives every decision. Implementations must be cheap enough to call on the
/// evaluation threads (they are blocking threads, not the async runtime).
pub trait DecisionSink: Send + Sync {
    fn record(&self, decision: &DecisionRecord) -> Result<(), AdmissionError>;
}

/// Appends one JSON object per line to a file (created if missing).
#[derive(Debug)]
pub struct JsonLinesSink {
    path: PathBuf,
    file: Mutex<fs_err::File>,
}

impl JsonLinesSink {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AdmissionError> {
        let path = path.as_ref().to_path_buf();
        let file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| AdmissionError::Sink {
                path: path.clone(),
                source,
            })?;
        Ok(JsonLinesSink {
            path,
            file: Mutex::new(file),
        })
    }
}

impl DecisionSink for JsonLinesSink {
    fn record(&self, decision: &DecisionRecord) -> Result<(), AdmissionError> {
        let mut line = serde_json::to_vec(decision).map_err(|e| AdmissionError::Sink {
            path: self.path.clone(),
            source: e.into(),
        })?;
        line.push(b'\n');
        let mut file = match self.file.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        // One write per record keeps lines whole with O_APPEND.
        file.write_all(&line)
            .map_err(|source| AdmissionError::Sink {
                path: self.path.clone(),
                source,
            })
    }
}
