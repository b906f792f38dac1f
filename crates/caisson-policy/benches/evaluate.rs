//! Evaluation latency per object with a warm engine: the Restricted PSS level plus
//! the supply-chain policies, as the admission webhook would run them.
#![allow(clippy::unwrap_used)]

use caisson_policy::{Config, PolicySet, Request, SupplyChainFacts};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn bench(c: &mut Criterion) {
    let mut b = PolicySet::builder();
    for id in [
        "pss-restricted",
        "approved-registries",
        "approved-base-os",
        "signed-images",
        "vulnerability-threshold",
    ] {
        b.builtin(id).expect("builtin");
    }
    let cfg = r#"
policies:
  approved-registries: {parameters: {registries: ["registry.example.com"]}}
  approved-base-os: {parameters: {os: ["debian:12"]}}
  vulnerability-threshold: {parameters: {severity: high}}
"#;
    b.config(Config::parse(cfg, "bench").expect("config"), "bench");
    let set = b.build().expect("build");
    let image = "registry.example.com/shop/web:2.1";
    let facts: SupplyChainFacts = serde_json::from_value(json!({"images": {
        image: {"digest": DIGEST},
        DIGEST: {"os": {"id": "debian", "version_id": "12"}, "signature": {"verified": true, "key": "k"},
                 "findings": {"medium": 3}}}}))
    .expect("facts");
    let sc = json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true});
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [{"name": "init", "image": image, "securityContext": sc}],
            "containers": [
                {"name": "web", "image": image, "securityContext": sc, "ports": [{"containerPort": 8080}]},
                {"name": "sidecar", "image": image, "securityContext": sc}],
            "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "web"}}]}}}});
    let req = Request::from_object(deploy);
    assert!(set.evaluate(&req, &facts).allowed);
    c.bench_function("restricted+supply-chain/deployment", |bench| {
        bench.iter(|| set.evaluate(&req, &facts))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
