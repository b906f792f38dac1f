//! The Caisson registry server: OCI Distribution Spec v1.1 over axum.
//!
//! [`Registry`] holds a [`BlobStore`], a [`MetaStore`], the token key and
//! the configuration; [`router`] serves `/v2/…` (distribution API), `/token`
//! (Docker token auth) and `/api/v1/…` (administration). The server is
//! generic over the two store traits; [`open_embedded`] wires the default
//! filesystem + SQLite backends under a data directory.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

pub mod alerts;
pub mod anchor;
pub mod api;
pub mod auth;
mod blobs;
pub mod change;
mod chunk;
pub mod error;
pub mod events;
pub mod gc;
mod group_commit;
pub mod hosts;
mod manifests;
pub mod notify;
pub mod profiles;
pub mod pull;
pub mod route;
pub mod scan;
mod v2;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use axum::Router;
use caisson_audit::{AuditEvent, Outcome};
use caisson_registry_store::fs::FsBlobStore;
use caisson_registry_store::sqlite::SqliteMetaStore;
use caisson_registry_store::{now_ms, BlobStore, Change, Changed, MetaStore, StoreError, User};

pub use caisson_registry_store as store;
pub use manifests::{parse_pushed_manifest, Parsed};

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `service` of token challenges and the tokens' audience.
    pub service: String,
    /// Externally visible base URL (`https://registry.example`); derived from
    /// the `Host` header when unset.
    pub public_url: Option<String>,
    /// Whether the listener is TLS (for derived URLs).
    pub tls: bool,
    pub max_manifest_bytes: usize,
    pub token_ttl_secs: i64,
    /// Unreferenced blobs younger than this are never collected.
    pub gc_grace: Duration,
    /// Upload sessions idle longer than this are removed.
    pub upload_ttl: Duration,
    /// Record one pull in N in the audit log (0 = none, 1 = all).
    pub pull_audit_every: u64,
    /// Scan on push, re-scan, health.
    pub scan: scan::ScanConfig,
    /// Sign a checkpoint of the audit chain head after this many records
    /// (0: only on the interval and at shutdown).
    pub checkpoint_every: u64,
    /// Sign a checkpoint this often when the head moved.
    pub checkpoint_interval: Duration,
    /// The audit key (default `<data-dir>/audit-key.pem`).
    pub audit_key: Option<PathBuf>,
    /// The checkpoint file (default `<data-dir>/audit-checkpoints.jsonl`).
    pub audit_checkpoints: Option<PathBuf>,
    /// Password verification slots and failed-login throttling.
    pub auth: auth::guard::AuthLimits,
    /// How long a new image's profile stays in discover before it is
    /// switched to monitor (`serve --profile-learning`; zero: never).
    pub profile_learning: Duration,
    /// Retention of runtime alerts.
    pub alerts: alerts::AlertConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service: "caisson".into(),
            public_url: None,
            tls: false,
            max_manifest_bytes: caisson_oci::MAX_MANIFEST_BYTES,
            token_ttl_secs: 300,
            gc_grace: Duration::from_secs(3600),
            upload_ttl: Duration::from_secs(24 * 3600),
            pull_audit_every: 1,
            scan: scan::ScanConfig::default(),
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            audit_key: None,
            audit_checkpoints: None,
            auth: auth::guard::AuthLimits::default(),
            profile_learning: Duration::from_secs(3600),
            alerts: alerts::AlertConfig::default(),
        }
    }
}

