//! Network segmentation end to end on the real Docker Engine, kernel and
//! nftables (`CAISSON_TEST_DOCKER_HOST`; root; `nft`): three containers
//! web → api → db on a user-defined bridge network, labelled as Kubernetes
//! pods; the sensor records their flows; `caisson netpol learn` writes both
//! formats (NetworkPolicies valid for `kubernetes-validate --strict`, a
//! ruleset `nft -c` accepts); in audit mode every connection works, the
//! would-be drop (web → db) is counted and `check` names exactly it; enforced,
//! the learned flows still work alongside Docker's own iptables-nft rules,
//! web → db is dropped and the sensor reports it as a `network-violation`.
//! The table is removed at the end even when the test fails.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod sensor_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::engine::test_docker_host;
use sensor_support::{alpine, docker, ok, scrape, Container};

/// Deletes `table inet caisson` when dropped (the test may fail halfway).
struct TableGuard;

impl Drop for TableGuard {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", "caisson"])
            .stderr(Stdio::null())
            .status();
    }
}

/// A network removed when dropped (after its containers: declare it first).
struct Network {
    host: String,
    name: String,
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&self.host, &["network", "rm", &self.name]);
    }
}

fn caisson() -> Command {
    Command::new(env!("CARGO_BIN_EXE_caisson"))
}

