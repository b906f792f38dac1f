//! fanotify file rules, resource rules and the metrics endpoint against the
//! real kernel and the test dockerd: each file rule fires on its real
//! trigger inside a container (`docker exec`) within 2 s and not during a
//! benign baseline; `/metrics` carries per-container series.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use caisson_sensor::metrics::Metrics;
use caisson_sensor::pipeline::SensorConfig;

mod support;
use support::*;

fn sh(c: &Container, script: &str) -> Command {
    c.exec(&["sh", "-c", script])
}

#[test]
fn file_rules_fire_on_real_triggers_and_not_on_a_baseline() {
    let Some(host) = docker_host() else { return };
    let Some(alpine) = image(&host, "alpine") else {
        return;
    };
    let sock = host.strip_prefix("unix://").unwrap().to_string();
    let c = Container::run(
        &host,
        "files",
        &["-v", &format!("{sock}:/var/run/docker.sock")],
        &alpine,
        &["sleep", "300"],
    );
    let mut sensor = Sensor::start(
        &host,
        SensorConfig {
            conntrack: false,
            scan_interval: Duration::from_millis(200),
            ..SensorConfig::default()
        },
    );
    wait_watched(&sensor, &c.id, true);

    // Benign baseline: what operators and health checks do.
    for script in [
        "ls / /etc /tmp >/dev/null",
        "cat /etc/passwd /etc/group /etc/hostname >/dev/null",
        "id; ps; date; uname -a; df >/dev/null",
        "apk info >/dev/null",
        "echo hello > /tmp/note && cat /tmp/note && rm /tmp/note",
        "wget -q -O /dev/null http://127.0.0.1:1/ || true",
    ] {
        run(&mut sh(&c, script));
    }
    std::thread::sleep(Duration::from_secs(2));
    let noise = sensor.for_container(&c.id);
    assert!(noise.is_empty(), "baseline raised alerts: {noise:#?}");

    let (a, _) = expect(
        &mut sensor,
        "sensitive-file-read",
        &c,
        // cat stays alive reading stdin after the open: the file event's
        // process name is read from /proc when the event is handled, and a
        // process that has already exited has none (docs/runtime.md).
        &mut sh(&c, "sleep 1 | cat /etc/shadow - >/dev/null"),
    );
    assert_eq!(a.evidence["path"], "/etc/shadow");
    assert_eq!(a.process.as_ref().unwrap().cmdline, "cat");

    let (a, _) = expect(
        &mut sensor,
        "write-below-system-dirs",
        &c,
        &mut sh(&c, "echo 'export X=1' >> /etc/profile"),
    );
    assert_eq!(a.evidence["path"], "/etc/profile");
    assert_eq!(a.evidence["op"], "write");

    let (a, _) = expect(
        &mut sensor,
        "drop-and-execute",
        &c,
        &mut sh(&c, "cp /bin/busybox /tmp/ls && /tmp/ls / >/dev/null"),
    );
    assert_eq!(a.evidence["path"], "/tmp/ls");
    assert_eq!(a.evidence["upper_layer"], true);

    let (a, _) = expect(
        &mut sensor,
        "docker-socket-access",
        &c,
        &mut c.exec(&[
            "curl",
            "-s",
            "--unix-socket",
            "/var/run/docker.sock",
            "http://localhost/version",
        ]),
    );
    assert_eq!(
        a.process.as_ref().unwrap().cmdline.split(' ').next(),
        Some("curl")
    );

    // Image files run from the lower layers are not "dropped".
    let before = sensor.for_container(&c.id).len();
    run(&mut sh(&c, "/bin/ls / >/dev/null; /usr/bin/env true"));
    std::thread::sleep(Duration::from_secs(1));
    let after = sensor.for_container(&c.id);
    assert_eq!(
        after.len(),
        before,
        "unexpected: {:#?}",
        after.get(before..)
    );
    let stats = sensor.stop();
    let fan = stats.sources.iter().find(|s| s.name == "fanotify").unwrap();
    assert!(fan.received > 0);
}

/// One sample: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Parses OpenMetrics text into samples.
fn samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').unwrap()),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        out.push((name.to_string(), labels, value.parse().unwrap()));
    }
    out
}

fn scrape(addr: std::net::SocketAddr) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    body.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
fn metrics_have_per_container_series_and_pids_rule_fires() {
    let Some(host) = docker_host() else { return };
    let Some(alpine) = image(&host, "alpine") else {
        return;
    };
    let c = Container::run(
        &host,
        "metrics",
        &["--memory", "64m", "--pids-limit", "20"],
        &alpine,
        &["sleep", "300"],
    );
    let metrics = Arc::new(Metrics::new());
    let addr =
        caisson_sensor::metrics::serve("127.0.0.1:0".parse().unwrap(), metrics.clone()).unwrap();
    let mut sensor = Sensor::start(
        &host,
        SensorConfig {
            conntrack: false,
            scan_interval: Duration::from_millis(200),
            resource_interval: Duration::from_millis(500),
            metrics: Some(metrics),
            ..SensorConfig::default()
        },
    );
    wait_watched(&sensor, &c.id, true);
    // Some work for the counters: processes, CPU, a file read.
    run(&mut c.exec(&[
        "sh",
        "-c",
        "for i in 1 2 3; do cat /etc/passwd >/dev/null; done",
    ]));
    let deadline = Instant::now() + Duration::from_secs(10);
    let series = loop {
        let text = scrape(addr);
        let all = samples(&text);
        let mine: Vec<_> = all
            .iter()
            .filter(|(_, l, _)| l.iter().any(|(k, v)| k == "container_id" && v == &c.id))
            .cloned()
            .collect();
        if mine
            .iter()
            .any(|(n, ..)| n == "caisson_container_pids_limit")
            && all.iter().any(|(n, l, v)| {
                n == "caisson_sensor_events_total"
                    && l.iter().any(|(_, s)| s == "fanotify")
                    && *v > 0.0
            })
        {
            assert!(all
                .iter()
                .any(|(n, ..)| n.starts_with("caisson_sensor_rule_evaluation_seconds")));
            break mine;
        }
        assert!(Instant::now() < deadline, "no series for {}: {text}", c.id);
        std::thread::sleep(Duration::from_millis(200));
    };
    let get = |name: &str| series.iter().find(|(n, ..)| n == name).map(|s| s.2);
    assert_eq!(
        get("caisson_container_memory_limit_bytes"),
        Some(64.0 * 1024.0 * 1024.0)
    );
    assert_eq!(get("caisson_container_pids_limit"), Some(20.0));
    assert!(get("caisson_container_memory_bytes").unwrap() > 0.0);
    assert!(get("caisson_container_pids").unwrap() >= 1.0);
    assert!(get("caisson_container_cpu_seconds").unwrap() > 0.0);
    assert!(get("caisson_container_network_receive_bytes").is_some());
    let name = series[0]
        .1
        .iter()
        .find(|(k, _)| k == "container_name")
        .unwrap();
    assert_eq!(name.1, c.name);

    // pids-near-limit: 18 more processes in a container limited to 20.
    let (a, _) = expect_within(
        &mut sensor,
        "pids-near-limit",
        &c,
        &mut c.exec(&["sh", "-c", "for i in $(seq 17); do sleep 5 & done; wait"]),
        Duration::from_secs(3),
    );
    assert!(a.evidence["pids_pct"].as_u64().unwrap() >= 90);
    sensor.stop();
}
