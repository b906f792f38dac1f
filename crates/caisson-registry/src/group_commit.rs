//! Group commit for the audit log. Every audited request appends its record
//! and waits until it is durable, but concurrent requests share one commit:
//! whoever holds the writer lock seals everything queued so far in one
//! transaction (`MetaStore::append_audit_batch`) and hands the outcome to
//! every request of that batch. Order is the order of arrival; with one
//! request in flight this is exactly one append per record.
//!
//! Fail closed: when the batch fails, every request in it gets the error
//! (none of its records is durable). A request whose writer was cancelled
//! mid-commit gets an error too, since it cannot know whether its record
//! was written.

use std::sync::Mutex;

use caisson_audit::AuditEvent;
use caisson_registry_store::{MetaStore, StoreError};
use tokio::sync::oneshot;

/// What a batch's waiters learn: `Err` carries the failure's message.
type Outcome = Result<(), String>;

struct Pending {
    event: AuditEvent,
    done: oneshot::Sender<Outcome>,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    /// Records queued and not yet taken by a writer.
    queue: Mutex<Vec<Pending>>,
    writer: tokio::sync::Mutex<()>,
}

const OP: &str = "append audit record";

impl GroupCommit {
    /// Appends `event`; returns once it is committed. An error means it is
    /// not durable ([`StoreError::AuditFailed`]).
    pub(crate) async fn append<M: MetaStore>(
        &self,
        meta: &M,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let (done, mut rx) = oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| failed("audit queue mutex poisoned".into()))?
            .push(Pending { event, done });
        let _writer = self.writer.lock().await;
        match rx.try_recv() {
            Ok(outcome) => return outcome.map_err(failed),
            Err(oneshot::error::TryRecvError::Closed) => {
                return Err(failed(
                    "the commit holding this record was interrupted".into(),
                ))
            }
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        // Our record is still queued: we write the batch.
        let batch = std::mem::take(
            &mut *self
                .queue
                .lock()
                .map_err(|_| failed("audit queue mutex poisoned".into()))?,
        );
        let (events, waiters): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.event, p.done)).unzip();
        let result = meta.append_audit_batch(events).await;
        let shared: Outcome = match &result {
            Ok(_) => Ok(()),
            Err(e) => Err(error_chain(e)),
        };
        for w in waiters {
            let _ = w.send(shared.clone());
        }
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(StoreError::AuditFailed {
                op: OP,
                source: Box::new(e),
            }),
        }
    }
}

fn failed(message: String) -> StoreError {
    StoreError::AuditFailed {
        op: OP,
        source: Box::new(StoreError::Backend {
            op: OP,
            source: message.into(),
        }),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}
