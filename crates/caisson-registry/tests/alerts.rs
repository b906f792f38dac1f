//! `POST/GET /api/v1/alerts` and `POST /api/v1/alerts/{id}/ack` against an
//! in-process `caisson serve`: a sensor robot posts batches (a retried
//! batch stores nothing twice), readers filter and page newest first, an
//! acknowledgement is audited with who made it, the scope, the body size
//! and every field are enforced, and retention prunes by age and count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use caisson_registry::alerts::AlertConfig;
use caisson_registry::{open_embedded, router, Config, Registry};
use common::{start, Server, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

fn robot(s: &Server, label: &str, scopes: Value) -> (String, String) {
    let r = s
        .admin(Method::POST, "/api/v1/robots")
        .header("content-type", "application/json")
        .body(json!({"name": label, "scopes": scopes}).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json_value();
    (
        v["name"].as_str().unwrap().into(),
        v["secret"].as_str().unwrap().into(),
    )
}

trait JsonBody {
    fn json_value(self) -> Value;
}

impl JsonBody for reqwest::blocking::Response {
    fn json_value(self) -> Value {
        serde_json::from_slice(&self.bytes().unwrap()).unwrap_or(Value::Null)
    }
}

fn alert(id: &str, time: &str, host: &str, rule: &str, severity: &str) -> Value {
    json!({
        "id": id, "time": time, "rule": rule, "severity": severity, "mitre": ["T1059"],
        "host": host,
        "container": {"id": "c".repeat(64), "name": "web", "image": "alpine:3"},
        "process": {"pid": 9, "exe": "/bin/sh", "cmdline": "sh", "uid": 0, "tty": null, "ancestors": []},
        "evidence": {"event": "exec"}
    })
}

fn post(s: &Server, who: (&str, &str), body: Vec<u8>) -> (u16, Value) {
    let r = s
        .req(Method::POST, "/api/v1/alerts", Some(who))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json_value())
}

fn get(s: &Server, who: (&str, &str), path: &str) -> (u16, Value) {
    let r = s
        .req(Method::GET, &format!("/api/v1{path}"), Some(who))
        .send()
        .unwrap();
    (r.status().as_u16(), r.json_value())
}

fn ids(page: &Value) -> Vec<String> {
    page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

const ADMIN: (&str, &str) = ("admin", ADMIN_PASSWORD);

#[test]
fn alerts_are_stored_once_filtered_paged_and_acknowledged() {
    let s = start();
    let sensor = robot(
        &s,
        "sensor",
        json!([{"namespace": "alerts", "actions": ["write"]}]),
    );
    let sensor = (sensor.0.as_str(), sensor.1.as_str());
    let batch = json!([
        alert(
            "s1-1-000",
            "2026-12-07T01:00:00Z",
            "node1",
            "terminal-shell",
            "HIGH"
        ),
        alert(
            "s1-1-001",
            "2026-12-07T02:00:00Z",
            "node2",
            "package-manager",
            "MEDIUM"
        ),
        alert(
            "s1-1-002",
            "2026-12-07T03:00:00Z",
            "node1",
            "package-manager",
            "MEDIUM"
        ),
    ]);
    let (status, v) = post(&s, sensor, serde_json::to_vec(&batch).unwrap());
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["stored"].as_u64(), v["duplicates"].as_u64()),
        (Some(3), Some(0))
    );
    // The sensor retries the batch (its answer was lost) with one more alert.
    let mut retry = batch.as_array().unwrap().clone();
    retry.push(alert(
        "s1-2-000",
        "2026-12-07T04:00:00Z",
        "node2",
        "terminal-shell",
        "CRITICAL",
    ));
    let (status, v) = post(&s, sensor, serde_json::to_vec(&retry).unwrap());
    assert_eq!(status, 200);
    assert_eq!(
        (v["stored"].as_u64(), v["duplicates"].as_u64()),
        (Some(1), Some(3))
    );

    // Newest first; filters; pages that end.
    let (status, all) = get(&s, ADMIN, "/alerts");
    assert_eq!(status, 200);
    assert_eq!(ids(&all), ["s1-2-000", "s1-1-002", "s1-1-001", "s1-1-000"]);
    assert_eq!(all["alerts"][0]["reporter"], "robot$sensor");
    assert_eq!(all["alerts"][0]["process"]["exe"], "/bin/sh");
    assert_eq!(
        ids(&get(&s, ADMIN, "/alerts?host=node1").1),
        ["s1-1-002", "s1-1-000"]
    );
    assert_eq!(
        ids(&get(&s, ADMIN, "/alerts?rule=terminal-shell&severity=critical").1),
        ["s1-2-000"]
    );
    assert_eq!(
        ids(&get(
            &s,
            ADMIN,
            "/alerts?since=2026-12-07T02:00:00Z&until=2026-12-07T04:00:00Z"
        )
        .1),
        ["s1-1-002", "s1-1-001"]
    );
    let mut seen = Vec::new();
    let mut path = "/alerts?limit=3".to_string();
    loop {
        let (_, page) = get(&s, ADMIN, &path);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/alerts?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids(&all), "pages cover every alert once, in order");

    // Acknowledge: audited with who, then filterable; twice is a conflict.
    let r = s
        .admin(Method::POST, "/api/v1/alerts/s1-1-000/ack")
        .header("content-type", "application/json")
        .body(json!({"comment": "expected: maintenance shell"}).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let acked = r.json_value();
    assert_eq!(acked["ack"]["by"], "user:admin");
    assert_eq!(acked["ack"]["comment"], "expected: maintenance shell");
    let r = s
        .admin(Method::POST, "/api/v1/alerts/s1-1-000/ack")
        .send()
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = s
        .admin(Method::POST, "/api/v1/alerts/nope/ack")
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        ids(&get(&s, ADMIN, "/alerts?acknowledged=false").1),
        ["s1-2-000", "s1-1-002", "s1-1-001"]
    );
    assert_eq!(
        ids(&get(&s, ADMIN, "/alerts?acknowledged=true").1),
        ["s1-1-000"]
    );
    assert_eq!(get(&s, ADMIN, "/alerts/s1-1-000").1["acknowledged"], true);
    let (_, audit) = get(&s, ADMIN, "/audit?limit=10000");
    let acks: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "alert-ack")
        .collect();
    assert_eq!(acks.len(), 1, "one record per acknowledgement: {acks:?}");
    assert_eq!(acks[0]["actor"], "user:admin");
    assert_eq!(acks[0]["target"], "s1-1-000");

    // Scopes: the sensor cannot read or acknowledge; a reader robot reads
    // but cannot post or acknowledge; a repository robot can do nothing.
    assert_eq!(get(&s, sensor, "/alerts").0, 403);
    let reader = robot(
        &s,
        "siem",
        json!([{"namespace": "alerts", "actions": ["read"]}]),
    );
    let reader = (reader.0.as_str(), reader.1.as_str());
    assert_eq!(get(&s, reader, "/alerts?limit=1").0, 200);
    assert_eq!(post(&s, reader, serde_json::to_vec(&batch).unwrap()).0, 403);
    let r = s
        .req(Method::POST, "/api/v1/alerts/s1-1-001/ack", Some(reader))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let pusher = robot(
        &s,
        "ci",
        json!([{"namespace": "team", "actions": ["push"]}]),
    );
    assert_eq!(
        post(
            &s,
            (&pusher.0, &pusher.1),
            serde_json::to_vec(&batch).unwrap()
        )
        .0,
        403
    );
    let r = s
        .admin(Method::POST, "/api/v1/robots")
        .header("content-type", "application/json")
        .body(
            json!({"name": "bad", "scopes": [{"namespace": "alerts", "actions": ["push"]}]})
                .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);

    // Bad input: 400 naming the field, 413 past the body bound.
    let mut bad = batch.clone();
    bad[1]["container"]["id"] = "../etc".into();
    let (status, v) = post(&s, sensor, serde_json::to_vec(&bad).unwrap());
    assert_eq!(status, 400);
    assert_eq!(v["errors"][0]["detail"]["field"], "[1].container.id");
    let mut bad = batch.clone();
    bad[2]["severity"] = "SEVERE".into();
    assert_eq!(
        post(&s, sensor, serde_json::to_vec(&bad).unwrap()).1["errors"][0]["detail"]["field"],
        "[2].severity"
    );
    let (status, v) = get(&s, ADMIN, "/alerts?severity=huge");
    assert_eq!(status, 400);
    assert_eq!(v["errors"][0]["detail"]["field"], "severity");
    assert_eq!(get(&s, ADMIN, "/alerts?cursor=garbage").0, 400);
    let big = vec![b' '; caisson_model::runtime_alert::MAX_BATCH_BYTES + 1];
    assert_eq!(post(&s, sensor, big).0, 413);
    let many: Vec<Value> = (0..caisson_model::runtime_alert::MAX_BATCH_ALERTS + 1)
        .map(|i| alert(&format!("m-{i}"), "2026-12-07T01:00:00Z", "n", "r", "LOW"))
        .collect();
    assert_eq!(post(&s, sensor, serde_json::to_vec(&many).unwrap()).0, 400);
    // Nothing bad was stored.
    assert_eq!(ids(&get(&s, ADMIN, "/alerts").1).len(), 4);

    // The OpenAPI document lists the endpoints.
    let (_, doc) = get(&s, ADMIN, "/openapi.json");
    assert!(doc["paths"]["/alerts"]["post"].is_object());
    assert!(doc["paths"]["/alerts"]["get"].is_object());
    assert!(doc["paths"]["/alerts/{id}"]["get"].is_object());
    assert!(doc["paths"]["/alerts/{id}/ack"]["post"].is_object());
}

