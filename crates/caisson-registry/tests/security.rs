//! Regression tests for the findings of the adversarial test of `caisson
//! serve` (issue "Registry security"): each failed before its fix.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use caisson_registry::auth::guard::AuthLimits;
use caisson_registry::Config;
use common::{sha256, start, start_with, Server, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

fn call(
    s: &Server,
    auth: Option<(&str, &str)>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = s.req(method, path, auth);
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&b).expect("json"));
    }
    let resp = r.send().expect("request");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn admin(s: &Server, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    call(
        s,
        Some(("admin", ADMIN_PASSWORD)),
        method,
        &format!("/api/v1{path}"),
        body,
    )
}

fn add_user(s: &Server, name: &str, password: &str) {
    let (st, v) = admin(
        s,
        Method::POST,
        "/users",
        Some(json!({"name": name, "password": password})),
    );
    assert_eq!(st, 201, "{v}");
}

fn member(s: &Server, ns: &str, user: &str, role: &str) {
    let (st, v) = admin(
        s,
        Method::PUT,
        &format!("/namespaces/{ns}/members/{user}"),
        Some(json!({"role": role})),
    );
    assert!((200..300).contains(&st), "{st} {v}");
}

fn token(s: &Server, auth: Option<(&str, &str)>, scope: &str) -> String {
    let (st, v) = call(
        s,
        auth,
        Method::GET,
        &format!("/token?service=caisson&scope={scope}"),
        None,
    );
    assert_eq!(st, 200, "{v}");
    v["token"].as_str().expect("token").to_string()
}

fn with_bearer(
    s: &Server,
    method: Method,
    path: &str,
    tok: &str,
) -> reqwest::blocking::RequestBuilder {
    s.client.request(method, s.url(path)).bearer_auth(tok)
}

fn audit(s: &Server) -> Vec<Value> {
    let (st, v) = admin(s, Method::GET, "/audit?limit=10000", None);
    assert_eq!(st, 200);
    v.as_array().cloned().unwrap_or_default()
}

fn audited(s: &Server, pred: impl Fn(&Value) -> bool) -> bool {
    audit(s).iter().any(pred)
}

// -- High 2: bearer tokens are not admin logins --------------------------------

#[test]
fn registry_tokens_do_not_open_the_admin_api() {
    let s = start();
    let scoped = token(
        &s,
        Some(("admin", ADMIN_PASSWORD)),
        "repository:team/app:pull",
    );
    let empty = token(&s, Some(("admin", ADMIN_PASSWORD)), "");
    for tok in [&scoped, &empty] {
        let r = with_bearer(&s, Method::POST, "/api/v1/users", tok)
            .header("content-type", "application/json")
            .body(
                serde_json::to_vec(&json!({"name": "mallory", "password": "mallory-pass"}))
                    .expect("json"),
            )
            .send()
            .expect("create user");
        assert_eq!(r.status(), 401);
        let r = with_bearer(&s, Method::GET, "/api/v1/audit", tok)
            .send()
            .expect("audit");
        assert_eq!(r.status(), 401);
        let r = with_bearer(&s, Method::PUT, "/api/v1/users/admin/password", tok)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&json!({"password": "taken-over-1"})).expect("json"))
            .send()
            .expect("password");
        assert_eq!(r.status(), 401);
    }
    let (_, users) = admin(&s, Method::GET, "/users", None);
    assert!(!users.to_string().contains("mallory"), "{users}");
    // The administrator's password is unchanged.
    assert_eq!(
        s.admin(Method::GET, "/v2/").send().expect("ping").status(),
        200
    );
    assert!(audited(&s, |r| r["detail"].as_str().is_some_and(
        |d| d.contains("bearer token presented to the admin API")
    )));
}

#[test]
fn changing_your_own_password_needs_the_current_one() {
    let s = start();
    add_user(&s, "alice", "alice-pass-1");
    let alice = Some(("alice", "alice-pass-1"));
    let path = "/api/v1/users/alice/password";
    let (st, v) = call(
        &s,
        alice,
        Method::PUT,
        path,
        Some(json!({"password": "alice-pass-2"})),
    );
    assert_eq!(st, 403, "{v}");
    assert!(v.to_string().contains("current_password"), "{v}");
    let (st, _) = call(
        &s,
        alice,
        Method::PUT,
        path,
        Some(json!({"password": "alice-pass-2", "current_password": "not-it-at-all"})),
    );
    assert_eq!(st, 403);
    let (st, _) = call(
        &s,
        alice,
        Method::PUT,
        path,
        Some(json!({"password": "alice-pass-2", "current_password": "alice-pass-1"})),
    );
    assert_eq!(st, 204);
    let ping = |pw: &str| {
        s.req(Method::GET, "/v2/", Some(("alice", pw)))
            .send()
            .expect("ping")
            .status()
    };
    assert_eq!(ping("alice-pass-2"), 200);
    // A system administrator resets it without knowing it.
    let (st, _) = admin(
        &s,
        Method::PUT,
        "/users/alice/password",
        Some(json!({"password": "alice-pass-3"})),
    );
    assert_eq!(st, 204);
    assert_eq!(ping("alice-pass-3"), 200);
}

