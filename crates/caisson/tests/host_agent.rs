//! `caisson host agent` reporting to `caisson serve`, against the Docker
//! daemon `scripts/dockerd` starts for the test run
//! (`CAISSON_TEST_DOCKER_HOST`) and the real server binary:
//!
//! - a container started after the agent runs reaches the server through
//!   the engine's events (the interval is an hour);
//! - advisories that affect the image of a running container bring a signed
//!   `container.vulnerable` webhook naming the host and the container;
//! - a container started with an added capability turns check 5.4 from
//!   pass to warn: a signed `bench.regressed` webhook names the check;
//! - each container's start time is the engine's (`State.StartedAt`);
//! - `kill -9` of the server while the agent reports loses nothing: reports
//!   queue on disk and are delivered, oldest first, once it is back;
//! - SIGTERM stops the agent cleanly; a host that misses three intervals
//!   is `stale`;
//! - reports are untrusted: bad ones get 400 naming the field, a robot
//!   without `hosts:report` gets 403, oversized bodies 413.
//!
//! Containers are named `hagent-<pid>-…` and removed at the end.
#![allow(clippy::unwrap_used)]

mod serve_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::engine::test_docker_host;
use caisson_testsupport::registry::free_port;
use caisson_testsupport::{fixture, have_tools, run};
use serde_json::{json, Value};
use serve_support::hooks::{receiver, wait_for};
use serve_support::scan::{import_db, wait_scanned, wait_scanned_tag};
use serve_support::{push_fixture, serve, serve_with, Serve, PASSWORD};

const SECRET: &str = "webhook-secret-for-host-tests";

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// `GET /api/v1<path>` as admin; (status, JSON or Null).
fn get(s: &Serve, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}/api/v1{path}", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_slice(&r.bytes().unwrap()).unwrap_or(Value::Null),
    )
}

