//! `caisson serve --webhooks`: a push, its scan, and the findings a newer
//! advisory database brings to an already-scanned, healthy digest arrive at a
//! real HTTP receiver as signed notifications (signature recomputed with
//! `openssl dgst -hmac`), and every delivery is in the delivery log.
#![allow(clippy::unwrap_used)]

mod serve_support;

use caisson_testsupport::{fixture, have_tools, registry::free_port};
use serde_json::Value as Json;
use serve_support::hooks::{receiver, wait_for};
use serve_support::scan::import_db;
use serve_support::{push_fixture, serve_with};

const SECRET: &str = "webhook-secret-for-tests";

#[test]
fn push_scan_and_new_findings_are_notified() {
    if !have_tools(&["skopeo", "openssl"]) {
        return;
    }
    let Some((root, entry)) = fixture("lang-python-node") else {
        assert!(std::env::var_os("CI").is_none(), "fixture missing in CI");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // First only Alpine's data: the Debian/Python image is healthy.
    import_db(&db, &["alpine-secdb"]);
    let (url, got) = receiver();
    let hooks = dir.path().join("webhooks.yaml");
    fs_err::write(
        &hooks,
        format!("webhooks:\n  - {{name: sec, url: '{url}', secret_env: TEST_WEBHOOK_SECRET}}\n"),
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = serve_with(
        free_port(),
        &data,
        None,
        &[
            "--db-poll",
            "1",
            "--db",
            db.to_str().unwrap(),
            "--webhooks",
            hooks.to_str().unwrap(),
        ],
        &[("TEST_WEBHOOK_SECRET", SECRET)],
    );
    let host = server.host.clone();
    push_fixture(&host, &root, &entry, "team/app:1");

    let push = wait_for(
        &got,
        "push",
        SECRET,
        |v| v["data"]["repo"] == "team/app" && v["data"]["tag"] == "1",
        dir.path(),
    );
    let digest = push["data"]["digest"].as_str().unwrap().to_string();
    let scanned = wait_for(
        &got,
        "scan.completed",
        SECRET,
        |v| v["data"]["digest"] == digest.as_str(),
        dir.path(),
    );
    assert_eq!(scanned["data"]["health"], "healthy", "{scanned}");

    // Newer advisories: PyPI's bring critical findings to the stored digest.
    import_db(&db, &["alpine-secdb", "osv/PyPI/all.zip"]);
    let changed = wait_for(
        &got,
        "findings.changed",
        SECRET,
        |v| v["data"]["digest"] == digest.as_str(),
        dir.path(),
    );
    let ids: Vec<&str> = changed["data"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert!(ids.contains(&"CVE-2021-33503"), "urllib3 1.26.4: {changed}");

    // Every delivery is in the log, delivered.
    let log = fs_err::read_to_string(data.join("webhook-deliveries.jsonl")).unwrap();
    let delivered: Vec<Json> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for id in [&push["id"], &changed["id"]] {
        assert!(
            delivered
                .iter()
                .any(|a| &a["delivery"] == id && a["outcome"] == "delivered"),
            "{id} not logged: {log}"
        );
    }
}
