//! Least-privilege and supply-chain built-ins, the config file (modes, exemptions,
//! validation), user Rego policies and the AdmissionReview round trip.
#![allow(clippy::unwrap_used)]

mod support;

use caisson_policy::{Config, Mode, PolicySet, Request, SupplyChainFacts};
use serde_json::{json, Value as Json};
use support::*;

fn facts(v: Json) -> SupplyChainFacts {
    serde_json::from_value(v).unwrap()
}

fn deployment(images: &[&str]) -> Json {
    let containers: Vec<Json> = images
        .iter()
        .enumerate()
        .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
        .collect();
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"team": "a"}},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}}})
}

fn build(ids: &[&str], config: &str) -> PolicySet {
    let mut b = PolicySet::builder();
    for id in ids {
        b.add(id).unwrap();
    }
    if !config.is_empty() {
        b.config(Config::parse(config, "cfg.yaml").unwrap(), "cfg.yaml");
    }
    b.build().unwrap()
}

fn run(set: &PolicySet, obj: Json, f: &SupplyChainFacts) -> caisson_policy::Decision {
    set.evaluate(&Request::from_object(obj), f)
}

#[test]
fn least_privilege_policies() {
    let set = build(
        &[
            "read-only-root-filesystem",
            "resource-limits",
            "automount-service-account-token",
            "image-tag",
        ],
        "",
    );
    let d = run(
        &set,
        deployment(&["nginx", "nginx:latest", "nginx:1.27"]),
        &SupplyChainFacts::default(),
    );
    // image-tag enforces; the others warn by default.
    assert!(!d.allowed);
    let denied: Vec<&str> = d.denials.iter().map(|v| v.message.as_str()).collect();
    assert!(
        denied.iter().any(|m| m
            .starts_with(r#"spec.template.spec.containers[0].image="nginx": image has no tag"#)),
        "{denied:?}"
    );
    assert!(denied
        .iter()
        .any(|m| m.contains(r#"containers[1].image="nginx:latest": image uses the :latest tag"#)));
    assert_eq!(d.denials.len(), 2);
    let warned: Vec<(&str, &str)> = d
        .warnings
        .iter()
        .map(|v| (v.policy.as_str(), v.message.as_str()))
        .collect();
    assert_eq!(
        warned
            .iter()
            .filter(|(p, _)| *p == "read-only-root-filesystem")
            .count(),
        3
    );
    assert_eq!(
        warned
            .iter()
            .filter(|(p, _)| *p == "resource-limits")
            .count(),
        6
    );
    assert!(warned
        .iter()
        .any(|(p, m)| *p == "automount-service-account-token"
            && m.contains(r#"service account "default""#)));

    let mut ok = deployment(&[
        "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    ]);
    ok["spec"]["template"]["spec"]["automountServiceAccountToken"] = json!(false);
    ok["spec"]["template"]["spec"]["containers"][0]["securityContext"] =
        json!({"readOnlyRootFilesystem": true});
    ok["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"cpu": "1", "memory": "1Gi"}});
    let d = run(&set, ok, &SupplyChainFacts::default());
    assert!(d.allowed && d.warnings.is_empty(), "{d:#?}");
}

#[test]
fn image_digest_is_off_by_default_and_checks_pinning() {
    let mut b = PolicySet::builder();
    b.default_builtins().unwrap();
    assert!(!b
        .build()
        .unwrap()
        .policies()
        .iter()
        .any(|p| p.meta.id == "image-digest"));
    let set = build(&["image-digest"], "");
    let d = run(
        &set,
        deployment(&["nginx:1.27"]),
        &SupplyChainFacts::default(),
    );
    assert_eq!(d.warnings.len(), 1);
}

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

#[test]
fn supply_chain_policies() {
    let cfg = r#"
policies:
  approved-registries: {parameters: {registries: ["registry.example.com", "ghcr.io/acme/"]}}
  approved-base-os: {parameters: {os: ["debian:12", "alpine"]}}
  signed-images: {parameters: {keys: ["release-key"]}}
  vulnerability-threshold: {parameters: {severity: high}}
"#;
    let ids = [
        "approved-registries",
        "approved-base-os",
        "signed-images",
        "vulnerability-threshold",
    ];
    let set = build(&ids, cfg);
    let good = "registry.example.com/shop/web:2.1";
    let f = facts(json!({"images": {
        good: {"digest": DIGEST},
        DIGEST: {"os": {"id": "debian", "version_id": "12.5"},
                 "signature": {"verified": true, "key": "release-key"},
                 "findings": {"critical": 0, "high": 0, "medium": 4}}
    }}));
    let d = run(&set, deployment(&[good]), &f);
    assert!(d.allowed, "{:#?}", d.denials);

    // Everything wrong at once, each named.
    let bad = "docker.io/library/nginx:1.27";
    let f = facts(json!({"images": {bad: {
        "os": {"id": "ubuntu", "version_id": "22.04"},
        "signature": {"verified": true, "key": "someone-else"},
        "findings": {"critical": 1, "high": 2}
    }}}));
    let d = run(&set, deployment(&[bad]), &f);
    let m: Vec<String> = d
        .denials
        .iter()
        .map(|v| format!("{}: {}", v.policy, v.message))
        .collect();
    assert_eq!(m.len(), 4, "{m:#?}");
    assert!(m.iter().any(|s| s.contains(r#"approved-registries: spec.template.spec.containers[0].image="docker.io/library/nginx:1.27": registry "docker.io" is not approved"#)), "{m:#?}");
    assert!(m
        .iter()
        .any(|s| s.contains("base OS ubuntu 22.04 is not approved")));
    assert!(m
        .iter()
        .any(|s| s.contains(r#"signed by key "someone-else", which is not trusted"#)));
    assert!(
        m.iter()
            .any(|s| s.contains("3 vulnerabilities at or above high (high: 2, critical: 1)")),
        "{m:#?}"
    );

    // No facts at all: fail closed.
    let d = run(&set, deployment(&[good]), &SupplyChainFacts::default());
    let checks: Vec<_> = d.denials.iter().filter_map(|v| v.check.clone()).collect();
    for c in ["unknown-os", "unsigned", "unscanned"] {
        assert!(checks.iter().any(|x| x == c), "{checks:?}");
    }
    // A failed verification names the verifier's reason.
    let f = facts(
        json!({"images": {good: {"signature": {"verified": false, "reason": "no matching signatures"}}}}),
    );
    let d = run(&set, deployment(&[good]), &f);
    assert!(d.denials.iter().any(|v| v
        .message
        .contains("signature not verified: no matching signatures")));
}

#[test]
fn registries_parameter_is_required() {
    let mut b = PolicySet::builder();
    b.builtin("approved-registries").unwrap();
    let err = b.build().unwrap_err().to_string();
    assert!(
        err.contains(r#"policies.approved-registries: parameter "registries" is required"#),
        "{err}"
    );
}

#[test]
fn modes_from_config() {
    let set = build(
        &["pss-baseline"],
        "policies:\n  pss-baseline: {mode: warn, severity: critical}\n",
    );
    let mut pod = minimal_pod(false);
    pod["spec"]["hostPID"] = json!(true);
    let d = eval(&set, &pod);
    assert!(d.allowed);
    assert_eq!(d.warnings[0].mode, Mode::Warn);
    assert_eq!(d.warnings[0].severity, caisson_policy::Severity::Critical);
    let set = build(
        &["pss-baseline"],
        "policies:\n  pss-baseline: {mode: audit}\n",
    );
    let d = eval(&set, &pod);
    assert!(d.allowed && d.warnings.is_empty() && d.audits.len() == 1);
}

#[test]
fn exemptions_by_namespace_label_and_image() {
    let cfg = r#"
exemptions:
  - namespaces: ["kube-*"]
  - labelSelector: {matchExpressions: [{key: team, operator: In, values: [platform]}]}
  - images: ["registry.k8s.io/*", "docker.io/library/busybox:*"]
    policies: [pss-baseline]
"#;
    let set = build(&["pss-baseline"], cfg);
    let mut pod = minimal_pod(false);
    pod["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    pod["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    assert!(!eval(&set, &pod).allowed);
    let mut p = pod.clone();
    p["metadata"]["namespace"] = json!("kube-system");
    let d = eval(&set, &p);
    assert!(d.allowed && d.notes.iter().any(|n| n.contains("exempt")));
    let mut p = pod.clone();
    p["metadata"]["labels"] = json!({"team": "platform"});
    assert!(eval(&set, &p).allowed);
    // Image exemption: only the matching container is left out.
    let mut p = pod.clone();
    p["spec"]["containers"][0]["image"] = json!("busybox:1.36");
    assert!(eval(&set, &p).allowed);
    p["spec"]["initContainers"][0]["image"] = json!("evil/pause");
    p["spec"]["initContainers"][0]["securityContext"] = json!({"privileged": true});
    let d = eval(&set, &p);
    assert_eq!(d.denials.len(), 1);
    assert!(d.denials[0].message.contains("initContainers[0]"));
}

#[test]
fn config_errors_have_positions_and_names() {
    let err = Config::parse("policies:\n  pss-baseline:\n    mood: warn\n", "c.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("c.yaml") && err.contains("unknown field `mood`") && err.contains("line 3"),
        "{err}"
    );
    let err = Config::parse("policies:\n  pss-baseline: {mode: block}\n", "c.yaml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown variant `block`"), "{err}");
    let mut b = PolicySet::builder();
    b.builtin("pss-baseline").unwrap();
    b.config(
        Config::parse("policies:\n  pss-typo: {mode: warn}\n", "c.yaml").unwrap(),
        "c.yaml",
    );
    let err = b.build().unwrap_err().to_string();
    assert!(
        err.contains("policies.pss-typo: no such policy is loaded"),
        "{err}"
    );
    let mut b = PolicySet::builder();
    b.builtin("pss-baseline").unwrap();
    let cfg = "exemptions:\n  - labelSelector: {matchExpressions: [{key: a, operator: Within}]}\n";
    b.config(Config::parse(cfg, "c.yaml").unwrap(), "c.yaml");
    let err = b.build().unwrap_err().to_string();
    assert!(
        err.contains(
            "exemptions[0].labelSelector: matchExpressions[0]: unknown operator \"Within\""
        ),
        "{err}"
    );
}

#[test]
fn user_rego_policies_v0_and_v1() {
    let v0 = r#"
package caisson.no_default_namespace

metadata := {"description": "no objects in default", "severity": "low", "remediation": "set a namespace"}

deny[msg] {
  input.namespace == "default"
  msg := sprintf("%s/%s is in the default namespace", [input.kind, input.object.metadata.name])
}
"#;
    let v1 = r#"
package caisson.team_label

warn contains msg if {
  not input.object.metadata.labels.team
  msg := "metadata.labels.team is missing"
}
"#;
    let mut b = PolicySet::builder();
    b.rego_source("v0.rego", v0).unwrap();
    b.rego_source("v1.rego", v1).unwrap();
    let set = b.build().unwrap();
    let infos = set.policies();
    assert_eq!(infos[0].meta.id, "no-default-namespace");
    assert_eq!(infos[0].meta.severity, caisson_policy::Severity::Low);
    let d = eval(&set, &minimal_pod(false));
    assert_eq!(
        d.denials[0].message,
        "Pod/test-pod is in the default namespace"
    );
    assert_eq!(d.denials[0].remediation, "set a namespace");
    assert_eq!(d.warnings[0].message, "metadata.labels.team is missing");
    let mut b = PolicySet::builder();
    let err = b
        .rego_source("bad.rego", "package caisson.x\ndeny[msg { }")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.rego"), "{err}");
}

#[test]
fn admission_review_round_trip() {
    let set = build(&["pss-baseline"], "");
    let mut pod = minimal_pod(false);
    pod["spec"]["hostNetwork"] = json!(true);
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "namespace": "default", "operation": "CREATE", "object": pod,
            "userInfo": {"username": "alice"}}});
    let (d, resp) =
        caisson_policy::admission::review(&set, &review, &SupplyChainFacts::default(), None)
            .unwrap();
    assert!(!d.allowed);
    assert_eq!(
        resp["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    assert_eq!(resp["response"]["allowed"], false);
    assert_eq!(resp["response"]["status"]["code"], 403);
    let m = resp["response"]["status"]["message"].as_str().unwrap();
    assert!(
        m.contains("[pss-baseline] host namespaces (spec.hostNetwork=true)"),
        "{m}"
    );
    let delete = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "1", "operation": "DELETE", "object": null, "oldObject": pod}});
    let (d, resp) =
        caisson_policy::admission::review(&set, &delete, &SupplyChainFacts::default(), None)
            .unwrap();
    assert!(d.allowed && resp["response"]["allowed"] == true);
    assert!(caisson_policy::admission::review(
        &set,
        &json!({"kind": "Pod"}),
        &SupplyChainFacts::default(),
        None
    )
    .is_err());
}

#[test]
fn policy_set_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<PolicySet>();
    let set = build(&["pss-restricted"], "");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = set.clone();
            std::thread::spawn(move || eval(&s, &minimal_pod(true)).allowed)
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}
