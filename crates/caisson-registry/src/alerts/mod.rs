//! Runtime alerts on the server: the batches `caisson sensor run --server`
//! sends (`POST /api/v1/alerts`, robots with the `alerts:write` scope), the
//! read API over them (`GET /api/v1/alerts…`: system administrators, and
//! robots with `alerts:read` so a SIEM forwarder can pull them without
//! administrator rights; alerts belong to hosts, not namespaces, so no
//! namespace role fits), acknowledgement (`POST /api/v1/alerts/{id}/ack`,
//! system administrators, audited) and retention ([`Registry::prune_alerts`]).
//!
//! A batch is untrusted input: its body is bounded
//! ([`caisson_model::runtime_alert::MAX_BATCH_BYTES`], else 413) and parsed
//! and validated by [`caisson_model::runtime_alert::parse_batch`] (400
//! naming the field). Each alert carries an id the sensor assigns, so a
//! re-delivered batch stores nothing twice; each alert stored for the first
//! time publishes one `runtime.alert` notification.
//!
//! Storing a batch does not go through the audited path
//! ([`Registry::audited`]): an alert batch is data a sensor reports, not an
//! administrator's change, and one audit record per batch would flood the
//! hash-chained audit log with the very volume it must stay readable
//! beside. Each row records the reporting account instead. Acknowledging
//! is an administrator's decision and is audited, fail closed.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use caisson_audit::{AuditEvent, Outcome};
use caisson_model::runtime_alert::{self, RuntimeAlert, MAX_BATCH_BYTES};
use caisson_registry_store::alerts::{
    AckOutcome, AlertAck, AlertQuery, NewAlert, PrunedAlerts, StoredAlert,
};
use caisson_registry_store::{now_ms, BlobStore, Change, Changed, MetaStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::{bad, not_found, Caller};
use crate::auth::rbac::Principal;
use crate::error::{ApiError, ApiResult, Code};
use crate::events::RegistryEvent;
use crate::v2::source_of;
use crate::Registry;

/// The robot scope namespace: `alerts:write` (sensors) and `alerts:read`
/// (forwarders), granted by system administrators.
pub const SCOPE_NAMESPACE: &str = "alerts";
pub const SCOPE_WRITE: &str = "write";
pub const SCOPE_READ: &str = "read";
/// Severities as alerts carry them.
pub const SEVERITIES: &[&str] = &["UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
/// Longest acknowledgement comment, in bytes.
pub const MAX_COMMENT: usize = 1024;

/// Retention of stored alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertConfig {
    /// Alerts received longer ago than this are pruned.
    pub retention: Duration,
    /// At most this many are kept (the oldest received go first).
    pub max_alerts: u64,
}

/// Default age after which alerts are pruned (30 days).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// Default cap on stored alerts.
pub const DEFAULT_MAX_ALERTS: u64 = 1_000_000;

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            retention: DEFAULT_RETENTION,
            max_alerts: DEFAULT_MAX_ALERTS,
        }
    }
}

/// What a `runtime.alert` notification names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertEvent {
    pub id: String,
    pub time: String,
    pub host: String,
    pub container: Option<AlertEventContainer>,
    pub rule: String,
    pub severity: String,
    pub mitre: Vec<String>,
    /// The account that sent it.
    pub reporter: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertEventContainer {
    pub id: String,
    pub name: Option<String>,
    pub image: Option<String>,
}

type St<B, M> = State<Arc<Registry<B, M>>>;

pub fn routes<B: BlobStore, M: MetaStore>() -> Router<Arc<Registry<B, M>>> {
    Router::new()
        .route("/alerts", get(list::<B, M>).post(receive::<B, M>))
        .route("/alerts/{id}", get(show::<B, M>))
        .route("/alerts/{id}/ack", post(ack::<B, M>))
}

fn has_scope(p: &Principal, action: &str) -> bool {
    match p {
        Principal::Robot { scopes, .. } => scopes
            .iter()
            .any(|s| s.namespace == SCOPE_NAMESPACE && s.actions.iter().any(|a| a == action)),
        _ => false,
    }
}

/// Whether `p` is a robot holding `alerts:write`.
pub fn may_write(p: &Principal) -> bool {
    has_scope(p, SCOPE_WRITE)
}

/// Whether `p` may read alerts: a system admin or a robot with `alerts:read`.
pub fn may_read(p: &Principal) -> bool {
    p.is_system_admin() || has_scope(p, SCOPE_READ)
}

