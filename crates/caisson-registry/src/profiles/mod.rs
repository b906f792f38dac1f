//! Executable allowlist profiles on the server (`/api/v1/profiles…`,
//! docs/runtime.md "Server-stored profiles"): the runtime sensor's
//! per-image allowlists, stored per image key with every version (who,
//! when, why), a mode each (discover, monitor, protect) and the new-digest
//! rule: a sensor asking for an unknown `repo@sha256:new` gets a profile
//! inherited, in monitor, from the newest profile of another digest of
//! `repo`; an image with no such profile starts in discover and is switched
//! to monitor when its learning window (`serve --profile-learning`, or per
//! profile) is over, on the next read of it.
//!
//! Sensors are robots with the `profiles:sync` scope (granted by system
//! administrators): they read profiles and upload what discover learned.
//! Users read and change profiles when they are system administrators, or
//! administrators of the namespace of a repository this registry holds the
//! key's exact manifest in ([`Registry::may_manage_profile`] says why).
//! Every change is audited and fails closed
//! ([`caisson_registry_store::Change::Profile`]).

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use caisson_audit::{AuditEvent, Outcome};
use caisson_model::exec_profile::{self as model, FieldError, Mode};
use caisson_oci::Digest;
use caisson_registry_store::profiles::{
    ProfileChange, ProfileExecutable, ProfileOutcome, ProfileSummary, ProfileUpdate, StoredProfile,
    MAX_PROFILE_EXECUTABLES,
};
use caisson_registry_store::{now_ms, BlobStore, Change, Changed, MetaStore, Role};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{bad, not_found, Caller};
use crate::auth::rbac::Principal;
use crate::error::{ApiError, ApiResult, Code};
use crate::v2::source_of;
use crate::Registry;

/// The robot scope of sensors: `{"namespace": "profiles", "actions": ["sync"]}`.
pub const SCOPE_NAMESPACE: &str = "profiles";
pub const SCOPE_ACTION: &str = "sync";
/// The actor of changes the server makes by itself (end of a learning window).
pub const SYSTEM_ACTOR: &str = "caisson";

const _: () = assert!(MAX_PROFILE_EXECUTABLES == model::MAX_EXECUTABLES as u64);

type St<B, M> = State<Arc<Registry<B, M>>>;

pub fn routes<B: BlobStore, M: MetaStore>() -> Router<Arc<Registry<B, M>>> {
    Router::new()
        .route("/profiles", get(list::<B, M>))
        .route("/profiles/{key}", get(show::<B, M>))
        .route("/profiles/{key}/versions", get(versions::<B, M>))
        .route("/profiles/{key}/mode", put(set_mode::<B, M>))
        .route("/profiles/{key}/allow", post(allow::<B, M>))
        .route("/profiles/{key}/learned", post(learned::<B, M>))
}

/// Whether `p` is a robot holding `profiles:sync`.
pub fn may_sync(p: &Principal) -> bool {
    match p {
        Principal::Robot { scopes, .. } => scopes
            .iter()
            .any(|s| s.namespace == SCOPE_NAMESPACE && s.actions.iter().any(|a| a == SCOPE_ACTION)),
        _ => false,
    }
}

fn field_error(e: FieldError) -> ApiError {
    bad(e.to_string()).with_detail(json!({"field": e.field}))
}

fn summary_json(s: &ProfileSummary) -> Value {
    json!({
        "key": s.key,
        "repository": s.repository,
        "reference": s.reference,
        "mode": s.mode,
        "version": s.version,
        "executables": s.executables,
        "created_ms": s.created_ms,
        "updated_ms": s.updated_ms,
        "learning_until_ms": s.learning_until_ms,
    })
}

fn profile_json(p: &StoredProfile) -> Value {
    json!({
        "key": p.current.key,
        "repository": p.current.repository,
        "reference": p.current.reference,
        "mode": p.at.mode,
        "version": p.at.version,
        "current_version": p.current.version,
        "learning_until_ms": p.current.learning_until_ms,
        "time_ms": p.at.time_ms,
        "actor": p.at.actor,
        "reason": p.at.reason,
        "executables": p.executables,
    })
}

fn etag(version: u64) -> String {
    format!("\"v{version}\"")
}

