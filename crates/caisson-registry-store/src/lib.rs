//! Storage for the Caisson registry, behind two traits.
//!
//! - [`BlobStore`]: content-addressed bytes (layers, configs and the exact
//!   bytes of every manifest) plus upload sessions. Embedded default:
//!   [`fs::FsBlobStore`] (temp file, fsync, rename).
//! - [`MetaStore`]: repositories, manifests with their references and
//!   subject, tags, upload sessions, users, robots, namespaces, memberships,
//!   quotas and the audit chain. Embedded default: [`sqlite::SqliteMetaStore`].
//!
//! Both traits are async and speak only plain Rust types, so a PostgreSQL or
//! S3-compatible backend can implement them without touching the server.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use caisson_audit::{AuditEvent, AuditRecord};
use caisson_oci::Digest;
use futures_util::Stream;
use serde::{Deserialize, Serialize};

pub mod alerts;
pub mod audited;
pub mod fs;
pub mod hosts;
pub mod profiles;
pub mod scan;
pub mod sqlite;

pub use alerts::AlertStore;
pub use audited::{AuditFor, Change, Changed};
pub use hosts::HostStore;
pub use profiles::ProfileStore;
pub use scan::{
    AffectedTargets, HistoryEntry, JobState, MatchedVuln, PackageQuery, PackageRow, QueueDepth,
    ScanJob, ScanRecord, ScanState, ScanStore, ScannedPackage, SearchHit, StoredFinding,
    StoredQuery, TargetPackages,
};

