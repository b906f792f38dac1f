//! A registry pull evaluated as an `ImagePull` object: the supply-chain
//! built-ins see the pulled image as `input.images[0]`, with the facts the
//! registry supplies, and `vulnerability-threshold`'s `unscanned` parameter.
#![allow(clippy::unwrap_used)]

use caisson_policy::{Config, Gate, ImagePull, PolicySet, Request, SupplyChainFacts};
use serde_json::json;

const IMAGE: &str =
    "registry.test/prod/app@sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn pull() -> Request {
    Request::image_pull(&ImagePull {
        image: IMAGE.into(),
        namespace: "prod".into(),
        repository: "prod/app".into(),
        reference: "v1".into(),
        actor: "robot:robot$cluster".into(),
    })
}

fn set(config: &str) -> PolicySet {
    let mut b = PolicySet::builder();
    b.builtin("vulnerability-threshold").unwrap();
    b.builtin("signed-images").unwrap();
    b.config(Config::parse(config, "pull.yaml").unwrap(), "pull.yaml");
    b.build().unwrap()
}

fn facts(v: serde_json::Value) -> SupplyChainFacts {
    serde_json::from_value(json!({ "images": { IMAGE: v } })).unwrap()
}

#[test]
fn pulled_image_is_the_only_image_and_gate_is_registry() {
    let req = pull();
    assert_eq!(req.gate, Gate::Registry);
    assert_eq!(req.namespace(), Some("prod"));
    let r = req.object_ref();
    assert_eq!(
        (r.kind.as_str(), r.name.as_str()),
        ("ImagePull", "prod/app")
    );

    let s = set("policies:\n  vulnerability-threshold: {parameters: {severity: high}}\n");
    let clean =
        facts(json!({"signature": {"verified": true, "key": "k1"}, "findings": {"medium": 4}}));
    let d = s.evaluate(&req, &clean);
    assert!(d.allowed, "{:#?}", d.denials);

    let bad = facts(
        json!({"signature": {"verified": false, "reason": "no signatures"}, "findings": {"high": 2, "critical": 1}}),
    );
    let d = s.evaluate(&req, &bad);
    assert!(!d.allowed);
    let msgs: Vec<String> = d
        .denials
        .iter()
        .map(|v| format!("{}: {}", v.policy, v.message))
        .collect();
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("vulnerability-threshold: spec.image=")
                && m.contains("3 vulnerabilities at or above high (high: 2, critical: 1)")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("signed-images:") && m.contains("no signatures")),
        "{msgs:#?}"
    );
}

#[test]
fn unscanned_images_deny_by_default_and_pass_when_allowed() {
    let signed = facts(json!({"signature": {"verified": true, "key": "k1"}}));
    let d = set("").evaluate(&pull(), &signed);
    assert!(!d.allowed);
    assert_eq!(d.denials[0].check.as_deref(), Some("unscanned"));

    let d = set("policies:\n  vulnerability-threshold: {parameters: {unscanned: allow}}\n")
        .evaluate(&pull(), &signed);
    assert!(d.allowed, "{:#?}", d.denials);

    let mut b = PolicySet::builder();
    b.builtin("vulnerability-threshold").unwrap();
    b.config(
        Config::parse(
            "policies:\n  vulnerability-threshold: {parameters: {unscanned: maybe}}\n",
            "pull.yaml",
        )
        .unwrap(),
        "pull.yaml",
    );
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains(r#"parameter "unscanned" "maybe""#), "{err}");
}

#[test]
fn pods_do_not_see_pull_images_and_image_exemptions_apply() {
    // An ImagePull under another apiVersion is just an unknown object.
    let mut req = pull();
    req.review["object"]["apiVersion"] = json!("example.com/v1");
    let d = set("").evaluate(&req, &SupplyChainFacts::default());
    assert!(d.allowed, "{:#?}", d.denials);

    let s = set("exemptions:\n  - images: [\"registry.test/prod/*\"]\n");
    let d = s.evaluate(&pull(), &SupplyChainFacts::default());
    assert!(d.allowed, "{:#?}", d.denials);
}
