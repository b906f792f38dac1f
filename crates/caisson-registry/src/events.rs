//! What happened in the registry, on one tokio broadcast channel: for pull
//! policies' notifications, webhooks (`notify.rs`), the host watcher
//! (`hosts/watch.rs`) and tests. The scanning service reports its own
//! events ([`ScanEvent`]) through [`crate::scan`]'s `ScanHost`
//! implementation, which turns them into the variants of the same name.

use caisson_oci::Digest;
use caisson_registry_scan::{HealthState, ScanEvent};
use caisson_registry_store::{BlobStore, MetaStore};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::Registry;

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

impl From<ScanEvent> for RegistryEvent {
    fn from(ev: ScanEvent) -> Self {
        match ev {
            ScanEvent::ScanCompleted {
                repo,
                digest,
                health,
                changed,
            } => RegistryEvent::ScanCompleted {
                repo,
                digest,
                health,
                changed,
            },
            ScanEvent::FindingsChanged {
                repo,
                digest,
                added,
                removed,
                new_critical,
            } => RegistryEvent::FindingsChanged {
                repo,
                digest,
                added,
                removed,
                new_critical,
            },
        }
    }
}

/// The container a `container.vulnerable` event names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VulnerableContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
}

/// The sending side of the channel (receivers come from
/// [`Registry::subscribe`]).
pub(crate) fn channel() -> broadcast::Sender<RegistryEvent> {
    broadcast::channel(1024).0
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Subscribes to registry events (pushes, deletes, scans, finding changes).
    pub fn subscribe(&self) -> broadcast::Receiver<RegistryEvent> {
        self.events.subscribe()
    }

    pub(crate) fn publish(&self, ev: RegistryEvent) {
        // No subscriber is not an error.
        let _ = self.events.send(ev);
    }
}
