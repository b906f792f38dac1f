//! The decision: would a policy (NetworkPolicy documents or an nftables
//! ruleset as `learn` writes it) let this connection through? `caisson
//! netpol check` asks it for every observed flow; the sensor asks it for
//! every connection the enforced or audited ruleset logged, to raise
//! `network-violation` alerts. One function, so that the two agree.

use std::net::IpAddr;

use crate::error::Error;
use crate::flow::{Flow, Peer};
use crate::{k8s, nft};

/// One connection: its two sides, the addresses they used, the destination
/// port after DNAT and the protocol.
#[derive(Debug, Clone, Copy)]
pub struct Conn<'a> {
    pub src: &'a Peer,
    pub dst: &'a Peer,
    pub src_addr: IpAddr,
    pub dst_addr: IpAddr,
    pub port: u16,
    pub proto: &'a str,
}

/// What a policy does with a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Denied, and why (the rule or policy that decided).
    Deny(String),
}

/// A policy in either format.
#[derive(Debug, Clone)]
pub enum Policy {
    K8s(Vec<k8s::NetworkPolicy>),
    Nft(nft::Ruleset),
}

impl Policy {
    /// Reads either format: a text whose first statement is `table`,
    /// `delete`, `flush` or `add` is an nftables ruleset, anything else
    /// NetworkPolicy YAML.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, Error> {
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let word = first.split_whitespace().next().unwrap_or("");
        if matches!(word, "table" | "delete" | "flush" | "add") {
            Ok(Self::Nft(nft::parse(text, source_name)?))
        } else {
            Ok(Self::K8s(k8s::parse(text, source_name)?))
        }
    }

    pub fn decide(&self, c: &Conn) -> Verdict {
        let reason = match self {
            Self::K8s(p) => k8s::decide(p, c),
            Self::Nft(r) => r.decide(c),
        };
        match reason {
            Some(r) => Verdict::Deny(r),
            None => Verdict::Allow,
        }
    }
}

/// An observed flow the policy would deny, with the reason.
#[derive(Debug, Clone)]
pub struct Denied<'a> {
    pub flow: &'a Flow,
    pub src_addr: IpAddr,
    pub dst_addr: IpAddr,
    pub reason: String,
}

/// The flows the policy would deny: every (source, destination) address
/// pair the flow used is decided; the first denied pair reports the flow.
pub fn denied_flows<'a>(policy: &Policy, flows: &'a [Flow]) -> Vec<Denied<'a>> {
    let mut out = Vec::new();
    for f in flows {
        let srcs = addrs(&f.src, &f.src_addrs);
        let dsts = addrs(&f.dst, &f.dst_addrs);
        'pairs: for s in &srcs {
            for d in &dsts {
                let c = Conn {
                    src: &f.src,
                    dst: &f.dst,
                    src_addr: *s,
                    dst_addr: *d,
                    port: f.port,
                    proto: &f.proto,
                };
                if let Verdict::Deny(reason) = policy.decide(&c) {
                    out.push(Denied {
                        flow: f,
                        src_addr: *s,
                        dst_addr: *d,
                        reason,
                    });
                    break 'pairs;
                }
            }
        }
    }
    out
}

fn addrs(p: &Peer, seen: &std::collections::BTreeSet<IpAddr>) -> Vec<IpAddr> {
    if !seen.is_empty() {
        return seen.iter().copied().collect();
    }
    match p {
        Peer::External(n) => vec![n.network()],
        Peer::Workload(_) => vec![IpAddr::from([0, 0, 0, 0])],
    }
}
