//! Group commit for the audit log. Every audited request appends its record
//! and waits until it is durable, but concurrent requests share one commit:
//! whoever holds the writer lock seals everything queued so far in one
//! transaction (`MetaStore::append_audit_batch`), and the others find their
//! record already written. Order is the order of arrival; with one request
//! in flight this is exactly one append per record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use caisson_audit::AuditEvent;
use caisson_registry_store::{MetaStore, StoreError};

#[derive(Default)]
pub(crate) struct GroupCommit {
    /// (next ticket, records queued and not yet taken by a writer).
    queue: Mutex<(u64, Vec<AuditEvent>)>,
    /// Every ticket below this has been written (or its batch failed).
    done: AtomicU64,
    writer: tokio::sync::Mutex<()>,
}

impl GroupCommit {
    /// Appends `event`; returns once it is committed. An error means the
    /// batch holding it failed (every record of that batch is lost).
    pub(crate) async fn append<M: MetaStore>(
        &self,
        meta: &M,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let ticket = {
            let mut q = self.queue.lock().map_err(|_| poisoned())?;
            let t = q.0;
            q.0 = q.0.saturating_add(1);
            q.1.push(event);
            t
        };
        let _writer = self.writer.lock().await;
        if self.done.load(Ordering::Acquire) > ticket {
            return Ok(());
        }
        let (batch, upto) = {
            let mut q = self.queue.lock().map_err(|_| poisoned())?;
            (std::mem::take(&mut q.1), q.0)
        };
        let result = meta.append_audit_batch(batch).await;
        self.done.store(upto, Ordering::Release);
        result.map(|_| ())
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend {
        op: "queue audit record",
        source: "audit queue mutex poisoned".into(),
    }
}
