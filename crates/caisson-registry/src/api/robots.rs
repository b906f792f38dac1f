//! Robot accounts under `/api/v1/robots`: created with explicit
//! `namespace:actions` scopes by a system admin or a namespace admin, listed
//! and revoked by their creator, the admins of their namespaces, or a system
//! admin.

use super::*;

/// Whether the caller administers the namespaces of `robot`'s scopes:
/// `every` of them (revoking) or any (listing).
async fn administers<B: BlobStore, M: MetaStore>(
    reg: &Registry<B, M>,
    c: &Caller,
    robot: &Robot,
    every: bool,
) -> ApiResult<bool> {
    let mut any = false;
    for s in &robot.scopes {
        let admin = reg
            .role_in(&c.principal, &s.namespace)
            .await?
            .is_some_and(|r| r >= Role::Admin);
        if every && !admin {
            return Ok(false);
        }
        any |= admin;
    }
    Ok(any)
}

/// Robots the caller created, robots scoped to a namespace the caller
/// administers (robots belong to their namespaces and outlive their
/// creator), or all for system administrators; each shows `created_by`.
pub(super) async fn list_robots<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    let all = reg.meta.list_robots().await?;
    let mine: Vec<Robot> = if c.principal.is_system_admin() {
        all
    } else {
        let actor = c.actor();
        let mut out = Vec::new();
        for r in all {
            if r.created_by == actor || administers(&reg, &c, &r, false).await? {
                out.push(r);
            }
        }
        out
    };
    Ok(Json(mine).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRobot {
    /// Label; the robot is named `robot$<label>`.
    name: String,
    scopes: Vec<RobotScope>,
    /// Lifetime in seconds; absent = never expires.
    #[serde(default)]
    expires_in_secs: Option<i64>,
}

pub(super) async fn create_robot<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(&headers, source_of(&req)).await?;
    let body = crate::manifests::read_limited(req.into_body(), 64 * 1024).await?;
    let r: NewRobot = serde_json::from_slice(&body).map_err(|e| bad(format!("robot JSON: {e}")))?;
    if !valid_account(&r.name) {
        return Err(bad(format!(
            "robot label {:?} must be 1-64 of [a-z0-9._-]",
            r.name
        )));
    }
    if r.scopes.is_empty() {
        return Err(bad("a robot needs at least one scope"));
    }
    for s in &r.scopes {
        if s.namespace == crate::hosts::SCOPE_NAMESPACE {
            // `hosts:report`: host agents' reports, granted by system admins.
            if s.actions.is_empty() || s.actions.iter().any(|a| a != crate::hosts::SCOPE_ACTION) {
                return Err(bad("scope hosts: the only action is report (hosts:report)"));
            }
            reg.require_system_admin(&c, "create-robot", "hosts:report")
                .await?;
            continue;
        }
        if s.namespace == crate::profiles::SCOPE_NAMESPACE {
            // `profiles:sync`: runtime sensors' profile sync, granted by system admins.
            if s.actions.is_empty() || s.actions.iter().any(|a| a != crate::profiles::SCOPE_ACTION)
            {
                return Err(bad(
                    "scope profiles: the only action is sync (profiles:sync)",
                ));
            }
            reg.require_system_admin(&c, "create-robot", "profiles:sync")
                .await?;
            continue;
        }
        if s.namespace == crate::alerts::SCOPE_NAMESPACE {
            // `alerts:write` (sensors), `alerts:read` (forwarders): system admins grant them.
            let ok = [crate::alerts::SCOPE_WRITE, crate::alerts::SCOPE_READ];
            if s.actions.is_empty() || s.actions.iter().any(|a| !ok.contains(&a.as_str())) {
                return Err(bad(
                    "scope alerts: the actions are write and read (alerts:write, alerts:read)",
                ));
            }
            reg.require_system_admin(&c, "create-robot", "alerts")
                .await?;
            continue;
        }
        if s.actions
            .iter()
            .any(|a| !matches!(a.as_str(), "pull" | "push" | "delete"))
        {
            return Err(bad(format!(
                "scope {}: actions are pull, push, delete",
                s.namespace
            )));
        }
        reg.require_role(&c, &s.namespace, Role::Admin, "create-robot")
            .await?;
    }
    let secret = random_secret();
    let name = format!("robot${}", r.name);
    let expires_ms = r
        .expires_in_secs
        .map(|s| now_ms().saturating_add(s.saturating_mul(1000)));
    let robot = Robot {
        name: name.clone(),
        secret_hash: hash_secret(&secret).map_err(|e| bad(e.to_string()))?,
        scopes: r.scopes.clone(),
        expires_ms,
        created_by: c.actor(),
        created_ms: now_ms(),
    };
    let scopes: Vec<String> = r
        .scopes
        .iter()
        .map(|s| format!("{}:{}", s.namespace, s.actions.join(",")))
        .collect();
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "create-robot",
        &name,
        Outcome::Success,
        &format!(
            "scopes: {}; expires_ms: {}",
            scopes.join(" "),
            expires_ms.map_or_else(|| "never".to_string(), |e| e.to_string())
        ),
    );
    reg.audited(Change::CreateRobot(robot), move |_| Some(ev))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"name": name, "secret": secret, "expires_ms": expires_ms})),
    )
        .into_response())
}

pub(super) async fn delete_robot<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    let robot = reg
        .meta
        .get_robot(&name)
        .await?
        .ok_or_else(|| not_found(format!("robot {name} not found")))?;
    if robot.created_by != c.actor()
        && !c.principal.is_system_admin()
        && !administers(&reg, &c, &robot, true).await?
    {
        return Err(reg
            .deny(
                &c,
                "delete-robot",
                &name,
                "requires its creator, admin of every namespace it is scoped to, or system-admin",
            )
            .await);
    }
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "delete-robot",
        &name,
        Outcome::Success,
        &format!(
            "scopes: {}→none",
            robot
                .scopes
                .iter()
                .map(|s| format!("{}:{}", s.namespace, s.actions.join(",")))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    reg.audited(Change::DeleteRobot(name.clone()), move |d| {
        d.removed().then_some(ev)
    })
    .await?;
    reg.flush_credentials();
    Ok(StatusCode::NO_CONTENT.into_response())
}