/// A registry served in-process, with a handle to call retention directly.
fn serve_with_handle(
    config: Config,
) -> (
    String,
    Arc<
        Registry<
            caisson_registry::store::fs::FsBlobStore,
            caisson_registry::store::sqlite::SqliteMetaStore,
        >,
    >,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let reg = open_embedded(&path, config).unwrap();
            reg.bootstrap_admin(Some(ADMIN_PASSWORD.into()))
                .await
                .unwrap();
            let reg = Arc::new(reg);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr: SocketAddr = listener.local_addr().unwrap();
            tx.send((addr, reg.clone())).unwrap();
            caisson_http::serve(
                listener,
                None,
                router(reg),
                caisson_http::Limits::default(),
                std::future::pending::<()>(),
            )
            .await;
        });
    });
    let (addr, reg) = rx.recv().unwrap();
    (format!("http://{addr}"), reg, dir)
}

#[test]
fn retention_prunes_by_age_then_by_count() {
    let config = Config {
        alerts: AlertConfig {
            retention: Duration::from_secs(3600),
            max_alerts: 2,
        },
        ..Config::default()
    };
    let (base, reg, _dir) = serve_with_handle(config);
    let client = reqwest::blocking::Client::new();
    let r = client
        .post(format!("{base}/api/v1/robots"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .header("content-type", "application/json")
        .body(
            json!({"name": "sensor", "scopes": [{"namespace": "alerts", "actions": ["write"]}]})
                .to_string(),
        )
        .send()
        .unwrap();
    let v = r.json_value();
    let (name, secret) = (v["name"].as_str().unwrap(), v["secret"].as_str().unwrap());
    let send = |ids: &[&str]| {
        let batch: Vec<Value> = ids
            .iter()
            .map(|i| alert(i, "2026-12-07T01:00:00Z", "n", "r", "LOW"))
            .collect();
        let r = client
            .post(format!("{base}/api/v1/alerts"))
            .basic_auth(name, Some(secret))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&batch).unwrap())
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    let listed = || -> Vec<String> {
        let r = client
            .get(format!("{base}/api/v1/alerts"))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .send()
            .unwrap();
        ids(&r.json_value())
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = caisson_registry::store::now_ms();
    send(&["a", "b", "c"]);
    // Within the age limit: only the count cap applies (the newest two stay).
    let p = rt.block_on(reg.prune_alerts(now)).unwrap();
    assert_eq!((p.expired, p.over_cap), (0, 1));
    assert_eq!(listed().len(), 2);
    // Two hours on, everything received now is past the one-hour retention.
    let p = rt
        .block_on(reg.prune_alerts(now + 2 * 3600 * 1000))
        .unwrap();
    assert_eq!((p.expired, p.over_cap), (2, 0));
    assert!(listed().is_empty());
}
