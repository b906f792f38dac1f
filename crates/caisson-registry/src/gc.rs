//! Online garbage collection: blobs no manifest references are deleted once
//! older than the grace period. Candidates are found without locks; the
//! delete phase re-reads the references under the exclusive GC lock, which
//! manifest writes hold shared while they check and record their blobs.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use caisson_audit::Outcome;
use caisson_registry_store::{BlobStore, MetaStore, StoreError};
use serde::Serialize;

use crate::Registry;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    pub scanned: u64,
    pub deleted: u64,
    pub freed_bytes: u64,
    /// Unreferenced but younger than the grace period.
    pub kept_young: u64,
    pub uploads_removed: u64,
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Runs one collection; `actor` is recorded in the audit log.
    pub async fn gc(&self, actor: &str) -> Result<GcReport, StoreError> {
        let mut report = GcReport::default();
        let grace = self.config.gc_grace;
        let now = SystemTime::now();
        let referenced = self.meta.referenced_digests().await?;
        let mut candidates = Vec::new();
        for b in self.blobs.list().await? {
            report.scanned += 1;
            if referenced.contains(&b.digest) {
                continue;
            }
            let age = now.duration_since(b.modified).unwrap_or_default();
            if age < grace {
                report.kept_young += 1;
                continue;
            }
            candidates.push(b);
        }
        if !candidates.is_empty() {
            let _exclusive = self.gc_lock.write().await;
            let referenced = self.meta.referenced_digests().await?;
            for b in candidates {
                if referenced.contains(&b.digest) {
                    continue;
                }
                self.meta.forget_blob(&b.digest).await?;
                if self.blobs.delete(&b.digest).await? {
                    report.deleted += 1;
                    report.freed_bytes = report.freed_bytes.saturating_add(b.size);
                }
            }
        }
        report.uploads_removed = self.clean_uploads(self.config.upload_ttl).await? as u64;
        self.audit(
            actor,
            "",
            "gc",
            "registry",
            Outcome::Success,
            &serde_json::to_string(&report).unwrap_or_default(),
        )
        .await?;
        Ok(report)
    }

    /// Collects every `every` as `system` (`caisson serve --gc-interval`),
    /// the first run one period after start; each report or error is
    /// logged. Runs until the process ends.
    pub fn start_gc(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let reg = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match reg.gc("system").await {
                    Ok(r) => tracing::info!(?r, "garbage collection"),
                    Err(e) => tracing::error!("garbage collection failed: {e}"),
                }
            }
        })
    }
}
