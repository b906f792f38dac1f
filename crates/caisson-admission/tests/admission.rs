//! AdmissionReview round trips over real HTTPS on loopback: the webhook's router
//! served by `caisson_http::serve` with a certificate from `manifests::certificates`, a
//! reqwest client trusting only the generated CA and resolving the in-cluster
//! service name to the loopback port.
#![allow(clippy::unwrap_used)]

mod support;

use caisson_admission::ServerLimits;
use serde_json::{json, Value as Json};
use support::*;

const FULL: &[&str] = &[
    "pss-restricted",
    "read-only-root-filesystem",
    "resource-limits",
    "automount-service-account-token",
    "image-tag",
];

fn full() -> Webhook {
    Webhook::start(policies(FULL, ""), ServerLimits::default())
}

#[test]
fn create_pod_allowed_then_denied_with_every_violation_listed() {
    let hook = full();
    let ok = hook.review(&review(
        "uid-ok",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("web", "shop", good_pod_spec()),
        Json::Null,
    ));
    assert_eq!(ok["allowed"], true, "{ok}");
    assert!(
        ok.get("status").is_none() && ok.get("warnings").is_none(),
        "{ok}"
    );

    let denied = hook.review(&review(
        "uid-bad",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("web", "shop", bad_pod_spec()),
        Json::Null,
    ));
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["status"]["code"], 403);
    assert_eq!(denied["status"]["reason"], "Forbidden");
    let msg = denied["status"]["message"].as_str().unwrap();
    for expected in [
        "[pss-restricted] privileged (spec.containers[0].securityContext.privileged=true)",
        "[pss-restricted] host namespaces (spec.hostNetwork=true)",
        "[image-tag]",
    ] {
        assert!(msg.contains(expected), "missing {expected:?} in {msg}");
    }

    let recs = hook.records();
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0]["uid"], "uid-ok");
    assert_eq!(recs[0]["allowed"], true);
    let r = &recs[1];
    assert_eq!(r["uid"], "uid-bad");
    assert_eq!(r["allowed"], false);
    assert_eq!(r["operation"], "CREATE");
    assert_eq!(r["kind"], "v1/Pod");
    assert_eq!(r["namespace"], "shop");
    assert_eq!(r["name"], "web");
    assert_eq!(r["user"], "alice@example.com");
    assert_eq!(r["denied_by"], json!(["image-tag", "pss-restricted"]));
    assert!(r["time"].as_str().unwrap().ends_with('Z'));
}

const IMMUTABLE_TEAM: &str = r#"
package caisson.immutable_team

import rego.v1

deny contains msg if {
	input.review.operation == "UPDATE"
	old := input.review.oldObject.metadata.labels.team
	new := object.get(input.review.object.metadata, ["labels", "team"], "")
	old != new
	msg := sprintf("label team is immutable (%v -> %v)", [old, new])
}
"#;

#[test]
fn update_sees_old_object() {
    let dir = tempfile::tempdir().unwrap();
    let rego = dir.path().join("immutable_team.rego");
    fs_err::write(&rego, IMMUTABLE_TEAM).unwrap();
    let set = policies(&["pss-restricted", rego.to_str().unwrap()], "");
    let hook = Webhook::start(set, ServerLimits::default());
    let mut old = pod("web", "shop", good_pod_spec());
    old["metadata"]["labels"]["team"] = json!("payments");
    let mut same = old.clone();
    same["metadata"]["labels"]["version"] = json!("2");
    let resp = hook.review(&review(
        "u1",
        "UPDATE",
        "Pod",
        "Pod",
        None,
        same,
        old.clone(),
    ));
    assert_eq!(resp["allowed"], true, "{resp}");
    let mut moved = old.clone();
    moved["metadata"]["labels"]["team"] = json!("growth");
    let resp = hook.review(&review(
        "u2",
        "UPDATE",
        "Pod",
        "Pod",
        None,
        moved,
        old.clone(),
    ));
    assert_eq!(resp["allowed"], false);
    let msg = resp["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("[immutable-team] label team is immutable (payments -> growth)"),
        "{msg}"
    );
    // An update that makes the pod non-compliant is judged on the new object.
    let mut worse = old.clone();
    worse["spec"]["containers"][0]["securityContext"]["privileged"] = json!(true);
    let resp = hook.review(&review("u3", "UPDATE", "Pod", "Pod", None, worse, old));
    assert_eq!(resp["allowed"], false);
}

