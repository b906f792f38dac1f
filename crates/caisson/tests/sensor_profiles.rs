//! Server-stored executable profiles end to end, with the real binaries,
//! kernel and test dockerd (`CAISSON_TEST_DOCKER_HOST`; root, as
//! sensor_allowlist.rs): `caisson serve` and `caisson sensor run --server`
//! (no `--mode`: the server's mode per image). The new image starts in
//! discover and what its container runs reaches the server; `caisson
//! profile mode KEY protect` is picked up by the sensor at its next sync;
//! then a new executable's exec fails with EPERM while learned ones run;
//! `caisson profile export` writes a profile file the sensor can read.
#![cfg(target_os = "linux")]

mod sensor_support;
mod serve_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use caisson_testsupport::engine::test_docker_host;
use sensor_support::{alpine, docker, ok, scrape, Container};
use serde_json::{json, Value};
use serve_support::{serve, Serve, PASSWORD};

struct Sensor {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Sensor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sensor {
    /// Waits for a stderr line containing `want`.
    fn wait_line(&self, want: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(want) => return l,
                Ok(_) => {}
                Err(_) => panic!("the sensor did not print {want:?} within {limit:?}"),
            }
        }
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn get(s: &Serve, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}/api/v1{path}", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .expect("get");
    let st = r.status().as_u16();
    (
        st,
        serde_json::from_slice(&r.bytes().expect("body")).unwrap_or(Value::Null),
    )
}

fn caisson_profile(s: &Serve, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caisson"))
        .arg("profile")
        .args(["--registry", &s.base, "--user", "admin"])
        .args(args)
        .env("CAISSON_PASSWORD", PASSWORD)
        .env_remove("CAISSON_URL")
        .env_remove("CAISSON_USER")
        .stdin(Stdio::null())
        .output()
        .expect("caisson profile runs")
}

