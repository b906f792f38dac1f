//! `manifests::generate`: the Kubernetes objects are schema-valid (the official
//! OpenAPI schemas via kubernetes-validate, strict), explicit about failure
//! handling, and the caBundle verifies the serving certificate (openssl).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;
use caisson_admission::manifests::{generate, FailurePolicy, ManifestOptions};
use serde_json::Value as Json;

fn docs(yaml: &str) -> Vec<Json> {
    yaml.split("\n---\n")
        .filter(|d| d.contains("kind:"))
        .map(|d| serde_norway::from_str(d).unwrap())
        .collect()
}

fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || Command::new(tool)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    if !found {
        let msg = format!(
            "{tool} is not installed; run scripts/install-deps (scripts/deps.d/admission.sh)"
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        caisson_testsupport::skip(&msg);
    }
    found
}

#[test]
fn webhook_configuration_is_explicit_and_safe_by_default() {
    let g = generate(&ManifestOptions::new("caisson-system", "caisson-webhook")).unwrap();
    let d = docs(&g.yaml);
    let kinds: Vec<&str> = d.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ValidatingWebhookConfiguration",
            "Service",
            "Deployment",
            "Secret"
        ]
    );
    let wh = &d[0]["webhooks"][0];
    assert_eq!(wh["failurePolicy"], "Fail");
    assert_eq!(wh["timeoutSeconds"], 5);
    assert_eq!(wh["sideEffects"], "None");
    assert_eq!(wh["admissionReviewVersions"], serde_json::json!(["v1"]));
    assert_eq!(wh["clientConfig"]["service"]["path"], "/admission/validate");
    assert_eq!(wh["clientConfig"]["service"]["name"], "caisson-webhook");
    let excluded = &wh["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(excluded["operator"], "NotIn");
    assert_eq!(
        excluded["values"],
        serde_json::json!(["kube-system", "caisson-system"])
    );
    let resources: Vec<String> = wh["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
        })
        .collect();
    for r in [
        "pods",
        "pods/ephemeralcontainers",
        "deployments",
        "cronjobs",
        "jobs",
        "daemonsets",
        "statefulsets",
        "replicasets",
        "replicationcontrollers",
    ] {
        assert!(resources.iter().any(|x| x == r), "{r} not in {resources:?}");
    }
    // The Deployment passes Caisson's own restricted policies.
    let pod = &d[2]["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
    let mut b = caisson_policy::PolicySet::builder();
    b.default_builtins().unwrap();
    let set = b.build().unwrap();
    let decision = set.evaluate(
        &caisson_policy::Request::from_object(d[2].clone()),
        &Default::default(),
    );
    assert!(decision.allowed, "{:?}", decision.denials);
    assert!(decision.warnings.is_empty(), "{:?}", decision.warnings);

    let mut opts = ManifestOptions::new("ops", "hook");
    opts.failure_policy = FailurePolicy::Ignore;
    opts.timeout_seconds = 2;
    let g = generate(&opts).unwrap();
    let wh = &docs(&g.yaml)[0]["webhooks"][0];
    assert_eq!(wh["failurePolicy"], "Ignore");
    assert_eq!(wh["timeoutSeconds"], 2);

    for (ns, svc, t) in [
        ("Bad_NS", "hook", 5),
        ("ops", "-x", 5),
        ("ops", "hook", 31),
        ("ops", "hook", 0),
    ] {
        let mut o = ManifestOptions::new(ns, svc);
        o.timeout_seconds = t;
        assert!(generate(&o).is_err(), "{ns} {svc} {t}");
    }
}

#[test]
fn manifests_validate_against_the_kubernetes_schemas() {
    if !have("kubernetes-validate") {
        return;
    }
    let g = generate(&ManifestOptions::new("caisson-system", "caisson-webhook")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifests.yaml");
    fs_err::write(&path, &g.yaml).unwrap();
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("INFO").count(), 4, "{text}");
    // The check is real: a wrong type fails it.
    fs_err::write(
        &path,
        g.yaml.replace("timeoutSeconds: 5", "timeoutSeconds: five"),
    )
    .unwrap();
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn ca_bundle_verifies_the_serving_certificate() {
    if !have("openssl") {
        return;
    }
    let g = generate(&ManifestOptions::new("caisson-system", "caisson-webhook")).unwrap();
    let d = docs(&g.yaml);
    let b64 = base64::engine::general_purpose::STANDARD;
    let ca = b64
        .decode(
            d[0]["webhooks"][0]["clientConfig"]["caBundle"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let cert = b64
        .decode(d[3]["data"]["tls.crt"].as_str().unwrap())
        .unwrap();
    let key = b64
        .decode(d[3]["data"]["tls.key"].as_str().unwrap())
        .unwrap();
    assert_eq!(ca, g.ca_pem.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let (ca_path, cert_path, key_path) = (
        dir.path().join("ca.crt"),
        dir.path().join("tls.crt"),
        dir.path().join("tls.key"),
    );
    fs_err::write(&ca_path, &ca).unwrap();
    fs_err::write(&cert_path, &cert).unwrap();
    fs_err::write(&key_path, &key).unwrap();
    let verify = |extra: &[&str]| {
        Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(&ca_path)
            .args(extra)
            .arg(&cert_path)
            .output()
            .unwrap()
    };
    let out = verify(&[
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "caisson-webhook.caisson-system.svc",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = verify(&["-verify_hostname", "other.caisson-system.svc"]);
    assert!(
        !out.status.success(),
        "a different service name must not verify"
    );
    // The key in the Secret belongs to the certificate.
    let pubkey = |args: &[&str], path: &std::path::Path| {
        Command::new("openssl")
            .args(args)
            .arg(path)
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(
        pubkey(&["x509", "-noout", "-pubkey", "-in"], &cert_path),
        pubkey(&["pkey", "-pubout", "-in"], &key_path)
    );
    // Another generation gets another CA: the old bundle does not verify it.
    let g2 = generate(&ManifestOptions::new("caisson-system", "caisson-webhook")).unwrap();
    fs_err::write(&cert_path, &g2.cert_pem).unwrap();
    assert!(!verify(&[]).status.success());
    let _ = std::io::stdout().flush();
}
