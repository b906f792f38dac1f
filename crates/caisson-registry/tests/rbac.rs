//! RBAC matrix: anonymous / reader / writer / maintainer / namespace admin /
//! robot × every distribution endpoint; each answer has the right status and
//! every denial is in the audit log.

mod common;

use common::{sha256, start, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::json;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Need {
    Pull,
    Push,
    Delete,
}

/// (needed action, method, path, body, status when allowed)
type Endpoint = (Need, Method, String, Option<Vec<u8>>, u16);

fn api(
    s: &common::Server,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = s
        .admin(method, &format!("/api/v1{path}"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).expect("json"))
        .send()
        .expect("api");
    assert!(
        r.status().is_success(),
        "{path}: {} {}",
        r.status(),
        r.text().unwrap_or_default()
    );
    serde_json::from_slice(&r.bytes().expect("body")).unwrap_or(serde_json::Value::Null)
}

#[test]
fn rbac_matrix_with_audited_denials() {
    let s = start();
    api(&s, Method::PUT, "/namespaces/team", json!({}));
    let mut creds: Vec<(&str, Option<(String, String)>)> = vec![("anonymous", None)];
    for (user, role) in [
        ("reader", "reader"),
        ("writer", "writer"),
        ("maint", "maintainer"),
        ("nsadmin", "admin"),
    ] {
        let pw = format!("{user}-password");
        api(
            &s,
            Method::POST,
            "/users",
            json!({"name": user, "password": pw}),
        );
        api(
            &s,
            Method::PUT,
            &format!("/namespaces/team/members/{user}"),
            json!({"role": role}),
        );
        creds.push((user, Some((user.to_string(), pw))));
    }
    let robot = api(
        &s,
        Method::POST,
        "/robots",
        json!({"name": "ci", "scopes": [{"namespace": "team", "actions": ["pull", "push"]}]}),
    );
    creds.push((
        "robot",
        Some((
            "robot$ci".into(),
            robot["secret"].as_str().expect("secret").into(),
        )),
    ));

    let (manifest, _) = s.push_image("team/app", "v1", b"rbac-layer");
    let subject = sha256(&manifest);
    let layer = sha256(b"rbac-layer");
    let allowed = |who: &str, need: Need| match need {
        Need::Pull => who != "anonymous",
        Need::Push => matches!(who, "writer" | "maint" | "nsadmin" | "robot"),
        Need::Delete => matches!(who, "maint" | "nsadmin"),
    };
    let mut denials = Vec::new();
    for (who, cred) in &creds {
        // Per-principal throwaway objects for the destructive endpoints.
        let tag = format!("t-{who}");
        let r = s
            .admin(Method::PUT, &format!("/v2/team/app/manifests/{tag}"))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.clone())
            .send()
            .expect("tag");
        assert_eq!(r.status(), 201);
        let blob = s.push_blob("team/app", format!("blob-for-{who}").as_bytes());
        let endpoints: Vec<Endpoint> = vec![
            (
                Need::Pull,
                Method::GET,
                "/v2/team/app/manifests/v1".into(),
                None,
                200,
            ),
            (
                Need::Pull,
                Method::HEAD,
                format!("/v2/team/app/blobs/{layer}"),
                None,
                200,
            ),
            (
                Need::Pull,
                Method::GET,
                "/v2/team/app/tags/list".into(),
                None,
                200,
            ),
            (
                Need::Pull,
                Method::GET,
                format!("/v2/team/app/referrers/{subject}"),
                None,
                200,
            ),
            (
                Need::Push,
                Method::POST,
                "/v2/team/app/blobs/uploads/".into(),
                None,
                202,
            ),
            (
                Need::Push,
                Method::PUT,
                format!("/v2/team/app/manifests/p-{who}"),
                Some(manifest.clone()),
                201,
            ),
            (
                Need::Delete,
                Method::DELETE,
                format!("/v2/team/app/manifests/{tag}"),
                None,
                202,
            ),
            (
                Need::Delete,
                Method::DELETE,
                format!("/v2/team/app/blobs/{blob}"),
                None,
                202,
            ),
        ];
        for (need, method, path, body, ok_status) in endpoints {
            let mut req = s.client.request(method.clone(), s.url(&path));
            if let Some((u, p)) = cred {
                req = req.basic_auth(u, Some(p));
            }
            if let Some(b) = body {
                req = req
                    .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                    .body(b);
            }
            let r = req.send().expect("request");
            let status = r.status().as_u16();
            if allowed(who, need) {
                assert_eq!(status, ok_status, "{who} {method} {path}");
            } else {
                let want = if *who == "anonymous" { 401 } else { 403 };
                assert_eq!(status, want, "{who} {method} {path}");
                if want == 401 {
                    assert!(r.headers().contains_key("www-authenticate"));
                }
                denials.push((who.to_string(), path.clone()));
            }
        }
    }
    // Every denial is audited with the actor and the repository.
    let r = s
        .admin(Method::GET, "/api/v1/audit?limit=10000")
        .send()
        .expect("audit");
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    let denied: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["outcome"] == "denied")
        .collect();
    assert_eq!(denied.len(), denials.len(), "one audit record per denial");
    for (who, _) in &denials {
        let actor = match who.as_str() {
            "anonymous" => "anonymous".to_string(),
            "robot" => "robot:robot$ci".to_string(),
            u => format!("user:{u}"),
        };
        assert!(
            denied
                .iter()
                .any(|r| r["actor"] == actor.as_str() && r["target"] == "team/app"),
            "{actor}"
        );
    }
}

