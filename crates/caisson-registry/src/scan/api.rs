//! Scanning endpoints under `/api/v1` (merged into the admin API):
//!
//! - `GET  /repositories/<name>/manifests/<ref>/health|findings|sbom|history`
//!   (pull permission on `<name>`),
//! - `POST /repositories/<name>/manifests/<ref>/scan` (push permission),
//! - `GET  /vulnerabilities?id=<CVE…>` or `?package=<name>`: digests across
//!   the registry, filtered to the repositories the caller may pull,
//! - `GET  /scanning` (queue and database), `POST /scanning/rescan` (system admin),
//! - `GET|PUT /namespaces/<ns>/scanning` (`{"severity_threshold": "high"}`;
//!   PUT needs the namespace's maintainer role).

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use caisson_audit::Outcome;
use caisson_oci::Digest;
use caisson_registry_store::{BlobStore, MetaStore, Role};
use serde::Deserialize;

use super::{rescan::RescanError, severity_rank, SBOM_ARTIFACT_TYPE};
use crate::api::{bad, not_found, Caller};
use crate::auth::rbac::Action;
use crate::error::{ApiError, ApiResult, Code};
use crate::route::{parse_reference, validate_name, Reference};
use crate::v2::source_of;
use crate::Registry;

type St<B, M> = State<Arc<Registry<B, M>>>;

pub fn routes<B: BlobStore, M: MetaStore>() -> Router<Arc<Registry<B, M>>> {
    Router::new()
        .route(
            "/repositories/{*path}",
            get(repo_get::<B, M>).post(repo_post::<B, M>),
        )
        .route("/vulnerabilities", get(search::<B, M>))
        .route("/scanning", get(status::<B, M>))
        .route("/scanning/rescan", post(rescan::<B, M>))
        .route(
            "/namespaces/{name}/scanning",
            get(get_settings::<B, M>).put(put_settings::<B, M>),
        )
}

/// `<name>/manifests/<reference>/<what>`, split from the end (names hold `/`).
pub fn split_path(path: &str) -> Option<(&str, &str, &str)> {
    let (rest, what) = path.rsplit_once('/')?;
    let (rest, reference) = rest.rsplit_once('/')?;
    let name = rest.strip_suffix("/manifests")?;
    (!name.is_empty() && !reference.is_empty()).then_some((name, reference, what))
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    async fn require_repo(&self, c: &Caller, name: &str, action: Action) -> ApiResult<()> {
        if self.may(&c.principal, name, action).await {
            return Ok(());
        }
        Err(self
            .deny(
                c,
                &format!("scan-api-{}", action.as_str()),
                name,
                &format!("requires {} on {name}", action.as_str()),
            )
            .await)
    }

    async fn digest_of(&self, name: &str, reference: &str) -> ApiResult<Digest> {
        let r = parse_reference(reference).map_err(bad)?;
        let d = match r {
            Reference::Digest(d) => d,
            Reference::Tag(t) => self.meta.resolve_tag(name, &t).await?.ok_or_else(|| {
                ApiError::new(Code::ManifestUnknown, format!("tag {t} is not in {name}"))
                    .with_status(StatusCode::NOT_FOUND)
            })?,
        };
        if self.meta.get_manifest(name, &d).await?.is_none() {
            return Err(ApiError::new(
                Code::ManifestUnknown,
                format!("manifest {d} is not in {name}"),
            )
            .with_status(StatusCode::NOT_FOUND));
        }
        Ok(d)
    }

    async fn target(
        &self,
        headers: &HeaderMap,
        source: String,
        path: &str,
        action: Action,
    ) -> ApiResult<(Caller, String, Digest, String)> {
        let c = self.caller(headers, source).await?;
        let (name, reference, what) = split_path(path)
            .ok_or_else(|| not_found(format!("no such endpoint: /repositories/{path}")))?;
        validate_name(name).map_err(bad)?;
        self.require_repo(&c, name, action).await?;
        let d = self.digest_of(name, reference).await?;
        Ok((c, name.to_string(), d, what.to_string()))
    }
}