#[test]
fn dry_run_is_decided_and_recorded_as_dry_run() {
    let hook = full();
    let mut r = review(
        "dry",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", bad_pod_spec()),
        Json::Null,
    );
    r["request"]["dryRun"] = json!(true);
    let resp = hook.review(&r);
    assert_eq!(resp["allowed"], false, "a dry run gets the real answer");
    let recs = hook.records();
    assert_eq!(recs[0]["dry_run"], true);
    assert_eq!(recs[0]["allowed"], false);
}

#[test]
fn sub_resources() {
    let hook = full();
    // pods/ephemeralcontainers carries the whole Pod: a privileged debug
    // container is judged like any other.
    let mut with_debug = pod("web", "shop", good_pod_spec());
    let mut debug = good_container("debugger");
    debug["securityContext"]["privileged"] = json!(true);
    debug["targetContainerName"] = json!("app");
    with_debug["spec"]["ephemeralContainers"] = json!([debug]);
    let old = pod("web", "shop", good_pod_spec());
    let resp = hook.review(&review(
        "eph",
        "UPDATE",
        "Pod",
        "Pod",
        Some("ephemeralcontainers"),
        with_debug,
        old.clone(),
    ));
    assert_eq!(resp["allowed"], false);
    let msg = resp["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("spec.ephemeralContainers[0].securityContext.privileged=true"),
        "{msg}"
    );

    // deployments/scale: the object is an autoscaling/v1 Scale, nothing to judge.
    let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 5}, "status": {"replicas": 3}});
    let resp = hook.review(&review(
        "scale",
        "UPDATE",
        "Scale",
        "Deployment",
        Some("scale"),
        scale.clone(),
        scale,
    ));
    assert_eq!(resp["allowed"], true, "{resp}");

    // pods/status of a non-compliant pod (admitted before the policy existed):
    // the kubelet's status updates must keep working.
    let bad = pod("old", "shop", bad_pod_spec());
    let resp = hook.review(&review(
        "status",
        "UPDATE",
        "Pod",
        "Pod",
        Some("status"),
        bad.clone(),
        bad,
    ));
    assert_eq!(resp["allowed"], true, "{resp}");

    let recs = hook.records();
    assert_eq!(recs[1]["sub_resource"], "scale");
    assert_eq!(recs[1]["note"], "sub-resource scale is not evaluated");
    assert_eq!(recs[0]["denied_by"], json!(["pss-restricted"]));
}

#[test]
fn delete_without_object_is_allowed() {
    let hook = full();
    let old = pod("web", "shop", bad_pod_spec());
    let resp = hook.review(&review(
        "del",
        "DELETE",
        "Pod",
        "Pod",
        None,
        Json::Null,
        old,
    ));
    assert_eq!(resp["allowed"], true, "{resp}");
    // Some API servers omit oldObject too (e.g. DeleteCollection with no body).
    let mut bare = review("del2", "DELETE", "Pod", "Pod", None, Json::Null, Json::Null);
    bare["request"].as_object_mut().unwrap().remove("oldObject");
    bare["request"].as_object_mut().unwrap().remove("object");
    bare["request"]["name"] = json!("web");
    let resp = hook.review(&bare);
    assert_eq!(resp["allowed"], true, "{resp}");
    let recs = hook.records();
    assert_eq!(recs[0]["operation"], "DELETE");
    assert_eq!(recs[0]["name"], "web");
    assert!(
        recs[0]["note"].as_str().unwrap().contains("no object"),
        "{:?}",
        recs[0]
    );
}

fn deployment(spec: Json) -> Json {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec}}})
}

fn cronjob(spec: Json) -> Json {
    json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "shop"},
        "spec": {"schedule": "0 3 * * *",
                 "jobTemplate": {"spec": {"template": {"spec": spec}}}}})
}

