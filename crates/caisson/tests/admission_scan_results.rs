//! Admission policies on a Caisson registry's stored scan results: `caisson
//! serve --db … --admission --scan-results` scans a pushed image, and the
//! webhook beside it takes the image's findings (from the digest's health)
//! and OS (from its stored SBOM) for `vulnerability-threshold` and
//! `approved-base-os`.
#![allow(clippy::unwrap_used)]

mod common;
mod serve_support;

use std::time::{Duration, Instant};

use caisson_testsupport::{fixture, have_tools, registry::free_port, write_auth_file};
use serde_json::Value as Json;
use serve_support::{pod_review, push_fixture, serve_with, PASSWORD};

#[test]
fn webhook_uses_the_registry_scan_results() {
    if !have_tools(&["skopeo"]) {
        return;
    }
    let Some((root, entry)) = fixture("lang-python-node") else {
        assert!(std::env::var_os("CI").is_none(), "fixture missing in CI");
        return;
    };
    let db = common::database();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let auth = write_auth_file(dir.path(), &host, "admin", PASSWORD);
    let config = dir.path().join("policy.yaml");
    fs_err::write(
        &config,
        "policies:\n  vulnerability-threshold: {parameters: {severity: critical}}\n  approved-base-os: {parameters: {os: [\"alpine\"]}}\n",
    )
    .unwrap();
    let _serve = serve_with(
        port,
        &dir.path().join("data"),
        None,
        &[
            "--db",
            db.to_str().unwrap(),
            "--admission-policy",
            "vulnerability-threshold",
            "--admission-policy",
            "approved-base-os",
            "--admission-config",
            config.to_str().unwrap(),
            "--scan-results",
            "--insecure-registry",
            &host,
        ],
        &[("REGISTRY_AUTH_FILE", auth.to_str().unwrap())],
    );
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    push_fixture(&host, &root, &entry, "team/app:1");
    // Wait for the scan to finish.
    let start = Instant::now();
    loop {
        let h: Json = serde_json::from_str(
            &http
                .get(format!(
                    "http://{host}/api/v1/repositories/team/app/manifests/1/health"
                ))
                .basic_auth("admin", Some(PASSWORD))
                .send()
                .unwrap()
                .text()
                .unwrap(),
        )
        .unwrap();
        if h["health"] == "vulnerable" || h["health"] == "healthy" {
            assert!(h["counts"]["CRITICAL"].as_u64().unwrap_or(0) > 0, "{h}");
            break;
        }
        assert_ne!(h["health"], "scan-failed", "{h}");
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "scan did not finish: {h}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    let decide = |uid: &str, image: &str| -> String {
        let text = http
            .post(format!("http://{host}/admission/validate"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&pod_review(uid, image)).unwrap())
            .send()
            .unwrap()
            .text()
            .unwrap();
        let body: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(body["response"]["allowed"], false, "{body}");
        body["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let msg = decide("s1", &format!("{host}/team/app:1"));
    // Findings from the digest's stored scan, the OS from its stored SBOM.
    assert!(msg.contains("critical:"), "{msg}");
    assert!(msg.contains("debian"), "{msg}");
    assert!(!msg.contains("no vulnerability scan result"), "{msg}");
    // An image the registry does not hold has no scan result: denied as such.
    let msg = decide("s2", &format!("{host}/team/missing:1"));
    assert!(msg.contains("no vulnerability scan result"), "{msg}");
}
