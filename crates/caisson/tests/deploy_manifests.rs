//! `caisson deploy manifests` for every component: strict validation
//! against the Kubernetes OpenAPI schemas (kubernetes-validate, v1.37), and
//! `caisson policy check` with the default set plus `pss-baseline`, whose
//! violations must be exactly the exemptions the component documents
//! (`caisson_deploy::EXEMPTIONS`): none for the registry and the webhook.
//! `caisson admission manifests` still prints the webhook's manifests.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use caisson_deploy::{exemptions, Component};
use caisson_testsupport::have_tools;

const BIN: &str = env!("CARGO_BIN_EXE_caisson");
const IMAGE: &str = "registry.example/caisson/caisson:0.1.0";

fn manifests(component: &str, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .args([
            "deploy",
            "manifests",
            "--component",
            component,
            "--image",
            IMAGE,
        ])
        .args(extra)
        .output()
        .expect("caisson deploy manifests");
    assert!(
        out.status.success(),
        "{component}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

fn validate(path: &Path) -> (bool, String) {
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.37.0"])
        .arg(path)
        .output()
        .expect("kubernetes-validate");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn every_component_validates_against_the_kubernetes_schemas() {
    if !have_tools(&["kubernetes-validate"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (component, extra, docs) in [
        ("registry", &[][..], 2),
        ("registry", &["--tls-secret", "caisson-registry-tls"][..], 2),
        ("admission", &[][..], 4),
        ("host-agent", &[][..], 1),
        ("sensor", &["--server-ca-secret", "caisson-ca"][..], 1),
    ] {
        let yaml = manifests(component, extra);
        let path = dir.path().join(format!("{component}.yaml"));
        fs_err::write(&path, &yaml).expect("write");
        let (ok, text) = validate(&path);
        assert!(ok, "{component} {extra:?}: {text}");
        assert_eq!(text.matches("INFO").count(), docs, "{component}: {text}");
    }
    // The check is real: a field the schema does not know fails it.
    let yaml =
        manifests("sensor", &[]).replace("hostPID: true", "hostPID: true\n      hostPIDs: true");
    let path = dir.path().join("broken.yaml");
    fs_err::write(&path, yaml).expect("write");
    assert!(
        !validate(&path).0,
        "an unknown field must fail strict validation"
    );
}

/// `(policy, check)` of every violation and warning `caisson policy check`
/// reports for the manifests in `path`.
fn violations(path: &Path) -> BTreeSet<(String, String)> {
    let out = Command::new(BIN)
        .args([
            "policy",
            "check",
            "--format",
            "json",
            "--policy",
            "pss-baseline",
            "--policy",
            "pss-restricted",
            "--policy",
            "read-only-root-filesystem",
            "--policy",
            "resource-limits",
            "--policy",
            "automount-service-account-token",
            "--policy",
            "image-tag",
        ])
        .arg(path)
        .output()
        .expect("caisson policy check");
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "policy check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut found = BTreeSet::new();
    for d in v["decisions"].as_array().expect("decisions") {
        for key in ["denials", "warnings", "audits"] {
            for x in d[key].as_array().into_iter().flatten() {
                found.insert((
                    x["policy"].as_str().unwrap_or("?").to_string(),
                    x["check"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    found
}

#[test]
fn policy_check_finds_exactly_the_documented_exemptions() {
    let dir = tempfile::tempdir().expect("tempdir");
    for component in Component::ALL {
        let path = dir.path().join(format!("{component}.yaml"));
        fs_err::write(&path, manifests(component.as_str(), &[])).expect("write");
        let expected: BTreeSet<(String, String)> = exemptions(component)
            .map(|e| (e.policy.to_string(), e.check.to_string()))
            .collect();
        assert_eq!(violations(&path), expected, "{component}");
    }
}

#[test]
fn admission_manifests_stays_an_alias_of_the_webhook_component() {
    let out = Command::new(BIN)
        .args([
            "admission",
            "manifests",
            "--namespace",
            "caisson",
            "--service",
            "caisson-admission",
            "--image",
            IMAGE,
        ])
        .output()
        .expect("caisson admission manifests");
    assert!(out.status.success());
    let old = String::from_utf8(out.stdout).expect("utf8");
    let new = manifests("admission", &[]);
    // Fresh certificates each time: compare everything but the PEM data.
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("caBundle:") && !l.contains("tls.") && !l.contains("ca.crt:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&old), strip(&new));
}

#[test]
fn unknown_component_and_missing_image_are_usage_errors() {
    let out = Command::new(BIN)
        .args([
            "deploy",
            "manifests",
            "--component",
            "cluster-agent",
            "--image",
            IMAGE,
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cluster-agent"));
    let out = Command::new(BIN)
        .args(["deploy", "manifests", "--component", "registry"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--image"));
}
