//! Host posture on the server: the reports `caisson host agent` sends
//! (`PUT /api/v1/hosts/{id}/report`, robots with the `hosts:report` scope)
//! and the read API over them (`GET /api/v1/hosts…`, system administrators).
//!
//! A report is untrusted input: its body is bounded
//! ([`caisson_model::host_report::MAX_REPORT_BYTES`], else 413) and parsed
//! and validated by [`caisson_model::host_report::parse`] (400 naming the
//! field). Each container is mapped, by its repo digests, to a repository
//! and digest this registry has scanned; its findings are always read from
//! the stored scan, so an advisory update is seen at once. [`watch`] turns
//! re-scans that changed a mapped digest into `container.vulnerable`
//! notifications; a report whose benchmark regressed publishes
//! `bench.regressed`.

pub mod watch;

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use caisson_audit::{AuditEvent, Outcome};
use caisson_model::host_report::{self, HostReport, MAX_REPORT_BYTES};
use caisson_oci::Digest;
use caisson_registry_store::hosts::{
    HostContainer, HostRecord, HostUpdate, ReportLine, ReportOutcome, StoredBench,
};
use caisson_registry_store::{now_ms, BlobStore, Change, Changed, MetaStore, StoredFinding};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{bad, not_found, Caller};
use crate::auth::rbac::Principal;
use crate::error::{ApiError, ApiResult, Code};
use crate::events::RegistryEvent;
use crate::v2::source_of;
use crate::Registry;

/// The robot scope that allows reporting: `{"namespace": "hosts", "actions": ["report"]}`.
pub const SCOPE_NAMESPACE: &str = "hosts";
pub const SCOPE_ACTION: &str = "report";
/// A host that has not reported for this many of its intervals is stale.
pub const STALE_INTERVALS: i64 = 3;

type St<B, M> = State<Arc<Registry<B, M>>>;

pub fn routes<B: BlobStore, M: MetaStore>() -> Router<Arc<Registry<B, M>>> {
    Router::new()
        .route("/hosts", get(list::<B, M>))
        .route("/hosts/{id}", get(show::<B, M>))
        .route("/hosts/{id}/containers", get(containers::<B, M>))
        .route("/hosts/{id}/bench", get(bench::<B, M>))
        .route("/hosts/{id}/reports", get(reports::<B, M>))
        .route(
            "/hosts/{id}/report",
            axum::routing::put(report::<B, M>).post(report::<B, M>),
        )
}

/// Whether `p` is a robot holding `hosts:report`.
pub fn may_report(p: &Principal) -> bool {
    match p {
        Principal::Robot { scopes, .. } => scopes
            .iter()
            .any(|s| s.namespace == SCOPE_NAMESPACE && s.actions.iter().any(|a| a == SCOPE_ACTION)),
        _ => false,
    }
}

/// `ok` or `stale` (no report for [`STALE_INTERVALS`] intervals).
pub fn status(h: &HostRecord, now_ms: i64) -> &'static str {
    let interval_ms = i64::try_from(h.interval_secs)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    if now_ms.saturating_sub(h.last_report_ms) > interval_ms.saturating_mul(STALE_INTERVALS) {
        "stale"
    } else {
        "ok"
    }
}

/// Counts of a benchmark document's check statuses.
pub fn bench_summary(doc: &Value) -> Value {
    let mut counts = serde_json::Map::new();
    for s in host_report::CHECK_STATUSES {
        counts.insert((*s).to_string(), json!(0));
    }
    for c in doc
        .get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(s) = c.get("status").and_then(Value::as_str) {
            if let Some(n) = counts.get_mut(s) {
                *n = json!(n.as_u64().unwrap_or(0) + 1);
            }
        }
    }
    Value::Object(counts)
}