async fn repo_get<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(path): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let (headers, source) = (req.headers().clone(), source_of(&req));
    drop(req);
    let (_c, name, d, what) = reg.target(&headers, source, &path, Action::Pull).await?;
    match what.as_str() {
        "health" => Ok(Json(reg.health(&name, &d).await?).into_response()),
        "findings" => {
            let health = reg.health(&name, &d).await?;
            let findings = reg.meta.scan_findings(&name, &d).await?;
            Ok(Json(serde_json::json!({
                "repository": name,
                "digest": d,
                "health": health.health,
                "scanned_at_ms": health.scanned_at_ms,
                "findings": findings,
            }))
            .into_response())
        }
        "history" => {
            let history = reg.meta.scan_history(&name, &d).await?;
            let jobs = reg.meta.scan_jobs(&name, &d).await?;
            Ok(Json(serde_json::json!({
                "repository": name,
                "digest": d,
                "history": history,
                "jobs": jobs,
            }))
            .into_response())
        }
        "sbom" => {
            let rec = reg.meta.scan_record(&name, &d).await?;
            let Some(sbom) = rec.and_then(|r| r.sbom_digest) else {
                return Err(not_found(format!("{name}@{d} has no SBOM yet")));
            };
            let read = reg
                .blobs
                .open(&sbom, None)
                .await?
                .ok_or_else(|| not_found(format!("SBOM blob {sbom} is missing")))?;
            let body =
                axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(read.reader));
            Ok((
                [
                    (header::CONTENT_TYPE, SBOM_ARTIFACT_TYPE.to_string()),
                    (header::CONTENT_LENGTH, read.size.to_string()),
                    (
                        header::HeaderName::from_static("docker-content-digest"),
                        sbom.to_string(),
                    ),
                ],
                body,
            )
                .into_response())
        }
        other => Err(not_found(format!("no such scan resource: {other}"))),
    }
}

async fn repo_post<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(path): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let (headers, source) = (req.headers().clone(), source_of(&req));
    drop(req);
    let (c, name, d, what) = reg.target(&headers, source, &path, Action::Push).await?;
    if what != "scan" {
        return Err(not_found(format!("no such scan action: {what}")));
    }
    let queued = reg.queue_for_scan(&name, &d, "on-demand", true).await?;
    reg.audit(
        &c.actor(),
        &c.source,
        "scan",
        &format!("{name}@{d}"),
        Outcome::Success,
        &format!("{queued} job(s) queued"),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "repository": name,
            "digest": d,
            "queued": queued,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    id: Option<String>,
    package: Option<String>,
}

async fn search<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Query(q): Query<SearchQuery>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    let hits = match (&q.id, &q.package) {
        (Some(id), None) if !id.is_empty() => reg.meta.find_vulnerability(id).await?,
        (None, Some(p)) if !p.is_empty() => reg.meta.find_package(p).await?,
        _ => return Err(bad("give exactly one of `id` (CVE or alias) or `package`")),
    };
    let mut allowed: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        let ok = match allowed.get(&h.repo) {
            Some(ok) => *ok,
            None => {
                let ok = reg.may(&c.principal, &h.repo, Action::Pull).await;
                allowed.insert(h.repo.clone(), ok);
                ok
            }
        };
        if ok {
            out.push(h);
        }
    }
    Ok(Json(serde_json::json!({ "results": out })).into_response())
}

async fn status<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let _c = reg.caller(req.headers(), source_of(&req)).await?;
    let depth = reg.meta.scan_queue_depth().await?;
    let db = caisson_registry_scan::db_info(&*reg).await;
    Ok(Json(serde_json::json!({
        "workers": reg.scan.config().workers,
        "paused": reg.scan.paused(),
        "queue": depth,
        "db": db,
    }))
    .into_response())
}

async fn rescan<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_system_admin(&c, "rescan", "registry").await?;
    match reg.rescan().await {
        Ok(report) => {
            reg.audit(
                &c.actor(),
                &c.source,
                "rescan",
                "registry",
                Outcome::Success,
                &serde_json::to_string(&report).unwrap_or_default(),
            )
            .await?;
            Ok(Json(report).into_response())
        }
        Err(RescanError::NoDatabase) => Err(ApiError::new(
            Code::Unsupported,
            "no advisory database is configured (caisson serve --db DIR)",
        )
        .with_status(StatusCode::CONFLICT)),
        Err(e) => Err(ApiError::internal("re-scan", &e)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    severity_threshold: Option<String>,
}

async fn get_settings<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    reg.require_role(&c, &name, Role::Reader, "read-scan-settings")
        .await?;
    let t = reg.scan_threshold(&name).await?;
    Ok(Json(serde_json::json!({ "severity_threshold": t })).into_response())
}

