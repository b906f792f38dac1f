//! Pod Security Standards at both levels, every control, with passing and failing
//! pods. The cases in tests/data/pss_cases.yaml transcribe the intent of the upstream
//! PodSecurity fixtures (kubernetes/pod-security-admission test/fixtures_*.go); the
//! Go module itself cannot be fetched here, so this is a port, not a differential run.
#![allow(clippy::unwrap_used)]

mod support;

use serde::Deserialize;
use serde_json::Value as Json;
use support::*;

#[derive(Deserialize)]
struct Case {
    check: String,
    level: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    pass: Vec<serde_json::Map<String, Json>>,
    #[serde(default)]
    fail: Vec<serde_json::Map<String, Json>>,
}

fn tweak(restricted: bool, patch: &serde_json::Map<String, Json>) -> Json {
    let mut pod = minimal_pod(restricted);
    for (path, value) in patch {
        set_path(&mut pod, path, value.clone());
    }
    pod
}

#[test]
fn upstream_fixture_cases() {
    let cases: Vec<Case> =
        serde_norway::from_str(include_str!("data/pss_cases.yaml")).expect("cases parse");
    let mut failures = Vec::new();
    let mut count = 0;
    for case in &cases {
        let params = case
            .version
            .as_ref()
            .map(|v| format!("{{version: {v}}}"))
            .unwrap_or_default();
        let version = case.version.as_deref().unwrap_or("latest");
        let restricted = case.level == "restricted";
        let own = set_with(
            if restricted {
                "pss-restricted"
            } else {
                "pss-baseline"
            },
            &params,
        );
        let strict = set_with("pss-restricted", &params);
        for patch in &case.pass {
            count += 1;
            let d = eval(&own, &tweak(restricted, patch));
            if !d.allowed {
                failures.push(format!(
                    "{} {} {version}: expected pass for {patch:?}, got {:#?}",
                    case.level, case.check, d.denials
                ));
            }
        }
        for patch in &case.fail {
            count += 1;
            let d = eval(&own, &tweak(restricted, patch));
            if d.allowed || !checks(&d).contains(&case.check) {
                failures.push(format!(
                    "{} {} {version}: expected {} failure for {patch:?}, got {:#?}",
                    case.level, case.check, case.check, d.denials
                ));
            }
            if !restricted {
                // Restricted includes Baseline: the same tweak on the restricted pod fails too.
                let d = eval(&strict, &tweak(true, patch));
                if d.allowed {
                    failures.push(format!(
                        "restricted {} {version}: expected failure for {patch:?}",
                        case.check
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(count > 120, "only {count} cases ran");
}

#[test]
fn minimal_pods_pass_their_level() {
    assert!(eval(&set_with("pss-baseline", ""), &minimal_pod(false)).allowed);
    assert!(eval(&set_with("pss-restricted", ""), &minimal_pod(true)).allowed);
    let d = eval(&set_with("pss-restricted", ""), &minimal_pod(false));
    assert!(!d.allowed);
    let mut c = checks(&d);
    c.sort();
    c.dedup();
    assert_eq!(
        c,
        [
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "runAsNonRoot",
            "seccompProfile_restricted"
        ]
    );
}

#[test]
fn messages_name_field_path_and_value() {
    let mut pod = minimal_pod(true);
    set_path(
        &mut pod,
        "spec.containers[0].securityContext.privileged",
        Json::Bool(true),
    );
    set_path(
        &mut pod,
        "spec.securityContext.seccompProfile.type",
        Json::from("Unconfined"),
    );
    set_path(
        &mut pod,
        "spec.containers[0].securityContext.capabilities.add",
        serde_json::json!(["NET_RAW"]),
    );
    let d = eval(&set_with("pss-restricted", ""), &pod);
    let msgs: Vec<&str> = d.denials.iter().map(|v| v.message.as_str()).collect();
    let want = [
        r#"privileged (spec.containers[0].securityContext.privileged=true): container "container1" must not set securityContext.privileged=true"#,
        r#"seccompProfile (spec.securityContext.seccompProfile.type="Unconfined"): pod must not set securityContext.seccompProfile.type to "Unconfined""#,
        r#"unrestricted capabilities (spec.containers[0].securityContext.capabilities.add[0]="NET_RAW"): container "container1" must not include "NET_RAW" in securityContext.capabilities.add"#,
    ];
    for w in want {
        assert!(msgs.contains(&w), "missing {w}\nin {msgs:#?}");
    }
    let v = d
        .denials
        .iter()
        .find(|v| v.check.as_deref() == Some("privileged"))
        .unwrap();
    assert_eq!(
        v.path.as_deref(),
        Some("spec.containers[0].securityContext.privileged")
    );
    assert_eq!(v.policy, "pss-restricted");
    assert!(!v.remediation.is_empty());
}

#[test]
fn unsupported_version_is_a_config_error() {
    let mut b = caisson_policy::PolicySet::builder();
    b.builtin("pss-baseline").unwrap();
    let cfg = caisson_policy::Config::parse(
        "policies:\n  pss-baseline:\n    parameters: {version: v1.12}\n",
        "c.yaml",
    )
    .unwrap();
    b.config(cfg, "c.yaml");
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("outside the supported range"), "{err}");
}
