//! Flows: connections aggregated by (source, destination, destination port
//! after DNAT, protocol), with first and last seen, connection count and
//! bytes. The sensor records them in a bounded [`FlowTable`] and writes
//! them as JSON lines ([`Flow`], one per line); `learn` and `check` read
//! them back with [`read_flows`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::workload::Workload;

/// One side of a flow: a workload on this host, or an address outside it
/// (a single address, or a network once [`aggregate_external`] merged
/// many).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    Workload(Workload),
    External(IpNet),
}

impl Peer {
    pub fn workload(&self) -> Option<&Workload> {
        match self {
            Self::Workload(w) => Some(w),
            Self::External(_) => None,
        }
    }

    pub fn display(&self) -> String {
        match self {
            Self::Workload(w) => w.display(),
            Self::External(n) => n.to_string(),
        }
    }
}

/// Most addresses remembered per side of a flow.
pub const MAX_ADDRS: usize = 16;

/// One flow, as written to the flows file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub src: Peer,
    pub dst: Peer,
    /// Destination port after DNAT (conntrack's reply tuple); 0 for
    /// protocols without ports.
    pub port: u16,
    /// `tcp`, `udp`, `sctp`, `icmp`, …
    pub proto: String,
    /// RFC 3339, UTC.
    pub first_seen: String,
    pub last_seen: String,
    /// Connections seen.
    pub count: u64,
    /// Bytes both ways, of the connections that ended while watched and
    /// when conntrack accounting (`net.netfilter.nf_conntrack_acct`) is on.
    pub bytes: u64,
    /// The addresses the two sides used (at most [`MAX_ADDRS`] each): the
    /// nftables ruleset and `check` work on addresses.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub src_addrs: BTreeSet<IpAddr>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub dst_addrs: BTreeSet<IpAddr>,
}

impl Flow {
    pub fn first_seen_secs(&self) -> i64 {
        caisson_report::parse_utc(&self.first_seen).unwrap_or(0)
    }
    pub fn last_seen_secs(&self) -> i64 {
        caisson_report::parse_utc(&self.last_seen).unwrap_or(0)
    }
}

/// One conntrack event, attributed.
#[derive(Debug, Clone)]
pub struct Observation {
    pub src: Peer,
    pub dst: Peer,
    pub src_addr: IpAddr,
    pub dst_addr: IpAddr,
    pub port: u16,
    pub proto: String,
    /// Unix seconds.
    pub time: i64,
    /// A new connection (counted) or a destroyed one (its bytes added).
    pub new: bool,
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    src: Peer,
    dst: Peer,
    port: u16,
    proto: String,
}

#[derive(Debug, Clone)]
struct Stats {
    first: i64,
    last: i64,
    count: u64,
    bytes: u64,
    src_addrs: BTreeSet<IpAddr>,
    dst_addrs: BTreeSet<IpAddr>,
}

/// Flows in memory, at most `capacity` distinct ones: an observation of a
/// new flow beyond that is dropped and counted in [`FlowTable::dropped`].
#[derive(Debug)]
pub struct FlowTable {
    flows: HashMap<Key, Stats>,
    capacity: usize,
    /// Observations lost because the table was full.
    pub dropped: u64,
}

