//! What the registry keeps about runtime alerts (`caisson sensor run
//! --server`): each alert as the sensor sent it, indexed by time, host,
//! container, rule and severity, with who acknowledged it. Alerts carry an
//! id the sensor assigns, so a re-delivered batch stores nothing twice.
//! Retention (age and count) is the caller's to run.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::Result;

/// An alert to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub id: String,
    /// The alert's own time, Unix milliseconds.
    pub time_ms: i64,
    pub host: String,
    pub container: Option<String>,
    pub rule: String,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, …
    pub severity: String,
    /// The whole alert (JSON object).
    pub document: serde_json::Value,
}

/// Who acknowledged an alert, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertAck {
    pub by: String,
    pub time_ms: i64,
    pub comment: Option<String>,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    pub id: String,
    pub time_ms: i64,
    pub received_ms: i64,
    /// The account that sent it (`robot$sensor-1`).
    pub reporter: String,
    pub host: String,
    pub container: Option<String>,
    pub rule: String,
    pub severity: String,
    pub document: serde_json::Value,
    pub ack: Option<AlertAck>,
}

/// A filtered page of alerts, newest first (by alert time, then id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    pub host: Option<String>,
    pub container: Option<String>,
    pub rule: Option<String>,
    pub severity: Option<String>,
    /// Alert time at or after, Unix ms.
    pub since_ms: Option<i64>,
    /// Alert time before, Unix ms.
    pub until_ms: Option<i64>,
    pub acknowledged: Option<bool>,
    /// Only alerts strictly older than this (time_ms, id): the cursor.
    pub before: Option<(i64, String)>,
    pub limit: u32,
}

/// What acknowledging did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    Acked,
    /// Acknowledged before (by this).
    Already(AlertAck),
    NotFound,
}

/// What a retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PrunedAlerts {
    /// Received before the age cutoff.
    pub expired: u64,
    /// The oldest beyond the count cap.
    pub over_cap: u64,
}

/// The alerts side of the metadata store. Every [`crate::MetaStore`] is one.
pub trait AlertStore: Send + Sync + 'static {
    /// Stores a batch in one transaction; an id already stored is skipped.
    /// Returns the ids newly stored, in batch order.
    fn store_alerts(
        &self,
        reporter: &str,
        received_ms: i64,
        alerts: Vec<NewAlert>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
    fn alerts(&self, query: AlertQuery) -> impl Future<Output = Result<Vec<StoredAlert>>> + Send;
    fn alert(&self, id: &str) -> impl Future<Output = Result<Option<StoredAlert>>> + Send;
    /// Removes alerts received before `received_before_ms`, then the
    /// oldest received beyond the newest `max_alerts`.
    fn prune_alerts(
        &self,
        received_before_ms: i64,
        max_alerts: u64,
    ) -> impl Future<Output = Result<PrunedAlerts>> + Send;
}
