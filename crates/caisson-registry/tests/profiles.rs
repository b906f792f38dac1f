//! Executable allowlist profiles on the server (`/api/v1/profiles…`):
//!
//! - versions: a sensor's learned uploads, a mode change and a manual allow
//!   each make a version with who and why; an upload with nothing new (or
//!   into a profile no longer in discover) changes nothing; `?version=N`
//!   reads an old one; the ETag answers 304;
//! - the new-digest rule: a sensor asking for a new digest of a known
//!   repository gets the newest profile of that repository in monitor
//!   ("inherited from …"); an unknown image starts in discover and is
//!   switched to monitor when its learning window is over;
//! - every change is in the audit log with its actor;
//! - bad keys and bodies get 400 naming the field, oversized bodies 413,
//!   callers without the right role or scope 403 (audited); namespace
//!   admins manage the profiles of images their namespace holds only.

mod common;

use std::time::{Duration, Instant};

use caisson_registry::Config;
use common::{sha256, start, start_with, Server};
use reqwest::Method;
use serde_json::{json, Value};

const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn enc(key: &str) -> String {
    key.replace('%', "%25").replace('/', "%2F")
}

fn call(
    s: &Server,
    who: Option<(&str, &str)>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut r = s.req(method, &format!("/api/v1{path}"), who);
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&b).expect("json"));
    }
    let r = r.send().expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let v = serde_json::from_slice(&r.bytes().expect("body")).unwrap_or(Value::Null);
    (status, v, headers)
}

fn admin(s: &Server, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (st, v, _) = call(
        s,
        Some(("admin", common::ADMIN_PASSWORD)),
        method,
        path,
        body,
    );
    (st, v)
}

/// A robot with `scopes`, created by the admin: (name, secret).
fn robot(s: &Server, label: &str, scopes: Value) -> (String, String) {
    let (st, v) = admin(
        s,
        Method::POST,
        "/robots",
        Some(json!({"name": label, "scopes": scopes})),
    );
    assert_eq!(st, 201, "{v}");
    (
        v["name"].as_str().expect("name").to_string(),
        v["secret"].as_str().expect("secret").to_string(),
    )
}

fn exe(path: &str, sha: &str, size: u64) -> Value {
    json!({"path": path, "sha256": sha, "size": size, "mtime_ns": 1_700_000_000_000_000_000i64})
}

fn audit(s: &Server) -> Vec<Value> {
    let (st, v) = admin(s, Method::GET, "/audit", None);
    assert_eq!(st, 200);
    v.as_array().expect("records").clone()
}

