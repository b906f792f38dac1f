//! What the sensor end-to-end tests share: the test dockerd through the
//! `docker` CLI, the alpine fixture loaded into it, containers removed when
//! dropped, and the sensor's `/metrics` read over plain HTTP.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

/// `docker -H host args…`, stdin closed.
pub fn docker(host: &str, args: &[&str]) -> Output {
    Command::new("docker")
        .arg("-H")
        .arg(host)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("docker runs")
}

/// `out`, asserted successful (`what` and stderr otherwise).
pub fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `docker load`s the alpine fixture unless the engine has it; its
/// reference, or `None` without the fixture.
pub fn alpine(host: &str) -> Option<String> {
    let (root, entry) = caisson_testsupport::fixture("alpine")?;
    let r = entry["docker_ref"].as_str()?.to_string();
    if !docker(host, &["image", "inspect", &r]).status.success() {
        let archive = root.join(entry["docker_archive"].as_str()?);
        ok(
            docker(host, &["load", "-i", &archive.display().to_string()]),
            "docker load",
        );
    }
    Some(r)
}

/// A container removed (`docker rm -f`) when dropped.
pub struct Container {
    pub host: String,
    pub name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&self.host, &["rm", "-f", &self.name]);
    }
}

/// The sensor's `/metrics` page at `addr` (empty while it is not up).
pub fn scrape(addr: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}