fn to_store(list: Vec<model::Executable>) -> Vec<ProfileExecutable> {
    list.into_iter()
        .map(|e| ProfileExecutable {
            path: e.path,
            sha256: e.sha256.to_ascii_lowercase(),
            size: e.size,
            mtime_ns: e.mtime_ns,
        })
        .collect()
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Whether caller `c` may read and change profile `key`.
    ///
    /// A key names an image of any registry (`docker.io/library/nginx@…`),
    /// so a namespace of this registry only has authority over it when the
    /// image is this registry's: when it holds the key's exact manifest
    /// (same digest, so same content) in a repository of that namespace.
    /// Then that namespace's administrators, who control what is pushed
    /// there, may manage its profile too; every other key (image ids,
    /// other registries' images) is for system administrators only.
    async fn may_manage_profile(&self, c: &Caller, key: &str) -> ApiResult<bool> {
        if c.principal.is_system_admin() {
            return Ok(true);
        }
        if !matches!(c.principal, Principal::User { .. }) {
            return Ok(false);
        }
        let Some((repo, digest)) = key.rsplit_once('@') else {
            return Ok(false);
        };
        let repo = model::strip_registry_host(repo);
        let Ok(d) = digest.parse::<Digest>() else {
            return Ok(false);
        };
        if self.meta.get_manifest(repo, &d).await?.is_none() {
            return Ok(false);
        }
        let ns = crate::route::namespace_of(repo);
        Ok(self
            .role_in(&c.principal, ns)
            .await?
            .is_some_and(|r| r >= Role::Admin))
    }

    async fn require_profile_access(&self, c: &Caller, action: &str, key: &str) -> ApiResult<()> {
        if self.may_manage_profile(c, key).await? {
            return Ok(());
        }
        Err(self
            .deny(
                c,
                action,
                key,
                "requires system-admin, or admin of the namespace holding the image",
            )
            .await)
    }

    /// Applies a profile change with its audit record (fail closed).
    async fn profile_change(
        &self,
        c: &Caller,
        actor: &str,
        action: &'static str,
        update: ProfileUpdate,
        note: Option<String>,
    ) -> ApiResult<ProfileOutcome> {
        let key = update.key().to_string();
        let ev = self.event(actor, &c.source, action, &key, Outcome::Success, "");
        let change = ProfileChange {
            update,
            actor: actor.to_string(),
            note,
            time_ms: now_ms(),
        };
        let done = self
            .audited(Change::Profile(Box::new(change)), move |done| match done {
                Changed::Profile(ProfileOutcome::Created {
                    mode,
                    inherited_from,
                    executables,
                }) => Some(AuditEvent {
                    detail: match inherited_from {
                        Some(k) => format!(
                            "version 1, mode {mode}, inherited from {k} ({executables} executables)"
                        ),
                        None => format!("version 1, mode {mode}"),
                    },
                    ..ev
                }),
                Changed::Profile(ProfileOutcome::Changed {
                    version, reason, ..
                }) => Some(AuditEvent {
                    detail: format!("version {version}: {reason}"),
                    ..ev
                }),
                _ => None,
            })
            .await?;
        match done {
            Changed::Profile(o) => Ok(o),
            other => Err(ApiError::new(
                Code::Internal,
                format!("changing profile {key} answered {other:?}"),
            )),
        }
    }

    /// Switches `s` to monitor when its learning window is over.
    async fn end_learning_if_due(&self, c: &Caller, s: &ProfileSummary) -> ApiResult<bool> {
        let now = now_ms();
        if s.mode != Mode::Discover.as_str() || s.learning_until_ms.is_none_or(|t| t > now) {
            return Ok(false);
        }
        let o = self
            .profile_change(
                c,
                SYSTEM_ACTOR,
                "profile-learning-over",
                ProfileUpdate::EndLearning {
                    key: s.key.clone(),
                    now_ms: now,
                },
                None,
            )
            .await?;
        Ok(matches!(o, ProfileOutcome::Changed { .. }))
    }

    fn learning_until(&self, secs: Option<u64>) -> Option<i64> {
        let window = match secs {
            Some(0) => return None,
            Some(s) => s.saturating_mul(1000),
            None if self.config.profile_learning.is_zero() => return None,
            None => u64::try_from(self.config.profile_learning.as_millis()).unwrap_or(u64::MAX),
        };
        Some(now_ms().saturating_add(i64::try_from(window).unwrap_or(i64::MAX)))
    }
}

fn checked_key(key: &str) -> ApiResult<()> {
    model::check_key(key).map_err(field_error)
}

async fn list<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    let all = c.principal.is_system_admin();
    let mut out = Vec::new();
    for s in reg.meta.list_profiles().await? {
        if !all && !reg.may_manage_profile(&c, &s.key).await? {
            continue;
        }
        let s = if reg.end_learning_if_due(&c, &s).await? {
            reg.meta.profile_summary(&s.key).await?.unwrap_or(s)
        } else {
            s
        };
        out.push(summary_json(&s));
    }
    if out.is_empty() && !all && !matches!(c.principal, Principal::User { .. }) {
        return Err(reg
            .deny(&c, "list-profiles", "profiles", "requires a user")
            .await);
    }
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
struct ShowQuery {
    #[serde(default)]
    version: Option<u64>,
    /// A sensor's hint of the image reference (stored on creation).
    #[serde(default)]
    reference: Option<String>,
}