#[test]
fn versions_inheritance_and_audited_changes() {
    let s = start();
    let (rn, rs) = robot(
        &s,
        "sensor",
        json!([{"namespace": "profiles", "actions": ["sync"]}]),
    );
    let sensor = Some((rn.as_str(), rs.as_str()));
    let old = format!("reg.example:5000/team/app@sha256:{H1}");
    let new = format!("reg.example:5000/team/app@sha256:{H2}");

    // The sensor asks for an unknown image: created in discover, empty.
    let (st, p, h) = call(
        &s,
        sensor,
        Method::GET,
        &format!("/profiles/{}?reference=team/app:1", enc(&old)),
        None,
    );
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["mode"], "discover");
    assert_eq!(p["version"], 1);
    assert_eq!(p["reference"], "team/app:1");
    assert_eq!(p["executables"], json!([]));
    assert_eq!(h["etag"], "\"v1\"");

    // What discover learned: a new version; the same again changes nothing.
    let learned = json!({"reference": "team/app:1", "executables": [
        exe("/bin/sh", H1, 10), exe("/usr/bin/app", H2, 20)]});
    let path = format!("/profiles/{}/learned", enc(&old));
    let (st, v, _) = call(&s, sensor, Method::POST, &path, Some(learned.clone()));
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["version"].clone(), v["changed"].clone()),
        (json!(2), json!(true))
    );
    let (st, v, _) = call(&s, sensor, Method::POST, &path, Some(learned));
    assert_eq!(st, 200);
    assert_eq!(
        (v["version"].clone(), v["changed"].clone()),
        (json!(2), json!(false))
    );

    // Unchanged since v2: 304.
    let r = s
        .req(
            Method::GET,
            &format!("/api/v1/profiles/{}", enc(&old)),
            sensor,
        )
        .header("if-none-match", "\"v2\"")
        .send()
        .expect("get");
    assert_eq!(r.status(), 304);

    // An administrator switches it to protect.
    let (st, v) = admin(
        &s,
        Method::PUT,
        &format!("/profiles/{}/mode", enc(&old)),
        Some(json!({"mode": "protect", "reason": "release 1 hardened"})),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["version"], 3);
    // A late upload no longer widens it.
    let (st, v, _) = call(
        &s,
        sensor,
        Method::POST,
        &path,
        Some(json!({"executables": [exe("/tmp/evil", H1, 1)]})),
    );
    assert_eq!(st, 200);
    assert_eq!(v["changed"], false);
    // A manual allow does (path + sha256 only: any contents of that path).
    let (st, v) = admin(
        &s,
        Method::POST,
        &format!("/profiles/{}/allow", enc(&old)),
        Some(
            json!({"executables": [{"path": "/usr/bin/extra", "sha256": H2}], "reason": "ticket 7"}),
        ),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["version"], 4);

    let (st, cur, h) = call(
        &s,
        sensor,
        Method::GET,
        &format!("/profiles/{}", enc(&old)),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(h["etag"], "\"v4\"");
    assert_eq!(cur["mode"], "protect");
    let paths: Vec<&str> = cur["executables"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(paths, ["/bin/sh", "/usr/bin/app", "/usr/bin/extra"]);

    // Every version with who and why; an old one reads back as it was.
    let (st, vs) = admin(
        &s,
        Method::GET,
        &format!("/profiles/{}/versions", enc(&old)),
        None,
    );
    assert_eq!(st, 200);
    let vs = vs.as_array().expect("versions");
    let got: Vec<(u64, &str, &str)> = vs
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().expect("version"),
                v["actor"].as_str().expect("actor"),
                v["mode"].as_str().expect("mode"),
            )
        })
        .collect();
    let robot_actor = format!("robot:{rn}");
    assert_eq!(
        got,
        [
            (4, "user:admin", "protect"),
            (3, "user:admin", "protect"),
            (2, robot_actor.as_str(), "discover"),
            (1, robot_actor.as_str(), "discover"),
        ]
    );
    assert!(vs[0]["reason"]
        .as_str()
        .expect("reason")
        .contains("/usr/bin/extra (ticket 7)"));
    assert!(vs[1]["reason"]
        .as_str()
        .expect("reason")
        .contains("mode discover -> protect: release 1 hardened"));
    assert!(vs[2]["reason"]
        .as_str()
        .expect("reason")
        .contains("learned upload: 2 new"));
    let (st, v2) = admin(
        &s,
        Method::GET,
        &format!("/profiles/{}?version=2", enc(&old)),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(
        (v2["mode"].clone(), v2["version"].clone()),
        (json!("discover"), json!(2))
    );
    assert_eq!(v2["executables"].as_array().map(Vec::len), Some(2));
    let (st, _) = admin(
        &s,
        Method::GET,
        &format!("/profiles/{}?version=9", enc(&old)),
        None,
    );
    assert_eq!(st, 404);

    // A new digest of the same repository: inherited, in monitor.
    let (st, p, _) = call(
        &s,
        sensor,
        Method::GET,
        &format!("/profiles/{}", enc(&new)),
        None,
    );
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["mode"], "monitor");
    assert_eq!(p["version"], 1);
    assert_eq!(p["reason"], format!("inherited from {old}"));
    assert_eq!(p["executables"], cur["executables"]);
    // An image id (no repository) starts in discover.
    let (st, p, _) = call(
        &s,
        sensor,
        Method::GET,
        &format!("/profiles/sha256:{H2}"),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(p["mode"], "discover");

    // The list.
    let (st, list) = admin(&s, Method::GET, "/profiles", None);
    assert_eq!(st, 200);
    let row = list
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["key"] == old.as_str())
        .expect("listed")
        .clone();
    assert_eq!(row["repository"], "reg.example:5000/team/app");
    assert_eq!(
        (
            row["mode"].clone(),
            row["version"].clone(),
            row["executables"].clone()
        ),
        (json!("protect"), json!(4), json!(3))
    );

    // The audit log has each change with its actor.
    let recs = audit(&s);
    let seen = |action: &str, actor: &str, target: &str| {
        recs.iter().any(|r| {
            r["action"] == action
                && r["actor"] == actor
                && r["target"] == target
                && r["outcome"] == "success"
        })
    };
    assert!(seen("profile-create", &robot_actor, &old), "{recs:#?}");
    assert!(seen("profile-learned", &robot_actor, &old));
    assert!(seen("profile-mode", "user:admin", &old));
    assert!(seen("profile-allow", "user:admin", &old));
    assert!(seen("profile-create", &robot_actor, &new));
    assert_eq!(
        recs.iter()
            .filter(|r| r["action"] == "profile-learned")
            .count(),
        1,
        "uploads that changed nothing are not recorded"
    );
}

