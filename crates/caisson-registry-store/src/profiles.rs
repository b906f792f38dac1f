//! What the registry keeps about executable allowlist profiles (the
//! runtime sensor's, docs/runtime.md "Server-stored profiles"): per image
//! key the current mode and version, and every version as a full snapshot
//! (mode, executables) with who made it, when and why. Changes go through
//! [`crate::Change::Profile`] (audited, fail closed).

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::Result;

/// One allowed executable (`size`/`mtime_ns` absent: any contents).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProfileExecutable {
    pub path: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_ns: Option<i64>,
}

/// A profile's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSummary {
    pub key: String,
    /// `name` of a `name@sha256:…` key; `None` for an image id.
    pub repository: Option<String>,
    pub reference: String,
    /// `discover`, `monitor` or `protect`.
    pub mode: String,
    pub version: u64,
    pub executables: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Discover: when it switches to monitor by itself (`None`: never).
    pub learning_until_ms: Option<i64>,
}

/// One version of a profile (without its executables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileVersion {
    pub version: u64,
    pub time_ms: i64,
    pub actor: String,
    pub reason: String,
    pub mode: String,
    pub executables: u64,
}

/// A profile at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredProfile {
    /// The current state (`version` is the newest).
    pub current: ProfileSummary,
    /// The version asked for.
    pub at: ProfileVersion,
    pub executables: Vec<ProfileExecutable>,
}

/// What a profile change does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileUpdate {
    /// Creates `key` unless it exists: from the newest profile of another
    /// digest of `repository` in `monitor` ("inherited from …"), else empty
    /// in `discover` until `learning_until_ms`.
    Create {
        key: String,
        repository: Option<String>,
        reference: String,
        learning_until_ms: Option<i64>,
    },
    /// A sensor's discover upload, merged; nothing new changes nothing.
    Learned {
        key: String,
        reference: String,
        executables: Vec<ProfileExecutable>,
    },
    /// A manual allow, merged.
    Allow {
        key: String,
        executables: Vec<ProfileExecutable>,
    },
    SetMode {
        key: String,
        mode: String,
        learning_until_ms: Option<i64>,
    },
    /// `discover` → `monitor` if the learning window ended by `now_ms`.
    EndLearning { key: String, now_ms: i64 },
}

impl ProfileUpdate {
    pub fn key(&self) -> &str {
        match self {
            ProfileUpdate::Create { key, .. }
            | ProfileUpdate::Learned { key, .. }
            | ProfileUpdate::Allow { key, .. }
            | ProfileUpdate::SetMode { key, .. }
            | ProfileUpdate::EndLearning { key, .. } => key,
        }
    }
}

/// A profile change and who makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChange {
    pub update: ProfileUpdate,
    pub actor: String,
    /// Appended to the version's reason (a user's `reason`).
    pub note: Option<String>,
    pub time_ms: i64,
}

/// What a profile change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileOutcome {
    /// A new profile at version 1.
    Created {
        mode: String,
        inherited_from: Option<String>,
        executables: u64,
    },
    /// A new version.
    Changed {
        version: u64,
        reason: String,
        added: u64,
    },
    /// Nothing to change (it exists; nothing new; same mode; window not over).
    Unchanged { version: u64 },
    /// No profile with that key.
    Missing,
    /// The merge would hold more than `limit` executables: nothing changed.
    Full { limit: u64 },
}

/// The profiles side of the metadata store. Every [`crate::MetaStore`] is one.
pub trait ProfileStore: Send + Sync + 'static {
    /// Every profile, by key.
    fn list_profiles(&self) -> impl Future<Output = Result<Vec<ProfileSummary>>> + Send;
    fn profile_summary(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<ProfileSummary>>> + Send;
    /// A profile at `version` (`None`: the newest).
    fn profile(
        &self,
        key: &str,
        version: Option<u64>,
    ) -> impl Future<Output = Result<Option<StoredProfile>>> + Send;
    /// Every version of a profile, newest first.
    fn profile_versions(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<ProfileVersion>>> + Send;
}

/// Most executables one profile holds (the same as
/// `caisson_model::exec_profile::MAX_EXECUTABLES`; the registry checks).
pub const MAX_PROFILE_EXECUTABLES: u64 = 65_536;
