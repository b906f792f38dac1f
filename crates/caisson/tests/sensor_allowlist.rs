//! Executable allowlists end to end, with the real binary, kernel and test
//! dockerd (`CAISSON_TEST_DOCKER_HOST`; root): `caisson sensor learn` writes
//! a container's profile; `run --mode monitor` alerts on a new executable;
//! `run --mode protect` makes its exec fail with EPERM while learned ones
//! run; `kill -9` of the protecting sensor leaves the container working.
#![cfg(target_os = "linux")]

mod sensor_support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::engine::test_docker_host;
use sensor_support::{alpine, docker, ok, scrape, Container};

/// Starts `caisson sensor run` and waits until its metrics show
/// `container_id` sampled (so it is watched and marked); returns the child,
/// which the caller kills and waits for. Should the test panic first, the
/// sensor still stops by itself (`--duration 120`).
#[allow(clippy::zombie_processes)]
fn sensor(host: &str, mode: &str, profiles: &Path, alerts: &Path, container_id: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["sensor", "run", "--docker-host", host, "--mode", mode])
        .arg("--profiles")
        .arg(profiles)
        .arg("--alerts")
        .arg(alerts)
        .args(["--metrics", "127.0.0.1:0", "--duration", "120"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("caisson runs");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the sensor printed its metrics address")
            .expect("stderr");
        if let Some(rest) = line.split("metrics on http://").nth(1) {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let deadline = Instant::now() + Duration::from_secs(15);
    let want = format!("caisson_container_pids{{container_id=\"{container_id}\"");
    loop {
        if scrape(&addr).contains(&want) {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "the {mode} sensor did not watch the container within 15 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Alerts of `rule` in the JSON-lines file.
fn alerts(path: &Path, rule: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|a| a["rule"] == rule)
        .collect()
}

fn wait_alert(path: &Path, rule: &str, exe: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Some(a) = alerts(path, rule)
            .into_iter()
            .find(|a| a["evidence"]["path"] == exe)
        {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "no {rule} alert for {exe} within 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn discover_then_monitor_then_protect_then_kill_9() {
    let Some(host) = test_docker_host() else {
        eprintln!("skipping: no test dockerd");
        return;
    };
    let Some(image) = alpine(&host) else { return };
    let c = Container {
        host: host.clone(),
        name: format!("sallow-{}", std::process::id()),
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
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).expect("mkdir");

    // Discover: learn while the container runs its usual commands.
    let profile = profiles.join("alpine.yaml");
    let mut learn = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args([
            "sensor",
            "learn",
            "--docker-host",
            &host,
            "--container",
            &c.name,
        ])
        .args(["--duration", "4s", "-o"])
        .arg(&profile)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("caisson runs");
    let status = loop {
        ok(
            docker(&host, &["exec", &c.name, "ls", "/"]),
            "ls while learning",
        );
        if let Some(s) = learn.try_wait().expect("wait") {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    let _ = learn.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert!(status.success(), "learn failed: {err}");
    let text = std::fs::read_to_string(&profile).expect("profile written");
    assert!(text.contains("version: 1"), "{text}");
    assert!(text.contains("path: /bin/busybox"), "{text}");
    assert!(text.contains("path: /lib/ld-musl-x86_64.so.1"), "{text}");

    // A new executable appears after learning: busybox copied under another
    // path (same bytes, not in the profile).
    ok(
        docker(&host, &["exec", &c.name, "cp", "/bin/busybox", "/tmp/ls"]),
        "cp",
    );

    // Monitor: runs, but alerts.
    let monitor_alerts = dir.path().join("monitor.jsonl");
    let mut monitor = sensor(&host, "monitor", &profiles, &monitor_alerts, &id);
    ok(
        docker(&host, &["exec", &c.name, "/tmp/ls", "/"]),
        "monitor: /tmp/ls runs",
    );
    let a = wait_alert(&monitor_alerts, "exec-not-allowed", "/tmp/ls");
    assert_eq!(a["container"]["id"], id.as_str());
    assert_eq!(a["evidence"]["denied"], false);
    ok(
        docker(&host, &["exec", &c.name, "ls", "/"]),
        "monitor: ls runs",
    );
    monitor.kill().expect("kill");
    let _ = monitor.wait();
    assert!(
        alerts(&monitor_alerts, "exec-not-allowed")
            .iter()
            .all(|a| a["evidence"]["path"] == "/tmp/ls"),
        "learned executables alerted: {:#?}",
        alerts(&monitor_alerts, "exec-not-allowed")
    );

    // Protect: the new executable is denied, learned ones run.
    let protect_alerts = dir.path().join("protect.jsonl");
    let mut protect = sensor(&host, "protect", &profiles, &protect_alerts, &id);
    let denied = docker(&host, &["exec", &c.name, "/tmp/ls", "/"]);
    assert!(!denied.status.success(), "protect let /tmp/ls run");
    let msg = String::from_utf8_lossy(&denied.stderr).to_lowercase()
        + &String::from_utf8_lossy(&denied.stdout).to_lowercase();
    assert!(
        msg.contains("permission denied") || msg.contains("not permitted"),
        "{msg}"
    );
    let a = wait_alert(&protect_alerts, "exec-not-allowed", "/tmp/ls");
    assert_eq!(a["evidence"]["denied"], true);
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

    // kill -9 while protecting: the kernel releases the group; the container
    // keeps working and nothing is denied any more.
    protect.kill().expect("kill -9");
    let _ = protect.wait();
    ok(
        docker(&host, &["exec", &c.name, "ls", "/"]),
        "after kill -9: ls runs",
    );
    ok(
        docker(&host, &["exec", &c.name, "/tmp/ls", "/"]),
        "after kill -9: /tmp/ls runs",
    );
    let state = ok(
        docker(&host, &["inspect", "-f", "{{.State.Running}}", &c.name]),
        "inspect",
    );
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "true");
}
