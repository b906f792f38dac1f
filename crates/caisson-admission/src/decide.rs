//! Bytes of an AdmissionReview in, the response out: pure and synchronous, so the
//! server, the tests and the fuzz target share it.

use caisson_policy::{admission, Decision, PolicySet, SupplyChainFacts};
use serde_json::{json, Value as Json};

use crate::clock::rfc3339_now;
use crate::sink::DecisionRecord;

const API_VERSION: &str = "admission.k8s.io/v1";
const OPERATIONS: [&str; 4] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];
/// Sub-resources whose object is evaluated; the others (`status`, `scale`,
/// `binding`, `exec`…) carry no pod spec to judge, as in Kubernetes' own
/// PodSecurity admission.
const EVALUATED_SUBRESOURCES: [&str; 1] = ["ephemeralcontainers"];

/// What to send back for one request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// HTTP status: 200 with an AdmissionReview, or 400 when the body is not an
    /// AdmissionReview at all.
    pub status: u16,
    pub body: Json,
    /// What to record; `None` only when the body was not an AdmissionReview.
    pub record: Option<DecisionRecord>,
}

/// Decides one request body. Never panics on any input.
pub fn decide(set: &PolicySet, facts: &SupplyChainFacts, body: &[u8]) -> Outcome {
    match serde_json::from_slice::<Json>(body) {
        Ok(review) => decide_value(set, facts, &review),
        Err(e) => not_a_review(format!("request body is not JSON: {e}")),
    }
}

fn not_a_review(message: String) -> Outcome {
    Outcome {
        status: 400,
        body: json!({"error": message}),
        record: None,
    }
}

/// Decides a parsed request body.
pub fn decide_value(set: &PolicySet, facts: &SupplyChainFacts, review: &Json) -> Outcome {
    if review.get("kind").and_then(Json::as_str) != Some("AdmissionReview") {
        return not_a_review("request body is not an AdmissionReview (kind)".into());
    }
    let request = review.get("request").unwrap_or(&Json::Null);
    let uid = request.get("uid").and_then(Json::as_str).unwrap_or("");
    if let Err(problem) = check_request(review, request) {
        return rejected(
            uid,
            request,
            400,
            &format!("malformed AdmissionReview: {problem}"),
        );
    }
    let sub = request
        .get("subResource")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty());
    if let Some(sub) = sub.filter(|s| !EVALUATED_SUBRESOURCES.contains(s)) {
        let mut out = allowed_without_evaluation(uid, request);
        if let Some(r) = out.record.as_mut() {
            r.note = Some(format!("sub-resource {sub} is not evaluated"));
        }
        return out;
    }
    if request.get("operation").and_then(Json::as_str) == Some("CONNECT") {
        let mut out = allowed_without_evaluation(uid, request);
        if let Some(r) = out.record.as_mut() {
            r.note = Some("CONNECT operations are not evaluated".into());
        }
        return out;
    }
    match admission::review(set, review, facts, None) {
        Ok((decision, body)) => Outcome {
            status: 200,
            body,
            record: Some(record(request, &decision, None)),
        },
        Err(e) => rejected(
            uid,
            request,
            400,
            &format!("malformed AdmissionReview: {e}"),
        ),
    }
}

