//! NFLOG packets (`nfnetlink_log`, what nft's `log group N` sends): the
//! log prefix and the first bytes of the packet, decoded by
//! `netlink-packet-netfilter`; the IPv4/IPv6 and TCP/UDP/SCTP headers of the
//! packet by hand (fixed offsets, every read checked).
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::IpAddr;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_netfilter::nflog::{PacketNla, ULogMessage};
use netlink_packet_netfilter::{NetfilterMessage, NetfilterMessageInner};

use super::split_messages;

/// One logged packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedPacket {
    /// The rule's `log prefix` (empty without one).
    pub prefix: String,
    /// IP protocol number.
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

/// Decodes the logged packets in a datagram; messages that are not NFLOG
/// packets with a readable IP header are skipped and counted.
pub fn decode(buf: &[u8], mut each: impl FnMut(LoggedPacket)) -> usize {
    let mut skipped = 0usize;
    let truncated = split_messages(buf, |m| match decode_one(m.whole) {
        Some(p) => each(p),
        None => skipped += 1,
    });
    skipped + usize::from(truncated)
}

fn decode_one(whole: &[u8]) -> Option<LoggedPacket> {
    let msg = NetlinkMessage::<NetfilterMessage>::deserialize(whole).ok()?;
    let NetlinkPayload::InnerMessage(nf) = msg.payload else {
        return None;
    };
    let NetfilterMessageInner::ULog(ULogMessage::Packet(nlas)) = nf.inner else {
        return None;
    };
    let mut prefix = String::new();
    let mut payload = None;
    for n in nlas {
        match n {
            PacketNla::Prefix(p) => prefix = p.to_string_lossy().into_owned(),
            PacketNla::Payload(p) => payload = Some(p),
            _ => {}
        }
    }
    let (proto, src, dst, l4) = ip_header(payload.as_deref()?)?;
    let (src_port, dst_port) = match proto {
        6 | 17 | 132 | 136 => (be16(l4, 0)?, be16(l4, 2)?),
        _ => (0, 0),
    };
    Some(LoggedPacket {
        prefix,
        proto,
        src,
        dst,
        src_port,
        dst_port,
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// (protocol, source, destination, transport header) of an IPv4 or IPv6
/// packet; IPv6 extension headers are not followed (the next header is
/// reported as the protocol).
pub fn ip_header(p: &[u8]) -> Option<(u8, IpAddr, IpAddr, &[u8])> {
    match p.first()? >> 4 {
        4 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            if ihl < 20 {
                return None;
            }
            let src: [u8; 4] = p.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            Some((*p.get(9)?, src.into(), dst.into(), p.get(ihl..)?))
        }
        6 => {
            let src: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            Some((*p.get(6)?, src.into(), dst.into(), p.get(40..)?))
        }
        _ => None,
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

    /// An NFLOG packet message as the kernel sends it for a TCP SYN
    /// 172.18.0.2:41000 → 172.18.0.4:5432 logged with a prefix.
    fn logged_syn() -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0];
        ip.extend_from_slice(&[172, 18, 0, 2, 172, 18, 0, 4]);
        ip.extend_from_slice(&41000u16.to_be_bytes());
        ip.extend_from_slice(&5432u16.to_be_bytes());
        ip.extend_from_slice(&[0; 16]);
        let attrs = [
            nla(1, &[0x08, 0x00, 2, 0]),        // NFULA_PACKET_HDR
            nla(10, b"caisson-netpol drop \0"), // NFULA_PREFIX
            nla(9, &ip),                        // NFULA_PAYLOAD
        ]
        .concat();
        let mut body = vec![2u8, 0, 0, 7]; // nfgenmsg: AF_INET, v0, group 7
        body.extend(attrs);
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&(4u16 << 8).to_ne_bytes()); // NFNL_SUBSYS_ULOG | NFULNL_MSG_PACKET
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&[0u8; 8]);
        m.extend(body);
        m
    }

    #[test]
    fn decodes_a_logged_tcp_syn() {
        let mut got = Vec::new();
        assert_eq!(decode(&logged_syn(), |p| got.push(p)), 0);
        assert_eq!(
            got,
            vec![LoggedPacket {
                prefix: "caisson-netpol drop ".into(),
                proto: 6,
                src: "172.18.0.2".parse().unwrap(),
                dst: "172.18.0.4".parse().unwrap(),
                src_port: 41000,
                dst_port: 5432,
            }]
        );
    }

    #[test]
    fn truncated_packets_are_skipped_not_misread() {
        let m = logged_syn();
        for cut in 17..m.len() {
            let mut t = m[..cut].to_vec();
            t[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            decode(&t, |p| {
                // A packet cut inside the ports has no ports to report.
                assert_eq!((p.src_port, p.dst_port), (41000, 5432), "cut at {cut}");
            });
        }
        assert!(ip_header(&[0x41; 40]).is_none(), "IHL below 5");
        assert!(ip_header(&[0x60; 39]).is_none(), "short IPv6 header");
    }
}