fn paths(profile: &Value) -> Vec<String> {
    profile["executables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["path"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn discover_on_the_server_then_protect_from_the_cli() {
    let Some(host) = test_docker_host() else {
        eprintln!("skipping: no test dockerd");
        return;
    };
    let Some(image) = alpine(&host) else { return };
    let c = Container {
        host: host.clone(),
        name: format!("sprof-{}", std::process::id()),
    };
    let _ = docker(&host, &["rm", "-f", &c.name]);
    let out = ok(
        docker(
            &host,
            &["run", "-d", "--name", &c.name, &image, "sleep", "300"],
        ),
        "docker run",
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // A loaded image has no repo digest: its key is the image id.
    let inspect = ok(
        docker(&host, &["inspect", "-f", "{{.Image}}", &c.name]),
        "inspect",
    );
    let key = String::from_utf8_lossy(&inspect.stdout).trim().to_string();
    assert!(key.starts_with("sha256:"), "{key}");

    let dir = tempfile::tempdir().expect("tempdir");
    // The learning window never ends by itself here: the CLI ends it.
    let s = serve(&dir.path().join("data"), None, &["--profile-learning", "0"]);
    let r = client()
        .post(format!("{}/api/v1/robots", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .header("content-type", "application/json")
        .body(
            json!({"name": "sensor", "scopes": [{"namespace": "profiles", "actions": ["sync"]}]})
                .to_string(),
        )
        .send()
        .expect("robot");
    assert_eq!(r.status(), 201);
    let robot: Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    let secret = dir.path().join("robot-secret");
    std::fs::write(&secret, robot["secret"].as_str().expect("secret")).expect("write");

    let cache = dir.path().join("profiles");
    let alerts = dir.path().join("alerts.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["sensor", "run", "--docker-host", &host, "--server", &s.base])
        .args(["--user", robot["name"].as_str().expect("name")])
        .arg("--password-file")
        .arg(&secret)
        .args(["--sync-interval", "500ms", "--profiles"])
        .arg(&cache)
        .arg("--alerts")
        .arg(&alerts)
        .args(["--metrics", "127.0.0.1:0", "--duration", "150"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("caisson runs");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("sensor: {l}");
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let sensor = Sensor { child, lines: rx };
    let line = sensor.wait_line("metrics on http://", Duration::from_secs(30));
    let addr = line
        .split("metrics on http://")
        .nth(1)
        .expect("address")
        .trim_end_matches("/metrics")
        .to_string();
    let want = format!("caisson_container_pids{{container_id=\"{id}\"");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !scrape(&addr).contains(&want) {
        assert!(
            Instant::now() < deadline,
            "the sensor did not watch the container"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Discover: the server created the profile; what runs reaches it.
    sensor.wait_line(
        &format!("image {key}: mode discover"),
        Duration::from_secs(30),
    );
    ok(
        docker(&host, &["exec", &c.name, "cp", "/bin/busybox", "/tmp/ls"]),
        "cp",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let learned = loop {
        ok(
            docker(&host, &["exec", &c.name, "ls", "/"]),
            "ls while learning",
        );
        let (st, p) = get(&s, &format!("/profiles/{key}"));
        if st == 200 && paths(&p).iter().any(|x| x == "/bin/busybox") {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "learned executables never reached the server: {p}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(learned["mode"], "discover");
    assert!(!paths(&learned).iter().any(|p| p == "/tmp/ls"), "{learned}");

    // Protect from the CLI; the sensor picks it up.
    let out = caisson_profile(&s, &["mode", &key, "protect", "--reason", "e2e"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sensor.wait_line(
        &format!("image {key}: mode protect"),
        Duration::from_secs(30),
    );

    let denied = docker(&host, &["exec", &c.name, "/tmp/ls", "/"]);
    assert!(!denied.status.success(), "protect let /tmp/ls run");
    let msg = String::from_utf8_lossy(&denied.stderr).to_lowercase()
        + &String::from_utf8_lossy(&denied.stdout).to_lowercase();
    assert!(
        msg.contains("permission denied") || msg.contains("not permitted"),
        "{msg}"
    );
    ok(
        docker(&host, &["exec", &c.name, "ls", "/"]),
        "protect: ls runs",
    );
    ok(
        docker(
            &host,
            &["exec", &c.name, "sh", "-c", "cat /etc/hostname | wc -c"],
        ),
        "protect: a pipeline of learned programs runs",
    );

    // History: created and learned by the robot, protect by the admin.
    let (_, versions) = get(&s, &format!("/profiles/{key}/versions"));
    let v = versions.as_array().expect("versions");
    assert_eq!(v[0]["actor"], "user:admin");
    assert_eq!(v[0]["mode"], "protect");
    assert!(v[0]["reason"]
        .as_str()
        .unwrap_or_default()
        .ends_with(": e2e"));
    let robot_actor = format!("robot:{}", robot["name"].as_str().expect("name"));
    assert_eq!(v.last().expect("first")["actor"], robot_actor.as_str());
    assert!(v.iter().any(|x| x["reason"]
        .as_str()
        .unwrap_or_default()
        .starts_with("learned upload")));

    // The cache under --profiles: what a restart without the server uses.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let modes = std::fs::read_to_string(cache.join("server-modes.json")).unwrap_or_default();
        if modes.contains("protect") {
            break;
        }
        assert!(Instant::now() < deadline, "no cached protect mode: {modes}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Export: the sensor's profile format.
    let file = dir.path().join("export.yaml");
    let out = caisson_profile(&s, &["export", &key, "-o", file.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = caisson_sensor::allowlist::Profile::read(&file).expect("a valid profile file");
    assert_eq!(p.image, key);
    assert!(p.executables.iter().any(|e| e.path == "/bin/busybox"));
    let out = caisson_profile(&s, &["list", "--format", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("json list");
    assert_eq!(list[0]["key"], key.as_str());
    assert_eq!(list[0]["mode"], "protect");
}