/// An alert as the API shows it: the sensor's document, plus when and from
/// whom it was received and its acknowledgement.
pub fn alert_json(a: &StoredAlert) -> Value {
    let mut v = match &a.document {
        Value::Object(_) => a.document.clone(),
        _ => json!({}),
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(a.id));
        o.insert("time_ms".into(), json!(a.time_ms));
        o.insert("received_ms".into(), json!(a.received_ms));
        o.insert("reporter".into(), json!(a.reporter));
        o.insert("acknowledged".into(), json!(a.ack.is_some()));
        o.insert(
            "ack".into(),
            serde_json::to_value(&a.ack).unwrap_or(Value::Null),
        );
    }
    v
}

fn event_of(a: &RuntimeAlert, reporter: &str) -> AlertEvent {
    AlertEvent {
        id: a.id.clone(),
        time: a.time.clone(),
        host: a.host.clone(),
        container: a.container.as_ref().map(|c| AlertEventContainer {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
        }),
        rule: a.rule.clone(),
        severity: severity_name(a),
        mitre: a.mitre.clone(),
        reporter: reporter.to_string(),
    }
}

fn severity_name(a: &RuntimeAlert) -> String {
    serde_json::to_value(a.severity)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "UNKNOWN".into())
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// One retention pass with the configured limits, as of `now_ms`.
    pub async fn prune_alerts(&self, now_ms: i64) -> Result<PrunedAlerts, StoreError> {
        let cfg = &self.config.alerts;
        let age = i64::try_from(cfg.retention.as_millis()).unwrap_or(i64::MAX);
        self.meta
            .prune_alerts(now_ms.saturating_sub(age), cfg.max_alerts)
            .await
    }

    /// Prunes at start, then every `every` (started with the scan workers,
    /// on the scan retention period: `Registry::start_scanning`).
    pub(crate) async fn alerts_retention_loop(self: Arc<Self>, every: Duration) {
        let every = every.max(Duration::from_millis(100));
        loop {
            match self.prune_alerts(now_ms()).await {
                Ok(p) if p.expired > 0 || p.over_cap > 0 => tracing::info!(
                    expired = p.expired,
                    over_cap = p.over_cap,
                    "pruned runtime alerts"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("could not prune runtime alerts: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    }

    async fn require_reader(&self, c: &Caller, target: &str) -> ApiResult<()> {
        if may_read(&c.principal) {
            return Ok(());
        }
        Err(self
            .deny(
                c,
                "read-alerts",
                target,
                "requires system-admin or a robot with the alerts:read scope",
            )
            .await)
    }
}

async fn receive<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    if !may_write(&c.principal) {
        return Err(reg
            .deny(
                &c,
                "alerts-write",
                "alerts",
                "requires a robot with the alerts:write scope",
            )
            .await);
    }
    let body = crate::manifests::read_limited(req.into_body(), MAX_BATCH_BYTES).await?;
    let batch = runtime_alert::parse_batch(&body)
        .map_err(|e| bad(format!("alert batch: {e}")).with_detail(json!({"field": e.field})))?;
    let reporter = match &c.principal {
        Principal::Robot { name, .. } => name.clone(),
        other => other.actor(),
    };
    let rows = batch
        .iter()
        .map(|a| NewAlert {
            id: a.id.clone(),
            time_ms: a.time_ms().unwrap_or(0),
            host: a.host.clone(),
            container: a.container.as_ref().map(|c| c.id.clone()),
            rule: a.rule.clone(),
            severity: severity_name(a),
            document: serde_json::to_value(a).unwrap_or(Value::Null),
        })
        .collect();
    let stored = reg.meta.store_alerts(&reporter, now_ms(), rows).await?;
    let fresh: std::collections::HashSet<&str> = stored.iter().map(String::as_str).collect();
    for a in batch.iter().filter(|a| fresh.contains(a.id.as_str())) {
        reg.publish(RegistryEvent::RuntimeAlert(Box::new(event_of(
            a, &reporter,
        ))));
    }
    Ok(Json(json!({
        "received": batch.len(),
        "stored": stored.len(),
        "duplicates": batch.len() - stored.len(),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    host: Option<String>,
    container: Option<String>,
    rule: Option<String>,
    severity: Option<String>,
    since: Option<String>,
    until: Option<String>,
    acknowledged: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `2026-12-07T01:52:34Z` or Unix milliseconds.
fn time_param(name: &str, v: &str) -> ApiResult<i64> {
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    runtime_alert::rfc3339_ms(v).ok_or_else(|| {
        bad(format!(
            "query `{name}`: {v:?} is not an RFC 3339 UTC time (2026-12-07T01:52:34Z) or Unix milliseconds"
        ))
        .with_detail(json!({"field": name}))
    })
}

/// A cursor is `<time_ms>.<id>` of the last alert of the previous page.
fn parse_cursor(v: &str) -> ApiResult<(i64, String)> {
    v.split_once('.')
        .and_then(|(t, id)| Some((t.parse().ok()?, id.to_string())))
        .filter(|(_, id)| runtime_alert::valid_id(id))
        .ok_or_else(|| {
            bad(format!(
                "query `cursor`: {v:?} is not a cursor this API returned"
            ))
            .with_detail(json!({"field": "cursor"}))
        })
}

async fn list<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_reader(&c, "alerts").await?;
    let Query(q) = query.map_err(|e| bad(format!("alert query: {}", e.body_text())))?;
    let severity = match q.severity {
        Some(s) => {
            let up = s.to_ascii_uppercase();
            if !SEVERITIES.contains(&up.as_str()) {
                return Err(bad(format!(
                    "query `severity`: {s:?} is not one of critical, high, medium, low, negligible, unknown"
                ))
                .with_detail(json!({"field": "severity"})));
            }
            Some(up)
        }
        None => None,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let query = AlertQuery {
        host: q.host,
        container: q.container,
        rule: q.rule,
        severity,
        since_ms: q
            .since
            .as_deref()
            .map(|v| time_param("since", v))
            .transpose()?,
        until_ms: q
            .until
            .as_deref()
            .map(|v| time_param("until", v))
            .transpose()?,
        acknowledged: q.acknowledged,
        before: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit,
    };
    let page = reg.meta.alerts(query).await?;
    let next = (page.len() == limit as usize)
        .then(|| page.last().map(|a| format!("{}.{}", a.time_ms, a.id)))
        .flatten();
    Ok(Json(json!({
        "alerts": page.iter().map(alert_json).collect::<Vec<_>>(),
        "next_cursor": next,
    }))
    .into_response())
}

async fn show<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_reader(&c, &id).await?;
    let a = reg
        .meta
        .alert(&id)
        .await?
        .ok_or_else(|| not_found(format!("alert {id} is unknown")))?;
    Ok(Json(alert_json(&a)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(default)]
    comment: Option<String>,
}

async fn ack<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_system_admin(&c, "alert-ack", &id).await?;
    let body = crate::manifests::read_limited(req.into_body(), 64 * 1024).await?;
    let b: AckBody = if body.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| bad(format!("acknowledgement JSON: {e}")))?
    };
    if let Some(cm) = &b.comment {
        if cm.len() > MAX_COMMENT || cm.chars().any(char::is_control) {
            return Err(bad(format!(
                "acknowledgement field `comment`: at most {MAX_COMMENT} bytes, no control characters"
            ))
            .with_detail(json!({"field": "comment"})));
        }
    }
    let ack = AlertAck {
        by: c.actor(),
        time_ms: now_ms(),
        comment: b.comment.clone(),
    };
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "alert-ack",
        &id,
        Outcome::Success,
        b.comment.as_deref().unwrap_or(""),
    );
    // The acknowledgement and its audit record commit together (fail closed).
    let done = reg
        .audited(
            Change::AckAlert {
                id: id.clone(),
                ack: ack.clone(),
            },
            move |done| match done {
                Changed::AlertAck(AckOutcome::Acked) => Some::<AuditEvent>(ev),
                _ => None,
            },
        )
        .await?;
    match done {
        Changed::AlertAck(AckOutcome::Acked) => {
            let a = reg
                .meta
                .alert(&id)
                .await?
                .ok_or_else(|| not_found(format!("alert {id} is unknown")))?;
            Ok(Json(alert_json(&a)).into_response())
        }
        Changed::AlertAck(AckOutcome::Already(prev)) => Err(ApiError::new(
            Code::Denied,
            format!("alert {id} was already acknowledged by {}", prev.by),
        )
        .with_status(axum::http::StatusCode::CONFLICT)),
        Changed::AlertAck(AckOutcome::NotFound) => Err(not_found(format!("alert {id} is unknown"))),
        other => Err(ApiError::new(
            Code::Internal,
            format!("acknowledging an alert answered {other:?}"),
        )),
    }
}
