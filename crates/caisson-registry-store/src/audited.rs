//! Audited changes: a metadata change and its audit record, committed
//! together or not at all ([`crate::MetaStore::apply_audited`]).
//!
//! The registry fails closed: a change whose audit record cannot be made
//! durable must not take effect. Writing the record after the change (two
//! commits) leaves a window where the change is committed and the record
//! lost (disk full, I/O error, crash); writing it before leaves a record of a
//! change that then failed. Sealing the record in the change's own
//! transaction has neither: one commit makes both durable, and any failure
//! (the change's, the seal's, the commit's) rolls both back.

use caisson_audit::AuditEvent;
use caisson_oci::Digest;

use crate::alerts::{AckOutcome, AlertAck};
use crate::hosts::{HostUpdate, ReportOutcome};
use crate::profiles::{ProfileChange, ProfileOutcome};
use crate::{ManifestRecord, Membership, Namespace, PullPolicy, PutManifestOutcome, Robot, User};

/// A metadata change that is audited. Each variant is the matching
/// [`crate::MetaStore`] (or [`crate::ScanStore`]) method's arguments.
#[derive(Debug, Clone)]
pub enum Change {
    PutManifest {
        record: ManifestRecord,
        tag: Option<String>,
        immutable_tags: bool,
    },
    DeleteManifest {
        repo: String,
        digest: Digest,
        immutable_tags: bool,
    },
    DeleteTag {
        repo: String,
        tag: String,
    },
    LinkBlob {
        repo: String,
        digest: Digest,
        size: u64,
    },
    UnlinkBlob {
        repo: String,
        digest: Digest,
    },
    CreateUser(User),
    UpdateUser(User),
    DeleteUser(String),
    CreateRobot(Robot),
    DeleteRobot(String),
    PutNamespace(Namespace),
    /// Creates the namespace unless it exists (a push into an unknown
    /// namespace); an existing one is left exactly as it is.
    CreateNamespace(Namespace),
    DeleteNamespace(String),
    SetPullPolicy {
        namespace: String,
        policy: Option<PullPolicy>,
    },
    SetMembership(Membership),
    RemoveMembership {
        namespace: String,
        user: String,
    },
    SetScanThreshold {
        namespace: String,
        threshold: Option<String>,
    },
    /// [`crate::HostStore::store_host_report`].
    HostReport(Box<HostUpdate>),
    /// An executable allowlist profile change (`crate::profiles`).
    Profile(Box<ProfileChange>),
    /// Acknowledges a runtime alert (who, when, why).
    AckAlert {
        id: String,
        ack: AlertAck,
    },
}

impl Change {
    /// What the change does, for error messages.
    pub fn op(&self) -> &'static str {
        match self {
            Change::PutManifest { .. } => "store manifest",
            Change::DeleteManifest { .. } => "delete manifest",
            Change::DeleteTag { .. } => "delete tag",
            Change::LinkBlob { .. } => "link blob",
            Change::UnlinkBlob { .. } => "unlink blob",
            Change::CreateUser(_) => "create user",
            Change::UpdateUser(_) => "update user",
            Change::DeleteUser(_) => "delete user",
            Change::CreateRobot(_) => "create robot",
            Change::DeleteRobot(_) => "delete robot",
            Change::PutNamespace(_) => "store namespace",
            Change::CreateNamespace(_) => "create namespace",
            Change::DeleteNamespace(_) => "delete namespace",
            Change::SetPullPolicy { .. } => "store pull policy",
            Change::SetMembership(_) => "set membership",
            Change::RemoveMembership { .. } => "remove membership",
            Change::SetScanThreshold { .. } => "store scan settings",
            Change::HostReport(_) => "store host report",
            Change::Profile(_) => "change profile",
            Change::AckAlert { .. } => "acknowledge alert",
        }
    }
}

/// What a [`Change`] did: the matching method's return value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// [`Change::PutManifest`].
    Manifest(PutManifestOutcome),
    /// [`Change::DeleteManifest`]: the removed tags, `None` when absent.
    Untagged(Option<Vec<String>>),
    /// Deletions and removals: whether there was something to remove.
    Removed(bool),
    /// [`Change::CreateNamespace`]: whether it was created (not there yet).
    Created(bool),
    /// [`Change::HostReport`].
    HostReport(ReportOutcome),
    /// [`Change::Profile`].
    Profile(ProfileOutcome),
    /// [`Change::AckAlert`].
    AlertAck(AckOutcome),
    /// Every other change.
    Done,
}

impl Changed {
    /// `false` only for a deletion or removal that found nothing.
    pub fn removed(&self) -> bool {
        !matches!(self, Changed::Removed(false) | Changed::Untagged(None))
    }
}

/// Builds the audit record of a change from what it did; `None` records
/// nothing (a deletion that found nothing, answered 404).
pub type AuditFor = Box<dyn FnOnce(&Changed) -> Option<AuditEvent> + Send>;
