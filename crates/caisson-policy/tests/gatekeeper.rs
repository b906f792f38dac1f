//! Gatekeeper library templates (k8srequiredlabels, k8sallowedrepos,
//! k8scontainerlimits) with their published sample constraints and objects,
//! evaluated as Gatekeeper would: violations for the disallowed samples, none for
//! the allowed ones, no evaluation where `spec.match` does not match.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use caisson_policy::manifest::parse_documents;
use caisson_policy::{Decision, Mode, PolicySet, Request, SupplyChainFacts};

fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gatekeeper")
        .join(name)
}

fn run(name: &str) -> Vec<(String, Decision)> {
    let dir = fixtures(name);
    let mut b = PolicySet::builder();
    b.add(dir.join("template.yaml").to_str().unwrap()).unwrap();
    b.add(dir.join("constraint.yaml").to_str().unwrap())
        .unwrap();
    let set = b.build().unwrap();
    let text = std::fs::read(dir.join("examples.yaml")).unwrap();
    parse_documents(&text, "examples.yaml", &Default::default())
        .unwrap()
        .into_iter()
        .map(|(obj, _)| {
            let name = obj["metadata"]["name"].as_str().unwrap().to_string();
            (
                name,
                set.evaluate(&Request::from_object(obj), &SupplyChainFacts::default()),
            )
        })
        .collect()
}

fn msgs(d: &Decision) -> Vec<String> {
    let mut m: Vec<String> = d.denials.iter().map(|v| v.message.clone()).collect();
    m.sort();
    m
}

#[test]
fn k8srequiredlabels() {
    let r = run("requiredlabels");
    let owner = "All namespaces must have an `owner` label that points to your company username";
    assert!(r[0].1.allowed, "{:?}", r[0]);
    assert_eq!(msgs(&r[1].1), [owner]);
    assert_eq!(msgs(&r[2].1), [owner]);
    assert!(r[2]
        .1
        .denials
        .iter()
        .all(|v| v.policy == "all-must-have-owner" && v.mode == Mode::Enforce));
    assert!(
        r[3].1.allowed && r[3].1.denials.is_empty(),
        "Pod is not matched: {:?}",
        r[3]
    );
}

#[test]
fn k8sallowedrepos() {
    let r = run("allowedrepos");
    assert!(r[0].1.allowed, "{:?}", r[0]);
    assert_eq!(
        msgs(&r[1].1),
        [
            r#"container <nginx> has an invalid image repo <nginx>, allowed repos are ["openpolicyagent/"]"#,
            r#"container <nginxinit> has an invalid image repo <nginx>, allowed repos are ["openpolicyagent/"]"#,
        ]
    );
    assert!(r[2].1.allowed, "namespace production is not matched");
}

#[test]
fn k8scontainerlimits() {
    let r = run("containerlimits");
    assert!(r[0].1.allowed, "{:?}", r[0]);
    assert_eq!(
        msgs(&r[1].1),
        [
            "container <opa> cpu limit <300m> is higher than the maximum allowed of <200m>",
            "container <opa> memory limit <2Gi> is higher than the maximum allowed of <1Gi>",
        ]
    );
    assert_eq!(msgs(&r[2].1), ["container <opa> has no resource limits"]);
}

#[test]
fn enforcement_action_and_excluded_namespaces() {
    let dir = fixtures("allowedrepos");
    let constraint = r#"
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sAllowedRepos
metadata: {name: repos-warn}
spec:
  enforcementAction: warn
  match:
    kinds: [{apiGroups: [""], kinds: ["Pod"]}]
    excludedNamespaces: ["kube-*"]
  parameters: {repos: ["openpolicyagent/"]}
"#;
    let mut b = PolicySet::builder();
    b.add(dir.join("template.yaml").to_str().unwrap()).unwrap();
    b.gatekeeper_source("inline.yaml", constraint).unwrap();
    let set = b.build().unwrap();
    let pod = |ns: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    };
    let d = set.evaluate(
        &Request::from_object(pod("default")),
        &SupplyChainFacts::default(),
    );
    assert!(d.allowed);
    assert_eq!(d.warnings.len(), 1);
    let d = set.evaluate(
        &Request::from_object(pod("kube-system")),
        &SupplyChainFacts::default(),
    );
    assert!(d.warnings.is_empty() && d.denials.is_empty());
}

#[test]
fn inventory_reads_are_empty_with_a_note() {
    let template = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8suniqueingresshost}
spec:
  crd: {spec: {names: {kind: K8sUniqueIngressHost}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8suniqueingresshost
        violation[{"msg": msg}] {
          host := input.review.object.spec.rules[_].host
          other := data.inventory.namespace[_][_]["Ingress"][_]
          other.spec.rules[_].host == host
          msg := sprintf("ingress host conflicts: %v", [host])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sUniqueIngressHost
metadata: {name: unique-ingress-host}
"#;
    let mut b = PolicySet::builder();
    b.gatekeeper_source("t.yaml", template).unwrap();
    let set = b.build().unwrap();
    assert!(set.notes().iter().any(|n| n.contains("data.inventory")));
    let ing = serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "i", "namespace": "default"}, "spec": {"rules": [{"host": "a.example"}]}});
    let d = set.evaluate(&Request::from_object(ing), &SupplyChainFacts::default());
    assert!(d.allowed, "{d:?}");
}
