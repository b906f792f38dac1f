//! Vulnerability scanning inside the registry.
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
//!   `scan-failed`) against the namespace's severity threshold.
//! - **Events** ([`RegistryEvent`]) on a broadcast channel for pull
//!   policies and notifications.
//! - **Hygiene**: deleting an image deletes the SBOM referrer the registry
//!   attached to it ([`referrer`]); finished jobs and old history lines are
//!   pruned periodically ([`retention`]).

pub mod api;
mod referrer;
pub mod rescan;
mod retention;
mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use caisson_advisory::Database;
use caisson_oci::{media_type, Digest};
use caisson_registry_store::{
    BlobStore, JobState, ManifestRecord, MetaStore, RefKind, ScanState, StoreError,
};
use serde::Serialize;
use tokio::sync::{broadcast, Notify};

use crate::route::namespace_of;
use crate::Registry;

pub use rescan::RescanReport;
pub use worker::scanned_packages;

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

/// What happened in the registry, for pull policies and notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RegistryEvent {
    Pushed {
        repo: String,
        digest: Digest,
        tag: Option<String>,
        media_type: String,
    },
    Deleted {
        repo: String,
        digest: Digest,
    },
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
    /// A pull policy blocked a pull.
    PullBlocked(Box<crate::pull::PullDenial>),
    /// A re-scan added findings to a digest a reported host runs
    /// (`crate::hosts::watch`).
    ContainerVulnerable {
        host: String,
        hostname: String,
        container: VulnerableContainer,
        repo: String,
        digest: String,
        new_findings: Vec<caisson_registry_store::StoredFinding>,
    },
    /// A host's benchmark result has more warnings than its previous one.
    BenchRegressed {
        host: String,
        hostname: String,
        seq: i64,
        previous_warn: usize,
        warn: usize,
        newly_warn: Vec<String>,
    },
    /// A signed checkpoint of the audit chain head was appended to the
    /// checkpoint file (`crate::anchor`); receivers keep it off-host.
    AuditCheckpoint(caisson_audit::Checkpoint),
    /// A runtime alert was stored for the first time (`crate::alerts`).
    RuntimeAlert(Box<crate::alerts::AlertEvent>),
}

/// The container a `container.vulnerable` event names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VulnerableContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
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
    pub counts: BTreeMap<String, u64>,
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

/// Scanning state shared by the registry's handlers and workers.
pub struct ScanHub {
    pub(crate) events: broadcast::Sender<RegistryEvent>,
    pub(crate) wake: Notify,
    pub(crate) paused: AtomicBool,
    /// Set by [`Registry::stop_scanning`]: workers exit at their next job
    /// boundary.
    pub(crate) stopping: AtomicBool,
    /// The running workers, awaited by [`Registry::stop_scanning`].
    pub(crate) workers: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    pub(crate) db: tokio::sync::RwLock<Option<OpenDb>>,
    /// One re-scan at a time; holds the stamp of the database the last
    /// successful re-scan used (`None`: none since start, so the first
    /// watcher tick re-scans and catches a database swapped while down).
    pub(crate) rescan_lock: tokio::sync::Mutex<Option<DbStamp>>,
}

/// An opened advisory database and the file stamp it was opened at.
#[derive(Clone)]
pub(crate) struct OpenDb {
    pub(crate) db: Arc<Database>,
    pub(crate) stamp: DbStamp,
    pub(crate) info: DbInfo,
}

/// What identifies one database file: a swap changes at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DbStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

impl ScanHub {
    pub(crate) fn new(config: &ScanConfig) -> Self {
        let (events, _) = broadcast::channel(1024);
        ScanHub {
            events,
            wake: Notify::new(),
            paused: AtomicBool::new(config.start_paused),
            stopping: AtomicBool::new(false),
            workers: std::sync::Mutex::new(Vec::new()),
            db: tokio::sync::RwLock::new(None),
            rescan_lock: tokio::sync::Mutex::new(None),
        }
    }
}

