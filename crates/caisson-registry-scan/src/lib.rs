//! The registry's scanning service: vulnerability scanning of the images a
//! Caisson registry stores, readable without the distribution server.
//!
//! - **Scan on push**: a pushed image manifest (or each platform manifest of
//!   a pushed index) is queued in the metadata store ([`ScanStore`]); a
//!   bounded pool of workers ([`worker`]) reads config and layers from the
//!   blob store, catalogs them on the blocking pool, stores the CycloneDX
//!   SBOM as an OCI referrer of the image and the packages per digest.
//! - **Matching** is per distinct advisory lookup (ecosystem, name,
//!   version), shared by every digest that holds the package, so a re-scan
//!   after an advisory update ([`rescan`]) matches each lookup once and only
//!   touches digests whose lookups changed.
//! - **Health** per digest (`healthy`, `vulnerable`, `unscanned`,
//!   `scan-failed`) against the namespace's severity threshold ([`health`]).
//! - **Events** ([`ScanEvent`]) handed to the host, which publishes them on
//!   its own channel (the registry's `RegistryEvent`).
//! - **Hygiene**: deleting an image deletes the SBOM referrer the service
//!   attached to it ([`referrer`]); finished jobs and old history lines are
//!   pruned periodically ([`retention`]).
//!
//! The service does not know the server. It runs inside a [`ScanHost`]: the
//! stores, the GC lock the referrer writes share with the server's manifest
//! writes, the audited path for the one administrative change it makes
//! (deleting the SBOM referrer of a deleted image), the event sink, and the
//! [`Scanner`] state the host keeps. `caisson-registry` implements it for its
//! `Registry`; the HTTP endpoints over this service live there too.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod db;
mod health;
mod queue;
pub mod referrer;
pub mod rescan;
pub mod retention;
pub mod worker;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use caisson_audit::AuditEvent;
use caisson_oci::{media_type, Digest};
use caisson_registry_store::{
    BlobStore, Change, Changed, JobState, ManifestRecord, MetaStore, StoreError,
};
use serde::Serialize;
use tokio::sync::Notify;

pub use db::{db_info, has_database};
pub use health::{health, threshold};
pub use queue::{enqueue, forget, pause, queue_image, start, stop};
pub use rescan::{rescan, RescanError, RescanReport};
pub use retention::prune;
pub use worker::scanned_packages;

/// What the scanning service needs from the server it runs in.
pub trait ScanHost: Send + Sync + 'static {
    type Blobs: BlobStore;
    type Meta: MetaStore;
    fn blobs(&self) -> &Self::Blobs;
    fn meta(&self) -> &Self::Meta;
    /// The scanning state (queue wake-ups, workers, open database).
    fn scanner(&self) -> &Scanner;
    /// Largest manifest read from the blob store.
    fn max_manifest_bytes(&self) -> u64;
    /// Held shared while an SBOM referrer is written, as manifest pushes
    /// hold it; garbage collection's delete phase holds it exclusively.
    fn gc_lock(&self) -> &tokio::sync::RwLock<()>;
    /// Publishes a scanning event (no subscriber is not an error).
    fn publish(&self, event: ScanEvent);
    /// Applies `change` and seals the audit record `audit` builds from its
    /// result in the same transaction; fails closed like the server's own
    /// administrative changes.
    fn audited<F>(
        &self,
        change: Change,
        audit: F,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send
    where
        F: FnOnce(&Changed) -> Option<AuditEvent> + Send + 'static;
}

/// Scanning settings of `caisson serve`.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Scan workers (concurrent scans). 0 disables background scanning.
    pub workers: usize,
    /// Advisory database directory; without one, scans store SBOMs and the
    /// health stays `unscanned` ("no advisory database").
    pub db_dir: Option<PathBuf>,
    /// Start with the workers paused (jobs queue up; tests and maintenance).
    pub start_paused: bool,
    /// How often the database file is checked for a swap (`caisson db update`).
    pub db_poll: Duration,
    /// Layer walking limits.
    pub limits: caisson_image::Limits,
    /// How long finished (`done`/`failed`) scan jobs are kept.
    pub job_retention: Duration,
    /// Scan history lines kept per digest (the newest).
    pub history_per_digest: u64,
    /// How often finished jobs and history are pruned.
    pub prune_every: Duration,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            workers: 2,
            db_dir: None,
            start_paused: false,
            db_poll: Duration::from_secs(30),
            limits: caisson_image::Limits::default(),
            job_retention: DEFAULT_JOB_RETENTION,
            history_per_digest: DEFAULT_HISTORY_PER_DIGEST,
            prune_every: Duration::from_secs(3600),
        }
    }
}