/// Errors of either store. Messages name the operation and its input.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{op}: storage backend failed")]
    Backend {
        op: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("content does not match digest {expected}: got {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("upload {0} not found")]
    UploadUnknown(String),
    #[error("tag {tag} in {repo} is immutable (it points to {current})")]
    TagImmutable {
        repo: String,
        tag: String,
        current: Digest,
    },
    #[error("{what} {name} already exists")]
    Exists { what: &'static str, name: String },
    #[error("{what} {name} not found")]
    NotFound { what: &'static str, name: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The audit record of `op` could not be made durable; nothing of it
    /// was committed (the registry answers 503, fail closed).
    #[error("{op}: the audit record could not be made durable, so nothing was changed")]
    AuditFailed {
        op: &'static str,
        #[source]
        source: Box<StoreError>,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A stream of body chunks fed into an upload.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;
/// A reader over (part of) a blob.
pub type BlobReader = Pin<Box<dyn tokio::io::AsyncRead + Send>>;

/// An inclusive byte range `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// An opened blob: total size and a reader over the requested range.
pub struct BlobRead {
    pub size: u64,
    pub reader: BlobReader,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub digest: Digest,
    pub size: u64,
    pub modified: SystemTime,
}

/// Content-addressed blob storage with upload sessions.
pub trait BlobStore: Send + Sync + 'static {
    /// Size of a stored blob, `None` when absent.
    fn stat(&self, digest: &Digest) -> impl Future<Output = Result<Option<u64>>> + Send;
    /// Opens a blob (or a range of it); `None` when absent.
    fn open(
        &self,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> impl Future<Output = Result<Option<BlobRead>>> + Send;
    /// Reads a whole small blob (manifests) into memory, refusing more than `limit` bytes.
    fn read_small(
        &self,
        digest: &Digest,
        limit: u64,
    ) -> impl Future<Output = Result<Option<Bytes>>> + Send;
    /// Stores `bytes` under `digest` after checking they hash to it.
    fn put(&self, digest: &Digest, bytes: Bytes) -> impl Future<Output = Result<()>> + Send;
    /// Removes a blob; `false` when it was absent.
    fn delete(&self, digest: &Digest) -> impl Future<Output = Result<bool>> + Send;
    /// Every stored blob (for garbage collection and fsck).
    fn list(&self) -> impl Future<Output = Result<Vec<BlobInfo>>> + Send;
    /// Re-hashes a stored blob; `Some(false)` when its bytes no longer match.
    fn verify(&self, digest: &Digest) -> impl Future<Output = Result<Option<bool>>> + Send;
    /// A file holding exactly the blob's bytes, when the backend has one
    /// (lets the scanner read layers in place instead of copying them).
    fn local_path(&self, _digest: &Digest) -> Option<std::path::PathBuf> {
        None
    }

    /// Starts an empty upload session.
    fn upload_start(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Appends a chunk stream; returns the new total size. Bytes that arrived
    /// before a stream error stay in the session.
    fn upload_append(&self, id: &str, body: ByteStream)
        -> impl Future<Output = Result<u64>> + Send;
    /// Current size of an upload, `None` when unknown.
    fn upload_size(&self, id: &str) -> impl Future<Output = Result<Option<u64>>> + Send;
    /// Verifies the upload against `expected` and makes it a blob (durably).
    /// On mismatch the upload is discarded and nothing is stored.
    fn upload_commit(
        &self,
        id: &str,
        expected: &Digest,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Discards an upload session's data.
    fn upload_abort(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Upload sessions with their last modification time.
    fn upload_list(&self) -> impl Future<Output = Result<Vec<(String, SystemTime)>>> + Send;
}

/// What a manifest references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefKind {
    /// A config or layer blob.
    Blob,
    /// A child manifest of an index.
    Manifest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRef {
    pub digest: Digest,
    pub kind: RefKind,
}

/// A stored manifest's metadata; its bytes live in the [`BlobStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub repo: String,
    pub digest: Digest,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: u64,
    pub subject: Option<Digest>,
    /// The manifest's `annotations`, as JSON (for referrers responses).
    pub annotations_json: Option<String>,
    pub created_ms: i64,
    pub refs: Vec<ManifestRef>,
}

/// Result of storing a manifest under a tag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutManifestOutcome {
    /// The manifest the tag pointed to before, when it moved.
    pub previous_tag_target: Option<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub repo: String,
    pub created_ms: i64,
}

/// Namespace roles, in increasing order of power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Reader,
    Writer,
    Maintainer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Maintainer => "maintainer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "writer" => Some(Role::Writer),
            "maintainer" => Some(Role::Maintainer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A namespace (the repository name's first component) and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub name: String,
    /// Anonymous pull allowed.
    #[serde(default)]
    pub public: bool,
    /// Tags, once set, cannot move or be deleted.
    #[serde(default)]
    pub immutable_tags: bool,
    /// Storage quota in bytes (distinct blobs linked in the namespace).
    #[serde(default)]
    pub quota_bytes: Option<u64>,
}

/// A namespace's pull policy: the rules a pull must pass unless the puller
/// holds `bypass_role` (or more) in the namespace, or is a system admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullPolicy {
    /// Block images with findings at or above this severity (`critical`,
    /// `high`, `medium` or `low`), allow-listed ones aside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_severity: Option<String>,
    /// Vulnerabilities the severity rule ignores, each until it expires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<AllowedVulnerability>,
    /// Block images without a signature that verifies with a trusted key.
    #[serde(default)]
    pub require_signature: bool,
    /// PEM public keys (`cosign.pub`) signatures must verify with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_keys: Vec<String>,
    /// Block images not scanned yet, or whose scan failed.
    #[serde(default)]
    pub block_unscanned: bool,
    /// Members with this role or a higher one pull without the policy.
    #[serde(default = "PullPolicy::default_bypass")]
    pub bypass_role: Role,
}

impl PullPolicy {
    fn default_bypass() -> Role {
        Role::Maintainer
    }
}

/// One allow-listed vulnerability of a pull policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedVulnerability {
    /// The vulnerability id or one of its aliases (`CVE-2024-1234`).
    pub id: String,
    /// `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ssZ`; after it the entry no longer
    /// applies. `None`: never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    /// PHC-format password hash (argon2id).
    #[serde(skip_serializing)]
    pub password_hash: String,
    pub system_admin: bool,
    pub created_ms: i64,
}

/// A robot's grant: actions (`pull`, `push`, `delete`) in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RobotScope {
    pub namespace: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Robot {
    /// `robot$<label>`.
    pub name: String,
    #[serde(skip_serializing)]
    pub secret_hash: String,
    pub scopes: Vec<RobotScope>,
    /// Unix milliseconds; `None` never expires.
    pub expires_ms: Option<i64>,
    pub created_by: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub namespace: String,
    pub user: String,
    pub role: Role,
}

/// Registry metadata and the access-control and audit tables; scanning
/// state is its [`ScanStore`] side.
pub trait MetaStore:
    ScanStore + hosts::HostStore + profiles::ProfileStore + alerts::AlertStore + Send + Sync + 'static
{
    // -- repositories, blobs, manifests, tags
    /// Records that `repo` may serve `digest` (size is kept for quotas).
    fn link_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
    ) -> impl Future<Output = Result<()>> + Send;
    fn blob_linked(&self, repo: &str, digest: &Digest)
        -> impl Future<Output = Result<bool>> + Send;
    fn unlink_blob(&self, repo: &str, digest: &Digest)
        -> impl Future<Output = Result<bool>> + Send;
    /// Stores a manifest and its references, and points `tag` at it, atomically.
    /// With `immutable_tags`, moving an existing tag fails with [`StoreError::TagImmutable`].
    fn put_manifest(
        &self,
        record: ManifestRecord,
        tag: Option<String>,
        immutable_tags: bool,
    ) -> impl Future<Output = Result<PutManifestOutcome>> + Send;
    fn get_manifest(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<Option<ManifestRecord>>> + Send;
    fn resolve_tag(
        &self,
        repo: &str,
        tag: &str,
    ) -> impl Future<Output = Result<Option<Digest>>> + Send;
    /// Deletes a manifest and every tag pointing at it; returns the removed tags,
    /// `None` when the manifest was absent. With `immutable_tags`, a manifest
    /// that a tag points at is kept and [`StoreError::TagImmutable`] names the tag.
    fn delete_manifest(
        &self,
        repo: &str,
        digest: &Digest,
        immutable_tags: bool,
    ) -> impl Future<Output = Result<Option<Vec<String>>>> + Send;
    fn delete_tag(&self, repo: &str, tag: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Tags in lexical order after `last`, at most `limit`.
    fn list_tags(
        &self,
        repo: &str,
        last: Option<String>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
    fn repo_exists(&self, repo: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Repositories in lexical order after `last`, at most `limit`.
    fn list_repos(
        &self,
        last: Option<String>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Manifests in `repo` whose `subject` is `subject`.
    fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
    ) -> impl Future<Output = Result<Vec<ManifestRecord>>> + Send;
    /// Index manifests in `repo` that list `child` as one of their manifests.
    fn manifest_parents(
        &self,
        repo: &str,
        child: &Digest,
    ) -> impl Future<Output = Result<Vec<Digest>>> + Send;
    /// Every digest referenced by some manifest, plus every manifest's own digest.
    fn referenced_digests(
        &self,
    ) -> impl Future<Output = Result<std::collections::HashSet<Digest>>> + Send;
    /// Forgets every repository link to a collected blob.
    fn forget_blob(&self, digest: &Digest) -> impl Future<Output = Result<()>> + Send;
    /// Sum of the sizes of distinct blobs linked in repositories of `namespace`.
    fn namespace_usage(&self, namespace: &str) -> impl Future<Output = Result<u64>> + Send;

    // -- upload sessions
    fn create_upload(&self, upload: UploadRecord) -> impl Future<Output = Result<()>> + Send;
    fn get_upload(&self, id: &str) -> impl Future<Output = Result<Option<UploadRecord>>> + Send;
    fn delete_upload(&self, id: &str) -> impl Future<Output = Result<bool>> + Send;
    fn list_uploads(&self) -> impl Future<Output = Result<Vec<UploadRecord>>> + Send;

    // -- identity and access
    fn create_user(&self, user: User) -> impl Future<Output = Result<()>> + Send;
    fn get_user(&self, name: &str) -> impl Future<Output = Result<Option<User>>> + Send;
    fn list_users(&self) -> impl Future<Output = Result<Vec<User>>> + Send;
    fn update_user(&self, user: User) -> impl Future<Output = Result<()>> + Send;
    fn delete_user(&self, name: &str) -> impl Future<Output = Result<bool>> + Send;
    fn create_robot(&self, robot: Robot) -> impl Future<Output = Result<()>> + Send;
    fn get_robot(&self, name: &str) -> impl Future<Output = Result<Option<Robot>>> + Send;
    fn list_robots(&self) -> impl Future<Output = Result<Vec<Robot>>> + Send;
    fn delete_robot(&self, name: &str) -> impl Future<Output = Result<bool>> + Send;
    fn put_namespace(&self, ns: Namespace) -> impl Future<Output = Result<()>> + Send;
    fn get_namespace(&self, name: &str) -> impl Future<Output = Result<Option<Namespace>>> + Send;
    fn list_namespaces(&self) -> impl Future<Output = Result<Vec<Namespace>>> + Send;
    fn delete_namespace(&self, name: &str) -> impl Future<Output = Result<bool>> + Send;
    fn pull_policy(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<Option<PullPolicy>>> + Send;
    /// Sets (`Some`) or removes (`None`) a namespace's pull policy.
    fn set_pull_policy(
        &self,
        namespace: &str,
        policy: Option<PullPolicy>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn set_membership(&self, m: Membership) -> impl Future<Output = Result<()>> + Send;
    fn remove_membership(
        &self,
        namespace: &str,
        user: &str,
    ) -> impl Future<Output = Result<bool>> + Send;
    fn memberships_of_user(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<Membership>>> + Send;
    fn memberships_of_namespace(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<Vec<Membership>>> + Send;

    // -- audit
    /// Seals `event` onto the end of the chain atomically and returns the record.
    fn append_audit(&self, event: AuditEvent) -> impl Future<Output = Result<AuditRecord>> + Send;
    /// Seals `events`, in order, onto the chain in one atomic step (one
    /// durable commit for many records: the registry's group commit).
    fn append_audit_batch(
        &self,
        events: Vec<AuditEvent>,
    ) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send {
        async move {
            let mut out = Vec::with_capacity(events.len());
            for e in events {
                out.push(self.append_audit(e).await?);
            }
            Ok(out)
        }
    }
    /// Records with `seq > after`, in order, at most `limit`.
    fn audit_records(
        &self,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;
    /// The last record of the chain (`None` when empty): what a signed
    /// checkpoint anchors.
    fn audit_head(&self) -> impl Future<Output = Result<Option<AuditRecord>>> + Send;
    /// Applies `change` and seals the record `audit` builds from its result
    /// in the same transaction: both are durable, or neither is. A failure
    /// of the change is returned as is; a failure to seal or commit the
    /// record is [`StoreError::AuditFailed`]. Returns what the change did
    /// and the sealed record.
    fn apply_audited(
        &self,
        change: Change,
        audit: AuditFor,
    ) -> impl Future<Output = Result<(Changed, Option<AuditRecord>)>> + Send;
}

/// The namespace of a repository: its first path component (`prod` of
/// `prod/app/api`). Quotas, memberships, pull policies and scan thresholds
/// are kept per namespace.
pub fn namespace_of(repo: &str) -> &str {
    repo.split('/').next().unwrap_or(repo)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
