//! What the registry's vulnerability scanning keeps: the persisted scan
//! queue, the packages of every scanned digest (de-duplicated across the
//! registry), what each distinct advisory lookup matched, scan history and
//! the per-namespace severity threshold.
//!
//! The layout makes re-scans cheap: a digest's packages point at shared
//! lookup rows (`ecosystem`, `name`, `version`), and a lookup's matched
//! vulnerabilities are stored once. When advisories change, each distinct
//! lookup is matched once, and only digests holding a lookup whose result
//! changed are touched. Findings of a digest are the join of its packages
//! with their lookups' matches.

use std::future::Future;

use caisson_oci::Digest;
use serde::{Deserialize, Serialize};

use crate::Result;

/// The state of a scan job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        match s {
            "queued" => Some(JobState::Queued),
            "running" => Some(JobState::Running),
            "done" => Some(JobState::Done),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// One scan of one manifest, persisted so a restart loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanJob {
    pub id: i64,
    pub repo: String,
    pub digest: Digest,
    /// Why it was queued: `push`, `pull`, `on-demand`, `index`.
    pub reason: String,
    pub state: JobState,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub error: Option<String>,
}

/// One advisory lookup (`caisson_match::query::Query` in plain strings).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageQuery {
    /// OSV ecosystem: `PyPI`, `Debian:12`, `Alpine:v3.20`.
    pub ecosystem: String,
    /// Version ordering scheme (`caisson_version::Ecosystem` name).
    pub scheme: String,
    /// Name as the advisories write it.
    pub name: String,
    /// Version compared against the advisories.
    pub version: String,
}

/// A vulnerability that matched a lookup; the package it is reported
/// against comes from each package row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedVuln {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed: Vec<String>,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `NEGLIGIBLE`, `UNKNOWN`.
    pub severity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A package of a scanned image and its lookup (`None`: not matchable,
/// e.g. an OS without advisory data).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScannedPackage {
    pub query: PackageQuery,
    pub name: String,
    pub version: String,
    pub purl: String,
}

/// How the last scan of a digest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanState {
    /// Cataloged (and matched, when `matched` is set on the record).
    Scanned,
    /// The image could not be read or cataloged.
    Failed,
}

/// The scan state of one digest in one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRecord {
    pub repo: String,
    pub digest: Digest,
    pub state: ScanState,
    /// Why the scan failed, or why it was not matched.
    pub reason: Option<String>,
    /// The CycloneDX SBOM blob (also attached as a referrer).
    pub sbom_digest: Option<Digest>,
    /// The referrer manifest that attaches the SBOM.
    pub sbom_manifest: Option<Digest>,
    pub scanned_ms: i64,
    /// Packages found.
    pub packages: u64,
}

/// One finding of a digest (lookup match × package row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFinding {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub package: String,
    pub installed: String,
    pub purl: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed: Vec<String>,
    pub severity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// One line of a digest's scan history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub time_ms: i64,
    /// `scan`, `scan-failed`, `rescan`.
    pub kind: String,
    /// A JSON object with counts and changes.
    pub detail: serde_json::Value,
}

/// A stored lookup with its current matches (`None`: never matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredQuery {
    pub qid: i64,
    pub query: PackageQuery,
    pub matched: Option<Vec<MatchedVuln>>,
}

/// A scanned digest and its packages (package row ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPackages {
    pub repo: String,
    pub digest: Digest,
    pub packages: Vec<i64>,
}

/// A package row: its lookup id, name and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRow {
    pub qid: i64,
    pub name: String,
    pub version: String,
}

/// Digests affected by changed lookups, with the package rows they use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AffectedTargets {
    pub targets: Vec<TargetPackages>,
    /// Package row id → row, for every package of `targets`.
    pub packages: std::collections::HashMap<i64, PackageRow>,
}

/// A digest that holds a package (and, for a vulnerability search, the id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub repo: String,
    pub digest: Digest,
    pub package: String,
    pub version: String,
    pub purl: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<String>,
}

