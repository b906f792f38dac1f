//! The administration API under `/api/v1` (users, robots, namespaces,
//! memberships, quotas, GC, audit), described by `/api/v1/openapi.json`.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use caisson_audit::Outcome;
use caisson_registry_store::{
    now_ms, BlobStore, Change, Membership, MetaStore, Namespace, Robot, RobotScope, Role, User,
};
use serde::Deserialize;

use crate::auth::rbac::Principal;
use crate::auth::{hash_secret, random_secret};
use crate::error::{ApiError, ApiResult, Code};
use crate::route::validate_name;
use crate::v2::source_of;
use crate::Registry;

mod robots;
use robots::{create_robot, delete_robot, list_robots};

type St<B, M> = State<Arc<Registry<B, M>>>;

pub fn routes<B: BlobStore, M: MetaStore>() -> Router<Arc<Registry<B, M>>> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/users", get(list_users::<B, M>).post(create_user::<B, M>))
        .route("/users/{name}", axum::routing::delete(delete_user::<B, M>))
        .route("/users/{name}/password", put(set_password::<B, M>))
        .route(
            "/robots",
            get(list_robots::<B, M>).post(create_robot::<B, M>),
        )
        .route(
            "/robots/{name}",
            axum::routing::delete(delete_robot::<B, M>),
        )
        .route("/namespaces", get(list_namespaces::<B, M>))
        .route(
            "/namespaces/{name}",
            put(put_namespace::<B, M>).delete(delete_namespace::<B, M>),
        )
        .route("/namespaces/{name}/members", get(list_members::<B, M>))
        .route(
            "/namespaces/{name}/members/{user}",
            put(set_member::<B, M>).delete(remove_member::<B, M>),
        )
        .route("/gc", post(run_gc::<B, M>))
        .route("/audit", get(audit_log::<B, M>))
}

/// The caller of an API request.
pub(crate) struct Caller {
    pub(crate) principal: Principal,
    pub(crate) source: String,
}

impl Caller {
    pub(crate) fn actor(&self) -> String {
        self.principal.actor()
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new(Code::Denied, msg).with_status(StatusCode::BAD_REQUEST)
}

pub(crate) fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError::new(Code::NameUnknown, msg).with_status(StatusCode::NOT_FOUND)
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Authenticates an admin API request. The admin API takes Basic
    /// credentials only: registry bearer tokens authorize the registry
    /// actions in their `access` claim and nothing else. Refusals,
    /// anonymous attempts included, are audited.
    pub(crate) async fn caller(&self, headers: &HeaderMap, source: String) -> ApiResult<Caller> {
        const CHALLENGE: &str = "Basic realm=\"caisson\"";
        if crate::auth::bearer_of(headers).is_some() {
            self.audit(
                "anonymous",
                &source,
                "auth",
                "api",
                Outcome::Failure,
                "bearer token presented to the admin API",
            )
            .await?;
            return Err(ApiError::new(
                Code::Unauthorized,
                "the admin API takes Basic credentials; registry tokens only authorize registry actions",
            )
            .with_header(header::WWW_AUTHENTICATE, CHALLENGE));
        }
        match self.authenticate(headers, &source).await {
            Ok(a) if !matches!(a.principal, Principal::Anonymous) => Ok(Caller {
                principal: a.principal,
                source,
            }),
            Ok(_) => {
                self.audit(
                    "anonymous",
                    &source,
                    "auth",
                    "api",
                    Outcome::Denied,
                    "no credentials",
                )
                .await?;
                Err(ApiError::new(Code::Unauthorized, "authentication required")
                    .with_header(header::WWW_AUTHENTICATE, CHALLENGE))
            }
            Err(f) => {
                if f.audited() {
                    self.audit(
                        &f.actor,
                        &source,
                        "auth",
                        "api",
                        Outcome::Failure,
                        &f.reason,
                    )
                    .await?;
                }
                Err(f.to_api_error(CHALLENGE))
            }
        }
    }

    pub(crate) async fn deny(&self, c: &Caller, action: &str, target: &str, why: &str) -> ApiError {
        if let Err(e) = self
            .audit(&c.actor(), &c.source, action, target, Outcome::Denied, why)
            .await
        {
            return e.into();
        }
        ApiError::new(
            Code::Denied,
            format!("{} may not {action} {target}: {why}", c.actor()),
        )
    }

    pub(crate) async fn require_system_admin(
        &self,
        c: &Caller,
        action: &str,
        target: &str,
    ) -> ApiResult<()> {
        if c.principal.is_system_admin() {
            return Ok(());
        }
        Err(self.deny(c, action, target, "requires system-admin").await)
    }

    pub(crate) async fn role_in(&self, p: &Principal, ns: &str) -> ApiResult<Option<Role>> {
        if p.is_system_admin() {
            return Ok(Some(Role::Admin));
        }
        let Principal::User { name, .. } = p else {
            return Ok(None);
        };
        Ok(self
            .meta
            .memberships_of_user(name)
            .await?
            .into_iter()
            .find(|m| m.namespace == ns)
            .map(|m| m.role))
    }

