//! Connections from conntrack events (`NETLINK_NETFILTER`,
//! `NFNLGRP_CONNTRACK_NEW` and `_DESTROY`) in the sensor's network
//! namespace (the host's): containers on bridge networks are seen when their
//! traffic is routed or NATed by the host.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use super::Queue;
use crate::error::SourceError;
use crate::event::{ConnEvent, ConnPhase, Event};
use crate::source::exec::{POLL, RECV_BUFFER};
use crate::wire::conntrack::{self, CtPhase, NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_NEW};

/// Opens the socket, then reads it on a new thread until `stop` is set or
/// the engine goes away.
pub fn spawn(queue: Queue, stop: Arc<AtomicBool>) -> Result<JoinHandle<()>, SourceError> {
    let sock = open().map_err(|source| SourceError::Socket {
        source_name: "conntrack",
        source,
    })?;
    std::thread::Builder::new()
        .name("sensor-conntrack".into())
        .spawn(move || run(&sock, &queue, &stop))
        .map_err(|source| SourceError::Socket {
            source_name: "conntrack",
            source,
        })
}

fn open() -> std::io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_NETFILTER)?;
    let groups = (1 << (NFNLGRP_CONNTRACK_NEW - 1)) | (1 << (NFNLGRP_CONNTRACK_DESTROY - 1));
    sock.bind(&SocketAddr::new(0, groups))?;
    let _ = sock.set_rx_buf_sz(RECV_BUFFER);
    rustix::net::sockopt::set_socket_timeout(
        &sock,
        rustix::net::sockopt::Timeout::Recv,
        Some(POLL),
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
                tracing::error!("conntrack: {e}; the connection source stops");
                return;
            }
        }
        let now = SystemTime::now();
        let mut alive = true;
        let undecoded = conntrack::decode(&buf, |ct| {
            alive &= queue.push(Event::Conn(ConnEvent {
                time: Some(now),
                phase: match ct.phase {
                    CtPhase::New => ConnPhase::New,
                    CtPhase::Destroy => ConnPhase::Destroy,
                },
                proto: conntrack::proto_name(ct.proto),
                src: ct.src,
                dst: ct.dst,
                src_port: ct.src_port,
                dst_port: ct.dst_port,
                bytes_orig: ct.bytes_orig,
                bytes_reply: ct.bytes_reply,
                reply_src: ct.reply_src,
                reply_src_port: ct.reply_src_port,
            }));
        });
        c.undecoded.fetch_add(undecoded as u64, Ordering::Relaxed);
        if !alive {
            return;
        }
    }
}