/// Starts `caisson sensor run` with `extra` args and waits until its
/// metrics show `container_id` sampled (the sources are then running).
#[allow(clippy::zombie_processes)]
fn sensor(host: &str, alerts: &Path, extra: &[&str], container_id: &str) -> Child {
    let mut child = caisson()
        .args(["sensor", "run", "--docker-host", host])
        .arg("--alerts")
        .arg(alerts)
        .args(["--metrics", "127.0.0.1:0", "--duration", "120"])
        .args(extra)
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
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("sensor: {l}");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let want = format!("caisson_container_pids{{container_id=\"{container_id}\"");
    while !scrape(&addr).contains(&want) {
        assert!(
            Instant::now() < deadline,
            "the sensor did not watch the containers within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// SIGTERM, then wait: the sensor writes its flows file on the way out.
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "sensor exited with {status}");
}

/// `nc` from `from` to `ip:port`: true when the server answered.
fn connect(host: &str, from: &str, ip: &str, port: u16) -> bool {
    let out = docker(
        host,
        &[
            "exec",
            from,
            "sh",
            "-c",
            &format!("nc -w 2 {ip} {port} </dev/null"),
        ],
    );
    String::from_utf8_lossy(&out.stdout).contains("ok")
}

fn ip_of(host: &str, name: &str) -> String {
    let out = ok(
        docker(
            host,
            &[
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                name,
            ],
        ),
        "inspect",
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn violations_counter() -> u64 {
    let out = Command::new("nft")
        .args(["-j", "list", "counter", "inet", "caisson", "violations"])
        .output()
        .expect("nft");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("nft -j");
    v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|o| o["counter"]["packets"].as_u64())
        .expect("the violations counter")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn learned_segmentation_is_enforced_audited_and_checked_on_a_docker_bridge() {
    let Some(host) = test_docker_host() else {
        return;
    };
    if !caisson_testsupport::have_tools(&["nft", "kubernetes-validate"]) {
        return;
    }
    let Some(image) = alpine(&host) else {
        eprintln!("SKIPPING: the alpine fixture is not built (scripts/build-fixtures)");
        return;
    };
    let tag = format!("np{}", std::process::id());
    let net = Network {
        host: host.clone(),
        name: tag.clone(),
    };
    ok(
        docker(&host, &["network", "create", &net.name]),
        "network create",
    );
    let mut ids = Vec::new();
    let mut guards = Vec::new();
    for (tier, server) in [("web", None), ("api", Some(8080)), ("db", Some(5432))] {
        let name = format!("{tag}-{tier}");
        let cmd = match server {
            Some(port) => format!("nc -lk -p {port} -e /bin/echo ok"),
            None => "sleep 600".into(),
        };
        let out = ok(
            docker(
                &host,
                &[
                    "run",
                    "-d",
                    "--name",
                    &name,
                    "--network",
                    &net.name,
                    "--label",
                    &format!("io.kubernetes.pod.name={tier}-5f6b7c8d9f-x2kqz"),
                    "--label",
                    "io.kubernetes.pod.namespace=shop",
                    "--label",
                    "pod-template-hash=5f6b7c8d9f",
                    "--label",
                    &format!("app={tier}"),
                    &image,
                    "sh",
                    "-c",
                    &cmd,
                ],
            ),
            "docker run",
        );
        ids.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
        guards.push(Container {
            host: host.clone(),
            name: name.clone(),
        });
    }
    let (web, api, db) = (
        format!("{tag}-web"),
        format!("{tag}-api"),
        format!("{tag}-db"),
    );
    let (api_ip, db_ip) = (ip_of(&host, &api), ip_of(&host, &db));
    let _table = TableGuard;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // 1. Learn: the sensor records the three-tier traffic.
    let flows = d.join("learn.jsonl");
    let s = sensor(
        &host,
        &d.join("a0.jsonl"),
        &["--flows", flows.to_str().unwrap()],
        &ids[0],
    );
    for _ in 0..3 {
        assert!(
            connect(&host, &web, &api_ip, 8080),
            "web → api before any policy"
        );
        assert!(
            connect(&host, &api, &db_ip, 5432),
            "api → db before any policy"
        );
    }
    stop(s);
    let text = std::fs::read_to_string(&flows).unwrap();
    let learned: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let has = |src: &str, dst: &str, port: u64| {
        learned.iter().any(|f| {
            f["src"]["workload"]["name"] == src
                && f["dst"]["workload"]["name"] == dst
                && f["port"] == port
                && f["proto"] == "tcp"
                && f["count"].as_u64() >= Some(3)
        })
    };
    assert!(has("web", "api", 8080) && has("api", "db", 5432), "{text}");
    assert!(
        !learned
            .iter()
            .any(|f| f["dst"]["workload"]["name"] == "db" && f["src"]["workload"]["name"] == "web"),
        "{text}"
    );

    // 2. Both formats, each checked by its own tool.
    let k8s_dir = d.join("k8s");
    run_ok(
        caisson()
            .args([
                "netpol",
                "learn",
                "--format",
                "k8s",
                "--namespace",
                "shop",
                "--since",
                "1h",
                "--flows",
            ])
            .arg(&flows)
            .arg("-o")
            .arg(&k8s_dir),
    );
    let mut policies = 0;
    for e in std::fs::read_dir(&k8s_dir).unwrap() {
        let p = e.unwrap().path();
        run_ok(
            Command::new("kubernetes-validate")
                .args(["--strict", "--no-warn"])
                .arg(&p),
        );
        policies += 1;
    }
    assert_eq!(policies, 3, "one NetworkPolicy per workload");
    let nft_dir = d.join("nft");
    run_ok(
        caisson()
            .args(["netpol", "learn", "--format", "nftables", "--flows"])
            .arg(&flows)
            .arg("-o")
            .arg(&nft_dir),
    );
    let ruleset = nft_dir.join("caisson.nft");
    run_ok(Command::new("nft").arg("-c").arg("-f").arg(&ruleset));
    // What docs/netpol.md shows (`--nocapture`).
    eprintln!("{text}");
    eprintln!(
        "{}",
        std::fs::read_to_string(k8s_dir.join("shop-api-caisson.yaml")).unwrap()
    );
    eprintln!("{}", std::fs::read_to_string(&ruleset).unwrap());
    // The learned flows pass their own policies.
    for policy in [ruleset.clone(), k8s_dir.join("shop-web-caisson.yaml")] {
        let out = caisson()
            .args(["netpol", "check"])
            .arg(&policy)
            .arg("--flows")
            .arg(&flows)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}{}",
            policy.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // 3. Audit: nothing dropped, the would-be drop counted, check names it.
    run_ok(
        caisson()
            .args(["netpol", "apply", "--audit", "--nftables"])
            .arg(&ruleset),
    );
    let audit_flows = d.join("audit.jsonl");
    let audit_alerts = d.join("audit-alerts.jsonl");
    let s = sensor(
        &host,
        &audit_alerts,
        &[
            "--flows",
            audit_flows.to_str().unwrap(),
            "--netpol",
            ruleset.to_str().unwrap(),
        ],
        &ids[0],
    );
    assert!(connect(&host, &web, &api_ip, 8080));
    assert!(connect(&host, &api, &db_ip, 5432));
    assert!(
        connect(&host, &web, &db_ip, 5432),
        "audit mode dropped web → db"
    );
    let audited = violations_counter();
    assert!(audited >= 1, "audit counted no would-be drop");
    stop(s);
    let out = caisson()
        .args(["netpol", "check"])
        .arg(&ruleset)
        .arg("--flows")
        .arg(&audit_flows)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "check found nothing to deny");
    let denied = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = denied.lines().collect();
    assert_eq!(lines.len(), 1, "{denied}");
    assert!(
        lines[0].starts_with("DENY  shop/web -> shop/db  tcp/5432"),
        "{denied}"
    );

    // 4. Enforce: learned flows work next to Docker's rules, web → db is
    // dropped, and reported.
    run_ok(
        caisson()
            .args(["netpol", "apply", "--nftables"])
            .arg(&ruleset),
    );
    let alerts = d.join("enforce-alerts.jsonl");
    let s = sensor(
        &host,
        &alerts,
        &["--netpol", ruleset.to_str().unwrap()],
        &ids[0],
    );
    assert!(
        connect(&host, &web, &api_ip, 8080),
        "enforced: web → api broken"
    );
    assert!(
        connect(&host, &api, &db_ip, 5432),
        "enforced: api → db broken"
    );
    assert!(
        !connect(&host, &web, &db_ip, 5432),
        "enforced: web → db got through"
    );
    assert!(violations_counter() > audited);
    let deadline = Instant::now() + Duration::from_secs(5);
    let violation = loop {
        let found = std::fs::read_to_string(&alerts)
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                let a: serde_json::Value = serde_json::from_str(l).ok()?;
                (a["rule"] == "network-violation").then_some(a)
            });
        if let Some(a) = found {
            break a;
        }
        assert!(Instant::now() < deadline, "no network-violation alert");
        std::thread::sleep(Duration::from_millis(100));
    };
    stop(s);
    let e = &violation["evidence"];
    assert_eq!(e["enforcement"], "dropped", "{violation}");
    assert_eq!(
        (
            e["src_workload"].as_str(),
            e["dst_workload"].as_str(),
            e["dst_port"].as_u64()
        ),
        (Some("shop/web"), Some("shop/db"), Some(5432)),
        "{violation}"
    );
    assert_eq!(violation["container"]["name"], web.as_str());
    let all = std::fs::read_to_string(&alerts).unwrap();
    assert!(
        all.lines()
            .filter(|l| l.contains("network-violation"))
            .all(|l| l.contains("shop/db") && l.contains("shop/web")),
        "a learned flow was reported: {all}"
    );

    // 5. Remove: the table is gone and web → db works again.
    run_ok(caisson().args(["netpol", "remove"]));
    assert!(!Command::new("nft")
        .args(["list", "table", "inet", "caisson"])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success());
    assert!(connect(&host, &web, &db_ip, 5432));
    drop(guards);
    drop(net);
}