async fn put_settings<B: BlobStore, M: MetaStore>(
    State(reg): St<B, M>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = reg.caller(req.headers(), source_of(&req)).await?;
    let source = c.source.clone();
    let body = crate::manifests::read_limited(req.into_body(), 64 * 1024).await?;
    let s: Settings =
        serde_json::from_slice(&body).map_err(|e| bad(format!("scanning settings JSON: {e}")))?;
    reg.require_role(&c, &name, Role::Maintainer, "update-scan-settings")
        .await?;
    if reg.meta.get_namespace(&name).await?.is_none() {
        return Err(not_found(format!("namespace {name} not found")));
    }
    let t = match s.severity_threshold {
        Some(t) if severity_rank(&t).is_some() => Some(t.to_ascii_lowercase()),
        Some(t) => {
            return Err(bad(format!(
                "severity_threshold {t:?} is not one of critical, high, medium, low, negligible, unknown"
            )))
        }
        None => None,
    };
    let ev = reg.event(
        &c.actor(),
        &source,
        "update-scan-settings",
        &name,
        Outcome::Success,
        t.as_deref().unwrap_or("default"),
    );
    let change = caisson_registry_store::Change::SetScanThreshold {
        namespace: name.clone(),
        threshold: t.clone(),
    };
    reg.audited(change, move |_| Some(ev)).await?;
    let t = reg.scan_threshold(&name).await?;
    Ok(Json(serde_json::json!({ "severity_threshold": t })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_scan_paths_from_the_end() {
        assert_eq!(
            split_path("a/b/c/manifests/sha256:00/health"),
            Some(("a/b/c", "sha256:00", "health"))
        );
        assert_eq!(split_path("x/manifests/v1/scan"), Some(("x", "v1", "scan")));
        assert_eq!(split_path("manifests/v1/scan"), None);
        assert_eq!(split_path("x/v1/scan"), None);
        assert_eq!(split_path(""), None);
    }

    /// Odd paths (empty segments, runs of slashes, `manifests` repeated,
    /// unicode, control characters) never panic, and every split puts the
    /// input back together exactly with non-empty name and reference.
    #[test]
    fn split_path_of_odd_inputs_never_panics_and_reassembles() {
        let mut inputs: Vec<String> = [
            "",
            "/",
            "//",
            "///",
            "manifests",
            "/manifests",
            "manifests/",
            "/manifests//",
            "//manifests///",
            "a/manifests//health",
            "a/manifests/v1/",
            "/manifests/v1/health",
            "a//manifests/v1/health",
            "a/manifests/manifests/manifests/x",
            "manifests/manifests/manifests",
            "a/b/manifests/sha256:00/",
            "a/manifests/v1/health/",
            "a/manifests/v1/health//",
            "ünïcödé/manifests/тег/health",
            "名前/manifests/🏷️/scan",
            "a/manifests/v1/\u{0}",
            "\u{feff}/manifests/\u{200d}/\u{1f600}",
            "a/manifests\u{0}/v1/health",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        inputs.push("/".repeat(1000));
        inputs.push(format!("{}manifests/v1/health", "x/".repeat(500)));
        inputs.push(format!("a/manifests/{}/health", "é".repeat(300)));
        for s in &inputs {
            if let Some((name, reference, what)) = split_path(s) {
                assert!(!name.is_empty() && !reference.is_empty(), "{s:?}");
                assert!(!reference.contains('/') && !what.contains('/'), "{s:?}");
                assert_eq!(format!("{name}/manifests/{reference}/{what}"), *s);
            }
        }
        assert_eq!(
            split_path("ünïcödé/manifests/тег/health"),
            Some(("ünïcödé", "тег", "health"))
        );
        assert_eq!(
            split_path("a//manifests/v1/health"),
            Some(("a/", "v1", "health"))
        );
        assert_eq!(split_path("a/manifests//health"), None);
        assert_eq!(split_path("/manifests/v1/health"), None);
        assert_eq!(
            split_path("a/manifests/v1/"),
            Some(("a", "v1", "")),
            "an empty last segment is a split with an empty `what` (no endpoint matches it)"
        );
    }
}