fn host_json(h: &HostRecord, now: i64, bench: Option<&StoredBench>) -> Value {
    json!({
        "id": h.id,
        "hostname": h.hostname,
        "status": status(h, now),
        "engine": h.engine,
        "agent_version": h.agent_version,
        "interval_secs": h.interval_secs,
        "first_seen_ms": h.first_seen_ms,
        "last_report_ms": h.last_report_ms,
        "last_seq": h.last_seq,
        "reports": h.reports,
        "containers": h.containers,
        "running": h.running,
        "bench": bench.map(|b| json!({
            "benchmark": b.document.get("benchmark"),
            "received_ms": b.received_ms,
            "summary": bench_summary(&b.document),
        })),
    })
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// The repository and digest of this registry's stored scan for the
    /// first of `repo_digests` it holds (`host/repo@sha256:…`; the registry
    /// host part is dropped, as the engine records it with its own name).
    async fn map_digest(&self, repo_digests: &[String]) -> ApiResult<Option<(String, String)>> {
        for rd in repo_digests {
            let Some((name, digest)) = host_report::split_repo_digest(rd) else {
                continue;
            };
            let repo = match name.split_once('/') {
                Some((first, rest))
                    if first.contains('.') || first.contains(':') || first == "localhost" =>
                {
                    rest
                }
                _ => name,
            };
            let Ok(d) = digest.parse::<Digest>() else {
                continue;
            };
            if self.meta.scan_record(repo, &d).await?.is_some() {
                return Ok(Some((repo.to_string(), digest.to_string())));
            }
        }
        Ok(None)
    }

    /// Findings of a mapped container (empty when unmapped).
    pub(crate) async fn container_findings(
        &self,
        c: &HostContainer,
    ) -> ApiResult<Vec<StoredFinding>> {
        let (Some(repo), Some(digest)) = (&c.repo, &c.digest) else {
            return Ok(Vec::new());
        };
        let Ok(d) = digest.parse::<Digest>() else {
            return Ok(Vec::new());
        };
        Ok(self.meta.scan_findings(repo, &d).await?)
    }

    async fn read_host(&self, c: &Caller, id: &str) -> ApiResult<HostRecord> {
        self.require_system_admin(c, "read-host", id).await?;
        self.meta
            .host(id)
            .await?
            .ok_or_else(|| not_found(format!("host {id} is unknown")))
    }
}

async fn list<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_system_admin(&c, "read-host", "hosts").await?;
    let now = now_ms();
    let mut out = Vec::new();
    for h in reg.meta.list_hosts().await? {
        let bench = reg.meta.host_bench(&h.id).await?;
        out.push(host_json(&h, now, bench.as_ref()));
    }
    Ok(Json(out).into_response())
}

async fn show<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    let h = reg.read_host(&c, &id).await?;
    let bench = reg.meta.host_bench(&id).await?;
    let mut v = host_json(&h, now_ms(), bench.as_ref());
    let mut vulnerable = 0u64;
    for ct in reg.meta.host_containers(&id).await? {
        if !reg.container_findings(&ct).await?.is_empty() {
            vulnerable += 1;
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("vulnerable_containers".into(), json!(vulnerable));
    }
    Ok(Json(v).into_response())
}

fn severity_counts(findings: &[StoredFinding]) -> Value {
    let mut m = serde_json::Map::new();
    for f in findings {
        let k = f.severity.to_ascii_lowercase();
        let n = m.get(&k).and_then(Value::as_u64).unwrap_or(0);
        m.insert(k, json!(n + 1));
    }
    Value::Object(m)
}

async fn containers<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.read_host(&c, &id).await?;
    let mut out = Vec::new();
    for ct in reg.meta.host_containers(&id).await? {
        let findings = reg.container_findings(&ct).await?;
        let mut v = serde_json::to_value(&ct).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("scanned".into(), json!(ct.repo.is_some()));
            o.insert("vulnerabilities".into(), severity_counts(&findings));
            o.insert(
                "findings".into(),
                serde_json::to_value(&findings).unwrap_or(Value::Null),
            );
        }
        out.push(v);
    }
    Ok(Json(out).into_response())
}

async fn bench<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.read_host(&c, &id).await?;
    let b = reg
        .meta
        .host_bench(&id)
        .await?
        .ok_or_else(|| not_found(format!("host {id} has not reported a benchmark result")))?;
    Ok(Json(json!({
        "host": id,
        "seq": b.seq,
        "received_ms": b.received_ms,
        "benchmark": b.document.get("benchmark"),
        "summary": bench_summary(&b.document),
        "checks": b.document.get("checks"),
    }))
    .into_response())
}

#[derive(Deserialize)]
struct ReportsQuery {
    #[serde(default)]
    limit: Option<u32>,
}

async fn reports<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(id): Path<String>,
    Query(q): Query<ReportsQuery>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.read_host(&c, &id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(reg.meta.host_reports(&id, limit).await?).into_response())
}