#[test]
fn admin_api_permissions() {
    let s = start();
    api(&s, Method::PUT, "/namespaces/team", json!({}));
    for (u, role) in [
        ("reader", "reader"),
        ("boss", "admin"),
        ("maint", "maintainer"),
    ] {
        api(
            &s,
            Method::POST,
            "/users",
            json!({"name": u, "password": format!("{u}-password")}),
        );
        api(
            &s,
            Method::PUT,
            &format!("/namespaces/team/members/{u}"),
            json!({"role": role}),
        );
    }
    let call = |user: &str, method: Method, path: &str, body: serde_json::Value| {
        s.req(
            method,
            &format!("/api/v1{path}"),
            Some((user, &format!("{user}-password"))),
        )
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).expect("json"))
        .send()
        .expect("api")
        .status()
        .as_u16()
    };
    assert_eq!(
        call(
            "reader",
            Method::PUT,
            "/namespaces/team/members/maint",
            json!({"role": "admin"})
        ),
        403
    );
    assert_eq!(
        call(
            "boss",
            Method::PUT,
            "/namespaces/team/members/reader",
            json!({"role": "writer"})
        ),
        204
    );
    assert_eq!(
        call(
            "reader",
            Method::POST,
            "/users",
            json!({"name": "x", "password": "xxxxxxxxx"})
        ),
        403
    );
    assert_eq!(
        call(
            "maint",
            Method::PUT,
            "/namespaces/team",
            json!({"immutable_tags": true})
        ),
        200
    );
    assert_eq!(
        call(
            "maint",
            Method::PUT,
            "/namespaces/team",
            json!({"immutable_tags": true, "public": true})
        ),
        403
    );
    assert_eq!(
        call(
            "boss",
            Method::PUT,
            "/namespaces/team",
            json!({"immutable_tags": true, "quota_bytes": 5})
        ),
        403
    );
    assert_eq!(
        call(
            "boss",
            Method::POST,
            "/robots",
            json!({"name": "r", "scopes": [{"namespace": "other", "actions": ["pull"]}]})
        ),
        403
    );
    assert_eq!(
        call(
            "boss",
            Method::POST,
            "/robots",
            json!({"name": "r", "scopes": [{"namespace": "team", "actions": ["pull"]}]})
        ),
        201
    );
    let r = s
        .req(Method::GET, "/api/v1/users", None)
        .send()
        .expect("anon");
    assert_eq!(r.status(), 401);
    let r = s
        .req(Method::GET, "/api/v1/openapi.json", None)
        .send()
        .expect("openapi");
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/namespaces/{name}/members/{user}"]["put"].is_object());
    let _ = ADMIN_PASSWORD;
}

#[test]
fn immutable_tags_and_quota() {
    let s = start();
    api(
        &s,
        Method::PUT,
        "/namespaces/team",
        json!({"immutable_tags": true, "quota_bytes": 2000}),
    );
    s.push_image("team/app", "v1", b"first");
    // Re-pushing the same content is fine; moving the tag is not.
    let cfg = s.push_blob("team/app", br#"{"os":"linux"}"#);
    let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": 14}, "layers": []});
    let r = s
        .admin(Method::PUT, "/v2/team/app/manifests/v1")
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&m).expect("json"))
        .send()
        .expect("put");
    assert_eq!(r.status(), 409);
    assert_eq!(common::error_code(r), "TAG_IMMUTABLE");
    let r = s
        .admin(Method::DELETE, "/v2/team/app/manifests/v1")
        .send()
        .expect("delete");
    assert_eq!(r.status(), 409);
    // Quota: 2000 bytes in the namespace.
    let big = vec![7u8; 3000];
    let r = s
        .admin(
            Method::POST,
            &format!("/v2/team/app/blobs/uploads/?digest={}", sha256(&big)),
        )
        .body(big)
        .send()
        .expect("post");
    assert_eq!(r.status(), 403);
    assert_eq!(common::error_code(r), "QUOTA_EXCEEDED");
    // Another namespace is unaffected.
    s.push_blob("other/app", &vec![7u8; 3000]);
}