async fn show<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(key): Path<String>,
    Query(q): Query<ShowQuery>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(&headers, source_of(&req)).await?;
    checked_key(&key)?;
    let sensor = may_sync(&c.principal);
    if !sensor {
        reg.require_profile_access(&c, "read-profile", &key).await?;
    }
    let mut summary = reg.meta.profile_summary(&key).await?;
    if summary.is_none() && sensor && q.version.is_none() {
        // A sensor asking for an unknown image creates its profile: the
        // new-digest rule (inherit in monitor, else discover).
        let reference: String = q
            .reference
            .unwrap_or_default()
            .chars()
            .filter(|ch| !ch.is_control())
            .take(model::MAX_KEY_LEN)
            .collect();
        reg.profile_change(
            &c,
            &c.actor(),
            "profile-create",
            ProfileUpdate::Create {
                key: key.clone(),
                repository: model::repository_of(&key).map(str::to_string),
                reference,
                learning_until_ms: reg.learning_until(None),
            },
            None,
        )
        .await?;
        summary = reg.meta.profile_summary(&key).await?;
    }
    let Some(s) = summary else {
        return Err(not_found(format!("profile {key} is unknown")));
    };
    // A window that is over ends now; the state is re-read below.
    reg.end_learning_if_due(&c, &s).await?;
    if q.version.is_none() {
        if let Some(cur) = reg.meta.profile_summary(&key).await? {
            let tag = etag(cur.version);
            let matches = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
            if matches {
                let mut r = StatusCode::NOT_MODIFIED.into_response();
                if let Ok(v) = HeaderValue::from_str(&tag) {
                    r.headers_mut().insert(header::ETAG, v);
                }
                return Ok(r);
            }
        }
    }
    let p = reg.meta.profile(&key, q.version).await?.ok_or_else(|| {
        not_found(format!(
            "profile {key} has no version {}",
            q.version.unwrap_or(0)
        ))
    })?;
    let mut r = Json(profile_json(&p)).into_response();
    if q.version.is_none() {
        if let Ok(v) = HeaderValue::from_str(&etag(p.at.version)) {
            r.headers_mut().insert(header::ETAG, v);
        }
    }
    Ok(r)
}

async fn versions<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(key): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    checked_key(&key)?;
    reg.require_profile_access(&c, "read-profile", &key).await?;
    let v = reg.meta.profile_versions(&key).await?;
    if v.is_empty() {
        return Err(not_found(format!("profile {key} is unknown")));
    }
    Ok(Json(v).into_response())
}

/// The answer to a change: 200 with the version, 404, or 400 when full.
fn change_response(key: &str, o: ProfileOutcome) -> ApiResult<Response> {
    match o {
        ProfileOutcome::Missing => Err(not_found(format!("profile {key} is unknown"))),
        ProfileOutcome::Full { limit } => Err(bad(format!(
            "profile field `executables`: profile {key} would hold more than {limit} executables"
        ))
        .with_detail(json!({"field": "executables"}))),
        ProfileOutcome::Unchanged { version } => {
            Ok(Json(json!({"key": key, "version": version, "changed": false})).into_response())
        }
        ProfileOutcome::Changed {
            version,
            reason,
            added,
        } => Ok(Json(json!({
            "key": key, "version": version, "changed": true, "reason": reason, "added": added
        }))
        .into_response()),
        ProfileOutcome::Created { mode, .. } => Ok(Json(
            json!({"key": key, "version": 1, "changed": true, "mode": mode}),
        )
        .into_response()),
    }
}

async fn set_mode<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(key): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    checked_key(&key)?;
    reg.require_profile_access(&c, "profile-mode", &key).await?;
    let body = crate::manifests::read_limited(req.into_body(), 64 * 1024).await?;
    let m = model::parse_mode(&body).map_err(field_error)?;
    let until = match m.mode {
        Mode::Discover => reg.learning_until(m.learning_secs),
        _ => None,
    };
    let o = reg
        .profile_change(
            &c,
            &c.actor(),
            "profile-mode",
            ProfileUpdate::SetMode {
                key: key.clone(),
                mode: m.mode.as_str().to_string(),
                learning_until_ms: until,
            },
            m.reason,
        )
        .await?;
    change_response(&key, o)
}

async fn allow<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(key): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    checked_key(&key)?;
    reg.require_profile_access(&c, "profile-allow", &key)
        .await?;
    let body = crate::manifests::read_limited(req.into_body(), model::MAX_BODY_BYTES).await?;
    let a = model::parse_allow(&body).map_err(field_error)?;
    let paths: Vec<&str> = a.executables.iter().map(|e| e.path.as_str()).collect();
    let note = match &a.reason {
        Some(r) => format!("{} ({r})", paths.join(", ")),
        None => paths.join(", "),
    };
    let o = reg
        .profile_change(
            &c,
            &c.actor(),
            "profile-allow",
            ProfileUpdate::Allow {
                key: key.clone(),
                executables: to_store(a.executables),
            },
            Some(note.chars().take(model::MAX_REASON_LEN).collect()),
        )
        .await?;
    change_response(&key, o)
}

async fn learned<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(key): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    checked_key(&key)?;
    if !may_sync(&c.principal) {
        return Err(reg
            .deny(
                &c,
                "profile-learned",
                &key,
                "requires a robot with the profiles:sync scope",
            )
            .await);
    }
    let body = crate::manifests::read_limited(req.into_body(), model::MAX_BODY_BYTES).await?;
    let u = model::parse_learned(&body).map_err(field_error)?;
    let o = reg
        .profile_change(
            &c,
            &c.actor(),
            "profile-learned",
            ProfileUpdate::Learned {
                key: key.clone(),
                reference: u.reference,
                executables: to_store(u.executables),
            },
            None,
        )
        .await?;
    change_response(&key, o)
}