async fn report<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    if !may_report(&c.principal) {
        return Err(reg
            .deny(
                &c,
                "host-report",
                &id,
                "requires a robot with the hosts:report scope",
            )
            .await);
    }
    let body = crate::manifests::read_limited(req.into_body(), MAX_REPORT_BYTES).await?;
    let r: HostReport = host_report::parse(&body)
        .map_err(|e| bad(e.to_string()).with_detail(json!({"field": e.field})))?;
    if r.host.id != id {
        return Err(bad(format!(
            "report field `host.id`: {:?} does not match the host {id:?} of the URL",
            r.host.id
        ))
        .with_detail(json!({"field": "host.id"})));
    }
    let received = now_ms();
    let mut containers = Vec::with_capacity(r.containers.len());
    for ct in &r.containers {
        let mapped = reg.map_digest(&ct.repo_digests).await?;
        containers.push(HostContainer {
            id: ct.id.clone(),
            name: ct.name.clone(),
            image: ct.image.clone(),
            image_id: ct.image_id.clone(),
            repo_digests: ct.repo_digests.clone(),
            state: ct.state.clone(),
            started_at: ct.started_at.clone(),
            repo: mapped.as_ref().map(|m| m.0.clone()),
            digest: mapped.map(|m| m.1),
        });
    }
    let bench = r.bench.as_ref().map(|b| StoredBench {
        seq: r.seq,
        received_ms: received,
        document: serde_json::to_value(b).unwrap_or(Value::Null),
    });
    let new_doc = bench.as_ref().map(|b| b.document.clone());
    let update = HostUpdate {
        id: id.clone(),
        hostname: r.host.hostname.clone(),
        engine: serde_json::to_value(&r.host.engine).unwrap_or(Value::Null),
        agent_version: r.agent.version.clone(),
        interval_secs: r.agent.interval_secs,
        line: ReportLine {
            seq: r.seq,
            reason: r.reason.clone(),
            generated_ms: r.generated_ms,
            received_ms: received,
            containers: u64::try_from(r.containers.len()).unwrap_or(u64::MAX),
        },
        containers,
        bench,
    };
    // The report and its audit record commit together (fail closed); a
    // re-delivered report changes nothing and records nothing.
    let ev = reg.event(
        &c.actor(),
        &c.source,
        "host-report",
        &id,
        Outcome::Success,
        &format!(
            "seq {}, reason {}, {} container(s), hostname {}",
            r.seq,
            r.reason,
            r.containers.len(),
            r.host.hostname
        ),
    );
    let done = reg
        .audited(
            Change::HostReport(Box::new(update)),
            move |done| match done {
                Changed::HostReport(ReportOutcome::Stored { new_host, .. }) => Some(AuditEvent {
                    action: if *new_host {
                        "host-register".into()
                    } else {
                        "host-report".into()
                    },
                    ..ev
                }),
                _ => None,
            },
        )
        .await?;
    let outcome = match done {
        Changed::HostReport(o) => o,
        other => {
            return Err(ApiError::new(
                Code::Internal,
                format!("storing a host report answered {other:?}"),
            ))
        }
    };
    match outcome {
        ReportOutcome::Duplicate { last_seq } => Ok((
            StatusCode::OK,
            Json(json!({"host": id, "seq": r.seq, "stored": false, "last_seq": last_seq})),
        )
            .into_response()),
        ReportOutcome::Stored { previous_bench, .. } => {
            if let (Some(prev), Some(new)) = (previous_bench, new_doc) {
                if let Some(reg_) = watch::bench_regression(&prev.document, &new) {
                    reg.audit(
                        &c.actor(),
                        &c.source,
                        "bench-regressed",
                        &id,
                        Outcome::Success,
                        &format!(
                            "warn {} -> {}; newly warn: {}",
                            reg_.previous_warn,
                            reg_.warn,
                            reg_.newly_warn.join(",")
                        ),
                    )
                    .await?;
                    reg.publish(RegistryEvent::BenchRegressed {
                        host: id.clone(),
                        hostname: r.host.hostname.clone(),
                        seq: r.seq,
                        previous_warn: reg_.previous_warn,
                        warn: reg_.warn,
                        newly_warn: reg_.newly_warn,
                    });
                }
            }
            Ok((
                StatusCode::CREATED,
                Json(json!({"host": id, "seq": r.seq, "stored": true})),
            )
                .into_response())
        }
    }
}
