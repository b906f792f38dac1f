//! Packets the applied `caisson netpol` ruleset logs (`log … group N`,
//! `nfnetlink_log`): with the ruleset enforcing, a dropped connection never
//! reaches conntrack's event groups (its entry is never confirmed), so this
//! is how the sensor sees it. Each logged packet becomes a connection event
//! in phase `dropped` (prefix `caisson-netpol drop `) or `audited`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use netlink_packet_netfilter::nflog::{config_request, ConfigCmd, ConfigMode, ConfigNla};
use netlink_packet_netfilter::NetfilterProtoFamily;
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use super::Queue;
use crate::error::SourceError;
use crate::event::{ConnEvent, ConnPhase, Event};
use crate::source::exec::{POLL, RECV_BUFFER};
use crate::wire::{self, conntrack::proto_name, nflog};

/// Bytes of each packet copied to the sensor: the IPv6 header and the
/// ports fit.
const COPY_RANGE: u32 = 96;

/// Binds NFLOG group `group`, then reads it on a new thread until `stop`.
pub fn spawn(
    queue: Queue,
    stop: Arc<AtomicBool>,
    group: u16,
) -> Result<JoinHandle<()>, SourceError> {
    let err = |source| SourceError::Socket {
        source_name: "nflog",
        source,
    };
    let sock = open(group).map_err(err)?;
    std::thread::Builder::new()
        .name("sensor-nflog".into())
        .spawn(move || run(&sock, &queue, &stop))
        .map_err(err)
}

fn request(sock: &Socket, group: u16, nla: ConfigNla) -> std::io::Result<()> {
    let mut msg = config_request(NetfilterProtoFamily::Unspec, group, vec![nla]);
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    sock.send(&buf, 0)?;
    // The acknowledgement: an error code of 0, or why the kernel refused
    // (EBUSY: another listener holds the group).
    let mut reply = Vec::with_capacity(4096);
    sock.recv(&mut reply, 0)?;
    let mut code = 0i32;
    wire::split_messages(&reply, |m| {
        if m.ty == wire::NLMSG_ERROR {
            if let Some(b) = m.payload.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                code = i32::from_ne_bytes(b);
            }
        }
    });
    if code < 0 {
        return Err(std::io::Error::from_raw_os_error(-code));
    }
    Ok(())
}

fn open(group: u16) -> std::io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_NETFILTER)?;
    sock.bind(&SocketAddr::new(0, 0))?;
    let _ = sock.set_rx_buf_sz(RECV_BUFFER);
    rustix::net::sockopt::set_socket_timeout(
        &sock,
        rustix::net::sockopt::Timeout::Recv,
        Some(POLL),
    )?;
    request(&sock, group, ConfigNla::Cmd(ConfigCmd::Bind))?;
    request(
        &sock,
        group,
        ConfigNla::Mode(ConfigMode::new_packet(COPY_RANGE)),
    )?;
    Ok(sock)
}

fn run(sock: &Socket, queue: &Queue, stop: &AtomicBool) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let c = &queue.counters;
    while !stop.load(Ordering::Relaxed) {
        match super::receive(sock, &mut buf, c) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::error!("nflog: {e}; the logged-packet source stops");
                return;
            }
        }
        let now = SystemTime::now();
        let mut alive = true;
        let undecoded = nflog::decode(&buf, |p| {
            let phase = if p
                .prefix
                .starts_with(caisson_netpol::nft::AUDIT_PREFIX.trim_end())
            {
                ConnPhase::Audited
            } else {
                ConnPhase::Dropped
            };
            alive &= queue.push(Event::Conn(ConnEvent {
                time: Some(now),
                phase,
                proto: proto_name(p.proto),
                src: p.src,
                dst: p.dst,
                src_port: p.src_port,
                dst_port: p.dst_port,
                bytes_orig: None,
                bytes_reply: None,
                reply_src: None,
                reply_src_port: None,
            }));
        });
        c.undecoded.fetch_add(undecoded as u64, Ordering::Relaxed);
        if !alive {
            return;
        }
    }
}