/// Structural checks the policy engine relies on, with the failing field named.
fn check_request(review: &Json, request: &Json) -> Result<(), String> {
    match review.get("apiVersion").and_then(Json::as_str) {
        Some(API_VERSION) => {}
        Some(other) => return Err(format!("apiVersion {other:?} (only {API_VERSION})")),
        None => return Err("apiVersion is missing".into()),
    }
    if !request.is_object() {
        return Err("request is missing or not an object".into());
    }
    match request.get("uid") {
        Some(Json::String(s)) if !s.is_empty() => {}
        _ => return Err("request.uid is missing or not a string".into()),
    }
    match request.get("operation").and_then(Json::as_str) {
        Some(op) if OPERATIONS.contains(&op) => {}
        _ => return Err("request.operation is not CREATE, UPDATE, DELETE or CONNECT".into()),
    }
    let kind = request.get("kind").unwrap_or(&Json::Null);
    if !["group", "version", "kind"]
        .iter()
        .all(|k| kind.get(k).is_some_and(Json::is_string))
    {
        return Err("request.kind is not {group, version, kind}".into());
    }
    for (field, ty) in [
        ("namespace", "string"),
        ("name", "string"),
        ("subResource", "string"),
        ("object", "object"),
        ("oldObject", "object"),
        ("dryRun", "bool"),
        ("userInfo", "object"),
    ] {
        let ok = match request.get(field) {
            None | Some(Json::Null) => true,
            Some(v) => match ty {
                "string" => v.is_string(),
                "bool" => v.is_boolean(),
                _ => v.is_object(),
            },
        };
        if !ok {
            return Err(format!("request.{field} is not a {ty}"));
        }
    }
    Ok(())
}

fn response(uid: &str, allowed: bool, status: Option<Json>) -> Json {
    let mut resp = json!({"uid": uid, "allowed": allowed});
    if let (Some(s), Some(map)) = (status, resp.as_object_mut()) {
        map.insert("status".into(), s);
    }
    json!({"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": resp})
}

fn allowed_without_evaluation(uid: &str, request: &Json) -> Outcome {
    Outcome {
        status: 200,
        body: response(uid, true, None),
        record: Some(base_record(request, true)),
    }
}

/// A denial that is an AdmissionReview (the API server shows `message` to the user).
pub(crate) fn rejected(uid: &str, request: &Json, code: u16, message: &str) -> Outcome {
    let reason = if code == 400 {
        "BadRequest"
    } else {
        "InternalError"
    };
    let mut rec = base_record(request, false);
    rec.uid = uid.to_string();
    rec.note = Some(message.to_string());
    Outcome {
        status: 200,
        body: response(
            uid,
            false,
            Some(json!({"code": code, "reason": reason, "message": message})),
        ),
        record: Some(rec),
    }
}

fn text(v: &Json, path: &str) -> String {
    v.pointer(path)
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string()
}

fn base_record(request: &Json, allowed: bool) -> DecisionRecord {
    let group = text(request, "/kind/group");
    let version = text(request, "/kind/version");
    let kind = text(request, "/kind/kind");
    let kind = match (group.is_empty(), version.is_empty() && kind.is_empty()) {
        (_, true) => String::new(),
        (true, false) => format!("{version}/{kind}"),
        (false, false) => format!("{group}/{version}/{kind}"),
    };
    let nonempty = |s: String| Some(s).filter(|s| !s.is_empty());
    DecisionRecord {
        time: rfc3339_now(),
        uid: text(request, "/uid"),
        operation: text(request, "/operation"),
        allowed,
        kind,
        namespace: nonempty(text(request, "/namespace")),
        name: text(request, "/name"),
        sub_resource: nonempty(text(request, "/subResource")),
        user: text(request, "/userInfo/username"),
        dry_run: request
            .get("dryRun")
            .and_then(Json::as_bool)
            .unwrap_or(false),
        denied_by: Vec::new(),
        warned_by: Vec::new(),
        audited_by: Vec::new(),
        note: None,
    }
}

fn ids(vs: &[caisson_policy::Violation]) -> Vec<String> {
    let mut ids: Vec<String> = vs.iter().map(|v| v.policy.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

fn record(request: &Json, d: &Decision, note: Option<String>) -> DecisionRecord {
    let mut rec = base_record(request, d.allowed);
    if rec.name.is_empty() {
        rec.name = d.object.name.clone();
    }
    rec.denied_by = ids(&d.denials);
    rec.warned_by = ids(&d.warnings);
    rec.audited_by = ids(&d.audits);
    rec.note = note.or_else(|| d.notes.iter().find(|n| n.starts_with("no object")).cloned());
    rec
}
