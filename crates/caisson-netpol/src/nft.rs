//! nftables for a Docker host: one table (`inet caisson`) with a set of
//! addresses per workload, a `forward` chain (bridged container traffic
//! passes it when `br_netfilter` is on, routed traffic always) that accepts
//! established connections and exactly the learned flows, then counts, logs
//! (`log prefix "caisson-netpol drop " group 7`: the sensor reads the group)
//! and drops any other new connection from or to a workload it knows.
//! Traffic of addresses the ruleset does not know is left alone.
//!
//! [`Ruleset`] is the parsed form (the subset of nft syntax `learn` writes;
//! `nft_parse.rs`) that `check` and the sensor evaluate, first matching rule
//! wins, as nft does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::check::Conn;
use crate::flow::{Flow, Peer};
use crate::workload::Workload;

pub use crate::nft_parse::parse;

pub const TABLE: &str = "caisson";
pub const DROP_PREFIX: &str = "caisson-netpol drop ";
pub const AUDIT_PREFIX: &str = "caisson-netpol audit ";
/// The NFLOG group the log statements send to.
pub const LOG_GROUP: u16 = 7;
/// The named counter of dropped (or, audited, would-be dropped) connections.
pub const COUNTER: &str = "violations";

/// A parsed ruleset.
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    pub sets: BTreeMap<String, AddrSet>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Default)]
pub struct AddrSet {
    pub comment: Option<String>,
    pub elements: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrMatch {
    Set(String),
    Nets(Vec<IpNet>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleVerdict {
    Accept,
    Drop,
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// 1-based line in the file.
    pub line: usize,
    /// `ip` (4) or `ip6` (6) when the rule matches addresses or protocols of
    /// one family.
    pub family: Option<u8>,
    pub src: Option<AddrMatch>,
    pub dst: Option<AddrMatch>,
    pub proto: Option<String>,
    /// Inclusive ranges.
    pub dports: Option<Vec<(u16, u16)>>,
    /// Matches only packets of established/related connections (`ct state`).
    pub ct_state: bool,
    pub verdict: Option<RuleVerdict>,
    pub log_prefix: Option<String>,
    pub comment: Option<String>,
}

impl Ruleset {
    fn addr_in(&self, m: &AddrMatch, a: IpAddr) -> bool {
        match m {
            AddrMatch::Set(name) => self
                .sets
                .get(name)
                .is_some_and(|s| s.elements.iter().any(|n| n.contains(&a))),
            AddrMatch::Nets(v) => v.iter().any(|n| n.contains(&a)),
        }
    }

    fn matches(&self, r: &Rule, c: &Conn) -> bool {
        if r.ct_state {
            return false; // a new connection is neither established nor related
        }
        if let Some(f) = r.family {
            if (f == 4) != c.src_addr.is_ipv4() {
                return false;
            }
        }
        r.src.as_ref().is_none_or(|m| self.addr_in(m, c.src_addr))
            && r.dst.as_ref().is_none_or(|m| self.addr_in(m, c.dst_addr))
            && r.proto.as_deref().is_none_or(|p| p == c.proto)
            && r.dports
                .as_ref()
                .is_none_or(|v| v.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c.port)))
    }

    /// Why the first matching rule drops this new connection; `None` when
    /// it is accepted (by a rule, or by the chain's `policy accept`).
    pub fn decide(&self, c: &Conn) -> Option<String> {
        let r = self
            .rules
            .iter()
            .find(|r| r.verdict.is_some() && self.matches(r, c))?;
        (r.verdict == Some(RuleVerdict::Drop)).then(|| {
            format!(
                "dropped by the rule on line {}{}",
                r.line,
                r.comment
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            )
        })
    }

    /// The same ruleset in audit mode: each dropping rule that logs with
    /// [`DROP_PREFIX`] accepts instead and logs with [`AUDIT_PREFIX`]
    /// (counted as before). `text` is the file this was parsed from.
    pub fn audit_text(&self, text: &str) -> String {
        let lines: BTreeSet<usize> = self
            .rules
            .iter()
            .filter(|r| {
                r.verdict == Some(RuleVerdict::Drop) && r.log_prefix.as_deref() == Some(DROP_PREFIX)
            })
            .map(|r| r.line)
            .collect();
        let mut out = String::new();
        for (i, l) in text.lines().enumerate() {
            if lines.contains(&(i + 1)) {
                let l = l.replace(
                    &format!("\"{DROP_PREFIX}\""),
                    &format!("\"{AUDIT_PREFIX}\""),
                );
                let l = match l.rfind(" drop") {
                    Some(at) => format!(
                        "{} accept{}",
                        l.get(..at).unwrap_or_default(),
                        l.get(at + 5..).unwrap_or_default()
                    ),
                    None => l,
                };
                out.push_str(&l);
            } else {
                out.push_str(l);
            }
            out.push('\n');
        }
        out
    }
}

fn set_name(i: usize, w: &Workload, v6: bool) -> String {
    let clean: String = w
        .display()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    format!("w{i}_{clean}{}", if v6 { "_6" } else { "" })
}

fn kind_name(w: &Workload) -> &'static str {
    match w.kind {
        crate::workload::WorkloadKind::K8s => "k8s",
        crate::workload::WorkloadKind::Compose => "compose",
        crate::workload::WorkloadKind::Container => "container",
    }
}