#[test]
fn workload_pod_templates() {
    let hook = full();
    let ok = hook.review(&review(
        "d1",
        "CREATE",
        "Deployment",
        "Deployment",
        None,
        deployment(good_pod_spec()),
        Json::Null,
    ));
    assert_eq!(ok["allowed"], true, "{ok}");
    let bad = hook.review(&review(
        "d2",
        "CREATE",
        "Deployment",
        "Deployment",
        None,
        deployment(bad_pod_spec()),
        Json::Null,
    ));
    assert_eq!(bad["allowed"], false);
    let msg = bad["status"]["message"].as_str().unwrap();
    assert!(msg.contains("spec.template.spec.hostNetwork=true"), "{msg}");

    let mut spec = good_pod_spec();
    spec["restartPolicy"] = json!("OnFailure");
    let ok = hook.review(&review(
        "c1",
        "CREATE",
        "CronJob",
        "CronJob",
        None,
        cronjob(spec),
        Json::Null,
    ));
    assert_eq!(ok["allowed"], true, "{ok}");
    let bad = hook.review(&review(
        "c2",
        "CREATE",
        "CronJob",
        "CronJob",
        None,
        cronjob(bad_pod_spec()),
        Json::Null,
    ));
    let msg = bad["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains(
            "spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged=true"
        ),
        "{msg}"
    );
    assert_eq!(hook.records()[3]["kind"], "batch/v1/CronJob");
}

#[test]
fn warn_and_audit_modes() {
    let config = "policies:\n  resource-limits: {mode: warn}\n  image-tag: {mode: audit}\n";
    let hook = Webhook::start(policies(FULL, config), ServerLimits::default());
    let mut spec = good_pod_spec();
    spec["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("resources");
    spec["containers"][0]["image"] = json!("nginx");
    let resp = hook.review(&review(
        "w",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", spec),
        Json::Null,
    ));
    assert_eq!(resp["allowed"], true, "{resp}");
    let warnings = resp["warnings"].as_array().unwrap();
    assert!(!warnings.is_empty());
    assert!(
        warnings
            .iter()
            .all(|w| w.as_str().unwrap().starts_with("[resource-limits]")),
        "{warnings:?}"
    );
    let ann = resp["auditAnnotations"].as_object().unwrap();
    assert!(
        ann["caisson.dev/audit-0"]
            .as_str()
            .unwrap()
            .starts_with("[image-tag]"),
        "{ann:?}"
    );
    let rec = &hook.records()[0];
    assert_eq!(rec["warned_by"], json!(["resource-limits"]));
    assert_eq!(rec["audited_by"], json!(["image-tag"]));
    assert_eq!(rec["denied_by"], json!([]));
}

#[test]
fn exemptions_by_namespace_label_and_image() {
    let config = r#"
exemptions:
  - namespaces: [legacy]
  - labelSelector: {matchLabels: {caisson.dev/exempt: "true"}}
    policies: [pss-restricted]
  - images: ["registry.example.com/debug/*"]
    policies: [pss-restricted]
"#;
    let hook = Webhook::start(
        policies(&["pss-restricted"], config),
        ServerLimits::default(),
    );
    let bad = bad_pod_spec();
    let resp = hook.review(&review(
        "n",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "legacy", bad.clone()),
        Json::Null,
    ));
    assert_eq!(resp["allowed"], true, "namespace exemption: {resp}");
    let mut labelled = pod("p", "shop", bad.clone());
    labelled["metadata"]["labels"]["caisson.dev/exempt"] = json!("true");
    let resp = hook.review(&review(
        "l",
        "CREATE",
        "Pod",
        "Pod",
        None,
        labelled,
        Json::Null,
    ));
    assert_eq!(resp["allowed"], true, "label exemption: {resp}");
    let resp = hook.review(&review(
        "s",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", bad),
        Json::Null,
    ));
    assert_eq!(resp["allowed"], false, "no exemption applies");
    // The image exemption removes only the matching container.
    let mut spec = good_pod_spec();
    let mut dbg = good_container("dbg");
    dbg["image"] = json!("registry.example.com/debug/toolbox:1");
    dbg["securityContext"]["privileged"] = json!(true);
    spec["containers"].as_array_mut().unwrap().push(dbg);
    let resp = hook.review(&review(
        "i",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", spec.clone()),
        Json::Null,
    ));
    assert_eq!(resp["allowed"], true, "image exemption: {resp}");
    spec["containers"][0]["securityContext"]["privileged"] = json!(true);
    let resp = hook.review(&review(
        "i2",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", spec),
        Json::Null,
    ));
    assert_eq!(resp["allowed"], false, "the other container still counts");
}

