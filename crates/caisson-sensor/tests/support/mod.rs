//! Helpers shared by the real-kernel, real-engine tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use caisson_sensor::pipeline::{Engine, Pipeline, SensorConfig, SensorStats};
use caisson_sensor::watched::Shared;
use caisson_sensor::{Alert, DockerDirectory, RuleSet};

/// Each rule must fire within this long of its trigger starting.
pub const WITHIN: Duration = Duration::from_secs(2);

pub fn docker_host() -> Option<String> {
    match std::env::var("CAISSON_TEST_DOCKER_HOST") {
        Ok(h) if !h.is_empty() => Some(h),
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CAISSON_TEST_DOCKER_HOST is unset: under CI the test scripts must start dockerd"
            );
            eprintln!("skipping: CAISSON_TEST_DOCKER_HOST is unset (no test dockerd)");
            None
        }
    }
}

pub fn docker(host: &str) -> Command {
    let mut c = Command::new("docker");
    c.arg("-H").arg(host);
    c
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `docker load`s a fixture image unless the engine has it; its reference.
pub fn image(host: &str, fixture: &str) -> Option<String> {
    let (root, entry) = caisson_testsupport::fixture(fixture)?;
    let r = entry["docker_ref"].as_str().unwrap().to_string();
    let have = docker(host)
        .args(["image", "inspect", &r])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    if !have.success() {
        let archive = root.join(entry["docker_archive"].as_str().unwrap());
        run(docker(host).arg("load").arg("-i").arg(archive));
    }
    Some(r)
}

/// A container removed when dropped.
pub struct Container {
    pub host: String,
    pub name: String,
    pub id: String,
}

impl Container {
    pub fn run(host: &str, label: &str, extra: &[&str], image: &str, cmd: &[&str]) -> Self {
        let name = format!("caisson-sensor-{}-{label}", std::process::id());
        let _ = docker(host).args(["rm", "-f", &name]).output();
        let out = run(docker(host)
            .args(["run", "-d", "--name", &name])
            .args(extra)
            .arg(image)
            .args(cmd));
        let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Self {
            host: host.to_string(),
            name,
            id,
        }
    }

    pub fn exec(&self, args: &[&str]) -> Command {
        let mut c = docker(&self.host);
        c.arg("exec").arg(&self.name).args(args);
        c
    }

    pub fn ip(&self) -> String {
        let out = run(docker(&self.host).args([
            "inspect",
            "-f",
            "{{.NetworkSettings.IPAddress}}",
            &self.name,
        ]));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&self.host).args(["rm", "-f", &self.name]).output();
    }
}

/// The sensor on a thread, alerts on a channel.
pub struct Sensor {
    pub stop: Arc<AtomicBool>,
    pub alerts: Receiver<Alert>,
    pub seen: Vec<Alert>,
    pub thread: Option<JoinHandle<SensorStats>>,
    pub shared: Arc<Shared>,
}

impl Sensor {
    pub fn start(host: &str, config: SensorConfig) -> Self {
        Self::start_rules(host, config, RuleSet::builtin().unwrap())
    }

    pub fn start_rules(host: &str, config: SensorConfig, rules: RuleSet) -> Self {
        let directory = DockerDirectory::connect(Some(host)).unwrap();
        let mut engine = Engine::new(rules, directory, &config, "test-host".into());
        let watcher = DockerDirectory::connect(Some(host)).unwrap();
        let pipeline = Pipeline::start_with(config, Some(Box::new(watcher))).unwrap();
        let shared = pipeline.shared();
        let stop = pipeline.stop.clone();
        let (tx, alerts) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut sink = tx;
            pipeline.run(&mut engine, &mut sink)
        });
        Self {
            stop,
            alerts,
            seen: Vec::new(),
            thread: Some(thread),
            shared,
        }
    }

    /// Waits until `rule` fires for `container` or `deadline` passes.
    pub fn wait_for(&mut self, rule: &str, container: &str, deadline: Instant) -> Option<Alert> {
        loop {
            if let Some(a) = self
                .seen
                .iter()
                .find(|a| a.rule == rule && a.container.as_ref().is_some_and(|c| c.id == container))
            {
                return Some(a.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.alerts.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(a) => self.seen.push(a),
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => return None,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    pub fn drain(&mut self) {
        while let Ok(a) = self.alerts.try_recv() {
            self.seen.push(a);
        }
    }

    pub fn for_container(&mut self, id: &str) -> Vec<Alert> {
        self.drain();
        self.seen
            .iter()
            .filter(|a| a.container.as_ref().is_some_and(|c| c.id == id))
            .cloned()
            .collect()
    }

    pub fn stop(mut self) -> SensorStats {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// Starts `trigger`, then asserts `rule` fires for `c` within [`WITHIN`];
/// returns the alert and the latency.
pub fn expect(
    sensor: &mut Sensor,
    rule: &str,
    c: &Container,
    trigger: &mut Command,
) -> (Alert, Duration) {
    expect_within(sensor, rule, c, trigger, WITHIN)
}

/// [`expect`] with another bound.
pub fn expect_within(
    sensor: &mut Sensor,
    rule: &str,
    c: &Container,
    trigger: &mut Command,
    within: Duration,
) -> (Alert, Duration) {
    let t0 = Instant::now();
    let child = trigger
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let got = sensor.wait_for(rule, &c.id, t0 + within);
    let latency = t0.elapsed();
    reap(child);
    let alert = got.unwrap_or_else(|| {
        panic!(
            "`{rule}` did not fire for {} within {within:?}; alerts seen: {:#?}",
            c.name, sensor.seen
        )
    });
    eprintln!("{rule}: fired after {latency:?}");
    (alert, latency)
}

pub fn reap(mut child: std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until the sensor watches (and, with fanotify, has marked)
/// container `id`: readiness from the sensor's own state.
pub fn wait_watched(sensor: &Sensor, id: &str, marked: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sensor.shared.is_watched(id, marked) {
        assert!(
            Instant::now() < deadline,
            "container {id} not watched within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
