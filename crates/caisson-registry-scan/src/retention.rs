//! Retention of scan state: finished jobs older than
//! [`ScanConfig::job_retention`](crate::ScanConfig) and history lines beyond
//! [`ScanConfig::history_per_digest`](crate::ScanConfig) are pruned by a task
//! started with the workers. Queued and running jobs are never pruned.

use std::sync::Arc;
use std::time::Duration;

use caisson_registry_store::scan::PrunedScanState;
use caisson_registry_store::{now_ms, ScanStore, StoreError};

use crate::ScanHost;

/// One retention pass with the configured limits.
pub async fn prune<H: ScanHost>(host: &H) -> Result<PrunedScanState, StoreError> {
    let cfg = &host.scanner().config;
    let age = i64::try_from(cfg.job_retention.as_millis()).unwrap_or(i64::MAX);
    host.meta()
        .prune_scan_state(now_ms().saturating_sub(age), cfg.history_per_digest)
        .await
}

/// Prunes at start, then every `prune_every`.
pub(crate) async fn retention_loop<H: ScanHost>(host: Arc<H>) {
    let every = host
        .scanner()
        .config
        .prune_every
        .max(Duration::from_millis(100));
    loop {
        match prune(&*host).await {
            Ok(p) if p.jobs > 0 || p.history > 0 => tracing::info!(
                jobs = p.jobs,
                history = p.history,
                "pruned finished scan jobs and old scan history"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!("could not prune scan state: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}
