//! Conntrack events (`NFNLGRP_CONNTRACK_NEW` / `_DESTROY`): the original
//! direction's addresses, ports and protocol, the reply direction's source
//! (the real destination after DNAT), decoded by
//! `netlink-packet-netfilter`, plus the byte and packet counters
//! (`CTA_COUNTERS_ORIG` / `_REPLY`, present when `nf_conntrack_acct` is on),
//! which that crate leaves as raw attributes.
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::IpAddr;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload, Nla};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoTuple, Protocol, Tuple,
};
use netlink_packet_netfilter::{NetfilterMessage, NetfilterMessageInner};

use super::{read_u16_ne, read_u64_be, split_messages};

/// `NFNLGRP_CONNTRACK_NEW` as a group number.
pub const NFNLGRP_CONNTRACK_NEW: u32 = 1;
/// `NFNLGRP_CONNTRACK_DESTROY` as a group number.
pub const NFNLGRP_CONNTRACK_DESTROY: u32 = 3;

const CTA_COUNTERS_ORIG: u16 = 9;
const CTA_COUNTERS_REPLY: u16 = 10;
const CTA_COUNTERS_PACKETS: u16 = 1;
const CTA_COUNTERS_BYTES: u16 = 2;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// New or destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtPhase {
    New,
    Destroy,
}

/// One connection as conntrack saw it, in the original direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtEvent {
    pub phase: CtPhase,
    /// IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6, 132 sctp …).
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// Bytes sent by the originator / by the responder (accounting only).
    pub bytes_orig: Option<u64>,
    pub bytes_reply: Option<u64>,
    /// Source of the reply tuple: who really answers (after DNAT: a
    /// published port's container, a Service's pod).
    pub reply_src: Option<IpAddr>,
    pub reply_src_port: Option<u16>,
}

/// Decodes the conntrack events in a datagram; messages that are not
/// new/destroy conntrack messages with an original tuple are skipped and
/// counted in the returned number.
pub fn decode(buf: &[u8], mut each: impl FnMut(CtEvent)) -> usize {
    let mut skipped = 0usize;
    let truncated = split_messages(buf, |m| match decode_one(m.whole) {
        Some(ev) => each(ev),
        None => skipped += 1,
    });
    skipped + usize::from(truncated)
}