#[test]
fn malformed_requests_get_errors_not_panics() {
    let hook = full();
    // Not JSON, or JSON that is no AdmissionReview: 400.
    for body in [
        &b"{not json"[..],
        b"",
        b"[1,2]",
        b"\"AdmissionReview\"",
        br#"{"kind":"Pod"}"#,
    ] {
        let (status, resp) = hook.post_bytes(body.to_vec());
        assert_eq!(status, 400, "{:?} -> {resp}", String::from_utf8_lossy(body));
        assert!(resp["error"].is_string());
    }
    // AdmissionReviews with broken requests: a valid AdmissionReview denial
    // naming the field, uid echoed when there is one.
    let good = review(
        "m",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", good_pod_spec()),
        Json::Null,
    );
    let cases: Vec<(Json, &str)> = vec![
        (
            {
                let mut r = good.clone();
                r.as_object_mut().unwrap().remove("request");
                r
            },
            "request is missing",
        ),
        (
            {
                let mut r = good.clone();
                r["request"]["uid"] = json!(7);
                r
            },
            "request.uid",
        ),
        (
            {
                let mut r = good.clone();
                r["request"]["operation"] = json!("PATCH");
                r
            },
            "request.operation",
        ),
        (
            {
                let mut r = good.clone();
                r["request"]["object"] = json!("pod");
                r
            },
            "request.object is not a object",
        ),
        (
            {
                let mut r = good.clone();
                r["request"]["kind"] = json!("Pod");
                r
            },
            "request.kind",
        ),
        (
            {
                let mut r = good.clone();
                r["request"]["dryRun"] = json!("yes");
                r
            },
            "request.dryRun",
        ),
        (
            {
                let mut r = good.clone();
                r["apiVersion"] = json!("admission.k8s.io/v1beta1");
                r
            },
            "apiVersion",
        ),
    ];
    for (r, expected) in cases {
        let (status, body) = hook.post_bytes(serde_json::to_vec(&r).unwrap());
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["kind"], "AdmissionReview");
        let resp = &body["response"];
        assert_eq!(resp["allowed"], false, "{body}");
        assert_eq!(resp["status"]["code"], 400);
        let msg = resp["status"]["message"].as_str().unwrap();
        assert!(msg.contains(expected), "{expected:?} not in {msg}");
        let uid = r["request"]["uid"].as_str().unwrap_or("");
        assert_eq!(resp["uid"], uid);
    }
    // Deeply nested JSON hits serde_json's recursion limit, not the stack.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, _) = hook.post_bytes(deep.into_bytes());
    assert_eq!(status, 400);
    // Still serving.
    let ok = hook.review(&good);
    assert_eq!(ok["allowed"], true);
}

#[test]
fn oversized_body_is_rejected_with_413() {
    let limits = ServerLimits {
        max_body_bytes: 64 << 10,
        ..ServerLimits::default()
    };
    let hook = Webhook::start(policies(FULL, ""), limits);
    let mut p = pod("p", "shop", good_pod_spec());
    p["metadata"]["annotations"] = json!({"big": "x".repeat(100 << 10)});
    let r = review("big", "CREATE", "Pod", "Pod", None, p, Json::Null);
    let (status, _) = hook.post_bytes(serde_json::to_vec(&r).unwrap());
    assert_eq!(status, 413);
    assert!(hook.records().is_empty());
}

#[test]
fn healthz_and_tls_only_with_the_generated_ca() {
    let hook = full();
    let resp = hook.client.get(hook.url("/healthz")).send().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Json = serde_json::from_str(&resp.text().unwrap()).unwrap();
    assert_eq!(body["policies"], FULL.len());
    // A client that does not trust the generated CA cannot talk to it.
    let stranger = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .resolve(HOST, hook.addr)
        .build()
        .unwrap();
    assert!(stranger.get(hook.url("/healthz")).send().is_err());
}

const EXPENSIVE: &str = r#"
package caisson.expensive

