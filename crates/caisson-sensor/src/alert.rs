//! Alerts (one JSON object per line, docs/runtime.md) and the per
//! (rule, container) rate limiter.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use caisson_model::Severity;
use serde::Serialize;

use crate::directory::ContainerInfo;
use crate::event::{Ancestor, ConnEvent, Event, ExecEvent, FileEvent, ResourceEvent};
use crate::rules::Rule;

/// The rule id of the alert the sensor raises about itself when events were
/// dropped.
pub const DROPS_RULE: &str = "sensor-events-dropped";

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// RFC 3339, UTC.
    pub time: String,
    pub rule: String,
    pub severity: Severity,
    pub mitre: Vec<String>,
    pub host: String,
    pub container: Option<AlertContainer>,
    pub process: Option<AlertProcess>,
    pub evidence: serde_json::Value,
    /// Alerts of the same rule and container suppressed by the rate limit
    /// since the previous one that was sent.
    #[serde(skip_serializing_if = "is_zero")]
    pub suppressed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The container part of an alert. Only `id` is certain: the rest comes from
/// the engine and is `null` when it did not know the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertContainer {
    pub id: String,
    pub name: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    pub pod: Option<String>,
    pub namespace: Option<String>,
}

/// The process part of an alert (exec events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertProcess {
    pub pid: u32,
    pub exe: Option<String>,
    pub cmdline: String,
    pub uid: Option<u32>,
    pub tty: Option<u32>,
    pub ancestors: Vec<Ancestor>,
}

impl Alert {
    /// The alert `rule` raises for `event`.
    pub fn new(
        rule: &Rule,
        event: &Event,
        container_id: Option<&str>,
        info: Option<&ContainerInfo>,
        host: &str,
        suppressed: u64,
    ) -> Self {
        let time = event.time().unwrap_or_else(SystemTime::now);
        let (process, evidence) = match event {
            Event::Exec(x) => (Some(process(x)), exec_evidence(x)),
            Event::Conn(c) => (None, conn_evidence(c)),
            Event::File(f) => (Some(file_process(f)), file_evidence(f)),
            Event::Resource(r) => (None, resource_evidence(r)),
        };
        Self {
            time: caisson_report::rfc3339_utc(time),
            rule: rule.id.clone(),
            severity: rule.severity,
            mitre: rule.mitre.clone(),
            host: host.to_string(),
            container: container_id.map(|id| AlertContainer {
                id: id.to_string(),
                name: info.map(|c| c.name.clone()),
                image: info.map(|c| c.image.clone()),
                image_digest: info.and_then(|c| c.image_digest.clone()),
                pod: info.and_then(|c| c.pod.clone()),
                namespace: info.and_then(|c| c.namespace.clone()),
            }),
            process,
            evidence,
            suppressed,
        }
    }
}

fn process(x: &ExecEvent) -> AlertProcess {
    AlertProcess {
        pid: x.pid,
        exe: x.exe.clone(),
        cmdline: x.cmdline.clone(),
        uid: x.uid,
        tty: x.tty,
        ancestors: x.ancestors.clone(),
    }
}

fn exec_evidence(x: &ExecEvent) -> serde_json::Value {
    serde_json::json!({
        "event": "exec",
        "name": x.name,
        "args": x.args,
        "cwd": x.cwd,
        "stdin": x.stdin,
        "stdout": x.stdout,
        "complete": x.complete,
    })
}

fn file_process(f: &FileEvent) -> AlertProcess {
    AlertProcess {
        pid: f.pid,
        exe: f.exe.clone(),
        cmdline: f.name.clone(),
        uid: None,
        tty: None,
        ancestors: Vec::new(),
    }
}

fn file_evidence(f: &FileEvent) -> serde_json::Value {
    serde_json::json!({
        "event": "file",
        "op": f.op,
        "path": f.path,
        "name": f.name,
        "upper_layer": f.upper_layer,
        "allowlisted": f.allowlisted,
        "denied": f.denied,
    })
}

fn resource_evidence(r: &ResourceEvent) -> serde_json::Value {
    serde_json::json!({
        "event": "resource",
        "memory_bytes": r.memory_bytes,
        "memory_limit": r.memory_limit,
        "memory_pct": r.memory_pct,
        "pids": r.pids,
        "pids_limit": r.pids_limit,
        "pids_pct": r.pids_pct,
    })
}

fn conn_evidence(c: &ConnEvent) -> serde_json::Value {
    serde_json::json!({
        "event": "connection",
        "phase": c.phase,
        "proto": c.proto,
        "src": c.src.to_string(),
        "src_port": c.src_port,
        "dst": c.dst.to_string(),
        "dst_port": c.dst_port,
        "bytes_orig": c.bytes_orig,
        "bytes_reply": c.bytes_reply,
    })
}

/// Most (rule, container) pairs tracked; past it, expired pairs are purged,
/// and if none expired the alert is sent unlimited (never silently lost).
pub const RATE_LIMIT_KEYS: usize = 4096;

/// Sends the first alert of a (rule, container) pair, then at most one per
/// window, carrying the number suppressed in between.
#[derive(Debug)]
pub struct RateLimiter {
    window: Duration,
    seen: HashMap<(String, String), (Instant, u64)>,
    /// Alerts suppressed in total.
    pub suppressed: u64,
}

impl RateLimiter {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            seen: HashMap::new(),
            suppressed: 0,
        }
    }

    /// `Some(n)`: send, reporting `n` suppressed; `None`: suppressed.
    pub fn check(&mut self, rule: &str, container: &str, now: Instant) -> Option<u64> {
        let key = (rule.to_string(), container.to_string());
        if let Some((last, count)) = self.seen.get_mut(&key) {
            if now.saturating_duration_since(*last) < self.window {
                *count += 1;
                self.suppressed += 1;
                return None;
            }
            let n = *count;
            *last = now;
            *count = 0;
            return Some(n);
        }
        if self.seen.len() >= RATE_LIMIT_KEYS {
            let window = self.window;
            self.seen
                .retain(|_, (last, _)| now.saturating_duration_since(*last) < window);
            if self.seen.len() >= RATE_LIMIT_KEYS {
                return Some(0);
            }
        }
        self.seen.insert(key, (now, 0));
        Some(0)
    }

    pub fn tracked(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_passes_duplicates_counted_then_reported() {
        let mut r = RateLimiter::new(Duration::from_secs(60));
        let t = Instant::now();
        assert_eq!(r.check("x", "c1", t), Some(0));
        assert_eq!(r.check("x", "c1", t + Duration::from_secs(1)), None);
        assert_eq!(r.check("x", "c1", t + Duration::from_secs(2)), None);
        // Another container or rule is its own pair.
        assert_eq!(r.check("x", "c2", t), Some(0));
        assert_eq!(r.check("y", "c1", t), Some(0));
        assert_eq!(r.check("x", "c1", t + Duration::from_secs(61)), Some(2));
        assert_eq!(r.suppressed, 2);
    }

    #[test]
    fn key_table_is_bounded_and_never_drops_an_alert() {
        let mut r = RateLimiter::new(Duration::from_secs(60));
        let t = Instant::now();
        for i in 0..RATE_LIMIT_KEYS + 100 {
            assert_eq!(r.check("x", &i.to_string(), t), Some(0));
        }
        assert_eq!(r.tracked(), RATE_LIMIT_KEYS);
        // Once the window passed, old pairs are purged to make room.
        assert_eq!(r.check("x", "new", t + Duration::from_secs(61)), Some(0));
        assert_eq!(r.tracked(), 1);
    }
}
