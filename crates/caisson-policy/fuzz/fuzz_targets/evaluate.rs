//! Arbitrary bytes as manifests (YAML/JSON/List) and as AdmissionReview JSON,
//! through the evaluation entry points with every built-in loaded: no panics.
#![no_main]

use std::sync::OnceLock;

use caisson_policy::library::BUILTINS;
use caisson_policy::manifest::{parse_documents, ManifestLimits};
use caisson_policy::{Config, PolicySet, Request, SupplyChainFacts};
use libfuzzer_sys::fuzz_target;

fn set() -> &'static PolicySet {
    static SET: OnceLock<PolicySet> = OnceLock::new();
    SET.get_or_init(|| {
        let mut b = PolicySet::builder();
        for builtin in BUILTINS {
            b.builtin(builtin.id).expect("builtin");
        }
        let cfg = "policies:\n  approved-registries: {parameters: {registries: [docker.io]}}\n  approved-base-os: {parameters: {os: [debian]}}\nexemptions:\n  - images: ['*pause*']\n";
        b.config(Config::parse(cfg, "fuzz").expect("config"), "fuzz");
        b.build().expect("build")
    })
}

fuzz_target!(|data: &[u8]| {
    let set = set();
    let facts = SupplyChainFacts::default();
    let limits = ManifestLimits { max_bytes: 1 << 16, max_documents: 16 };
    if let Ok(docs) = parse_documents(data, "fuzz", &limits) {
        for (obj, _) in docs {
            let _ = set.evaluate(&Request::from_object(obj), &facts);
        }
    }
    if let Ok(review) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = caisson_policy::admission::review(set, &review, &facts, None);
        let _ = set.evaluate(&Request::from_admission_request(review.clone()), &facts);
        // The same value as the object of a well-formed AdmissionReview.
        let wrapped = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": review.get("kind").cloned().unwrap_or_default()},
                        "namespace": "default", "operation": "CREATE", "object": review}});
        let _ = caisson_policy::admission::review(set, &wrapped, &facts, None);
    }
});
