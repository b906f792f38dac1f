//! Arbitrary bytes as an AdmissionReview request body, and arbitrary JSON as the
//! object of a well-formed one: `decide` never panics, and its answer is always a
//! valid AdmissionReview (uid echoed, `allowed` set, a status on denials) unless
//! the body is not an AdmissionReview at all (then 400).
#![no_main]

use std::sync::OnceLock;

use caisson_admission::{decide, decide_value, Outcome};
use caisson_policy::library::BUILTINS;
use caisson_policy::{Config, PolicySet, SupplyChainFacts};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value as Json};

fn set() -> &'static PolicySet {
    static SET: OnceLock<PolicySet> = OnceLock::new();
    SET.get_or_init(|| {
        let mut b = PolicySet::builder();
        for builtin in BUILTINS {
            b.builtin(builtin.id).expect("builtin");
        }
        let cfg = "policies:\n  approved-registries: {parameters: {registries: [docker.io]}}\n  approved-base-os: {parameters: {os: [debian]}}\n  resource-limits: {mode: warn}\n  image-tag: {mode: audit}\nexemptions:\n  - namespaces: [legacy]\n";
        b.config(Config::parse(cfg, "fuzz").expect("config"), "fuzz");
        b.build().expect("build")
    })
}

fn check(input: Option<&Json>, out: &Outcome) {
    let is_review =
        input.is_some_and(|v| v.get("kind").and_then(Json::as_str) == Some("AdmissionReview"));
    if out.status == 400 {
        assert!(
            !is_review,
            "an AdmissionReview must get an AdmissionReview answer"
        );
        assert!(out.record.is_none());
        assert!(out.body["error"].is_string());
        return;
    }
    assert_eq!(out.status, 200);
    assert!(is_review);
    assert_eq!(out.body["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(out.body["kind"], "AdmissionReview");
    let resp = &out.body["response"];
    let uid = input
        .and_then(|v| v.pointer("/request/uid"))
        .and_then(Json::as_str)
        .unwrap_or("");
    assert_eq!(resp["uid"], uid);
    let allowed = resp["allowed"].as_bool().expect("allowed is a bool");
    if !allowed {
        assert!(resp["status"]["message"].is_string());
        assert!(resp["status"]["code"].is_u64());
    }
    assert_eq!(out.record.as_ref().map(|r| r.allowed), Some(allowed));
}

fuzz_target!(|data: &[u8]| {
    let set = set();
    let facts = SupplyChainFacts::default();
    let parsed = serde_json::from_slice::<Json>(data).ok();
    let out = decide(set, &facts, data);
    check(parsed.as_ref(), &out);
    if let Some(object) = parsed {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "fuzz", "operation": "CREATE",
                "kind": {"group": "", "version": "v1", "kind": object.get("kind").and_then(Json::as_str).unwrap_or("Pod")},
                "namespace": "default", "name": "x", "object": object.clone(), "oldObject": object,
                "userInfo": {"username": "fuzz"}}});
        let out = decide_value(set, &facts, &review);
        check(Some(&review), &out);
    }
});
