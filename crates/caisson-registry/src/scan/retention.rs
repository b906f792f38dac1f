//! Retention of scan state: finished jobs older than
//! [`ScanConfig::job_retention`](super::ScanConfig) and history lines beyond
//! [`ScanConfig::history_per_digest`](super::ScanConfig) are pruned by a task
//! started with the workers. Queued and running jobs are never pruned.
//! The same task prunes runtime alerts ([`Registry::prune_alerts`]).

use std::sync::Arc;
use std::time::Duration;

use caisson_registry_store::scan::PrunedScanState;
use caisson_registry_store::{now_ms, BlobStore, MetaStore, StoreError};

use crate::Registry;

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// One retention pass with the configured limits.
    pub async fn prune_scan_state(&self) -> Result<PrunedScanState, StoreError> {
        let cfg = &self.config.scan;
        let age = i64::try_from(cfg.job_retention.as_millis()).unwrap_or(i64::MAX);
        self.meta
            .prune_scan_state(now_ms().saturating_sub(age), cfg.history_per_digest)
            .await
    }

    /// Prunes at start, then every `prune_every`.
    pub(crate) async fn retention_loop(self: Arc<Self>) {
        let every = self.config.scan.prune_every.max(Duration::from_millis(100));
        loop {
            match self.prune_scan_state().await {
                Ok(p) if p.jobs > 0 || p.history > 0 => tracing::info!(
                    jobs = p.jobs,
                    history = p.history,
                    "pruned finished scan jobs and old scan history"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("could not prune scan state: {e}"),
            }
            match self.prune_alerts(now_ms()).await {
                Ok(p) if p.expired > 0 || p.over_cap > 0 => tracing::info!(
                    expired = p.expired,
                    over_cap = p.over_cap,
                    "pruned runtime alerts"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("could not prune runtime alerts: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    }
}