// -- Medium 3 and Low 10: immutable tags ---------------------------------------

#[test]
fn immutable_tags_do_not_move_through_delete_by_digest_and_refused_pushes_leave_nothing() {
    let s = start();
    let (st, _) = admin(
        &s,
        Method::PUT,
        "/namespaces/team",
        Some(json!({"immutable_tags": true})),
    );
    assert_eq!(st, 201);
    let (_, d1) = s.push_image("team/app", "v1", b"layer one");
    let r = s
        .admin(Method::DELETE, &format!("/v2/team/app/manifests/{d1}"))
        .send()
        .expect("delete");
    assert_eq!(r.status(), 409);
    let body = r.text().expect("body");
    assert!(
        body.contains("TAG_IMMUTABLE") && body.contains("v1"),
        "{body}"
    );
    assert_eq!(
        s.admin(Method::GET, "/v2/team/app/manifests/v1")
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .expect("get")
            .status(),
        200
    );
    assert!(audited(&s, |r| r["action"] == "delete-manifest"
        && r["outcome"] == "denied"));
    // An untagged manifest can still be deleted.
    let (_, d2) = s.push_image("team/app", "v2", b"layer two");
    let config = s.push_blob("team/app", b"{}");
    let untagged = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": []
    });
    let bytes = serde_json::to_vec(&untagged).expect("json");
    let ud = sha256(&bytes);
    let r = s
        .admin(Method::PUT, &format!("/v2/team/app/manifests/{ud}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(bytes)
        .send()
        .expect("push by digest");
    assert_eq!(r.status(), 201);
    let r = s
        .admin(Method::DELETE, &format!("/v2/team/app/manifests/{ud}"))
        .send()
        .expect("delete untagged");
    assert_eq!(r.status(), 202);
    assert_ne!(d1, d2);

    // Moving v1 is refused and the refused manifest's bytes are not stored.
    let moved = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [],
        "annotations": {"attempt": "move v1"}
    });
    let bytes = serde_json::to_vec(&moved).expect("json");
    let md = sha256(&bytes);
    let r = s
        .admin(Method::PUT, "/v2/team/app/manifests/v1")
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(bytes)
        .send()
        .expect("move");
    assert_eq!(r.status(), 409);
    let hex = md.trim_start_matches("sha256:");
    let path = s
        .dir
        .path()
        .join("storage/blobs/sha256")
        .join(&hex[..2])
        .join(hex);
    assert!(
        !path.exists(),
        "refused manifest stored at {}",
        path.display()
    );
}

// -- Medium 5 and Low 9: throttling, enumeration ----------------------------------

fn quick_throttle() -> Config {
    Config {
        auth: AuthLimits {
            free_failures: 3,
            base_delay: Duration::from_secs(1),
            ..AuthLimits::default()
        },
        ..Config::default()
    }
}

#[test]
fn repeated_failures_are_throttled_across_token_v2_and_the_api() {
    let s = start_with(quick_throttle());
    let wrong = Some(("admin", "wrong-password-x"));
    for _ in 0..2 {
        let (st, _) = call(&s, wrong, Method::GET, "/token?service=caisson", None);
        assert_eq!(st, 401);
    }
    let (st, _) = call(&s, wrong, Method::GET, "/v2/", None);
    assert_eq!(st, 401);
    let (st, _) = call(&s, wrong, Method::GET, "/api/v1/users", None);
    assert_eq!(st, 401);
    // Four failures from this address: even the right password now waits.
    let r = s.admin(Method::GET, "/v2/").send().expect("ping");
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    let (st, _) = call(
        &s,
        Some(("admin", ADMIN_PASSWORD)),
        Method::GET,
        "/token?service=caisson",
        None,
    );
    assert_eq!(st, 429);
    std::thread::sleep(Duration::from_secs(retry));
    assert_eq!(
        s.admin(Method::GET, "/v2/").send().expect("ping").status(),
        200
    );
    assert!(audited(&s, |r| r["detail"]
        .as_str()
        .is_some_and(|d| d.contains("login throttled"))));
}