fn db_file(dir: &std::path::Path) -> PathBuf {
    dir.join(caisson_advisory::DB_FILE_NAME)
}

fn stamp_of(path: &std::path::Path) -> Option<DbStamp> {
    let m = fs_err::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(DbStamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Subscribes to registry events (pushes, deletes, scans, finding changes).
    pub fn subscribe(&self) -> broadcast::Receiver<RegistryEvent> {
        self.scan.events.subscribe()
    }

    pub(crate) fn publish(&self, ev: RegistryEvent) {
        // No subscriber is not an error.
        let _ = self.scan.events.send(ev);
    }

    /// Pauses or resumes the scan workers (queued jobs stay queued).
    pub fn pause_scans(&self, paused: bool) {
        self.scan.paused.store(paused, Ordering::SeqCst);
        if !paused {
            self.scan.wake.notify_waiters();
        }
    }

    /// Queues a scan of `repo@digest`; `None` when one is already pending.
    pub async fn enqueue_scan(
        &self,
        repo: &str,
        digest: &Digest,
        reason: &str,
    ) -> Result<Option<i64>, StoreError> {
        let id = self.meta.enqueue_scan(repo, digest, reason).await?;
        if id.is_some() {
            self.scan.wake.notify_one();
        }
        Ok(id)
    }

    /// After a manifest PUT: the event, then a scan of the image (or of each
    /// platform manifest of an index that is in the repository).
    pub(crate) async fn on_manifest_pushed(
        &self,
        repo: &str,
        digest: &Digest,
        tag: Option<String>,
        media_type_: &str,
    ) {
        self.publish(RegistryEvent::Pushed {
            repo: repo.to_string(),
            digest: digest.clone(),
            tag,
            media_type: media_type_.to_string(),
        });
        if let Err(e) = self.queue_for_scan(repo, digest, "push", false).await {
            tracing::error!("could not queue a scan of {repo}@{digest}: {e}");
        }
    }

    /// Queues `repo@digest` if it is an image, or its platform manifests if
    /// it is an index. Without `force`, digests already scanned are skipped
    /// (a re-push or a pull of a scanned image queues nothing).
    pub(crate) async fn queue_for_scan(
        &self,
        repo: &str,
        digest: &Digest,
        reason: &str,
        force: bool,
    ) -> Result<u64, StoreError> {
        let Some(rec) = self.meta.get_manifest(repo, digest).await? else {
            return Ok(0);
        };
        let mut candidates = Vec::new();
        if is_scannable(&rec) {
            candidates.push(rec.digest.clone());
        } else if media_type::is_index(&rec.media_type) && rec.subject.is_none() {
            for r in rec.refs.iter().filter(|r| r.kind == RefKind::Manifest) {
                if let Some(child) = self.meta.get_manifest(repo, &r.digest).await? {
                    if is_scannable(&child) {
                        candidates.push(child.digest);
                    }
                }
            }
        }
        let mut n = 0;
        for d in candidates {
            if !force && self.meta.scan_record(repo, &d).await?.is_some() {
                continue;
            }
            if self.enqueue_scan(repo, &d, reason).await?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// After a manifest GET: a digest never scanned is queued (lazy scan).
    pub(crate) async fn on_manifest_pulled(&self, repo: &str, digest: &Digest) {
        if let Err(e) = self.queue_for_scan(repo, digest, "pull", false).await {
            tracing::error!("could not queue a lazy scan of {repo}@{digest}: {e}");
        }
    }

    /// After a manifest DELETE: the digest's scan is forgotten and the SBOM
    /// referrer the registry attached to it is deleted.
    pub(crate) async fn on_manifest_deleted(&self, repo: &str, digest: &Digest) {
        self.forget_deleted(repo, digest).await;
        self.publish(RegistryEvent::Deleted {
            repo: repo.to_string(),
            digest: digest.clone(),
        });
    }

    /// Forgets the scan of a manifest that left the repository (record,
    /// packages, history, queued jobs) and deletes its SBOM referrer.
    /// Errors are logged: the manifest is gone either way.
    pub(crate) async fn forget_deleted(&self, repo: &str, digest: &Digest) {
        let sbom_manifest = match self.meta.scan_record(repo, digest).await {
            Ok(rec) => rec.and_then(|r| r.sbom_manifest),
            Err(e) => {
                tracing::error!("could not read the scan of deleted {repo}@{digest}: {e}");
                None
            }
        };
        if let Err(e) = self.meta.forget_scan(repo, digest).await {
            tracing::error!("could not forget the scan of {repo}@{digest}: {e}");
        }
        if let Some(m) = sbom_manifest {
            if let Err(e) = self.detach_sbom(repo, digest, &m).await {
                tracing::error!(
                    "could not delete the SBOM referrer {m} of deleted {repo}@{digest}: {e}"
                );
            }
        }
    }

    /// The advisory database, (re)opened when its file changed. `None`
    /// without a configured database or when it cannot be opened.
    pub(crate) async fn advisory_db(&self) -> Option<OpenDb> {
        let dir = self.config.scan.db_dir.clone()?;
        let path = db_file(&dir);
        let stamp = stamp_of(&path);
        if let Some(cur) = self.scan.db.read().await.as_ref() {
            if Some(&cur.stamp) == stamp.as_ref() {
                return Some(cur.clone());
            }
        }
        let stamp = stamp?;
        let opened = tokio::task::spawn_blocking(move || {
            let db = Database::open(&dir)?;
            let built_at = db.status().ok().and_then(|s| s.built_at);
            Ok::<_, caisson_advisory::DbError>((db, built_at))
        })
        .await;
        match opened {
            Ok(Ok((db, built_at))) => {
                let now = caisson_registry_store::now_ms() / 1000;
                let open = OpenDb {
                    db: Arc::new(db),
                    stamp,
                    info: DbInfo {
                        path: path.display().to_string(),
                        built_at,
                        age_seconds: built_at.map(|b| u64::try_from(now - b).unwrap_or(0)),
                    },
                };
                *self.scan.db.write().await = Some(open.clone());
                Some(open)
            }
            Ok(Err(e)) => {
                tracing::warn!("advisory database {} unusable: {e}", path.display());
                None
            }
            Err(e) => {
                tracing::error!("opening the advisory database panicked: {e}");
                None
            }
        }
    }

    /// Whether the database file differs from the one the last re-scan used.
    async fn db_changed(&self) -> bool {
        let Some(dir) = self.config.scan.db_dir.as_ref() else {
            return false;
        };
        let Some(stamp) = stamp_of(&db_file(dir)) else {
            return false;
        };
        self.scan.rescan_lock.lock().await.as_ref() != Some(&stamp)
    }

    /// The namespace's threshold (lowercase), default [`DEFAULT_THRESHOLD`].
    pub async fn scan_threshold(&self, repo: &str) -> Result<String, StoreError> {
        Ok(self
            .meta
            .scan_threshold(namespace_of(repo))
            .await?
            .unwrap_or_else(|| DEFAULT_THRESHOLD.to_string()))
    }

    /// The health of `repo@digest`.
    pub async fn health(&self, repo: &str, digest: &Digest) -> Result<Health, StoreError> {
        let threshold = self.scan_threshold(repo).await?;
        let record = self.meta.scan_record(repo, digest).await?;
        let job = self
            .meta
            .scan_jobs(repo, digest)
            .await?
            .into_iter()
            .find(|j| matches!(j.state, JobState::Queued | JobState::Running))
            .map(|j| j.state);
        let db = self.advisory_db().await.map(|d| d.info);
        let mut h = Health {
            repository: repo.to_string(),
            digest: digest.clone(),
            health: HealthState::Unscanned,
            reason: None,
            threshold: threshold.clone(),
            counts: BTreeMap::new(),
            scanned_at_ms: None,
            packages: 0,
            sbom: None,
            sbom_manifest: None,
            job,
            db: db.clone(),
        };
        let Some(rec) = record else {
            h.reason = Some(match job {
                Some(JobState::Running) => "scan running".into(),
                Some(_) => "scan queued".into(),
                None => "never scanned".into(),
            });
            return Ok(h);
        };
        h.scanned_at_ms = Some(rec.scanned_ms);
        h.packages = rec.packages;
        h.sbom = rec.sbom_digest.clone();
        h.sbom_manifest = rec.sbom_manifest.clone();
        if rec.state == ScanState::Failed {
            h.health = HealthState::ScanFailed;
            h.reason = rec.reason;
            return Ok(h);
        }
        if db.is_none() {
            h.reason = Some(
                "no advisory database configured (or it cannot be opened): SBOM stored, packages not matched"
                    .into(),
            );
            return Ok(h);
        }
        let findings = self.meta.scan_findings(repo, digest).await?;
        let min = severity_rank(&threshold).unwrap_or(4);
        let mut worst = false;
        for f in &findings {
            *h.counts.entry(f.severity.clone()).or_default() += 1;
            if severity_rank(&f.severity).is_some_and(|r| r >= min) {
                worst = true;
            }
        }
        h.health = if worst {
            HealthState::Vulnerable
        } else {
            HealthState::Healthy
        };
        Ok(h)
    }

    /// Starts the scan workers, the database watcher and the retention
    /// task. Jobs a previous process left running are queued again first.
    pub async fn start_scanning(self: &Arc<Self>) -> Result<(), StoreError> {
        let n = self.meta.requeue_interrupted_scans().await?;
        if n > 0 {
            tracing::info!("re-queued {n} interrupted scan job(s)");
        }
        let mut workers = Vec::with_capacity(self.config.scan.workers);
        for i in 0..self.config.scan.workers {
            let reg = self.clone();
            workers.push(tokio::spawn(async move { reg.worker_loop(i).await }));
        }
        if let Ok(mut w) = self.scan.workers.lock() {
            w.extend(workers);
        }
        if self.config.scan.db_dir.is_some() {
            let reg = self.clone();
            tokio::spawn(async move { reg.db_watch_loop().await });
        }
        let reg = self.clone();
        tokio::spawn(async move { reg.retention_loop().await });
        Ok(())
    }

    /// Stops the scan workers at a job boundary: a worker finishes the job
    /// it holds (its results and audit record are stored) and takes no
    /// other. Waits at most `deadline`; a worker still scanning then is
    /// abandoned with the process, and its job, left `running`, is queued
    /// again at the next start. Returns how many workers stopped in time.
    pub async fn stop_scanning(&self, deadline: Duration) -> (usize, usize) {
        self.scan.stopping.store(true, Ordering::SeqCst);
        self.scan.wake.notify_waiters();
        let workers = match self.scan.workers.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(_) => Vec::new(),
        };
        let total = workers.len();
        let all = futures_util::future::join_all(workers);
        let stopped = match tokio::time::timeout(deadline, all).await {
            Ok(done) => done.len(),
            Err(_) => 0,
        };
        (stopped, total)
    }

    async fn db_watch_loop(self: Arc<Self>) {
        let every = self.config.scan.db_poll.max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            if !self.db_changed().await {
                continue;
            }
            tracing::info!("advisory database changed: re-matching stored SBOMs");
            match self.rescan().await {
                Ok(r) => tracing::info!(
                    lookups = r.lookups,
                    changed_lookups = r.changed_lookups,
                    changed_digests = r.changed_digests,
                    "re-scan finished in {} ms",
                    r.elapsed_ms
                ),
                Err(e) => tracing::error!("re-scan failed: {e}"),
            }
        }
    }
}