import rego.v1

deny contains msg if {
	some i in numbers.range(1, 1000000)
	some j in numbers.range(1, 1000000)
	i * j == -1
	msg := "unreachable"
}
"#;

#[test]
fn past_the_deadline_the_request_is_denied() {
    let mut b = caisson_policy::PolicySet::builder();
    b.rego_source("expensive.rego", EXPENSIVE).unwrap();
    b.limits(caisson_policy::Limits {
        policy_timeout: std::time::Duration::from_secs(3),
        object_timeout: std::time::Duration::from_secs(3),
        ..Default::default()
    });
    let limits = ServerLimits {
        deadline: std::time::Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let hook = Webhook::start(b.build().unwrap(), limits);
    let started = std::time::Instant::now();
    let resp = hook.review(&review(
        "slow",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", good_pod_spec()),
        Json::Null,
    ));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(resp["allowed"], false);
    assert_eq!(resp["status"]["code"], 500);
    let msg = resp["status"]["message"].as_str().unwrap();
    assert!(msg.contains("did not finish within 300 ms"), "{msg}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let recs = hook.records();
    assert!(
        recs.iter()
            .any(|r| r["uid"] == "slow" && r["allowed"] == false),
        "{recs:?}"
    );
}

/// Facts that take `0` to look up: an evaluation that finishes, allowing
/// the object, only after the webhook's deadline.
struct SlowFacts(std::time::Duration);

impl caisson_admission::resolve::FactsSource for SlowFacts {
    fn facts(
        &self,
        _images: &[String],
        base: &caisson_policy::SupplyChainFacts,
    ) -> caisson_policy::SupplyChainFacts {
        std::thread::sleep(self.0);
        base.clone()
    }
}

/// Issue 15: the late evaluation wrote a second record (`allowed: true`)
/// beside the deadline denial: one request, two records, and the log
/// claiming an allow the API server never got.
#[test]
fn a_request_past_its_deadline_has_one_record_saying_denied() {
    let limits = ServerLimits {
        deadline: std::time::Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let hook = Webhook::start_with(
        policies(FULL, ""),
        limits,
        Some(std::sync::Arc::new(SlowFacts(
            std::time::Duration::from_millis(900),
        ))),
        None,
    );
    let resp = hook.review(&review(
        "late",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", good_pod_spec()),
        Json::Null,
    ));
    assert_eq!(resp["allowed"], false, "{resp}");
    // Let the late evaluation finish (it allows the pod).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let recs: Vec<Json> = hook
        .records()
        .into_iter()
        .filter(|r| r["uid"] == "late")
        .collect();
    assert_eq!(recs.len(), 1, "one request, one record: {recs:?}");
    assert_eq!(recs[0]["allowed"], false, "recorded as answered: {recs:?}");
    assert!(
        recs[0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("did not finish within 300 ms")),
        "{recs:?}"
    );
}

/// An evaluation that finishes in time is recorded once, as answered.
#[test]
fn a_request_in_time_has_one_record() {
    let hook = Webhook::start(policies(FULL, ""), ServerLimits::default());
    let resp = hook.review(&review(
        "quick",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", good_pod_spec()),
        Json::Null,
    ));
    assert_eq!(resp["allowed"], true, "{resp}");
    let recs: Vec<Json> = hook
        .records()
        .into_iter()
        .filter(|r| r["uid"] == "quick")
        .collect();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["allowed"], true);
}

/// Fail closed: a decision that cannot be recorded (the log on a full
/// device, `/dev/full`) is not answered as allowed.
#[test]
fn an_unrecordable_decision_is_denied() {
    if !std::path::Path::new("/dev/full").exists() {
        caisson_testsupport::skip("no /dev/full");
        return;
    }
    let hook = Webhook::start_with(
        policies(FULL, ""),
        ServerLimits::default(),
        None,
        Some("/dev/full".into()),
    );
    let resp = hook.review(&review(
        "unrecorded",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("p", "shop", good_pod_spec()),
        Json::Null,
    ));
    assert_eq!(resp["allowed"], false, "{resp}");
    assert_eq!(resp["status"]["code"], 500);
    let msg = resp["status"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("could not be recorded"), "{msg}");
}
