//! The axum router: `POST /admission/validate`, `GET /healthz`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as JsonBody, Router};
use caisson_policy::{PolicySet, SupplyChainFacts};

use crate::resolve::FactsSource;
use serde_json::{json, Value as Json};

use crate::decide::{decide_value, rejected, Outcome};
use crate::lookup::{Looked, Lookups};
use crate::pool::Pool;
use crate::sink::{DecisionRecord, DecisionSink};
use crate::AdmissionError;

/// Where the API server posts AdmissionReviews.
pub const VALIDATE_PATH: &str = "/admission/validate";

/// Bounds of the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Larger request bodies get 413 before any parsing.
    pub max_body_bytes: usize,
    /// Time from receiving a request to answering it. Past it the request is
    /// denied (fail closed); keep it below the webhook's `timeoutSeconds`.
    pub deadline: Duration,
    /// Evaluation threads.
    pub workers: usize,
    /// Requests waiting for a thread; beyond, the webhook answers 503 and the
    /// API server applies the webhook's `failurePolicy`.
    pub queue: usize,
    /// Stack of each evaluation thread.
    pub stack_bytes: usize,
    /// Registry lookups (tag resolution, signatures, scan results) in
    /// flight at once, off the evaluation threads; beyond, a request is
    /// decided with facts saying the lookup did not run.
    pub lookups: usize,
    /// Time a request's registry lookups may take; past it the request is
    /// decided with facts saying they did not finish. At or above
    /// `deadline`, a lookup that takes the whole deadline denies the request.
    pub lookup_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            // An object and its oldObject, each up to etcd's ~1.5 MiB.
            max_body_bytes: 4 << 20,
            deadline: Duration::from_secs(3),
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            queue: 1024,
            stack_bytes: 16 << 20,
            lookups: 16,
            lookup_timeout: Duration::from_secs(2),
        }
    }
}

/// What every request shares: the compiled policies (cloned per evaluation),
/// supply-chain facts, the decision sink and the evaluation threads.
#[derive(Clone)]
pub struct AdmissionState {
    inner: Arc<Inner>,
}

struct Inner {
    policies: PolicySet,
    facts: Arc<SupplyChainFacts>,
    source: Option<Arc<dyn FactsSource>>,
    sink: Option<Arc<dyn DecisionSink>>,
    limits: ServerLimits,
    pool: Pool,
    lookups: Lookups,
}

impl std::fmt::Debug for AdmissionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdmissionState")
            .field("policies", &self.inner.policies)
            .field("limits", &self.inner.limits)
            .field("sink", &self.inner.sink.is_some())
            .finish()
    }
}

impl AdmissionState {
    /// Starts the evaluation threads.
    pub fn new(
        policies: PolicySet,
        facts: SupplyChainFacts,
        sink: Option<Arc<dyn DecisionSink>>,
        limits: ServerLimits,
    ) -> Result<Self, AdmissionError> {
        AdmissionState::with_source(policies, facts, None, sink, limits)
    }

    /// Like [`AdmissionState::new`], with live facts (signature verdicts)
    /// looked up per request for the images it names.
    pub fn with_source(
        policies: PolicySet,
        facts: SupplyChainFacts,
        source: Option<Arc<dyn FactsSource>>,
        sink: Option<Arc<dyn DecisionSink>>,
        limits: ServerLimits,
    ) -> Result<Self, AdmissionError> {
        let pool = Pool::new(limits.workers, limits.queue, limits.stack_bytes)?;
        Ok(AdmissionState {
            inner: Arc::new(Inner {
                policies,
                facts: Arc::new(facts),
                source,
                sink,
                limits,
                pool,
                lookups: Lookups::new(limits.lookups, limits.lookup_timeout),
            }),
        })
    }

    pub fn limits(&self) -> ServerLimits {
        self.inner.limits
    }
}