/// Creates a robot with `scopes` as admin; returns (name, secret).
fn robot(s: &Serve, label: &str, scopes: Value) -> (String, String) {
    let r = client()
        .post(format!("{}/api/v1/robots", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .header("content-type", "application/json")
        .body(json!({"name": label, "scopes": scopes}).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    (
        v["name"].as_str().unwrap().to_string(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

/// `PUT /api/v1/hosts/<id>/report` as `auth`; (status, body text).
fn put_report(s: &Serve, id: &str, auth: Option<(&str, &str)>, body: Vec<u8>) -> (u16, String) {
    let mut req = client()
        .put(format!("{}/api/v1/hosts/{id}/report", s.base))
        .header("content-type", "application/json")
        .body(body);
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    let r = req.send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// A running agent process; killed on drop.
struct Agent {
    child: Child,
    log: PathBuf,
}

impl Agent {
    fn start(
        s: &Serve,
        docker_host: &str,
        creds: &(String, String),
        host_id: &str,
        interval: &str,
        queue: &Path,
        log: PathBuf,
    ) -> Agent {
        let child = Command::new(env!("CARGO_BIN_EXE_caisson"))
            .args([
                "host",
                "agent",
                "--server",
                &s.base,
                "--docker-host",
                docker_host,
            ])
            .args(["--interval", interval, "--host-id", host_id])
            .args(["--debounce-ms", "200", "--queue"])
            .arg(queue)
            .env("CAISSON_USER", &creds.0)
            .env("CAISSON_PASSWORD", &creds.1)
            .env_remove("DOCKER_HOST")
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                fs_err::File::create(&log).unwrap().into_parts().0,
            ))
            .spawn()
            .expect("start caisson host agent");
        Agent { child, log }
    }

    fn log(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits up to `within` for the agent to exit.
    fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        self.sigterm();
        self.wait_exit(within)
    }

    fn sigterm(&self) {
        run(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
    }

    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not stop within {within:?} of SIGTERM; log: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes the named containers when dropped.
struct Containers {
    host: String,
    names: Vec<String>,
}

impl Containers {
    fn run(&mut self, name: &str, image: &str) {
        self.run_with(name, image, &[]);
    }

    fn run_with(&mut self, name: &str, image: &str, options: &[&str]) {
        self.names.push(name.to_string());
        run(Command::new("docker")
            .args(["-H", &self.host, "run", "-d", "--name", name])
            .args(options)
            .args([image, "sleep", "600"]));
    }

    /// `docker inspect --format FORMAT name`, trimmed.
    fn inspect(&self, name: &str, format: &str) -> String {
        let out = Command::new("docker")
            .args(["-H", &self.host, "inspect", "--format", format, name])
            .output()
            .unwrap();
        assert!(out.status.success(), "docker inspect {name}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("docker")
                .args(["-H", &self.host, "rm", "-f", n])
                .output();
        }
    }
}

/// Polls `f` every 200 ms for up to `secs`; panics with `what` and `ctx()`.
fn wait_until<T>(secs: u64, what: &str, ctx: impl Fn() -> String, f: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}; {}", ctx());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn container_state(s: &Serve, host: &str, name: &str) -> Option<Value> {
    let (st, v) = get(s, &format!("/hosts/{host}/containers"));
    if st != 200 {
        return None;
    }
    v.as_array()?.iter().find(|c| c["name"] == name).cloned()
}

fn queued(queue: &Path) -> BTreeSet<i64> {
    fs_err::read_dir(queue)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".json")
                        .and_then(|n| n.parse().ok())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn stored_seqs(s: &Serve, host: &str) -> BTreeSet<i64> {
    let (_, v) = get(s, &format!("/hosts/{host}/reports?limit=1000"));
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["seq"].as_i64())
        .collect()
}

#[test]
fn agent_reports_events_vulnerable_containers_and_survives_a_server_kill() {
    let Some(docker_host) = test_docker_host() else {
        return;
    };
    if !have_tools(&["docker", "skopeo", "openssl"]) {
        return;
    }
    let Some((root, entry)) = fixture("lang-python-node") else {
        return;
    };
    let p = format!("hagent-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // Only Alpine's advisories at first: the Debian/Python image is healthy.
    import_db(&db, &["alpine-secdb"]);
    let (url, got) = receiver();
    let hooks = dir.path().join("webhooks.yaml");
    fs_err::write(
        &hooks,
        format!("webhooks:\n  - {{name: sec, url: '{url}', secret_env: TEST_WEBHOOK_SECRET, events: [container.vulnerable, bench.regressed]}}\n"),
    )
    .unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server_args = [
        "--db-poll",
        "1",
        "--db",
        db.to_str().unwrap(),
        "--webhooks",
        hooks.to_str().unwrap(),
    ];
    let env = [("TEST_WEBHOOK_SECRET", SECRET)];
    let mut s = serve_with(port, &data, None, &server_args, &env);
    let tag = entry["tag"].as_str().unwrap();
    let repo = format!("{p}/app");
    push_fixture(&s.host, &root, &entry, &format!("{repo}:{tag}"));
    let digest = wait_scanned_tag(&s.host, &repo, tag);
    wait_scanned(&s.host, &repo, &digest, 120);

    // The engine pulls the image from the registry (so it has its repo digest).
    let config = dir.path().join("docker-config");
    fs_err::create_dir_all(&config).unwrap();
    let docker = || {
        let mut c = Command::new("docker");
        c.args(["-H", &docker_host]).env("DOCKER_CONFIG", &config);
        c
    };
    run(docker().args(["login", "-u", "admin", "-p", PASSWORD, &s.host]));
    let reference = format!("{}/{repo}:{tag}", s.host);
    run(docker().args(["pull", &reference]));
    let mut containers = Containers {
        host: docker_host.clone(),
        names: Vec::new(),
    };

    let creds = robot(
        &s,
        &format!("{p}-agent"),
        json!([{"namespace": "hosts", "actions": ["report"]}]),
    );
    let host_id = format!("{p}-host");
    let queue = dir.path().join("queue");
    let agent = Agent::start(
        &s,
        &docker_host,
        &creds,
        &host_id,
        "1h",
        &queue,
        dir.path().join("agent.log"),
    );
    let alog = || agent.log();
    wait_until(60, "the agent's first report", alog, || {
        (get(&s, &format!("/hosts/{host_id}")).0 == 200).then_some(())
    });

    // Started after the agent: it arrives through the engine's events.
    let c1 = format!("{p}-c1");
    containers.run(&c1, &reference);
    let c = wait_until(30, "the started container on the server", alog, || {
        container_state(&s, &host_id, &c1).filter(|c| c["state"] == "running")
    });
    assert_eq!(c["repo"], repo.as_str(), "mapped by repo digest: {c}");
    assert_eq!(c["digest"], digest.as_str(), "{c}");
    assert_eq!(c["scanned"], true);
    // The start time is the engine's, from the container's inspect.
    let started = containers.inspect(&c1, "{{.State.StartedAt}}");
    assert!(!started.starts_with("0001"), "{started}");
    assert_eq!(c["started_at"], started.as_str(), "{c}");
    let (_, lines) = get(&s, &format!("/hosts/{host_id}/reports"));
    assert!(
        lines
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["reason"] == "event"),
        "an event report (the interval is an hour): {lines}"
    );

    // Newer advisories: PyPI's affect the running container's image.
    import_db(&db, &["alpine-secdb", "osv/PyPI/all.zip"]);
    let hook = wait_for(
        &got,
        "container.vulnerable",
        SECRET,
        |v| v["data"]["container"]["name"] == c1.as_str(),
        dir.path(),
    );
    assert_eq!(hook["data"]["host"], host_id.as_str(), "{hook}");
    assert_eq!(hook["data"]["digest"], digest.as_str(), "{hook}");
    let ids: Vec<&str> = hook["data"]["new_findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(ids.contains(&"CVE-2021-33503"), "urllib3 1.26.4: {hook}");
    eprintln!(
        "container.vulnerable for {c1}: {} new finding(s)",
        ids.len()
    );
    let c = container_state(&s, &host_id, &c1).unwrap();
    assert!(!c["findings"].as_array().unwrap().is_empty(), "{c}");

    // A container with an added capability turns 5.4 (capabilities beyond
    // the default set) from pass to warn: the next report regresses the
    // benchmark, and the server says so.
    let risky = format!("{p}-risky");
    containers.run_with(&risky, &reference, &["--cap-add", "NET_ADMIN"]);
    let hook = wait_for(
        &got,
        "bench.regressed",
        SECRET,
        |v| {
            v["data"]["host"] == host_id.as_str()
                && v["data"]["newly_warn"]
                    .as_array()
                    .is_some_and(|w| w.iter().any(|id| id == "5.4"))
        },
        dir.path(),
    );
    assert_eq!(hook["data"]["event"], "bench-regressed", "{hook}");
    assert!(
        hook["data"]["warn"].as_u64() > hook["data"]["previous_warn"].as_u64(),
        "{hook}"
    );
    let (_, b) = get(&s, &format!("/hosts/{host_id}/bench"));
    let caps = b["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "5.4")
        .unwrap_or_else(|| panic!("5.4 in {b}"));
    assert_eq!(caps["status"], "warn", "{caps}");
    assert!(
        caps.to_string().contains(&risky),
        "the risky container is named: {caps}"
    );

    // kill -9 of the server while the agent reports: a container starts
    // just before the kill, two more while the server is down.
    let c2 = format!("{p}-c2");
    containers.run(&c2, &reference);
    s.kill_9();
    let c3 = format!("{p}-c3");
    containers.run(&c3, &reference);
    let first = wait_until(30, "a report queued while the server is down", alog, || {
        let q = queued(&queue);
        (!q.is_empty()).then_some(q)
    });
    let c4 = format!("{p}-c4");
    containers.run(&c4, &reference);
    let all = wait_until(30, "a second report queued", alog, || {
        let q = queued(&queue);
        (q.iter().any(|s| s > first.iter().max().unwrap())).then_some(q)
    });
    let mut expected: BTreeSet<i64> = first.union(&all).copied().collect();
    // Restart on the same port and data: the queue drains, oldest first.
    let s = serve_with(port, &data, None, &server_args, &env);
    wait_until(60, "the queue to drain", alog, || {
        queued(&queue).is_empty().then_some(())
    });
    let stored = stored_seqs(&s, &host_id);
    expected.retain(|seq| !stored.contains(seq));
    eprintln!(
        "queued while the server was down: {:?}; stored after the restart: {} report(s)",
        first.union(&all).collect::<Vec<_>>(),
        stored.len()
    );
    assert!(
        expected.is_empty(),
        "reports lost: {expected:?}; stored {stored:?}; log: {}",
        alog()
    );
    for name in [&c1, &c2, &c3, &c4] {
        let c = container_state(&s, &host_id, name)
            .unwrap_or_else(|| panic!("{name} missing; log: {}", alog()));
        assert_eq!(c["state"], "running", "{c}");
    }
    let (_, h) = get(&s, &format!("/hosts/{host_id}"));
    assert_eq!(h["status"], "ok", "{h}");
    assert!(
        h["bench"]["summary"]["pass"].as_u64().unwrap() > 0,
        "bench reported: {h}"
    );
    let (st, b) = get(&s, &format!("/hosts/{host_id}/bench"));
    assert_eq!(st, 200);
    assert!(!b["checks"].as_array().unwrap().is_empty());
    // SIGTERM with engine events arriving (they end the event watcher
    // first): the agent still stops within seconds, not at the interval.
    let mut agent = agent;
    agent.sigterm();
    containers.run(&format!("{p}-c5"), &reference);
    let status = agent.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "{status:?}; log: {}", agent.log());
}

#[test]
fn a_host_that_misses_three_intervals_is_stale() {
    let Some(docker_host) = test_docker_host() else {
        return;
    };
    let p = format!("hagent-{}-stale", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("data"), None, &[]);
    let creds = robot(
        &s,
        &p,
        json!([{"namespace": "hosts", "actions": ["report"]}]),
    );
    let queue = dir.path().join("queue");
    let mut agent = Agent::start(
        &s,
        &docker_host,
        &creds,
        &p,
        "1s",
        &queue,
        dir.path().join("agent.log"),
    );
    // Reporting every second: ok, with several interval reports.
    let h = wait_until(
        60,
        "interval reports",
        || agent.log(),
        || {
            let (st, h) = get(&s, &format!("/hosts/{p}"));
            (st == 200 && h["reports"].as_u64() >= Some(3)).then_some(h)
        },
    );
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["interval_secs"], 1);
    let (_, lines) = get(&s, &format!("/hosts/{p}/reports"));
    assert!(
        lines
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["reason"] == "interval"),
        "{lines}"
    );
    // SIGTERM (`docker stop` of an agent container): it exits on its own,
    // successfully, within seconds.
    let status = agent.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}; log: {}", agent.log());
    assert!(agent.log().contains("stopped"), "{}", agent.log());
    drop(agent);
    // No report for three intervals: stale, in the API and the CLI.
    let h = wait_until(30, "the host to turn stale", String::new, || {
        let (_, h) = get(&s, &format!("/hosts/{p}"));
        (h["status"] == "stale").then_some(h)
    });
    assert!(h["last_report_ms"].as_i64().is_some());
    let (ok, out, err) =
        serve_support::admin(&s, ("admin", PASSWORD), &["host", "list", "-f", "json"]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == p.as_str())
        .unwrap();
    assert_eq!(mine["status"], "stale");
    let (ok, out, err) = serve_support::admin(
        &s,
        ("admin", PASSWORD),
        &["host", "show", &p, "-f", "table"],
    );
    assert!(ok, "{err}");
    let row = out.lines().find(|l| l.starts_with(&p)).unwrap_or_default();
    assert!(row.contains("stale"), "{out}");
    let (ok, _, err) =
        serve_support::admin(&s, ("admin", PASSWORD), &["host", "show", "no-such-host"]);
    assert!(!ok && err.contains("404"), "{err}");
}

fn good_report(id: &str, seq: i64) -> Value {
    json!({
        "format": "caisson-host-report", "format_version": 1,
        "host": {"id": id, "hostname": "node-1", "engine": {"kind": "docker", "version": "27.0"}},
        "agent": {"version": "test", "interval_secs": 600},
        "seq": seq, "generated_ms": 1_700_000_000_000i64, "reason": "interval",
        "containers": [{"id": "ab12", "name": "web", "image": "nginx:1",
            "image_id": format!("sha256:{}", "a".repeat(64)),
            "repo_digests": [format!("reg.example/team/app@sha256:{}", "b".repeat(64))],
            "state": "running"}],
        "bench": {"benchmark": "v1.7", "checks": [
            {"id": "2.1", "title": "t", "status": "pass"}, {"id": "2.2", "title": "t", "status": "warn"}]}
    })
}

#[test]
fn reports_are_validated_and_need_the_hosts_report_scope() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("data"), None, &[]);
    let reporter = robot(
        &s,
        "reporter",
        json!([{"namespace": "hosts", "actions": ["report"]}]),
    );
    let puller = robot(
        &s,
        "puller",
        json!([{"namespace": "team", "actions": ["pull"]}]),
    );
    let rep = Some((reporter.0.as_str(), reporter.1.as_str()));
    let body = |v: &Value| serde_json::to_vec(v).unwrap();

    // Bad payloads: 400 naming the field.
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "containers[0].image_id",
            Box::new(|v| v["containers"][0]["image_id"] = json!("sha256:short")),
        ),
        (
            "containers[0].repo_digests[0]",
            Box::new(|v| v["containers"][0]["repo_digests"][0] = json!("no-digest")),
        ),
        ("seq", Box::new(|v| v["seq"] = json!(-1))),
        (
            "agent.interval_secs",
            Box::new(|v| v["agent"]["interval_secs"] = json!(0)),
        ),
        (
            "bench.checks[1].status",
            Box::new(|v| v["bench"]["checks"][1]["status"] = json!("fine")),
        ),
        (
            "host.engine.kind",
            Box::new(|v| v["host"]["engine"]["kind"] = json!("lxc")),
        ),
        (
            "containers[0].state",
            Box::new(|v| v["containers"][0]["state"] = json!(42)),
        ),
        (
            "format",
            Box::new(|v| v["format"] = json!("something-else")),
        ),
    ];
    for (field, mutate) in cases {
        let mut v = good_report("h1", 1);
        mutate(&mut v);
        let (st, text) = put_report(&s, "h1", rep, body(&v));
        assert_eq!(st, 400, "{field}: {text}");
        let e: Value = serde_json::from_str(&text).unwrap();
        assert!(
            e["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{field}`")),
            "{field}: {text}"
        );
        assert_eq!(e["errors"][0]["detail"]["field"], field, "{text}");
    }
    let (st, text) = put_report(&s, "h1", rep, b"{not json".to_vec());
    assert_eq!(st, 400, "{text}");
    let (st, text) = put_report(&s, "other", rep, body(&good_report("h1", 1)));
    assert_eq!(st, 400);
    assert!(text.contains("host.id"), "{text}");
    let (st, _) = put_report(&s, "h1", rep, vec![b' '; 5 << 20]);
    assert_eq!(st, 413);
    assert_eq!(get(&s, "/hosts/h1").0, 404, "nothing was stored");

    // Only robots holding hosts:report may report.
    let (st, text) = put_report(
        &s,
        "h1",
        Some((&puller.0, &puller.1)),
        body(&good_report("h1", 1)),
    );
    assert_eq!(st, 403, "{text}");
    assert!(text.contains("hosts:report"), "{text}");
    let (st, _) = put_report(
        &s,
        "h1",
        Some(("admin", PASSWORD)),
        body(&good_report("h1", 1)),
    );
    assert_eq!(st, 403);
    let (st, _) = put_report(&s, "h1", None, body(&good_report("h1", 1)));
    assert_eq!(st, 401);

    // Stored once; a re-delivery is acknowledged and ignored.
    let (st, text) = put_report(&s, "h1", rep, body(&good_report("h1", 5)));
    assert_eq!(st, 201, "{text}");
    let (st, text) = put_report(&s, "h1", rep, body(&good_report("h1", 5)));
    assert_eq!(st, 200, "{text}");
    let (_, h) = get(&s, "/hosts/h1");
    assert_eq!(h["reports"], 1, "{h}");
    assert_eq!(h["containers"], 1);
    let (_, cs) = get(&s, "/hosts/h1/containers");
    assert_eq!(
        cs[0]["scanned"], false,
        "the registry holds no scan of it: {cs}"
    );

    // A benchmark with more warnings is a regression, audited.
    let mut worse = good_report("h1", 6);
    worse["bench"]["checks"][0]["status"] = json!("warn");
    assert_eq!(put_report(&s, "h1", rep, body(&worse)).0, 201);
    let (_, audit) = get(&s, "/audit?limit=1000");
    let actions: Vec<&str> = audit
        .as_array()
        .or_else(|| audit["records"].as_array())
        .unwrap()
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    for a in [
        "host-register",
        "host-report",
        "bench-regressed",
        "host-report",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    assert!(
        actions
            .iter()
            .filter(|a| **a == "host-report" || **a == "host-register")
            .count()
            >= 2
    );

    // Reads are for system administrators; the robot scope is for system admins to grant.
    let r = client()
        .get(format!("{}/api/v1/hosts", s.base))
        .basic_auth(&reporter.0, Some(&reporter.1))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client()
        .post(format!("{}/api/v1/robots", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .header("content-type", "application/json")
        .body(
            json!({"name": "bad", "scopes": [{"namespace": "hosts", "actions": ["push"]}]})
                .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);

    // The OpenAPI document describes the endpoints and the report.
    let (_, doc) = get(&s, "/openapi.json");
    for path in [
        "/hosts",
        "/hosts/{id}",
        "/hosts/{id}/containers",
        "/hosts/{id}/bench",
        "/hosts/{id}/report",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["paths"]["/hosts/{id}/report"]["put"].is_object());
    assert_eq!(
        doc["components"]["schemas"]["HostReport"]["properties"]["format"]["const"],
        "caisson-host-report"
    );
}
