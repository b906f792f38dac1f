//! The scanning service ([`caisson_registry_scan`]) inside the registry:
//! [`Registry`] is its [`ScanHost`] (stores, GC lock, audited changes, its
//! events published as [`RegistryEvent`]s), the manifest handlers' push,
//! pull and delete hooks queue or forget scans, and [`api`] serves the
//! scanning endpoints under `/api/v1`. The names below are re-exported so
//! `caisson_registry::scan::…` stays the one path for the server's users.

pub mod api;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use caisson_audit::AuditEvent;
use caisson_oci::Digest;
use caisson_registry_scan as service;
use caisson_registry_store::{BlobStore, Change, Changed, MetaStore, StoreError};

pub use caisson_registry_scan::{
    is_scannable, rescan, scanned_packages, severity_rank, DbInfo, Health, HealthState,
    RescanReport, ScanConfig, ScanEvent, ScanHost, Scanner, DEFAULT_HISTORY_PER_DIGEST,
    DEFAULT_JOB_RETENTION, DEFAULT_THRESHOLD, SBOM_ARTIFACT_TYPE, SEVERITIES,
};
pub use caisson_registry_store::scan::PrunedScanState;

pub use crate::events::{RegistryEvent, VulnerableContainer};
use crate::Registry;

impl<B: BlobStore, M: MetaStore> ScanHost for Registry<B, M> {
    type Blobs = B;
    type Meta = M;

    fn blobs(&self) -> &B {
        &self.blobs
    }

    fn meta(&self) -> &M {
        &self.meta
    }

    fn scanner(&self) -> &Scanner {
        &self.scan
    }

    fn max_manifest_bytes(&self) -> u64 {
        self.config.max_manifest_bytes as u64
    }

    fn gc_lock(&self) -> &tokio::sync::RwLock<()> {
        &self.gc_lock
    }

    fn publish(&self, event: ScanEvent) {
        Registry::publish(self, event.into());
    }

    fn audited<F>(
        &self,
        change: Change,
        audit: F,
    ) -> impl Future<Output = Result<Changed, StoreError>> + Send
    where
        F: FnOnce(&Changed) -> Option<AuditEvent> + Send + 'static,
    {
        Registry::audited(self, change, audit)
    }
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Pauses or resumes the scan workers (queued jobs stay queued).
    pub fn pause_scans(&self, paused: bool) {
        service::pause(self, paused);
    }

    /// Queues a scan of `repo@digest`; `None` when one is already pending.
    pub async fn enqueue_scan(
        &self,
        repo: &str,
        digest: &Digest,
        reason: &str,
    ) -> Result<Option<i64>, StoreError> {
        service::enqueue(self, repo, digest, reason).await
    }

    /// Queues `repo@digest` if it is an image, or its platform manifests if
    /// it is an index ([`service::queue_image`]).
    pub(crate) async fn queue_for_scan(
        &self,
        repo: &str,
        digest: &Digest,
        reason: &str,
        force: bool,
    ) -> Result<u64, StoreError> {
        service::queue_image(self, repo, digest, reason, force).await
    }

    /// After a manifest PUT: the event, then a scan of the image (or of each
    /// platform manifest of an index that is in the repository).
    pub(crate) async fn on_manifest_pushed(
        &self,
        repo: &str,
        digest: &Digest,
        tag: Option<String>,
        media_type: &str,
    ) {
        self.publish(RegistryEvent::Pushed {
            repo: repo.to_string(),
            digest: digest.clone(),
            tag,
            media_type: media_type.to_string(),
        });
        if let Err(e) = self.queue_for_scan(repo, digest, "push", false).await {
            tracing::error!("could not queue a scan of {repo}@{digest}: {e}");
        }
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
        service::forget(self, repo, digest).await;
        self.publish(RegistryEvent::Deleted {
            repo: repo.to_string(),
            digest: digest.clone(),
        });
    }

    /// The namespace's threshold (lowercase), default [`DEFAULT_THRESHOLD`].
    pub async fn scan_threshold(&self, repo: &str) -> Result<String, StoreError> {
        service::threshold(self, repo).await
    }

    /// The health of `repo@digest`.
    pub async fn health(&self, repo: &str, digest: &Digest) -> Result<Health, StoreError> {
        service::health(self, repo, digest).await
    }

    /// Starts the scan workers, the database watcher and the retention
    /// task (jobs a previous process left running are queued again first),
    /// and the runtime alerts' retention task on the same period.
    pub async fn start_scanning(self: &Arc<Self>) -> Result<(), StoreError> {
        service::start(self).await?;
        let reg = self.clone();
        let every = self.scan.config().prune_every;
        tokio::spawn(async move { reg.alerts_retention_loop(every).await });
        Ok(())
    }

    /// Stops the scan workers at a job boundary, waiting at most `deadline`
    /// ([`service::stop`]). Returns how many workers stopped in time, and
    /// how many there were.
    pub async fn stop_scanning(&self, deadline: Duration) -> (usize, usize) {
        service::stop(self, deadline).await
    }

    /// Re-matches every stored SBOM's packages against the current database.
    pub async fn rescan(&self) -> Result<RescanReport, rescan::RescanError> {
        service::rescan(self).await
    }

    /// One retention pass of scan state with the configured limits.
    pub async fn prune_scan_state(&self) -> Result<PrunedScanState, StoreError> {
        service::prune(self).await
    }
}