#[test]
fn unknown_users_and_wrong_passwords_look_the_same() {
    let s = start_with(Config {
        auth: AuthLimits {
            free_failures: 1000,
            ..AuthLimits::default()
        },
        ..Config::default()
    });
    let attempt = |user: &str| {
        let t = Instant::now();
        let r = s
            .req(Method::GET, "/v2/", Some((user, "not-the-password")))
            .send()
            .expect("ping");
        let elapsed = t.elapsed();
        (r.status().as_u16(), r.text().expect("body"), elapsed)
    };
    // Warm the dummy hash.
    attempt("nobody-0");
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..5 {
        let (st_k, body_k, t_k) = attempt("admin");
        let (st_u, body_u, t_u) = attempt(&format!("nobody-{i}"));
        assert_eq!((st_k, st_u), (401, 401));
        assert_eq!(
            body_k, body_u,
            "the answer must not tell the accounts apart"
        );
        known.push(t_k);
        unknown.push(t_u);
    }
    known.sort();
    unknown.sort();
    // Both pay an argon2 verification (the median unknown-user attempt is
    // not an order of magnitude faster, as it was: 2.9 ms vs 28 ms).
    assert!(
        unknown[2] * 3 >= known[2],
        "unknown {:?} vs wrong password {:?}",
        unknown[2],
        known[2]
    );
}

// -- Low 6: tokens bound to the account and its rights --------------------------

#[test]
fn tokens_stop_working_when_the_rights_behind_them_go() {
    let s = start();
    admin(&s, Method::PUT, "/namespaces/team", Some(json!({})));
    add_user(&s, "alice", "alice-pass-1");
    member(&s, "team", "alice", "writer");
    let alice = Some(("alice", "alice-pass-1"));
    let push = |tok: &str| {
        with_bearer(&s, Method::POST, "/v2/team/app/blobs/uploads/", tok)
            .send()
            .expect("start upload")
            .status()
            .as_u16()
    };
    let scope = "repository:team/app:pull,push";
    let t1 = token(&s, alice, scope);
    assert_eq!(push(&t1), 202);
    // Removed from the namespace: the unexpired token no longer pushes.
    let (st, _) = admin(&s, Method::DELETE, "/namespaces/team/members/alice", None);
    assert_eq!(st, 204);
    assert_ne!(push(&t1), 202);
    member(&s, "team", "alice", "writer");
    let t2 = token(&s, alice, scope);
    assert_eq!(push(&t2), 202);
    // A password change retires earlier tokens.
    let (st, _) = admin(
        &s,
        Method::PUT,
        "/users/alice/password",
        Some(json!({"password": "alice-pass-2"})),
    );
    assert_eq!(st, 204);
    assert_eq!(push(&t2), 401);
    // Re-created under the same name (same password even): old tokens stay dead.
    let t3 = token(&s, Some(("alice", "alice-pass-2")), scope);
    assert_eq!(admin(&s, Method::DELETE, "/users/alice", None).0, 204);
    add_user(&s, "alice", "alice-pass-2");
    member(&s, "team", "alice", "writer");
    assert_eq!(push(&t3), 401);
    let t4 = token(&s, Some(("alice", "alice-pass-2")), scope);
    assert_eq!(push(&t4), 202);
}

// -- Low 8: Host header ----------------------------------------------------------