/// The webhook's routes, with their state applied: merge it into any router.
pub fn router(state: AdmissionState) -> Router {
    let limit = state.inner.limits.max_body_bytes;
    Router::new()
        .route(VALIDATE_PATH, post(validate))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn healthz(State(state): State<AdmissionState>) -> Response {
    JsonBody(json!({"status": "ok", "policies": state.inner.policies.policies().len()}))
        .into_response()
}

fn record(
    sink: Option<&Arc<dyn DecisionSink>>,
    rec: Option<&DecisionRecord>,
) -> Result<(), AdmissionError> {
    match (sink, rec) {
        (Some(sink), Some(rec)) => sink.record(rec).inspect_err(|e| {
            tracing::error!(error = %e, uid = %rec.uid, "recording admission decision");
        }),
        _ => Ok(()),
    }
}

/// Which side answers a request: the evaluation (it finished in time) or
/// the handler (deadline passed, or the evaluation died). Whoever claims it
/// writes the one decision record, and it records what was answered.
#[derive(Default)]
struct Claim(AtomicBool);

impl Claim {
    /// `true` for the first caller only.
    fn take(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }
}

/// The evaluation's outcome once it has claimed the answer: recorded first,
/// so an answer is never given without its record (fail closed: when the
/// record cannot be written the request is denied instead).
fn record_or_deny(
    sink: Option<&Arc<dyn DecisionSink>>,
    uid: &str,
    request: &Json,
    out: Outcome,
) -> Outcome {
    match record(sink, out.record.as_ref()) {
        Ok(()) => out,
        Err(e) => {
            let denial = rejected(
                uid,
                request,
                500,
                &format!("the decision could not be recorded ({e}); denied (fail closed)"),
            );
            // The sink just failed; try once to leave the denial on record.
            let _ = record(sink, denial.record.as_ref());
            denial
        }
    }
}

async fn validate(State(state): State<AdmissionState>, body: Bytes) -> Response {
    let review: Json = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                JsonBody(json!({"error": format!("request body is not JSON: {e}")})),
            )
                .into_response()
        }
    };
    let request = review.get("request").cloned().unwrap_or(Json::Null);
    let uid = request
        .get("uid")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let started = std::time::Instant::now();
    let deadline = state.inner.limits.deadline;
    // Registry lookups first, on their own bounded stage: the evaluation
    // threads never wait on the network.
    let facts = match &state.inner.source {
        Some(source) => {
            match state
                .inner
                .lookups
                .facts(source, &review, &state.inner.facts, deadline)
                .await
            {
                Looked::Facts(f) => f,
                Looked::Deadline => {
                    return into_response(failed(
                        &state,
                        &uid,
                        &request,
                        &format!(
                            "image lookups did not finish within {} ms (the request's deadline); denied (fail closed)",
                            deadline.as_millis()
                        ),
                    ))
                }
            }
        }
        None => Arc::clone(&state.inner.facts),
    };
    let inner = Arc::clone(&state.inner);
    let claim = Arc::new(Claim::default());
    let job_claim = Arc::clone(&claim);
    let job_uid = uid.clone();
    let job = move || {
        let out = decide_value(&inner.policies, &facts, &review);
        if !job_claim.take() {
            // Too late: the handler answered (a denial) and recorded that.
            return out;
        }
        let request = review.get("request").unwrap_or(&Json::Null);
        record_or_deny(inner.sink.as_ref(), &job_uid, request, out)
    };
    let rx = match state.inner.pool.submit(job) {
        Ok(rx) => rx,
        Err(_) => {
            tracing::warn!(uid = %uid, "admission queue full");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                JsonBody(json!({"error": "policy evaluation queue is full"})),
            )
                .into_response();
        }
    };
    let mut rx = rx;
    let remaining = deadline.saturating_sub(started.elapsed());
    let out = match tokio::time::timeout(remaining, &mut rx).await {
        Ok(Ok(out)) => out,
        Ok(Err(_)) if claim.take() => failed(
            &state,
            &uid,
            &request,
            "policy evaluation failed unexpectedly",
        ),
        Ok(Err(_)) => unrecorded(&uid, &request),
        Err(_) if claim.take() => failed(
            &state,
            &uid,
            &request,
            &format!(
                "policy evaluation did not finish within {} ms; denied (fail closed)",
                deadline.as_millis()
            ),
        ),
        // The evaluation claimed the answer just before the deadline and is
        // recording it: its answer is the one on record.
        Err(_) => match rx.await {
            Ok(out) => out,
            Err(_) => unrecorded(&uid, &request),
        },
    };
    into_response(out)
}

/// A denial when the evaluation claimed the answer and then died while
/// recording it (a panicking sink): nothing reliable is on record.
fn unrecorded(uid: &str, request: &Json) -> Outcome {
    let message = "policy evaluation failed while recording its decision; denied (fail closed)";
    tracing::error!(uid = %uid, "{message}");
    rejected(uid, request, 500, message)
}

/// A denial for a request whose evaluation did not produce an answer; the
/// caller has claimed the answer, so this is the request's one record.
fn failed(state: &AdmissionState, uid: &str, request: &Json, message: &str) -> Outcome {
    tracing::error!(uid = %uid, "{message}");
    let out = rejected(uid, request, 500, message);
    let sink = state.inner.sink.clone();
    let rec = out.record.clone();
    // The sink may block (file I/O): keep it off the runtime's workers. A
    // denial is the safe answer whether or not its record can be written.
    tokio::task::spawn_blocking(move || record(sink.as_ref(), rec.as_ref()));
    out
}

fn into_response(out: Outcome) -> Response {
    let status = StatusCode::from_u16(out.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, JsonBody(out.body)).into_response()
}
