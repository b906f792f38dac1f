//! Registry events as webhook notifications ([`caisson_notify`]): pushes,
//! deletions, completed scans, and re-scans that changed a stored digest's
//! findings (`finding.new-critical` when critical ones are new, else
//! `findings.changed`), pulls a pull policy blocked (`policy.violation`),
//! from reported hosts `container.vulnerable` and `bench.regressed`, and
//! signed checkpoints of the audit chain (`audit.checkpoint`), and each
//! runtime alert a sensor reported (`runtime.alert`).

use caisson_notify::{events, Notification, Notifier};
use tokio::sync::broadcast;

use crate::events::RegistryEvent;

/// The notification for `ev`.
pub fn notification(ev: &RegistryEvent) -> Option<Notification> {
    let event = match ev {
        RegistryEvent::Pushed { .. } => events::PUSH,
        RegistryEvent::Deleted { .. } => events::DELETE,
        RegistryEvent::ScanCompleted { .. } => events::SCAN_COMPLETED,
        RegistryEvent::FindingsChanged { new_critical, .. } if !new_critical.is_empty() => {
            events::NEW_CRITICAL
        }
        RegistryEvent::FindingsChanged { .. } => events::FINDINGS_CHANGED,
        RegistryEvent::PullBlocked(_) => events::POLICY_VIOLATION,
        RegistryEvent::ContainerVulnerable { .. } => events::CONTAINER_VULNERABLE,
        RegistryEvent::BenchRegressed { .. } => events::BENCH_REGRESSED,
        RegistryEvent::AuditCheckpoint(_) => events::AUDIT_CHECKPOINT,
        RegistryEvent::RuntimeAlert(_) => events::RUNTIME_ALERT,
    };
    let data = serde_json::to_value(ev).ok()?;
    Some(Notification::new(event, data))
}

/// Forwards every event of `rx` to `notifier` until the registry goes away.
pub fn forward(
    mut rx: broadcast::Receiver<RegistryEvent>,
    notifier: Notifier,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    if let Some(n) = notification(&ev) {
                        notifier.send(n);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "webhook notifications fell behind; events skipped");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}
