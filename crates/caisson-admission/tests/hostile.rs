//! `decide` on hostile bodies, without a network: truncations and byte flips of a
//! real AdmissionReview and type confusion in every request field always give a
//! valid answer (the fuzz target's invariants, run deterministically in CI).
#![allow(clippy::unwrap_used)]

use caisson_admission::{decide, Outcome};
use caisson_policy::{PolicySet, SupplyChainFacts};
use serde_json::{json, Value as Json};

fn set() -> PolicySet {
    let mut b = PolicySet::builder();
    for id in ["pss-restricted", "image-tag", "resource-limits"] {
        b.builtin(id).unwrap();
    }
    b.build().unwrap()
}

fn valid(out: &Outcome, body: &[u8]) {
    let parsed: Option<Json> = serde_json::from_slice(body).ok();
    let is_review = parsed
        .as_ref()
        .is_some_and(|v| v.get("kind").and_then(Json::as_str) == Some("AdmissionReview"));
    if !is_review {
        assert_eq!(out.status, 400);
        return;
    }
    assert_eq!(out.status, 200);
    assert_eq!(out.body["kind"], "AdmissionReview");
    let uid = parsed
        .as_ref()
        .and_then(|v| v.pointer("/request/uid"))
        .and_then(Json::as_str)
        .unwrap_or("");
    assert_eq!(out.body["response"]["uid"], uid);
    let allowed = out.body["response"]["allowed"].as_bool().unwrap();
    if !allowed {
        assert!(out.body["response"]["status"]["message"].is_string());
    }
}

fn review() -> Json {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "h", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "namespace": "shop", "name": "web", "operation": "CREATE",
            "userInfo": {"username": "u"}, "dryRun": false,
            "object": {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"template": {"spec": {"hostNetwork": true,
                    "containers": [{"name": "c", "image": "nginx",
                        "securityContext": {"privileged": true}}]}}}}}})
}

#[test]
fn truncations_and_byte_flips() {
    let set = set();
    let facts = SupplyChainFacts::default();
    let bytes = serde_json::to_vec(&review()).unwrap();
    for end in 0..=bytes.len() {
        let body = &bytes[..end];
        valid(&decide(&set, &facts, body), body);
    }
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        let mut body = bytes.clone();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed % body.len() as u64) as usize;
            body[i] = (seed >> 32) as u8;
        }
        valid(&decide(&set, &facts, &body), &body);
    }
}

#[test]
fn every_request_field_with_every_json_type() {
    let set = set();
    let facts = SupplyChainFacts::default();
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!([]),
        json!([{}]),
        json!({}),
        json!({"kind": "Pod"}),
    ];
    let fields = [
        "uid",
        "kind",
        "resource",
        "namespace",
        "name",
        "operation",
        "userInfo",
        "dryRun",
        "object",
        "oldObject",
        "subResource",
        "options",
    ];
    for field in fields {
        for v in &values {
            let mut r = review();
            r["request"][field] = v.clone();
            let body = serde_json::to_vec(&r).unwrap();
            valid(&decide(&set, &facts, &body), &body);
            let mut obj = review();
            obj["request"]["object"]["spec"]["template"]["spec"][field] = v.clone();
            let body = serde_json::to_vec(&obj).unwrap();
            valid(&decide(&set, &facts, &body), &body);
        }
    }
    for top in ["apiVersion", "request"] {
        for v in &values {
            let mut r = review();
            r[top] = v.clone();
            let body = serde_json::to_vec(&r).unwrap();
            valid(&decide(&set, &facts, &body), &body);
        }
    }
}
