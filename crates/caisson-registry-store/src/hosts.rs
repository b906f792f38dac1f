//! What the registry keeps about the hosts `caisson host agent` reports:
//! each host's latest facts, its containers (each mapped, when the
//! registry holds a scan of one of its repo digests, to that repository and
//! digest), its latest benchmark result and a bounded log of the reports
//! received (sequence numbers, so a re-delivered report is recognised).

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::Result;

/// Report log lines kept per host (the oldest are pruned).
pub const REPORT_LOG_CAP: i64 = 1000;

/// One host as the registry last heard of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    pub id: String,
    pub hostname: String,
    /// The engine facts of the last report (JSON object).
    pub engine: serde_json::Value,
    pub agent_version: String,
    pub interval_secs: u64,
    pub first_seen_ms: i64,
    pub last_report_ms: i64,
    pub last_seq: i64,
    /// Reports stored (re-deliveries not counted).
    pub reports: u64,
    pub containers: u64,
    pub running: u64,
}

/// One container of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub repo_digests: Vec<String>,
    pub state: String,
    pub started_at: Option<String>,
    /// The registry repository and digest whose stored scan gives this
    /// container's findings (`None`: the registry holds none of its digests).
    pub repo: Option<String>,
    pub digest: Option<String>,
}

/// A container and the host it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedContainer {
    pub host: String,
    pub hostname: String,
    pub container: HostContainer,
}

/// A host's latest benchmark result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBench {
    pub seq: i64,
    pub received_ms: i64,
    /// `{benchmark, checks: [{id, title, status, evidence}]}`.
    pub document: serde_json::Value,
}

/// One stored report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    pub seq: i64,
    pub reason: String,
    pub generated_ms: i64,
    pub received_ms: i64,
    pub containers: u64,
}

/// A report to store: the host's new facts and full state.
#[derive(Debug, Clone)]
pub struct HostUpdate {
    pub id: String,
    pub hostname: String,
    pub engine: serde_json::Value,
    pub agent_version: String,
    pub interval_secs: u64,
    pub line: ReportLine,
    pub containers: Vec<HostContainer>,
    pub bench: Option<StoredBench>,
}

/// What storing a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Stored; `new_host` on the host's first report; `previous_bench` is
    /// the benchmark result this report replaced.
    Stored {
        new_host: bool,
        previous_bench: Option<StoredBench>,
    },
    /// A report with this or a later `seq` is already stored: nothing changed.
    Duplicate { last_seq: i64 },
}

/// The hosts side of the metadata store. Every [`crate::MetaStore`] is one.
pub trait HostStore: Send + Sync + 'static {
    /// Stores a report in one transaction: the host's facts, its containers
    /// (replacing the previous set), its benchmark result when given, and a
    /// report log line; a `seq` not above the stored one is a duplicate.
    fn store_host_report(
        &self,
        update: HostUpdate,
    ) -> impl Future<Output = Result<ReportOutcome>> + Send;
    fn list_hosts(&self) -> impl Future<Output = Result<Vec<HostRecord>>> + Send;
    fn host(&self, id: &str) -> impl Future<Output = Result<Option<HostRecord>>> + Send;
    /// A host's containers, by name.
    fn host_containers(&self, id: &str) -> impl Future<Output = Result<Vec<HostContainer>>> + Send;
    fn host_bench(&self, id: &str) -> impl Future<Output = Result<Option<StoredBench>>> + Send;
    /// The newest `limit` report lines of a host, newest first.
    fn host_reports(
        &self,
        id: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ReportLine>>> + Send;
    /// Containers, on every host, mapped to `repo@digest`.
    fn containers_of_digest(
        &self,
        repo: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Vec<PlacedContainer>>> + Send;
}