#[test]
fn a_hostile_host_header_cannot_inject_challenge_parameters() {
    let s = start();
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut c = std::net::TcpStream::connect(&addr).expect("connect");
    c.write_all(b"GET /v2/ HTTP/1.1\r\nHost: evil\",service=\"x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    c.read_to_string(&mut out).expect("read");
    let challenge = out
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .expect("challenge")
        .to_string();
    assert!(!challenge.contains("service=\"x\""), "{challenge}");
    assert!(
        challenge.contains("realm=\"http://localhost/token\""),
        "{challenge}"
    );
}

// -- Info 12 and 13: roles, robots, audit of refusals, file modes ------------------

#[test]
fn maintainers_set_immutable_tags_but_only_namespace_admins_change_visibility() {
    let s = start();
    admin(&s, Method::PUT, "/namespaces/team", Some(json!({})));
    add_user(&s, "maint", "maint-pass-1");
    member(&s, "team", "maint", "maintainer");
    add_user(&s, "nsadm", "nsadm-pass-1");
    member(&s, "team", "nsadm", "admin");
    let put = |who: (&str, &str), body: Value| {
        call(
            &s,
            Some(who),
            Method::PUT,
            "/api/v1/namespaces/team",
            Some(body),
        )
        .0
    };
    assert_eq!(
        put(("maint", "maint-pass-1"), json!({"immutable_tags": true})),
        200
    );
    assert_eq!(
        put(
            ("maint", "maint-pass-1"),
            json!({"immutable_tags": true, "public": true})
        ),
        403
    );
    assert_eq!(
        put(
            ("nsadm", "nsadm-pass-1"),
            json!({"immutable_tags": true, "public": true})
        ),
        200
    );
}

#[test]
fn namespace_admins_see_and_revoke_the_robots_of_their_namespace() {
    let s = start();
    admin(&s, Method::PUT, "/namespaces/team", Some(json!({})));
    admin(&s, Method::PUT, "/namespaces/other", Some(json!({})));
    add_user(&s, "nsadm", "nsadm-pass-1");
    member(&s, "team", "nsadm", "admin");
    add_user(&s, "writer", "writer-pass-1");
    member(&s, "team", "writer", "writer");
    let (st, _) = admin(
        &s,
        Method::POST,
        "/robots",
        Some(json!({"name": "ci", "scopes": [{"namespace": "team", "actions": ["pull"]}]})),
    );
    assert_eq!(st, 201);
    let (st, _) = admin(
        &s,
        Method::POST,
        "/robots",
        Some(json!({"name": "both", "scopes": [
            {"namespace": "team", "actions": ["pull"]},
            {"namespace": "other", "actions": ["pull"]}
        ]})),
    );
    assert_eq!(st, 201);
    let nsadm = Some(("nsadm", "nsadm-pass-1"));
    let (st, list) = call(&s, nsadm, Method::GET, "/api/v1/robots", None);
    assert_eq!(st, 200);
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{list}");
    assert!(
        list.to_string().contains("\"created_by\":\"user:admin\""),
        "{list}"
    );
    let (_, wl) = call(
        &s,
        Some(("writer", "writer-pass-1")),
        Method::GET,
        "/api/v1/robots",
        None,
    );
    assert_eq!(wl, json!([]));
    // Revoking needs admin of every namespace the robot reaches.
    assert_eq!(
        call(&s, nsadm, Method::DELETE, "/api/v1/robots/robot$both", None).0,
        403
    );
    assert_eq!(
        call(&s, nsadm, Method::DELETE, "/api/v1/robots/robot$ci", None).0,
        204
    );
}

#[test]
fn anonymous_admin_calls_and_refused_mounts_are_audited() {
    let s = start();
    assert_eq!(call(&s, None, Method::GET, "/api/v1/users", None).0, 401);
    assert!(audited(&s, |r| r["actor"] == "anonymous"
        && r["target"] == "api"
        && r["outcome"] == "denied"));
    admin(&s, Method::PUT, "/namespaces/team", Some(json!({})));
    add_user(&s, "alice", "alice-pass-1");
    member(&s, "team", "alice", "writer");
    let d = s.push_blob("secret/src", b"private layer");
    let r = s
        .req(
            Method::POST,
            &format!("/v2/team/app/blobs/uploads/?mount={d}&from=secret/src"),
            Some(("alice", "alice-pass-1")),
        )
        .send()
        .expect("mount");
    assert_eq!(r.status(), 202, "falls back to an upload session");
    assert!(audited(&s, |r| r["action"] == "mount-blob"
        && r["outcome"] == "denied"
        && r["detail"]
            .as_str()
            .is_some_and(|d| d.contains("secret/src"))));
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_metadata_database_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let s = common::start_in(dir, Config::default());
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(s.dir.path()), 0o700);
    assert_eq!(mode(&s.dir.path().join("meta.sqlite")), 0o600);
}

// -- Issue 15: a push into an unknown namespace creates its record ------------

/// A push into a namespace that has no record (an admin pushing `ops/app`)
/// creates the namespace, private and audited, so that it is listed and can
/// be given a pull policy; pushing again does not touch its settings.
#[test]
fn a_push_into_an_unknown_namespace_creates_it() {
    let s = start();
    s.push_image("ops/app", "v1", b"layer");
    let ops = |s: &Server| {
        let (st, list) = admin(s, Method::GET, "/namespaces", None);
        assert_eq!(st, 200, "{list}");
        list.as_array()
            .and_then(|l| l.iter().find(|n| n["name"] == "ops").cloned())
            .unwrap_or_else(|| panic!("ops not listed: {list}"))
    };
    assert_eq!(ops(&s)["public"], false);
    let (st, v) = admin(
        &s,
        Method::PUT,
        "/namespaces/ops/pull-policy",
        Some(json!({"block_severity": "critical"})),
    );
    assert!((200..300).contains(&st), "{st} {v}");
    // Settings made since survive the next push.
    let (st, v) = admin(
        &s,
        Method::PUT,
        "/namespaces/ops",
        Some(json!({"public": true})),
    );
    assert!((200..300).contains(&st), "{st} {v}");
    s.push_image("ops/app", "v2", b"layer two");
    assert_eq!(ops(&s)["public"], true);
    let created: Vec<Value> = audit(&s)
        .into_iter()
        .filter(|e| e["action"] == "create-namespace" && e["target"] == "ops")
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["actor"], "user:admin");
}