/// Default age after which finished scan jobs are pruned (7 days).
pub const DEFAULT_JOB_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Default number of scan history lines kept per digest.
pub const DEFAULT_HISTORY_PER_DIGEST: u64 = 100;

/// What the scanning service reports to its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ScanEvent {
    /// A scan finished (`changed`: findings differ from the previous scan).
    ScanCompleted {
        repo: String,
        digest: Digest,
        health: HealthState,
        changed: bool,
    },
    /// A re-scan changed the findings of a stored digest.
    FindingsChanged {
        repo: String,
        digest: Digest,
        added: Vec<String>,
        removed: Vec<String>,
        /// Critical vulnerability ids the digest did not have before.
        new_critical: Vec<String>,
    },
}

/// The health of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthState {
    /// Scanned and matched; nothing at or above the threshold.
    Healthy,
    /// Scanned and matched; findings at or above the threshold.
    Vulnerable,
    /// Never scanned, queued, or scanned without an advisory database.
    Unscanned,
    /// The image could not be read or cataloged.
    ScanFailed,
}

/// The advisory database in use, and when it was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbInfo {
    pub path: String,
    pub built_at: Option<i64>,
    pub age_seconds: Option<u64>,
}

/// `GET …/health` and `caisson registry status`.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub repository: String,
    pub digest: Digest,
    pub health: HealthState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The namespace's threshold (lowercase severity).
    pub threshold: String,
    /// Findings per severity (uppercase names).
    pub counts: std::collections::BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scanned_at_ms: Option<i64>,
    pub packages: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom: Option<Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom_manifest: Option<Digest>,
    /// State of a queued or running job for this digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<DbInfo>,
}

/// Ordered severities, lowest first (as `caisson_model::Severity` serialises them).
pub const SEVERITIES: [&str; 6] = ["UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// The default health threshold of a namespace.
pub const DEFAULT_THRESHOLD: &str = "high";

/// Rank of a severity name (case-insensitive), `None` when unknown.
pub fn severity_rank(s: &str) -> Option<usize> {
    SEVERITIES.iter().position(|x| x.eq_ignore_ascii_case(s))
}

/// The artifact type of SBOM referrers.
pub const SBOM_ARTIFACT_TYPE: &str = "application/vnd.cyclonedx+json";

/// Whether a stored manifest is an image this registry scans: an image
/// manifest whose config is an image config, not a referrer or artifact.
pub fn is_scannable(rec: &ManifestRecord) -> bool {
    media_type::is_manifest(&rec.media_type)
        && rec.subject.is_none()
        && rec
            .artifact_type
            .as_deref()
            .is_some_and(|a| a == media_type::OCI_CONFIG || a == media_type::DOCKER_CONFIG)
}

/// Scanning state a host keeps, shared by its handlers and the workers.
pub struct Scanner {
    config: ScanConfig,
    wake: Notify,
    paused: AtomicBool,
    /// Set by [`stop`]: workers exit at their next job boundary.
    stopping: AtomicBool,
    /// The running workers, awaited by [`stop`].
    workers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    db: tokio::sync::RwLock<Option<db::OpenDb>>,
    /// One re-scan at a time; holds the stamp of the database the last
    /// successful re-scan used (`None`: none since start, so the first
    /// watcher tick re-scans and catches a database swapped while down).
    rescan_lock: tokio::sync::Mutex<Option<db::DbStamp>>,
}

impl Scanner {
    pub fn new(config: ScanConfig) -> Self {
        Scanner {
            paused: AtomicBool::new(config.start_paused),
            config,
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            workers: std::sync::Mutex::new(Vec::new()),
            db: tokio::sync::RwLock::new(None),
            rescan_lock: tokio::sync::Mutex::new(None),
        }
    }

    pub fn config(&self) -> &ScanConfig {
        &self.config
    }

    /// Whether the workers are paused ([`pause`]).
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }
}