#[test]
fn discover_switches_to_monitor_after_the_learning_window() {
    let s = start_with(Config {
        profile_learning: Duration::from_millis(300),
        ..Config::default()
    });
    let (rn, rs) = robot(
        &s,
        "sensor",
        json!([{"namespace": "profiles", "actions": ["sync"]}]),
    );
    let sensor = Some((rn.as_str(), rs.as_str()));
    let key = format!("team/short@sha256:{H1}");
    let url = format!("/profiles/{}", enc(&key));
    let (st, p, _) = call(&s, sensor, Method::GET, &url, None);
    assert_eq!(st, 200);
    assert_eq!(p["mode"], "discover");
    assert!(p["learning_until_ms"].as_i64().is_some());
    // A per-profile window of 0 never ends: set on another profile.
    let other = format!("team/long@sha256:{H1}");
    call(
        &s,
        sensor,
        Method::GET,
        &format!("/profiles/{}", enc(&other)),
        None,
    );
    let (st, v) = admin(
        &s,
        Method::PUT,
        &format!("/profiles/{}/mode", enc(&other)),
        Some(json!({"mode": "discover", "learning_secs": 0})),
    );
    assert_eq!(st, 200, "{v}");

    // The next sync after the window sees monitor (polled: the window is
    // the server's clock; no fixed sleep decides the outcome).
    let deadline = Instant::now() + Duration::from_secs(30);
    let p = loop {
        let (_, p, _) = call(&s, sensor, Method::GET, &url, None);
        if p["mode"] != "discover" || Instant::now() > deadline {
            break p;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(p["mode"], "monitor");
    assert_eq!(p["version"], 2);
    assert_eq!(p["actor"], "caisson");
    assert_eq!(
        p["reason"],
        "learning window over: mode discover -> monitor"
    );
    let (_, o, _) = call(
        &s,
        sensor,
        Method::GET,
        &format!("/profiles/{}", enc(&other)),
        None,
    );
    assert_eq!(o["mode"], "discover");
    assert_eq!(o["learning_until_ms"], Value::Null);
    assert!(audit(&s)
        .iter()
        .any(|r| r["action"] == "profile-learning-over"
            && r["actor"] == "caisson"
            && r["target"] == key.as_str()));
}

#[test]
fn bad_input_gets_400_413_and_403() {
    let s = start();
    let (rn, rs) = robot(
        &s,
        "sensor",
        json!([{"namespace": "profiles", "actions": ["sync"]}]),
    );
    let sensor = Some((rn.as_str(), rs.as_str()));
    let key = format!("team/app@sha256:{H1}");
    call(
        &s,
        sensor,
        Method::GET,
        &format!("/profiles/{}", enc(&key)),
        None,
    );

    // Keys and bodies name what is wrong.
    let (st, v, _) = call(&s, sensor, Method::GET, "/profiles/app:latest", None);
    assert_eq!(st, 400);
    assert_eq!(v["errors"][0]["detail"]["field"], "key", "{v}");
    let learned = format!("/profiles/{}/learned", enc(&key));
    for (body, field) in [
        (
            json!({"executables": [{"path": "/bin/sh", "sha256": "abc"}]}),
            "executables[0].sha256",
        ),
        (
            json!({"executables": [exe("/a", H1, 1), exe("bin/sh", H1, 1)]}),
            "executables[1].path",
        ),
        (
            json!({"executables": [{"path": "/a", "sha256": H1, "mode": 1}]}),
            "executables[0].mode",
        ),
        (json!({"execs": []}), ""),
    ] {
        let (st, v, _) = call(&s, sensor, Method::POST, &learned, Some(body.clone()));
        assert_eq!(st, 400, "{body}: {v}");
        if !field.is_empty() {
            assert_eq!(v["errors"][0]["detail"]["field"], field, "{body}: {v}");
        }
    }
    let (st, v) = admin(
        &s,
        Method::PUT,
        &format!("/profiles/{}/mode", enc(&key)),
        Some(json!({"mode": "enforce"})),
    );
    assert_eq!(st, 400);
    assert_eq!(v["errors"][0]["detail"]["field"], "mode");
    let (st, _) = admin(
        &s,
        Method::GET,
        &format!("/profiles/{}", enc(&format!("team/none@sha256:{H2}"))),
        None,
    );
    assert_eq!(st, 404);
    let (st, _) = admin(
        &s,
        Method::PUT,
        &format!("/profiles/{}/mode", enc(&format!("team/none@sha256:{H2}"))),
        Some(json!({"mode": "monitor"})),
    );
    assert_eq!(st, 404);

    // Oversized bodies: 413.
    let big = vec![b' '; caisson_model::exec_profile::MAX_BODY_BYTES + 1];
    let r = s
        .req(Method::POST, &format!("/api/v1{learned}"), sensor)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .expect("post");
    assert_eq!(r.status(), 413);

    // Who may do what.
    let (pn, ps) = robot(
        &s,
        "puller",
        json!([{"namespace": "team", "actions": ["pull"]}]),
    );
    let puller = Some((pn.as_str(), ps.as_str()));
    let (st, _, _) = call(
        &s,
        puller,
        Method::POST,
        &learned,
        Some(json!({"executables": []})),
    );
    assert_eq!(st, 403);
    let (st, _, _) = call(
        &s,
        puller,
        Method::GET,
        &format!("/profiles/{}", enc(&key)),
        None,
    );
    assert_eq!(st, 403);
    // A sensor reads and uploads; it does not change modes or allow.
    let (st, _, _) = call(
        &s,
        sensor,
        Method::PUT,
        &format!("/profiles/{}/mode", enc(&key)),
        Some(json!({"mode": "monitor"})),
    );
    assert_eq!(st, 403);
    let (st, _, _) = call(&s, sensor, Method::GET, "/profiles", None);
    assert_eq!(st, 403);

    // Namespace admins: the profiles of images their namespace holds.
    admin(&s, Method::PUT, "/namespaces/team", Some(json!({})));
    admin(
        &s,
        Method::POST,
        "/users",
        Some(json!({"name": "lead", "password": "lead-password-1"})),
    );
    admin(
        &s,
        Method::PUT,
        "/namespaces/team/members/lead",
        Some(json!({"role": "admin"})),
    );
    admin(
        &s,
        Method::POST,
        "/users",
        Some(json!({"name": "dev", "password": "dev-password-1"})),
    );
    admin(
        &s,
        Method::PUT,
        "/namespaces/team/members/dev",
        Some(json!({"role": "writer"})),
    );
    let (manifest, _) = s.push_image("team/app", "v1", b"profile-layer");
    let held = format!("127.0.0.1:5000/team/app@{}", sha256(&manifest));
    call(
        &s,
        sensor,
        Method::GET,
        &format!("/profiles/{}", enc(&held)),
        None,
    );
    let lead = Some(("lead", "lead-password-1"));
    let dev = Some(("dev", "dev-password-1"));
    let (st, v, _) = call(
        &s,
        lead,
        Method::PUT,
        &format!("/profiles/{}/mode", enc(&held)),
        Some(json!({"mode": "monitor"})),
    );
    assert_eq!(st, 200, "{v}");
    let (st, list, _) = call(&s, lead, Method::GET, "/profiles", None);
    assert_eq!(st, 200);
    let keys: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["key"].as_str())
        .collect();
    assert_eq!(keys, [held.as_str()], "only the images the namespace holds");
    // Not a digest this registry holds (same repository name): system admins only.
    let (st, _, _) = call(
        &s,
        lead,
        Method::GET,
        &format!("/profiles/{}", enc(&key)),
        None,
    );
    assert_eq!(st, 403);
    let (st, _, _) = call(
        &s,
        dev,
        Method::PUT,
        &format!("/profiles/{}/mode", enc(&held)),
        Some(json!({"mode": "protect"})),
    );
    assert_eq!(st, 403);
    // Only system admins grant profiles:sync.
    let (st, v, _) = call(
        &s,
        lead,
        Method::POST,
        "/robots",
        Some(json!({"name": "s2", "scopes": [{"namespace": "profiles", "actions": ["sync"]}]})),
    );
    assert_eq!(st, 403, "{v}");
    let (st, _) = admin(
        &s,
        Method::POST,
        "/robots",
        Some(json!({"name": "s3", "scopes": [{"namespace": "profiles", "actions": ["push"]}]})),
    );
    assert_eq!(st, 400);

    // Refusals are audited.
    let recs = audit(&s);
    for (actor, action) in [
        (format!("robot:{pn}"), "profile-learned"),
        (format!("robot:{rn}"), "profile-mode"),
        ("user:dev".to_string(), "profile-mode"),
    ] {
        assert!(
            recs.iter().any(|r| r["actor"] == actor.as_str()
                && r["action"] == action
                && r["outcome"] == "denied"),
            "{actor} {action}"
        );
    }
}

#[test]
fn openapi_documents_the_profile_routes() {
    let s = start();
    let (st, doc) = {
        let r = s
            .req(Method::GET, "/api/v1/openapi.json", None)
            .send()
            .expect("get");
        (
            r.status().as_u16(),
            serde_json::from_slice::<Value>(&r.bytes().expect("body")).expect("json"),
        )
    };
    assert_eq!(st, 200);
    for (path, method) in [
        ("/profiles", "get"),
        ("/profiles/{key}", "get"),
        ("/profiles/{key}/versions", "get"),
        ("/profiles/{key}/mode", "put"),
        ("/profiles/{key}/allow", "post"),
        ("/profiles/{key}/learned", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} documented"
        );
    }
    assert!(doc["components"]["schemas"]["ProfileExecutable"].is_object());
}
