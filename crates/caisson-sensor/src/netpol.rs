//! Network segmentation in the sensor (`caisson sensor run --flows FILE
//! --netpol POLICY`): connections aggregated into flows (`caisson-netpol`'s
//! bounded `FlowTable`, written as JSON lines every few seconds and at
//! exit), and `network-violation` alerts for the connections a policy
//! denies, decided by `caisson_netpol::Policy::decide` — the decision
//! `caisson netpol check` makes. Dropped connections of an enforcing
//! ruleset reach the sensor as logged packets (NFLOG, phase `dropped`),
//! audited ones as logged packets and as conntrack's new connections.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use caisson_model::Severity;
use caisson_netpol::check::{Conn, Policy, Verdict};
use caisson_netpol::flow::{write_flows, FlowTable, Observation, Peer};
use caisson_netpol::Workload;

use crate::alert::{Alert, AlertContainer, RateLimiter};
use crate::directory::ContainerInfo;
use crate::event::{ConnEvent, ConnPhase};
use crate::pipeline::AlertSink;

/// The rule id of the alerts about denied connections.
pub const VIOLATION_RULE: &str = "network-violation";
/// Distinct flows kept in memory by default.
pub const DEFAULT_FLOW_CAPACITY: usize = 10_000;

/// Where flows go.
pub struct FlowFile {
    pub table: FlowTable,
    pub path: PathBuf,
    pub interval: Duration,
    next_write: Option<Instant>,
}

impl FlowFile {
    pub fn new(path: PathBuf, capacity: usize, interval: Duration) -> Self {
        Self {
            table: FlowTable::new(capacity),
            path,
            interval,
            next_write: None,
        }
    }

    /// Rewrites the file with every flow (a temporary file renamed over
    /// it: readers never see half a file).
    pub fn write(&self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut out = std::io::BufWriter::new(fs_err::File::create(&tmp)?);
        write_flows(&mut out, &self.table.flows())?;
        std::io::Write::flush(&mut out)?;
        drop(out);
        fs_err::rename(&tmp, &self.path)
    }
}

/// Flows and violations, fed by the engine with every connection event and
/// the containers of its two ends.
pub struct Netpol {
    pub flows: Option<FlowFile>,
    pub policy: Option<Policy>,
    limiter: RateLimiter,
    pub violations: u64,
    warned_full: bool,
}

fn peer(info: Option<&ContainerInfo>, addr: IpAddr) -> Peer {
    match info {
        Some(c) => Peer::Workload(Workload::from_container(&c.name, &c.labels)),
        None => Peer::External(addr.into()),
    }
}

fn unix_secs(t: Option<SystemTime>) -> i64 {
    t.unwrap_or_else(SystemTime::now)
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Netpol {
    pub fn new(flows: Option<FlowFile>, policy: Option<Policy>, rate_window: Duration) -> Self {
        Self {
            flows,
            policy,
            limiter: RateLimiter::new(rate_window),
            violations: 0,
            warned_full: false,
        }
    }

    /// One connection event; `src`/`dst` are the containers of its source
    /// and of its real (post-DNAT) destination.
    pub fn observe(
        &mut self,
        c: &ConnEvent,
        src: Option<&ContainerInfo>,
        dst: Option<&ContainerInfo>,
        host: &str,
        now: Instant,
        sink: &mut dyn AlertSink,
    ) {
        if src.is_none() && dst.is_none() {
            return; // the host's own traffic
        }
        let (dst_addr, port) = c.real_dst();
        let src_peer = peer(src, c.src);
        let dst_peer = peer(dst, dst_addr);
        if let Some(f) = &mut self.flows {
            if matches!(c.phase, ConnPhase::New | ConnPhase::Destroy) {
                let ok = f.table.record(Observation {
                    src: src_peer.clone(),
                    dst: dst_peer.clone(),
                    src_addr: c.src,
                    dst_addr,
                    port,
                    proto: c.proto.to_string(),
                    time: unix_secs(c.time),
                    new: c.phase == ConnPhase::New,
                    bytes: match (c.bytes_orig, c.bytes_reply) {
                        (None, None) => None,
                        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
                    },
                });
                if !ok && !self.warned_full {
                    self.warned_full = true;
                    tracing::warn!(
                        "flow table full ({} flows): new flows are dropped and counted",
                        f.table.len()
                    );
                }
            }
            if f.next_write.is_none_or(|t| now >= t) {
                f.next_write = Some(now + f.interval);
                if let Err(e) = f.write() {
                    tracing::error!("writing flows: {e}");
                }
            }
        }
        let Some(policy) = &self.policy else {
            return;
        };
        let conn = Conn {
            src: &src_peer,
            dst: &dst_peer,
            src_addr: c.src,
            dst_addr,
            port,
            proto: c.proto,
        };
        let reason = match (c.phase, policy.decide(&conn)) {
            (ConnPhase::Destroy, _) | (ConnPhase::New, Verdict::Allow) => return,
            (_, Verdict::Deny(r)) => r,
            // Logged by the applied ruleset although the policy file allows
            // it: the two differ, say so rather than stay silent.
            (_, Verdict::Allow) => "logged by the applied ruleset, allowed by the policy file (they differ: re-apply it)".into(),
        };
        let enforcement = match c.phase {
            ConnPhase::Dropped => "dropped",
            ConnPhase::Audited => "audit",
            _ => "observed",
        };
        let key = format!(
            "{}>{}:{}/{}",
            src_peer.display(),
            dst_peer.display(),
            port,
            c.proto
        );
        let Some(suppressed) = self.limiter.check(VIOLATION_RULE, &key, now) else {
            return;
        };
        self.violations += 1;
        let container = src.or(dst).map(|i| AlertContainer {
            id: i.id.clone(),
            name: Some(i.name.clone()),
            image: Some(i.image.clone()),
            image_digest: i.image_digest.clone(),
            pod: i.pod.clone(),
            namespace: i.namespace.clone(),
        });
        sink.send(&Alert {
            time: caisson_report::rfc3339_utc(c.time.unwrap_or_else(SystemTime::now)),
            rule: VIOLATION_RULE.to_string(),
            severity: if c.phase == ConnPhase::Dropped {
                Severity::Medium
            } else {
                Severity::High
            },
            mitre: vec!["T1021".into()],
            host: host.to_string(),
            container,
            process: None,
            evidence: serde_json::json!({
                "event": "conn",
                "phase": c.phase,
                "enforcement": enforcement,
                "proto": c.proto,
                "src": c.src.to_string(),
                "dst": dst_addr.to_string(),
                "dst_port": port,
                "src_workload": src_peer.display(),
                "dst_workload": dst_peer.display(),
                "reason": reason,
            }),
            suppressed,
        });
    }

    /// Writes the flows file one last time.
    pub fn finish(&mut self) -> std::io::Result<()> {
        match &self.flows {
            Some(f) => f.write(),
            None => Ok(()),
        }
    }
}