fn quote(s: &str) -> String {
    // nft strings cannot hold a double quote; names come from containers.
    s.chars()
        .filter(|c| *c != '"' && !c.is_control())
        .take(120)
        .collect()
}

/// (source, destination, protocol, IPv6) of one accept rule.
type RuleKey<'a> = (&'a Peer, &'a Peer, &'a str, bool);

/// The ruleset for these flows. Flows between two workloads need their
/// addresses; those without (never seen with an address) are left out.
pub fn generate(flows: &[Flow]) -> String {
    let mut workloads: BTreeMap<&Workload, (BTreeSet<IpAddr>, BTreeSet<IpAddr>)> = BTreeMap::new();
    for f in flows {
        for (p, addrs) in [(&f.src, &f.src_addrs), (&f.dst, &f.dst_addrs)] {
            if let Some(w) = p.workload() {
                let e = workloads.entry(w).or_default();
                for a in addrs {
                    if a.is_ipv4() {
                        e.0.insert(*a);
                    } else {
                        e.1.insert(*a);
                    }
                }
            }
        }
    }
    let names: BTreeMap<&Workload, usize> = workloads
        .keys()
        .enumerate()
        .map(|(i, w)| (*w, i + 1))
        .collect();
    let (first, last) = flows.iter().fold((i64::MAX, i64::MIN), |(a, b), f| {
        (a.min(f.first_seen_secs()), b.max(f.last_seen_secs()))
    });
    let mut t = String::new();
    let _ = writeln!(t, "#!/usr/sbin/nft -f");
    let _ = writeln!(
        t,
        "# nftables ruleset learned by `caisson netpol learn` from {} flows observed {} to {}.",
        flows.len(),
        caisson_report::rfc3339_utc_secs(if first == i64::MAX { 0 } else { first }),
        caisson_report::rfc3339_utc_secs(if last == i64::MIN { 0 } else { last }),
    );
    let _ = writeln!(
        t,
        "# Each accept rule is one learned flow; any other new connection from or to a"
    );
    let _ = writeln!(t, "# workload below is counted (counter {COUNTER}), logged to NFLOG group {LOG_GROUP} and dropped.");
    let _ = writeln!(t, "# Review: `caisson netpol check THIS_FILE --flows FLOWS`; try: `caisson netpol apply --nftables THIS_FILE --audit`.");
    let _ = writeln!(t, "table inet {TABLE}");
    let _ = writeln!(t, "delete table inet {TABLE}");
    let _ = writeln!(t, "table inet {TABLE} {{");
    let _ = writeln!(t, "\tcounter {COUNTER} {{\n\t}}");
    let mut all4 = BTreeSet::new();
    let mut all6 = BTreeSet::new();
    for (w, (v4, v6)) in &workloads {
        let i = names.get(w).copied().unwrap_or(0);
        for (v6fam, addrs) in [(false, v4), (true, v6)] {
            if addrs.is_empty() {
                continue;
            }
            let ty = if v6fam { "ipv6_addr" } else { "ipv4_addr" };
            let elems: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                t,
                "\tset {} {{\n\t\ttype {ty}\n\t\tcomment \"{} {}\"\n\t\telements = {{ {} }}\n\t}}",
                set_name(i, w, v6fam),
                kind_name(w),
                quote(&w.display()),
                elems.join(", ")
            );
        }
        all4.extend(v4.iter().copied());
        all6.extend(v6.iter().copied());
    }
    for (name, ty, all) in [
        ("managed", "ipv4_addr", &all4),
        ("managed_6", "ipv6_addr", &all6),
    ] {
        if !all.is_empty() {
            let elems: Vec<String> = all.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                t,
                "\tset {name} {{\n\t\ttype {ty}\n\t\tcomment \"every workload address: traffic of others is left alone\"\n\t\telements = {{ {} }}\n\t}}",
                elems.join(", ")
            );
        }
    }
    let _ = writeln!(t, "\tchain forward {{");
    let _ = writeln!(
        t,
        "\t\ttype filter hook forward priority filter - 1; policy accept;"
    );
    let _ = writeln!(t, "\t\tct state established,related accept");
    // One rule per (source, destination, protocol, family) with its ports.
    let mut grouped: BTreeMap<RuleKey<'_>, (BTreeSet<u16>, u64)> = BTreeMap::new();
    for f in flows {
        for v6 in [false, true] {
            let e = grouped
                .entry((&f.src, &f.dst, f.proto.as_str(), v6))
                .or_default();
            e.0.insert(f.port);
            e.1 = e.1.saturating_add(f.count);
        }
    }
    let side = |p: &Peer, v6: bool| -> Option<String> {
        match p {
            Peer::Workload(w) => {
                let (v4s, v6s) = workloads.get(w)?;
                let has = if v6 { !v6s.is_empty() } else { !v4s.is_empty() };
                has.then(|| format!("@{}", set_name(names.get(w).copied().unwrap_or(0), w, v6)))
            }
            Peer::External(n) => (n.addr().is_ipv6() == v6).then(|| n.to_string()),
        }
    };
    for ((src, dst, proto, v6), (ports, count)) in &grouped {
        let (Some(s), Some(d)) = (side(src, *v6), side(dst, *v6)) else {
            continue;
        };
        let fam = if *v6 { "ip6" } else { "ip" };
        let l4 = match *proto {
            "tcp" | "udp" | "sctp" => {
                let p: Vec<String> = ports.iter().map(ToString::to_string).collect();
                format!("{proto} dport {{ {} }}", p.join(", "))
            }
            "icmp" if !v6 => "ip protocol icmp".to_string(),
            "icmpv6" if *v6 => "ip6 nexthdr icmpv6".to_string(),
            "icmp" | "icmpv6" => continue,
            other => format!("meta l4proto {other}"),
        };
        let _ = writeln!(
            t,
            "\t\t{fam} saddr {s} {fam} daddr {d} {l4} counter accept comment \"{} -> {} ({count} connections)\"",
            quote(&src.display()),
            quote(&dst.display())
        );
    }
    for (fam, set, all) in [("ip", "managed", &all4), ("ip6", "managed_6", &all6)] {
        if all.is_empty() {
            continue;
        }
        for dir in ["saddr", "daddr"] {
            let _ = writeln!(
                t,
                "\t\t{fam} {dir} @{set} counter name \"{COUNTER}\" log prefix \"{DROP_PREFIX}\" group {LOG_GROUP} drop"
            );
        }
    }
    let _ = writeln!(t, "\t}}");
    let _ = writeln!(t, "}}");
    t
}