/// The registry: stores, token key, settings and a little shared state.
pub struct Registry<B, M> {
    pub(crate) blobs: B,
    pub(crate) meta: M,
    pub(crate) config: Config,
    pub(crate) tokens: auth::token::TokenKey,
    pub(crate) cred_cache: Mutex<HashMap<[u8; 32], Instant>>,
    pub(crate) login_guard: auth::guard::LoginGuard,
    /// Manifest writes hold it shared; GC's delete phase holds it exclusively.
    pub(crate) gc_lock: tokio::sync::RwLock<()>,
    pub(crate) pull_counter: AtomicU64,
    pub(crate) auth_seen: Mutex<HashMap<String, Instant>>,
    pub(crate) audit_log: group_commit::GroupCommit,
    /// Registry events (`events.rs`), the scanning service's among them.
    pub(crate) events: tokio::sync::broadcast::Sender<events::RegistryEvent>,
    /// The scanning service's state (`caisson-registry-scan`).
    pub(crate) scan: scan::Scanner,
    pub(crate) pull_policies: pull::PullPolicies,
    /// Signed checkpoints of the audit chain (`None`: not anchored).
    pub(crate) anchor: Option<anchor::Anchoring>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("opening registry storage in {path}")]
    Store {
        path: String,
        #[source]
        source: StoreError,
    },
    #[error("preparing the token signing key")]
    Key(#[source] auth::token::TokenError),
    #[error("hashing the administrator password")]
    Hash(String),
    #[error("preparing the audit key and checkpoint file")]
    Anchor(#[source] anchor::AnchorFileError),
}

/// The embedded default: blobs under `<dir>/storage`, metadata in `<dir>/meta.sqlite`,
/// token key in `<dir>/token-key.pem`, the audit key and the signed
/// checkpoints of the audit chain in `<dir>/audit-key.pem` and
/// `<dir>/audit-checkpoints.jsonl` (unless configured elsewhere).
pub fn open_embedded(
    data_dir: &Path,
    config: Config,
) -> Result<Registry<FsBlobStore, SqliteMetaStore>, OpenError> {
    let store_err = |source| OpenError::Store {
        path: data_dir.display().to_string(),
        source,
    };
    fs_err::create_dir_all(data_dir).map_err(|e| OpenError::Store {
        path: data_dir.display().to_string(),
        source: StoreError::Io {
            op: "create data directory",
            path: data_dir.display().to_string(),
            source: e,
        },
    })?;
    owner_only(data_dir, 0o700).map_err(store_err)?;
    let blobs = FsBlobStore::open(data_dir.join("storage")).map_err(store_err)?;
    let meta_path = data_dir.join("meta.sqlite");
    let meta = SqliteMetaStore::open(&meta_path).map_err(store_err)?;
    // Password hashes and the audit log: owner-only (SQLite gives its -wal
    // and -shm files the main file's mode).
    owner_only(&meta_path, 0o600).map_err(store_err)?;
    let tokens = auth::token::TokenKey::load_or_create(&data_dir.join("token-key.pem"))
        .map_err(OpenError::Key)?;
    let key_path = config
        .audit_key
        .clone()
        .unwrap_or_else(|| data_dir.join(anchor::KEY_FILE));
    let log_path = config
        .audit_checkpoints
        .clone()
        .unwrap_or_else(|| data_dir.join(anchor::CHECKPOINT_FILE));
    let key = anchor::AuditKey::load_or_create(&key_path).map_err(OpenError::Anchor)?;
    let log = anchor::CheckpointLog::open(&log_path).map_err(OpenError::Anchor)?;
    let every = config.checkpoint_every;
    let mut reg = Registry::new(blobs, meta, config, tokens);
    reg.anchor = Some(anchor::Anchoring::new(key, log, every));
    Ok(reg)
}

/// Sets `path`'s permission bits to `mode` (the data directory and the
/// metadata database hold password hashes: owner-only).
fn owner_only(path: &Path, mode: u32) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
            StoreError::Io {
                op: "restrict permissions",
                path: path.display().to_string(),
                source: e,
            }
        })?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    pub fn new(blobs: B, meta: M, config: Config, tokens: auth::token::TokenKey) -> Self {
        Registry {
            blobs,
            meta,
            tokens,
            cred_cache: Mutex::new(HashMap::new()),
            login_guard: auth::guard::LoginGuard::new(config.auth.clone()),
            gc_lock: tokio::sync::RwLock::new(()),
            pull_counter: AtomicU64::new(0),
            auth_seen: Mutex::new(HashMap::new()),
            audit_log: group_commit::GroupCommit::default(),
            events: events::channel(),
            scan: scan::Scanner::new(config.scan.clone()),
            pull_policies: pull::PullPolicies::default(),
            anchor: None,
            config,
        }
    }

    pub fn blobs(&self) -> &B {
        &self.blobs
    }

    pub fn meta(&self) -> &M {
        &self.meta
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Creates the first system administrator `admin` when there are no users.
    /// Returns the generated password when none was given (print it once).
    pub async fn bootstrap_admin(
        &self,
        password: Option<String>,
    ) -> Result<Option<String>, OpenError> {
        let users = self
            .meta
            .list_users()
            .await
            .map_err(|source| OpenError::Store {
                path: "metadata".into(),
                source,
            })?;
        if !users.is_empty() {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) if !p.is_empty() => (p, false),
            _ => (auth::random_secret(), true),
        };
        let hash = auth::hash_secret(&password).map_err(|e| OpenError::Hash(e.to_string()))?;
        let user = User {
            name: "admin".into(),
            password_hash: hash,
            system_admin: true,
            created_ms: now_ms(),
        };
        let ev = self.event(
            "system",
            "",
            "create-user",
            "admin",
            Outcome::Success,
            "first administrator",
        );
        self.audited(Change::CreateUser(user), move |_| Some(ev))
            .await
            .map_err(|source| OpenError::Store {
                path: "metadata".into(),
                source,
            })?;
        Ok(generated.then_some(password))
    }

    /// An audit event of now.
    pub(crate) fn event(
        &self,
        actor: &str,
        source: &str,
        action: &str,
        target: &str,
        outcome: Outcome,
        detail: &str,
    ) -> AuditEvent {
        AuditEvent {
            time_ms: now_ms(),
            actor: actor.into(),
            source: source.into(),
            action: action.into(),
            target: target.into(),
            outcome,
            detail: detail.into(),
        }
    }

    /// Appends an audit record of something that changes nothing (a pull,
    /// a denial, an authentication) and returns once it is durable. Fails
    /// closed: an error ([`StoreError::AuditFailed`], answered 503) means
    /// the record is not durable and the caller must not go on as if the
    /// action had been recorded.
    pub async fn audit(
        &self,
        actor: &str,
        source: &str,
        action: &str,
        target: &str,
        outcome: Outcome,
        detail: &str,
    ) -> Result<(), StoreError> {
        let ev = self.event(actor, source, action, target, outcome, detail);
        match self.audit_log.append(&self.meta, ev).await {
            Ok(()) => {
                if let Some(a) = &self.anchor {
                    a.note(1);
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!("could not write audit record for {action} {target}: {e}");
                Err(e)
            }
        }
    }

    /// Applies a metadata change and seals the record `audit` builds from
    /// its result in the same transaction ([`MetaStore::apply_audited`]):
    /// if the record cannot be made durable, the change is not made either.
    pub(crate) async fn audited(
        &self,
        change: Change,
        audit: impl FnOnce(&Changed) -> Option<AuditEvent> + Send + 'static,
    ) -> Result<Changed, StoreError> {
        let op = change.op();
        match self.meta.apply_audited(change, Box::new(audit)).await {
            Ok((changed, record)) => {
                if let (Some(a), Some(_)) = (&self.anchor, record) {
                    a.note(1);
                }
                Ok(changed)
            }
            Err(e) => {
                if matches!(e, StoreError::AuditFailed { .. }) {
                    tracing::error!("{op} not applied: {e}");
                }
                Err(e)
            }
        }
    }

    /// Removes upload sessions idle past `ttl` and upload files without a
    /// session (left by a crash) older than a minute.
    pub async fn clean_uploads(&self, ttl: Duration) -> Result<usize, StoreError> {
        let ms = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        };
        let now = now_ms();
        let cutoff = now.saturating_sub(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let files: HashMap<String, i64> = self
            .blobs
            .upload_list()
            .await?
            .into_iter()
            .map(|(id, t)| (id, ms(t)))
            .collect();
        let mut removed = 0;
        let mut live = std::collections::HashSet::new();
        for u in self.meta.list_uploads().await? {
            let last = files
                .get(&u.id)
                .copied()
                .unwrap_or(u.created_ms)
                .max(u.created_ms);
            if last < cutoff {
                self.blobs.upload_abort(&u.id).await?;
                self.meta.delete_upload(&u.id).await?;
                removed += 1;
            } else {
                live.insert(u.id);
            }
        }
        for (id, modified) in files {
            if !live.contains(&id) && modified < now.saturating_sub(60_000) {
                self.blobs.upload_abort(&id).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The HTTP application: `/v2/…`, `/token`, `/api/v1/…`.
pub fn router<B: BlobStore, M: MetaStore>(reg: Arc<Registry<B, M>>) -> Router {
    Router::new()
        .route("/v2", any(v2::handle::<B, M>))
        .route("/v2/", any(v2::handle::<B, M>))
        .route("/v2/{*rest}", any(v2::handle::<B, M>))
        .route("/token", get(v2::token::<B, M>))
        .nest(
            "/api/v1",
            api::routes::<B, M>()
                .merge(scan::api::routes::<B, M>())
                .merge(pull::api::routes::<B, M>())
                .merge(hosts::routes::<B, M>())
                .merge(profiles::routes::<B, M>())
                .merge(alerts::routes::<B, M>()),
        )
        .layer(DefaultBodyLimit::disable())
        .with_state(reg)
}