/// Queue counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    pub queued: u64,
    pub running: u64,
}

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunedScanState {
    /// Finished (`done`/`failed`) jobs.
    pub jobs: u64,
    /// History lines beyond the per-digest cap.
    pub history: u64,
}

/// The scanning side of the metadata store. Every [`crate::MetaStore`] is one.
pub trait ScanStore: Send + Sync + 'static {
    // -- the queue
    /// Queues a scan of `repo@digest`; `None` when one is already queued or running.
    fn enqueue_scan(
        &self,
        repo: &str,
        digest: &Digest,
        reason: &str,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// Takes the oldest queued job and marks it running.
    fn claim_scan_job(&self) -> impl Future<Output = Result<Option<ScanJob>>> + Send;
    /// Marks a job done (`error` = `None`) or failed.
    fn finish_scan_job(
        &self,
        id: i64,
        error: Option<String>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Puts jobs left running by a previous process back in the queue.
    fn requeue_interrupted_scans(&self) -> impl Future<Output = Result<u64>> + Send;
    /// Retention: removes `done`/`failed` jobs that finished before
    /// `finished_before_ms` (ms since the epoch) and, per digest, every
    /// history line but the `keep_history` newest. Queued and running jobs
    /// are never removed.
    fn prune_scan_state(
        &self,
        finished_before_ms: i64,
        keep_history: u64,
    ) -> impl Future<Output = Result<PrunedScanState>> + Send;
    fn scan_queue_depth(&self) -> impl Future<Output = Result<QueueDepth>> + Send;
    /// Jobs of one digest, newest first.
    fn scan_jobs(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<Vec<ScanJob>>> + Send;

    // -- results
    /// Stores a digest's scan: its record, its packages (replacing earlier
    /// ones; new lookups are added unmatched) and a history line.
    fn record_scan(
        &self,
        record: ScanRecord,
        packages: Vec<ScannedPackage>,
        history: HistoryEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    fn scan_record(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<Option<ScanRecord>>> + Send;
    /// Lookups of a digest's packages that were never matched.
    fn unmatched_queries(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<Vec<StoredQuery>>> + Send;
    /// Findings of a digest, ordered by package then id.
    fn scan_findings(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<Vec<StoredFinding>>> + Send;
    /// Appends history lines (one transaction).
    fn add_scan_history(
        &self,
        entries: Vec<(String, Digest, HistoryEntry)>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// History of a digest, oldest first.
    fn scan_history(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>>> + Send;
    /// Forgets a deleted manifest's scan (record, packages, history).
    fn forget_scan(&self, repo: &str, digest: &Digest) -> impl Future<Output = Result<()>> + Send;

    // -- re-scan
    /// Every stored lookup with its matches.
    fn all_queries(&self) -> impl Future<Output = Result<Vec<StoredQuery>>> + Send;
    /// Digests holding a package of any of `qids`, with all their packages.
    fn targets_with_queries(
        &self,
        qids: Vec<i64>,
    ) -> impl Future<Output = Result<AffectedTargets>> + Send;
    /// Replaces the matches of lookups.
    fn set_query_matches(
        &self,
        updates: Vec<(i64, Vec<MatchedVuln>)>,
    ) -> impl Future<Output = Result<()>> + Send;

    // -- search
    /// Digests with a finding whose id or alias is `id`.
    fn find_vulnerability(&self, id: &str) -> impl Future<Output = Result<Vec<SearchHit>>> + Send;
    /// Digests holding a package named `name` (case-insensitive).
    fn find_package(&self, name: &str) -> impl Future<Output = Result<Vec<SearchHit>>> + Send;

    // -- settings
    /// The namespace's health threshold (`critical`, `high`, …), `None` = default.
    fn scan_threshold(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<Option<String>>> + Send;
    fn set_scan_threshold(
        &self,
        namespace: &str,
        threshold: Option<String>,
    ) -> impl Future<Output = Result<()>> + Send;
}