impl FlowTable {
    pub fn new(capacity: usize) -> Self {
        Self {
            flows: HashMap::new(),
            capacity,
            dropped: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Adds one observation; false when it was dropped (table full).
    pub fn record(&mut self, o: Observation) -> bool {
        let key = Key {
            src: o.src,
            dst: o.dst,
            port: o.port,
            proto: o.proto,
        };
        let full = self.flows.len() >= self.capacity;
        let stats = match self.flows.get_mut(&key) {
            Some(s) => s,
            None if full => {
                self.dropped += 1;
                return false;
            }
            None => self.flows.entry(key).or_insert(Stats {
                first: o.time,
                last: o.time,
                // A connection seen only when it ended still happened once.
                count: u64::from(!o.new),
                bytes: 0,
                src_addrs: BTreeSet::new(),
                dst_addrs: BTreeSet::new(),
            }),
        };
        stats.first = stats.first.min(o.time);
        stats.last = stats.last.max(o.time);
        if o.new {
            stats.count = stats.count.saturating_add(1);
        }
        stats.bytes = stats.bytes.saturating_add(o.bytes.unwrap_or(0));
        if stats.src_addrs.len() < MAX_ADDRS {
            stats.src_addrs.insert(o.src_addr);
        }
        if stats.dst_addrs.len() < MAX_ADDRS {
            stats.dst_addrs.insert(o.dst_addr);
        }
        true
    }

    /// The flows, sorted (source, destination, protocol, port).
    pub fn flows(&self) -> Vec<Flow> {
        let mut out: Vec<Flow> = self
            .flows
            .iter()
            .map(|(k, s)| Flow {
                src: k.src.clone(),
                dst: k.dst.clone(),
                port: k.port,
                proto: k.proto.clone(),
                first_seen: caisson_report::rfc3339_utc_secs(s.first),
                last_seen: caisson_report::rfc3339_utc_secs(s.last),
                count: s.count,
                bytes: s.bytes,
                src_addrs: s.src_addrs.clone(),
                dst_addrs: s.dst_addrs.clone(),
            })
            .collect();
        sort(&mut out);
        out
    }
}

fn sort(flows: &mut [Flow]) {
    flows.sort_by(|a, b| {
        (&a.src, &a.dst, &a.proto, a.port).cmp(&(&b.src, &b.dst, &b.proto, b.port))
    });
}

/// Writes flows as JSON lines.
pub fn write_flows(out: &mut dyn Write, flows: &[Flow]) -> std::io::Result<()> {
    for f in flows {
        let line = serde_json::to_string(f).map_err(std::io::Error::other)?;
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Longest line read from a flows file.
pub const MAX_LINE: usize = 64 * 1024;
/// Most flows read from one file.
pub const MAX_FLOWS: usize = 1_000_000;

/// Reads JSON-line flows; blank lines are skipped; a line that is too long,
/// not a flow, or beyond [`MAX_FLOWS`] is an error naming its number.
pub fn read_flows(input: &mut dyn BufRead, source_name: &str) -> Result<Vec<Flow>, Error> {
    let mut flows = Vec::new();
    let mut line = Vec::new();
    let mut n = 0usize;
    let err = |line: usize, reason: String| Error::Flows {
        source_name: source_name.to_string(),
        line,
        reason,
    };
    loop {
        line.clear();
        n += 1;
        let read = std::io::Read::take(&mut *input, (MAX_LINE + 1) as u64)
            .read_until(b'\n', &mut line)
            .map_err(|source| Error::Read {
                source_name: source_name.to_string(),
                source,
            })?;
        if read == 0 {
            break;
        }
        if line.len() > MAX_LINE {
            return Err(err(n, format!("longer than {MAX_LINE} bytes")));
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        if flows.len() >= MAX_FLOWS {
            return Err(err(n, format!("more than {MAX_FLOWS} flows")));
        }
        let flow: Flow = serde_json::from_str(text.trim()).map_err(|e| err(n, e.to_string()))?;
        for t in [&flow.first_seen, &flow.last_seen] {
            if caisson_report::parse_utc(t).is_none() {
                return Err(err(n, format!("{t:?} is not an RFC 3339 UTC time")));
            }
        }
        flows.push(flow);
    }
    Ok(flows)
}

/// What `learn` and `check` look at.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only flows last seen at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only flows with a Kubernetes workload in this namespace on a side.
    pub namespace: Option<String>,
}

impl Filter {
    pub fn keep(&self, f: &Flow) -> bool {
        if self.since.is_some_and(|s| f.last_seen_secs() < s) {
            return false;
        }
        match &self.namespace {
            None => true,
            Some(ns) => [&f.src, &f.dst]
                .iter()
                .filter_map(|p| p.workload())
                .any(|w| w.namespace.as_deref() == Some(ns.as_str())),
        }
    }
}

/// External peers sharing a /24 (IPv4) or /64 (IPv6) with at least
/// `min_addrs` other distinct external addresses become that network; flows
/// that then have the same key are merged.
pub fn aggregate_external(flows: Vec<Flow>, min_addrs: usize) -> Vec<Flow> {
    let mut per_net: BTreeMap<IpNet, BTreeSet<IpAddr>> = BTreeMap::new();
    for f in &flows {
        for p in [&f.src, &f.dst] {
            if let Peer::External(n) = p {
                if is_host(n) {
                    per_net.entry(wide(n.addr())).or_default().insert(n.addr());
                }
            }
        }
    }
    let widen = |p: Peer| match p {
        Peer::External(n) if is_host(&n) => {
            let net = wide(n.addr());
            if per_net.get(&net).is_some_and(|s| s.len() >= min_addrs) {
                Peer::External(net)
            } else {
                Peer::External(n)
            }
        }
        other => other,
    };
    let mut merged: BTreeMap<(Peer, Peer, String, u16), Flow> = BTreeMap::new();
    for mut f in flows {
        f.src = widen(f.src);
        f.dst = widen(f.dst);
        let key = (f.src.clone(), f.dst.clone(), f.proto.clone(), f.port);
        match merged.get_mut(&key) {
            None => {
                merged.insert(key, f);
            }
            Some(m) => {
                if f.first_seen_secs() < m.first_seen_secs() {
                    m.first_seen = f.first_seen.clone();
                }
                if f.last_seen_secs() > m.last_seen_secs() {
                    m.last_seen = f.last_seen.clone();
                }
                m.count = m.count.saturating_add(f.count);
                m.bytes = m.bytes.saturating_add(f.bytes);
                for a in f.src_addrs {
                    if m.src_addrs.len() < MAX_ADDRS {
                        m.src_addrs.insert(a);
                    }
                }
                for a in f.dst_addrs {
                    if m.dst_addrs.len() < MAX_ADDRS {
                        m.dst_addrs.insert(a);
                    }
                }
            }
        }
    }
    merged.into_values().collect()
}

fn is_host(n: &IpNet) -> bool {
    n.prefix_len() == n.max_prefix_len()
}

fn wide(a: IpAddr) -> IpNet {
    let len = if a.is_ipv4() { 24 } else { 64 };
    IpNet::new(a, len)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(a))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::workload::WorkloadKind;

    pub(crate) fn container(name: &str) -> Peer {
        Peer::Workload(Workload {
            kind: WorkloadKind::Container,
            namespace: None,
            name: name.into(),
            labels: BTreeMap::new(),
        })
    }

    fn obs(src: Peer, dst: Peer, dst_addr: &str, port: u16, time: i64, new: bool) -> Observation {
        Observation {
            src,
            dst,
            src_addr: "172.18.0.2".parse().unwrap(),
            dst_addr: dst_addr.parse().unwrap(),
            port,
            proto: "tcp".into(),
            time,
            new,
            bytes: (!new).then_some(100),
        }
    }

    #[test]
    fn new_and_destroy_events_become_one_flow_with_counts_and_bytes() {
        let mut t = FlowTable::new(10);
        let (web, api) = (container("web"), container("api"));
        t.record(obs(web.clone(), api.clone(), "172.18.0.3", 8080, 100, true));
        t.record(obs(
            web.clone(),
            api.clone(),
            "172.18.0.3",
            8080,
            101,
            false,
        ));
        t.record(obs(web.clone(), api.clone(), "172.18.0.3", 8080, 105, true));
        // A connection seen only at its end (begun before the sensor).
        t.record(obs(web.clone(), api.clone(), "172.18.0.3", 9090, 90, false));
        let flows = t.flows();
        assert_eq!(flows.len(), 2);
        let f = &flows[0];
        assert_eq!((f.port, f.count, f.bytes), (8080, 2, 100));
        assert_eq!(f.first_seen, "1970-01-01T00:01:40Z");
        assert_eq!(f.last_seen, "1970-01-01T00:01:45Z");
        assert_eq!((flows[1].port, flows[1].count), (9090, 1));
    }

    #[test]
    fn a_full_table_drops_new_flows_and_counts_them_but_updates_known_ones() {
        let mut t = FlowTable::new(3);
        let web = container("web");
        for port in 0..1000u16 {
            t.record(obs(
                web.clone(),
                container("db"),
                "172.18.0.4",
                port,
                1,
                true,
            ));
        }
        assert_eq!(t.len(), 3);
        assert_eq!(t.dropped, 997);
        assert!(t.record(obs(web.clone(), container("db"), "172.18.0.4", 0, 2, true)));
        assert_eq!(t.flows()[0].count, 2);
    }

    #[test]
    fn flows_round_trip_through_json_lines_and_bad_lines_are_named() {
        let mut t = FlowTable::new(10);
        t.record(obs(
            container("web"),
            container("api"),
            "172.18.0.3",
            80,
            5,
            true,
        ));
        let mut buf = Vec::new();
        write_flows(&mut buf, &t.flows()).unwrap();
        let back = read_flows(&mut buf.as_slice(), "mem").unwrap();
        assert_eq!(back, t.flows());
        let mut bad = buf.clone();
        bad.extend_from_slice(b"\n{\"src\": 1}\n");
        let e = read_flows(&mut bad.as_slice(), "f.jsonl")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("flows f.jsonl, line 3:"), "{e}");
        let long = vec![b'x'; MAX_LINE + 10];
        let e = read_flows(&mut long.as_slice(), "f")
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than"), "{e}");
    }

    #[test]
    fn many_external_addresses_in_one_slash24_become_the_network() {
        let mut t = FlowTable::new(100);
        for i in 1..=5 {
            let a = format!("203.0.113.{i}");
            t.record(obs(
                container("api"),
                Peer::External(IpNet::from(a.parse::<IpAddr>().unwrap())),
                &a,
                443,
                i,
                true,
            ));
        }
        t.record(obs(
            container("api"),
            Peer::External("198.51.100.7/32".parse().unwrap()),
            "198.51.100.7",
            443,
            9,
            true,
        ));
        let flows = aggregate_external(t.flows(), 4);
        assert_eq!(flows.len(), 2, "{flows:#?}");
        let net = flows
            .iter()
            .find(|f| f.dst == Peer::External("203.0.113.0/24".parse().unwrap()))
            .unwrap();
        assert_eq!((net.count, net.dst_addrs.len()), (5, 5));
        assert!(flows
            .iter()
            .any(|f| f.dst == Peer::External("198.51.100.7/32".parse().unwrap())));
    }
}
