//! Pull policies in the registry: who may set them (and what is refused),
//! unscanned images blocked until their scan is in, HEAD
//! and artifact reads never blocked, the blocked pull as an event, and a
//! multi-platform image whose index carries the signature.
#![allow(clippy::unwrap_used)]

mod scan_support;

use std::collections::BTreeMap;

use caisson_oci::Digest;
use caisson_registry::scan::RegistryEvent;
use caisson_sign::{cosign, payload, SigningKey};
use reqwest::Method;
use scan_support::*;
use serde_json::{json, Value};

const ROBOT_SCOPE: &str = "prod";

trait JsonBody {
    fn json_body(self, v: &Value) -> Self;
}

impl JsonBody for reqwest::blocking::RequestBuilder {
    fn json_body(self, v: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(v.to_string())
    }
}

fn setup(s: &Server) -> (String, String) {
    let r = s
        .admin(Method::PUT, "/api/v1/namespaces/prod")
        .json_body(&json!({}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let r = s
        .admin(Method::POST, "/api/v1/robots")
        .json_body(
            &json!({"name": "k8s", "scopes": [{"namespace": ROBOT_SCOPE, "actions": ["pull"]}]}),
        )
        .send()
        .unwrap();
    let v: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    (
        v["name"].as_str().unwrap().to_string(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

fn set_policy(s: &Server, auth: (&str, &str), body: Value) -> (u16, Value) {
    let r = s
        .req(
            Method::PUT,
            "/api/v1/namespaces/prod/pull-policy",
            Some(auth),
        )
        .json_body(&body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_slice(&r.bytes().unwrap()).unwrap_or(Value::Null),
    )
}

fn get_manifest(s: &Server, method: Method, reference: &str, auth: (&str, &str)) -> (u16, Value) {
    let r = s
        .req(
            method,
            &format!("/v2/prod/app/manifests/{reference}"),
            Some(auth),
        )
        .header(
            "accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        )
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_slice(&r.bytes().unwrap()).unwrap_or(Value::Null),
    )
}

fn python_image(s: &Server, tag: &str, name: &str, version: &str) -> String {
    let layer = tar_with(
        &format!("usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").as_bytes(),
    );
    s.push_raw_image("prod/app", tag, &config_for(&[&layer]), &[&layer])
}

#[test]
fn who_may_set_a_pull_policy_and_what_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"), scan_config(1, None, true));
    setup(&s);
    for (user, role) in [("alice", "maintainer"), ("olga", "admin")] {
        let r = s
            .admin(Method::POST, "/api/v1/users")
            .json_body(&json!({"name": user, "password": "user-password-1"}))
            .send()
            .unwrap();
        assert!(r.status().is_success());
        let r = s
            .admin(
                Method::PUT,
                &format!("/api/v1/namespaces/prod/members/{user}"),
            )
            .json_body(&json!({"role": role}))
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
    let alice = ("alice", "user-password-1");
    let olga = ("olga", "user-password-1");
    // Maintainers bypass the policy, so they do not set it.
    let (st, _) = set_policy(&s, alice, json!({"block_severity": "high"}));
    assert_eq!(st, 403);
    for (body, needle) in [
        (
            json!({"block_severity": "severe"}),
            "block_severity \"severe\"",
        ),
        (
            json!({"require_signature": true}),
            "at least one trusted key",
        ),
        (
            json!({"trusted_keys": ["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]}),
            "trusted_keys[0]",
        ),
        (
            json!({"allow": [{"id": "CVE-1", "expires": "2026-02-30"}]}),
            "allow[0].expires",
        ),
        (
            json!({"block_severity": "high", "typo": true}),
            "unknown field `typo`",
        ),
    ] {
        let (st, v) = set_policy(&s, olga, body.clone());
        assert_eq!(st, 400, "{body}");
        let msg = v["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let (st, v) = set_policy(
        &s,
        olga,
        json!({"block_severity": "high", "allow": [{"id": "CVE-2024-1", "expires": "2030-01-01"}]}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["pull_policy"]["bypass_role"], "maintainer");
    let got = s
        .req(
            Method::GET,
            "/api/v1/namespaces/prod/pull-policy",
            Some(alice),
        )
        .send()
        .unwrap();
    let got: Value = serde_json::from_slice(&got.bytes().unwrap()).unwrap();
    assert_eq!(got["pull_policy"], v["pull_policy"]);
    let audit = s.get_json("/api/v1/audit");
    let rec = audit
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r["action"] == "update-pull-policy" && r["outcome"] == "success")
        .unwrap()
        .clone();
    assert_eq!(rec["actor"], "user:olga");
    let detail = rec["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("none→{") && detail.contains("CVE-2024-1"),
        "{detail}"
    );
    let r = s
        .req(
            Method::DELETE,
            "/api/v1/namespaces/prod/pull-policy",
            Some(olga),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let got: Value = s.get_json("/api/v1/namespaces/prod/pull-policy");
    assert!(got["pull_policy"].is_null(), "{got}");
}

#[test]
fn unscanned_images_are_blocked_until_the_lazy_scan_is_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    import_db(&db, &["osv/PyPI/all.zip"]);
    let s = start(&dir.path().join("data"), scan_config(1, Some(&db), true));
    let (robot, secret) = setup(&s);
    let robot = (robot.as_str(), secret.as_str());
    let digest = python_image(&s, "v1", "idna", "3.7");
    let (st, _) = set_policy(
        &s,
        ("admin", ADMIN_PASSWORD),
        json!({"block_unscanned": true}),
    );
    assert_eq!(st, 200);
    let mut events = s.reg.subscribe();

    // HEAD only names the digest: never blocked.
    assert_eq!(get_manifest(&s, Method::HEAD, "v1", robot).0, 200);
    let (st, body) = get_manifest(&s, Method::GET, "v1", robot);
    assert_eq!(st, 403, "{body}");
    let e = &body["errors"][0];
    assert_eq!(e["code"], "DENIED");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("vulnerability-threshold:")
            && e["message"]
                .as_str()
                .unwrap()
                .contains("no vulnerability scan result"),
        "{e}"
    );
    assert_eq!(e["detail"]["violations"][0]["check"], "unscanned");
    assert_eq!(e["detail"]["digest"], digest.as_str());
    let ev = wait_event(&mut events, 10, |e| {
        matches!(e, RegistryEvent::PullBlocked(_))
    });
    let RegistryEvent::PullBlocked(d) = ev else {
        unreachable!()
    };
    assert_eq!(d.actor, format!("robot:{}", robot.0));
    assert_eq!(d.reference, "v1");

    // The push queued the scan (workers paused); once it is in, the pull passes.
    s.reg.pause_scans(false);
    let h = s.wait_scanned("prod/app", &digest, 60);
    assert_eq!(h["health"], "healthy", "{h}");
    assert_eq!(get_manifest(&s, Method::GET, "v1", robot).0, 200);
}

/// Pushes a signature for `digest` with `key`, as `caisson sign` lays it out.
fn sign(s: &Server, digest: &str, key: &SigningKey) {
    let d: Digest = digest.parse().unwrap();
    let p = payload::build(&format!("{}/prod/app", s.host), &d, &BTreeMap::new()).unwrap();
    let layer = cosign::signature_layer(&p, &key.sign(&p).unwrap());
    let built = cosign::build_signature_manifest(None, &layer).unwrap();
    s.push_blob("prod/app", &p);
    s.push_blob("prod/app", &built.config);
    let r = s
        .admin(
            Method::PUT,
            &format!("/v2/prod/app/manifests/{}", cosign::signature_tag(&d)),
        )
        .header("content-type", built.media_type)
        .body(built.manifest)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[test]
fn a_signed_index_covers_its_platforms() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"), scan_config(1, None, true));
    let (robot, secret) = setup(&s);
    let robot = (robot.as_str(), secret.as_str());
    let amd = python_image(&s, "amd64", "idna", "3.7");
    let arm = python_image(&s, "arm64", "idna", "3.6");
    let size = |d: &str| {
        s.req(
            Method::HEAD,
            &format!("/v2/prod/app/manifests/{d}"),
            Some(("admin", ADMIN_PASSWORD)),
        )
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap()
        .headers()["content-length"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": size(&amd), "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": size(&arm), "platform": {"os": "linux", "architecture": "arm64"}}
        ]
    }))
    .unwrap();
    let r = s
        .admin(Method::PUT, "/v2/prod/app/manifests/multi")
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(index.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let index_digest = sha256(&index);

    let trusted = SigningKey::generate_p256();
    let other = SigningKey::generate_p256();
    let (st, v) = set_policy(
        &s,
        ("admin", ADMIN_PASSWORD),
        json!({"require_signature": true, "trusted_keys": [trusted.public_key().to_pem().unwrap()]}),
    );
    assert_eq!(st, 200, "{v}");
    for r in ["multi", amd.as_str()] {
        let (st, body) = get_manifest(&s, Method::GET, r, robot);
        assert_eq!(st, 403, "{r}: {body}");
        assert_eq!(
            body["errors"][0]["detail"]["violations"][0]["policy"],
            "signed-images"
        );
    }
    // Signed by a key the namespace does not trust: still refused.
    sign(&s, &index_digest, &other);
    let (st, body) = get_manifest(&s, Method::GET, &amd, robot);
    assert_eq!(st, 403, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("signature not verified"),
        "{body}"
    );
    // The trusted signature over the index covers both platforms.
    sign(&s, &index_digest, &trusted);
    for r in ["multi", amd.as_str(), arm.as_str()] {
        assert_eq!(get_manifest(&s, Method::GET, r, robot).0, 200, "{r}");
    }
    // The signature manifest itself is readable (verifiers need it).
    let d: Digest = index_digest.parse().unwrap();
    let (st, _) = get_manifest(&s, Method::GET, &cosign::signature_tag(&d), robot);
    assert_eq!(st, 200);
}
