//! AdmissionReview in, AdmissionReview out: what the validating webhook calls per
//! request.

use serde_json::{json, Map, Value as Json};

use crate::{Decision, PolicyError, PolicySet, Request, SupplyChainFacts};

/// Kubernetes truncates warnings beyond this; keep each short and the list bounded.
const MAX_WARNINGS: usize = 50;
const MAX_WARNING_LEN: usize = 512;

/// Parses an `admission.k8s.io/v1` AdmissionReview and returns its `request`.
pub fn parse_review(review: &Json) -> Result<Request, PolicyError> {
    if review.get("kind").and_then(Json::as_str) != Some("AdmissionReview") {
        return Err(PolicyError::Review("kind is not AdmissionReview".into()));
    }
    let request = review
        .get("request")
        .filter(|r| r.is_object())
        .ok_or_else(|| PolicyError::Review("request is missing".into()))?;
    Ok(Request::from_admission_request(request.clone()))
}

/// Evaluates an AdmissionReview and builds the AdmissionReview response.
/// `namespace_labels` (when known) serve Gatekeeper `namespaceSelector`s.
pub fn review(
    set: &PolicySet,
    review: &Json,
    facts: &SupplyChainFacts,
    namespace_labels: Option<Map<String, Json>>,
) -> Result<(Decision, Json), PolicyError> {
    let mut req = parse_review(review)?;
    req.namespace_labels = namespace_labels;
    let decision = set.evaluate(&req, facts);
    let response = response(review, &req, &decision);
    Ok((decision, response))
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_WARNING_LEN {
        return s.to_string();
    }
    let mut end = MAX_WARNING_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s.get(..end).unwrap_or(""))
}

/// The AdmissionReview response for a decision: denial reasons in
/// `status.message` (403), warn-mode violations in `warnings`, audit-mode ones in
/// `auditAnnotations`.
pub fn response(review: &Json, req: &Request, d: &Decision) -> Json {
    let uid = req.review.get("uid").cloned().unwrap_or(Json::from(""));
    let api_version = review
        .get("apiVersion")
        .and_then(Json::as_str)
        .unwrap_or("admission.k8s.io/v1");
    let mut resp = Map::new();
    resp.insert("uid".into(), uid);
    resp.insert("allowed".into(), Json::Bool(d.allowed));
    if !d.allowed {
        let reasons: Vec<String> = d
            .denials
            .iter()
            .map(|v| format!("[{}] {}", v.policy, v.message))
            .collect();
        resp.insert(
            "status".into(),
            json!({
                "code": 403,
                "reason": "Forbidden",
                "message": format!("denied by caisson policy: {}", reasons.join("; ")),
            }),
        );
    }
    let warnings: Vec<String> = d
        .warnings
        .iter()
        .take(MAX_WARNINGS)
        .map(|v| clip(&format!("[{}] {}", v.policy, v.message)))
        .collect();
    if !warnings.is_empty() {
        resp.insert("warnings".into(), json!(warnings));
    }
    if !d.audits.is_empty() {
        let mut ann = Map::new();
        for (i, v) in d.audits.iter().enumerate() {
            ann.insert(
                format!("caisson.dev/audit-{i}"),
                Json::from(clip(&format!("[{}] {}", v.policy, v.message))),
            );
        }
        resp.insert("auditAnnotations".into(), Json::Object(ann));
    }
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": Json::Object(resp)})
}
