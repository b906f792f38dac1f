//! Runtime alerts reaching `caisson serve`, with the real binaries:
//!
//! - a batch posted by a robot with `alerts:write` brings one signed
//!   `runtime.alert` webhook per new alert (none for a re-delivered one),
//!   and `caisson admin alert list|ack` reads and acknowledges it;
//! - `caisson sensor run --server` (root, Linux, the test dockerd
//!   `CAISSON_TEST_DOCKER_HOST`) sends a `package-manager` alert raised by
//!   `docker exec … apk add` to the server, which lists it and sends the
//!   webhook; with the server killed, the next alert waits in the sensor's
//!   on-disk queue and arrives once the server is back (nothing lost).
//!
//! Containers are named `ssrv-<pid>-…` and removed at the end.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod sensor_support;
mod serve_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::engine::test_docker_host;
use caisson_testsupport::registry::free_port;
use sensor_support::{alpine, docker, scrape};
use serde_json::{json, Value};
use serve_support::hooks::{receiver, wait_for, Received};
use serve_support::{admin, serve_with, Serve, PASSWORD};

const SECRET: &str = "webhook-secret-for-alert-tests";

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn robot(s: &Serve, label: &str, actions: &[&str]) -> (String, String) {
    let r = client()
        .post(format!("{}/api/v1/robots", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .header("content-type", "application/json")
        .body(
            json!({"name": label, "scopes": [{"namespace": "alerts", "actions": actions}]})
                .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    (
        v["name"].as_str().unwrap().into(),
        v["secret"].as_str().unwrap().into(),
    )
}

fn alerts(s: &Serve, query: &str) -> Vec<Value> {
    let Ok(r) = client()
        .get(format!("{}/api/v1/alerts?{query}", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .send()
    else {
        return Vec::new();
    };
    let v: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap_or(Value::Null);
    v["alerts"].as_array().cloned().unwrap_or_default()
}

/// A server with a webhook endpoint subscribed to `runtime.alert`.
fn server(dir: &std::path::Path, port: u16, url: &str) -> Serve {
    let hooks = dir.join("webhooks.yaml");
    fs_err::write(
        &hooks,
        format!("webhooks:\n  - {{name: soc, url: '{url}', secret_env: TEST_WEBHOOK_SECRET, events: [runtime.alert]}}\n"),
    )
    .unwrap();
    serve_with(
        port,
        &dir.join("data"),
        None,
        &["--webhooks", hooks.to_str().unwrap()],
        &[("TEST_WEBHOOK_SECRET", SECRET)],
    )
}

fn alert(id: &str, rule: &str) -> Value {
    json!({"id": id, "time": "2026-12-07T01:00:00Z", "rule": rule, "severity": "HIGH",
        "mitre": ["T1059"], "host": "node1",
        "container": {"id": "c".repeat(64), "name": "web", "image": "alpine:3"},
        "evidence": {"event": "exec"}})
}

fn deliveries(got: &Received, id: &str) -> usize {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(_, b)| serde_json::from_slice::<Value>(b).is_ok_and(|v| v["data"]["id"] == id))
        .count()
}

#[test]
fn posted_alerts_are_webhooks_once_and_the_cli_lists_and_acknowledges_them() {
    let dir = tempfile::tempdir().unwrap();
    let (url, got) = receiver();
    let s = server(dir.path(), free_port(), &url);
    let (user, secret) = robot(&s, "sensor", &["write"]);
    let post = |batch: Value| {
        let r = client()
            .post(format!("{}/api/v1/alerts", s.base))
            .basic_auth(&user, Some(&secret))
            .header("content-type", "application/json")
            .body(batch.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    post(json!([alert("t-1-000", "terminal-shell")]));
    let n = wait_for(
        &got,
        "runtime.alert",
        SECRET,
        |v| v["data"]["id"] == "t-1-000",
        dir.path(),
    );
    assert_eq!(n["event"], "runtime.alert");
    assert_eq!(n["data"]["host"], "node1");
    assert_eq!(n["data"]["container"]["name"], "web");
    assert_eq!(n["data"]["rule"], "terminal-shell");
    assert_eq!(n["data"]["severity"], "HIGH");
    // Re-delivered with a new alert: only the new one is notified. The
    // notifier delivers in order, so once the new one arrived a duplicate
    // of the first would have too.
    post(json!([
        alert("t-1-000", "terminal-shell"),
        alert("t-2-000", "package-manager")
    ]));
    wait_for(
        &got,
        "runtime.alert",
        SECRET,
        |v| v["data"]["id"] == "t-2-000",
        dir.path(),
    );
    assert_eq!(
        deliveries(&got, "t-1-000"),
        1,
        "a re-delivered alert is not notified again"
    );

    // The CLI: list (JSON), acknowledge, list the unacknowledged.
    let (ok, out, err) = admin(
        &s,
        ("admin", PASSWORD),
        &["alert", "list", "--format", "json"],
    );
    assert!(ok, "{err}");
    let listed: Vec<Value> = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = listed.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["t-2-000", "t-1-000"]);
    let (ok, _, err) = admin(
        &s,
        ("admin", PASSWORD),
        &["alert", "ack", "t-1-000", "--comment", "drill"],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = admin(
        &s,
        ("admin", PASSWORD),
        &[
            "alert",
            "list",
            "--unacked",
            "--rule",
            "package-manager",
            "--format",
            "json",
        ],
    );
    assert!(ok, "{err}");
    let listed: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], "t-2-000");
    let (ok, out, _) = admin(
        &s,
        ("admin", PASSWORD),
        &["alert", "list", "--format", "table"],
    );
    assert!(ok);
    assert!(
        out.contains("user:admin"),
        "the table shows who acknowledged: {out}"
    );
}

struct Containers {
    host: String,
    names: Vec<String>,
}

impl Drop for Containers {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = docker(&self.host, &["rm", "-f", n]);
        }
    }
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn sensor_alerts_reach_the_server_and_survive_its_outage() {
    let Some(host) = test_docker_host() else {
        eprintln!("skipping: no test dockerd");
        return;
    };
    let Some(image) = alpine(&host) else { return };
    let p = format!("ssrv-{}", std::process::id());
    let mut cs = Containers {
        host: host.clone(),
        names: Vec::new(),
    };
    // Two containers: the sensor rate-limits per rule and container.
    let mut ids = Vec::new();
    for n in ["a", "b"] {
        let name = format!("{p}-{n}");
        let _ = docker(&host, &["rm", "-f", &name]);
        let out = docker(
            &host,
            &["run", "-d", "--name", &name, &image, "sleep", "300"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ids.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
        cs.names.push(name);
    }
    let dir = tempfile::tempdir().unwrap();
    let (url, got) = receiver();
    let port = free_port();
    let mut s = server(dir.path(), port, &url);
    let (user, secret) = robot(&s, "sensor", &["write"]);
    let password = dir.path().join("password");
    fs_err::write(&password, format!("{secret}\n")).unwrap();
    let queue = dir.path().join("queue");
    let alerts_file = dir.path().join("alerts.jsonl");
    #[allow(clippy::zombie_processes)]
    let mut sensor: Child = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["sensor", "run", "--docker-host", &host, "--server", &s.base])
        .args(["--user", &user, "--password-file"])
        .arg(&password)
        .arg("--queue")
        .arg(&queue)
        .arg("--alerts")
        .arg(&alerts_file)
        .args(["--metrics", "127.0.0.1:0", "--duration", "240"])
        .env_remove("CAISSON_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("caisson runs");
    let mut lines = BufReader::new(sensor.stderr.take().unwrap()).lines();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = sensor.kill();
            panic!("the sensor exited before printing its metrics address");
        };
        if let Some(rest) = line.split("metrics on http://").nth(1) {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                log.lock().unwrap().push_str(&(l + "\n"));
            }
        });
    }
    for id in &ids {
        let want = format!("caisson_container_pids{{container_id=\"{id}\"");
        wait_until(
            "the sensor watches the containers",
            Duration::from_secs(15),
            || scrape(&addr).contains(&want),
        );
    }

    // Online: the alert is listed by the server and sent as a webhook.
    // Offline, `apk add` fails: the exec is the trigger (repeated each
    // second until it is seen: one alert per rule and container goes out,
    // later ones are rate-limited).
    let trigger = |name: &str| {
        let _ = docker(
            &host,
            &["exec", name, "apk", "add", "caisson-no-such-package"],
        );
    };
    let query = format!("rule=package-manager&container={}", ids[0]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while alerts(&s, &query).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no alert on the server within 30 s: {}",
            log.lock().unwrap()
        );
        trigger(&cs.names[0]);
        std::thread::sleep(Duration::from_secs(1));
    }
    let stored = alerts(&s, &query).remove(0);
    assert_eq!(stored["reporter"], user.as_str());
    assert_eq!(stored["container"]["name"], cs.names[0].as_str());
    let n = wait_for(
        &got,
        "runtime.alert",
        SECRET,
        |v| {
            v["data"]["rule"] == "package-manager"
                && v["data"]["container"]["id"] == ids[0].as_str()
        },
        dir.path(),
    );
    assert_eq!(n["data"]["severity"], "MEDIUM");

    // Offline: kill -9 the server; the next alert is written locally and
    // queued on disk; the server, back on the same port, receives it.
    s.kill_9();
    let in_file = || {
        std::fs::read_to_string(&alerts_file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("package-manager") && l.contains(&ids[1]))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !in_file() {
        assert!(
            Instant::now() < deadline,
            "no second alert in --alerts within 30 s: {}\nsensor: {}",
            std::fs::read_to_string(&alerts_file).unwrap_or_default(),
            log.lock().unwrap()
        );
        trigger(&cs.names[1]);
        std::thread::sleep(Duration::from_secs(1));
    }
    // The sender tried and failed: the batch is held in the queue.
    wait_until("a failed delivery", Duration::from_secs(15), || {
        log.lock().unwrap().contains("not delivered")
    });
    assert!(
        std::fs::read_dir(&queue)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".json")),
        "the batch is queued on disk"
    );
    let s = server(dir.path(), port, &url);
    let query = format!("rule=package-manager&container={}", ids[1]);
    wait_until(
        "the queued alert on the restarted server",
        Duration::from_secs(60),
        || !alerts(&s, &query).is_empty(),
    );
    wait_for(
        &got,
        "runtime.alert",
        SECRET,
        |v| v["data"]["container"]["id"] == ids[1].as_str(),
        dir.path(),
    );
    // The first alert is still stored exactly once.
    assert_eq!(
        alerts(&s, &format!("rule=package-manager&container={}", ids[0])).len(),
        1
    );
    let _ = sensor.kill();
    let _ = sensor.wait();
}