fn decode_one(whole: &[u8]) -> Option<CtEvent> {
    let msg = NetlinkMessage::<NetfilterMessage>::deserialize(whole).ok()?;
    let NetlinkPayload::InnerMessage(nf) = msg.payload else {
        return None;
    };
    let (phase, attrs) = match nf.inner {
        NetfilterMessageInner::Conntrack(ConntrackMessage::New(a)) => (CtPhase::New, a),
        NetfilterMessageInner::Conntrack(ConntrackMessage::Delete(a)) => (CtPhase::Destroy, a),
        _ => return None,
    };
    let mut src = None;
    let mut dst = None;
    let mut proto = None;
    let mut sport = 0;
    let mut dport = 0;
    let mut bytes_orig = None;
    let mut bytes_reply = None;
    let mut reply_src = None;
    let mut reply_src_port = None;
    for a in &attrs {
        match a {
            ConntrackAttribute::CtaTupleReply(tuples) => {
                for t in tuples {
                    match t {
                        Tuple::Ip(ips) => {
                            for ip in ips {
                                if let IPTuple::SourceAddress(a) = ip {
                                    reply_src = Some(*a);
                                }
                            }
                        }
                        Tuple::Proto(ps) => {
                            for p in ps {
                                if let ProtoTuple::SourcePort(x) = p {
                                    reply_src_port = Some(*x);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            ConntrackAttribute::CtaTupleOrig(tuples) => {
                for t in tuples {
                    match t {
                        Tuple::Ip(ips) => {
                            for ip in ips {
                                match ip {
                                    IPTuple::SourceAddress(a) => src = Some(*a),
                                    IPTuple::DestinationAddress(a) => dst = Some(*a),
                                    _ => {}
                                }
                            }
                        }
                        Tuple::Proto(ps) => {
                            for p in ps {
                                match p {
                                    ProtoTuple::Protocol(p) => proto = Some(proto_number(*p)),
                                    ProtoTuple::SourcePort(x) => sport = *x,
                                    ProtoTuple::DestinationPort(x) => dport = *x,
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            ConntrackAttribute::Other(nla) => {
                let kind = nla.kind() & NLA_TYPE_MASK;
                if kind == CTA_COUNTERS_ORIG || kind == CTA_COUNTERS_REPLY {
                    let mut value = vec![0u8; nla.value_len().min(256)];
                    if value.len() == nla.value_len() {
                        nla.emit_value(&mut value);
                        let bytes = counter_bytes(&value);
                        if kind == CTA_COUNTERS_ORIG {
                            bytes_orig = bytes;
                        } else {
                            bytes_reply = bytes;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some(CtEvent {
        phase,
        proto: proto?,
        src: src?,
        dst: dst?,
        src_port: sport,
        dst_port: dport,
        bytes_orig,
        bytes_reply,
        reply_src,
        reply_src_port,
    })
}

fn proto_number(p: Protocol) -> u8 {
    u8::from(p)
}

/// The `CTA_COUNTERS_BYTES` value inside a `CTA_COUNTERS_*` nest.
pub(crate) fn counter_bytes(nest: &[u8]) -> Option<u64> {
    let mut rest = nest;
    for _ in 0..16 {
        let len = usize::from(read_u16_ne(rest, 0)?);
        let kind = read_u16_ne(rest, 2)? & NLA_TYPE_MASK;
        if len < 4 {
            return None;
        }
        let value = rest.get(4..len)?;
        if kind == CTA_COUNTERS_BYTES && value.len() == 8 {
            return read_u64_be(value, 0);
        }
        let _ = CTA_COUNTERS_PACKETS;
        rest = rest.get((len + 3) & !3..)?;
    }
    None
}

/// A protocol number as the rule language's `conn.proto` names it.
pub fn proto_name(proto: u8) -> &'static str {
    match proto {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        58 => "icmpv6",
        132 => "sctp",
        136 => "udplite",
        33 => "dccp",
        47 => "gre",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(value);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    /// A conntrack NEW event as the kernel sends it for a TCP connection
    /// 172.17.0.2:40000 → 169.254.169.254:80, DNATed to 10.9.0.5:8080,
    /// with accounting on.
    pub(crate) fn new_event() -> Vec<u8> {
        const NESTED: u16 = 0x8000;
        let ip = [
            nla(1, &[172, 17, 0, 2]),      // CTA_IP_V4_SRC
            nla(2, &[169, 254, 169, 254]), // CTA_IP_V4_DST
        ]
        .concat();
        let proto = [
            nla(1, &[6]),                    // CTA_PROTO_NUM
            nla(2, &40000u16.to_be_bytes()), // CTA_PROTO_SRC_PORT
            nla(3, &80u16.to_be_bytes()),    // CTA_PROTO_DST_PORT
        ]
        .concat();
        let tuple = [nla(1 | NESTED, &ip), nla(2 | NESTED, &proto)].concat();
        // The reply tuple after DNAT: 10.9.0.5:8080 answers 172.17.0.2:40000.
        let reply_ip = [nla(1, &[10, 9, 0, 5]), nla(2, &[172, 17, 0, 2])].concat();
        let reply_proto = [
            nla(1, &[6]),
            nla(2, &8080u16.to_be_bytes()),
            nla(3, &40000u16.to_be_bytes()),
        ]
        .concat();
        let reply = [nla(1 | NESTED, &reply_ip), nla(2 | NESTED, &reply_proto)].concat();
        let counters = [nla(1, &3u64.to_be_bytes()), nla(2, &180u64.to_be_bytes())].concat();
        let attrs = [
            nla(1 | NESTED, &tuple),
            nla(2 | NESTED, &reply),
            nla(9 | NESTED, &counters),
        ]
        .concat();
        let mut body = vec![2u8, 0, 0, 0]; // nfgenmsg: AF_INET, v0, res_id 0
        body.extend(attrs);
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&(1u16 << 8).to_ne_bytes()); // CTNETLINK | IPCTNL_MSG_CT_NEW
        m.extend_from_slice(&0x0600u16.to_ne_bytes()); // NLM_F_CREATE|NLM_F_EXCL
        m.extend_from_slice(&[0u8; 8]);
        m.extend(body);
        m
    }

    #[test]
    fn decodes_new_tcp_event_with_counters() {
        let mut got = Vec::new();
        assert_eq!(decode(&new_event(), |e| got.push(e)), 0);
        assert_eq!(
            got,
            vec![CtEvent {
                phase: CtPhase::New,
                proto: 6,
                src: "172.17.0.2".parse().unwrap(),
                dst: "169.254.169.254".parse().unwrap(),
                src_port: 40000,
                dst_port: 80,
                bytes_orig: Some(180),
                bytes_reply: None,
                reply_src: Some("10.9.0.5".parse().unwrap()),
                reply_src_port: Some(8080),
            }]
        );
    }

    #[test]
    fn truncated_events_are_skipped() {
        let ev = new_event();
        for cut in [17, 30, ev.len() - 5] {
            let mut m = ev[..cut].to_vec();
            m[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            let mut got = 0;
            decode(&m, |_| got += 1);
            assert_eq!(got, 0, "cut at {cut}");
        }
    }
}