    pub(crate) async fn require_role(
        &self,
        c: &Caller,
        ns: &str,
        min: Role,
        action: &str,
    ) -> ApiResult<()> {
        if self
            .role_in(&c.principal, ns)
            .await?
            .is_some_and(|r| r >= min)
        {
            return Ok(());
        }
        Err(self
            .deny(c, action, ns, &format!("requires {} in {ns}", min.as_str()))
            .await)
    }
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

async fn list_users<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_system_admin(&c, "list-users", "users").await?;
    Ok(Json(reg.meta.list_users().await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    #[serde(default)]
    system_admin: bool,
}

fn valid_account(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        })
}

async fn create_user<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(&headers, source_of(&req)).await?;
    let body = crate::manifests::read_limited(req.into_body(), 64 * 1024).await?;
    let u: NewUser = serde_json::from_slice(&body).map_err(|e| bad(format!("user JSON: {e}")))?;
    reg.require_system_admin(&c, "create-user", &u.name).await?;
    if !valid_account(&u.name) {
        return Err(bad(format!(
            "user name {:?} must be 1-64 of [a-z0-9._-]",
            u.name
        )));
    }
    if u.password.len() < 8 {
        return Err(bad("password must be at least 8 characters"));
    }
    let hash = hash_secret(&u.password).map_err(|e| bad(e.to_string()))?;
    let user = User {
        name: u.name.clone(),
        password_hash: hash,
        system_admin: u.system_admin,
        created_ms: now_ms(),
    };
    let detail = if u.system_admin { "system-admin" } else { "" };
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "create-user",
        &u.name,
        Outcome::Success,
        detail,
    );
    reg.audited(Change::CreateUser(user), move |_| Some(ev))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"name": u.name})),
    )
        .into_response())
}

async fn delete_user<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_system_admin(&c, "delete-user", &name).await?;
    let mut detail = match reg.meta.get_user(&name).await? {
        Some(u) if u.system_admin => "system-admin: true→none".to_string(),
        _ => String::new(),
    };
    for m in reg.meta.memberships_of_user(&name).await? {
        if !detail.is_empty() {
            detail.push_str(", ");
        }
        detail.push_str(&format!(
            "member of {}: {}→none",
            m.namespace,
            m.role.as_str()
        ));
    }
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "delete-user",
        &name,
        Outcome::Success,
        &detail,
    );
    let done = reg.audited(Change::DeleteUser(name.clone()), move |d| {
        d.removed().then_some(ev)
    });
    if !done.await?.removed() {
        return Err(not_found(format!("user {name} not found")));
    }
    reg.flush_credentials();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
    /// Required when users change their own password (system
    /// administrators resetting another account's password need not know it).
    #[serde(default)]
    current_password: Option<String>,
}

async fn set_password<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(&headers, source_of(&req)).await?;
    let own = matches!(&c.principal, Principal::User { name: n, .. } if *n == name);
    if !own {
        reg.require_system_admin(&c, "set-password", &name).await?;
    }
    let body = crate::manifests::read_limited(req.into_body(), 64 * 1024).await?;
    let p: NewPassword =
        serde_json::from_slice(&body).map_err(|e| bad(format!("password JSON: {e}")))?;
    if p.password.len() < 8 {
        return Err(bad("password must be at least 8 characters"));
    }
    if own && !c.principal.is_system_admin() {
        let Some(current) = p.current_password.as_deref() else {
            return Err(reg
                .deny(
                    &c,
                    "set-password",
                    &name,
                    "current_password is required to change your own password",
                )
                .await);
        };
        if let Err(f) = reg.login(&name, current, &c.source).await {
            reg.audit(
                &c.actor(),
                &c.source,
                "set-password",
                &name,
                Outcome::Denied,
                &f.reason,
            )
            .await?;
            return Err(match f.kind {
                crate::auth::FailureKind::Invalid => {
                    ApiError::new(Code::Denied, "current_password does not match")
                }
                _ => f.to_api_error("Basic realm=\"caisson\""),
            });
        }
    }
    let mut user = reg
        .meta
        .get_user(&name)
        .await?
        .ok_or_else(|| not_found(format!("user {name} not found")))?;
    user.password_hash = hash_secret(&p.password).map_err(|e| bad(e.to_string()))?;
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "set-password",
        &name,
        Outcome::Success,
        "",
    );
    reg.audited(Change::UpdateUser(user), move |_| Some(ev))
        .await?;
    reg.flush_credentials();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_namespaces<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    let mut out = Vec::new();
    for ns in reg.meta.list_namespaces().await? {
        if ns.public || reg.role_in(&c.principal, &ns.name).await?.is_some() {
            out.push(ns);
        }
    }
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamespaceSettings {
    #[serde(default)]
    public: bool,
    #[serde(default)]
    immutable_tags: bool,
    #[serde(default)]
    quota_bytes: Option<u64>,
}

async fn put_namespace<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(&headers, source_of(&req)).await?;
    if name.contains('/') || validate_name(&name).is_err() {
        return Err(bad(format!(
            "namespace {name:?} is not a valid repository name component"
        )));
    }
    let body = crate::manifests::read_limited(req.into_body(), 64 * 1024).await?;
    let s: NamespaceSettings =
        serde_json::from_slice(&body).map_err(|e| bad(format!("namespace JSON: {e}")))?;
    let existing = reg.meta.get_namespace(&name).await?;
    match &existing {
        None => {
            reg.require_system_admin(&c, "create-namespace", &name)
                .await?
        }
        Some(old) => {
            // Quotas are the system administrator's; the rest is the namespace admin's.
            if old.quota_bytes != s.quota_bytes {
                reg.require_system_admin(&c, "set-quota", &name).await?;
            }
            let min = if old.public == s.public {
                Role::Maintainer
            } else {
                Role::Admin
            };
            reg.require_role(&c, &name, min, "update-namespace").await?;
        }
    }
    let ns = Namespace {
        name: name.clone(),
        public: s.public,
        immutable_tags: s.immutable_tags,
        quota_bytes: s.quota_bytes,
    };
    let detail = crate::change::namespace_change(existing.as_ref(), &ns);
    let action = if existing.is_some() {
        "update-namespace"
    } else {
        "create-namespace"
    };
    let ev = reg.event(
        &c.actor(),
        &c.source,
        action,
        &name,
        Outcome::Success,
        &detail,
    );
    reg.audited(Change::PutNamespace(ns.clone()), move |_| Some(ev))
        .await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(ns)).into_response())
}

async fn delete_namespace<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_system_admin(&c, "delete-namespace", &name)
        .await?;
    let old = reg.meta.get_namespace(&name).await?;
    let members = reg.meta.memberships_of_namespace(&name).await?;
    let mut detail = old
        .as_ref()
        .map(crate::change::namespace_removed)
        .unwrap_or_default();
    for m in &members {
        detail.push_str(&format!(", member {}: {}→none", m.user, m.role.as_str()));
    }
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "delete-namespace",
        &name,
        Outcome::Success,
        &detail,
    );
    let done = reg.audited(Change::DeleteNamespace(name.clone()), move |d| {
        d.removed().then_some(ev)
    });
    if !done.await?.removed() {
        return Err(not_found(format!("namespace {name} not found")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_members<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_role(&c, &name, Role::Admin, "list-members")
        .await?;
    Ok(Json(reg.meta.memberships_of_namespace(&name).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
}

async fn set_member<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path((name, user)): Path<(String, String)>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(&headers, source_of(&req)).await?;
    let body = crate::manifests::read_limited(req.into_body(), 64 * 1024).await?;
    let r: RoleBody = serde_json::from_slice(&body).map_err(|e| bad(format!("role JSON: {e}")))?;
    reg.require_role(&c, &name, Role::Admin, "set-member")
        .await?;
    if reg.meta.get_namespace(&name).await?.is_none() {
        return Err(not_found(format!("namespace {name} not found")));
    }
    if reg.meta.get_user(&user).await?.is_none() {
        return Err(not_found(format!("user {user} not found")));
    }
    let old = member_role(&*reg, &name, &user).await?;
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "set-member",
        &format!("{name}/{user}"),
        Outcome::Success,
        &crate::change::role_change(old, Some(r.role)),
    );
    let m = Membership {
        namespace: name.clone(),
        user: user.clone(),
        role: r.role,
    };
    reg.audited(Change::SetMembership(m), move |_| Some(ev))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove_member<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path((name, user)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_role(&c, &name, Role::Admin, "remove-member")
        .await?;
    let old = member_role(&*reg, &name, &user).await?;
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "remove-member",
        &format!("{name}/{user}"),
        Outcome::Success,
        &crate::change::role_change(old, None),
    );
    let change = Change::RemoveMembership {
        namespace: name.clone(),
        user: user.clone(),
    };
    let done = reg.audited(change, move |d| d.removed().then_some(ev));
    if !done.await?.removed() {
        return Err(not_found(format!("{user} is not a member of {name}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn run_gc<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_system_admin(&c, "gc", "registry").await?;
    let report = reg.gc(&c.actor()).await?;
    Ok(Json(report).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<u32>,
}

async fn audit_log<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Query(q): Query<AuditQuery>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_system_admin(&c, "read-audit", "audit").await?;
    let recs = reg
        .meta
        .audit_records(q.after, q.limit.unwrap_or(1000).min(10_000))
        .await?;
    Ok(Json(recs).into_response())
}

/// The role `user` holds in namespace `ns`, if any.
async fn member_role<B: BlobStore, M: MetaStore>(
    reg: &Registry<B, M>,
    ns: &str,
    user: &str,
) -> ApiResult<Option<Role>> {
    Ok(reg
        .meta
        .memberships_of_namespace(ns)
        .await?
        .into_iter()
        .find(|m| m.user == user)
        .map(|m| m.role))
}
