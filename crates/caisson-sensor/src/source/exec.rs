//! Process execs from the kernel's process connector (`NETLINK_CONNECTOR`,
//! `CN_IDX_PROC`): exec, fork and exit events, execs enriched from `/proc`
//! on the source thread, as close to the event as possible.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use netlink_sys::{protocols::NETLINK_CONNECTOR, Socket, SocketAddr};

use super::Queue;
use crate::error::SourceError;
use crate::event::Event;
use crate::procfs::ProcReader;
use crate::wire::proc_connector::{self, ProcEvent, CN_IDX_PROC, PROC_CN_MCAST_LISTEN};

/// Receive buffer asked of the kernel (it may cap it at `rmem_max`).
pub const RECV_BUFFER: usize = 4 << 20;
/// How often the thread looks at the stop flag when idle.
pub const POLL: Duration = Duration::from_millis(200);

/// Opens and subscribes the socket, then reads it on a new thread until
/// `stop` is set or the engine goes away.
pub fn spawn(
    queue: Queue,
    stop: Arc<AtomicBool>,
    mut reader: ProcReader,
) -> Result<JoinHandle<()>, SourceError> {
    let sock = open().map_err(|source| SourceError::Socket {
        source_name: "process connector",
        source,
    })?;
    std::thread::Builder::new()
        .name("sensor-exec".into())
        .spawn(move || run(&sock, &queue, &stop, &mut reader))
        .map_err(|source| SourceError::Socket {
            source_name: "process connector",
            source,
        })
}

fn open() -> std::io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_CONNECTOR)?;
    sock.bind(&SocketAddr::new(0, CN_IDX_PROC))?;
    let mut local = SocketAddr::new(0, 0);
    sock.get_address(&mut local)?;
    let _ = sock.set_rx_buf_sz(RECV_BUFFER);
    rustix::net::sockopt::set_socket_timeout(
        &sock,
        rustix::net::sockopt::Timeout::Recv,
        Some(POLL),
    )?;
    let msg = proc_connector::subscription(PROC_CN_MCAST_LISTEN, local.port_number());
    sock.send_to(&msg, &SocketAddr::new(0, 0), 0)?;
    Ok(sock)
}

fn run(sock: &Socket, queue: &Queue, stop: &AtomicBool, reader: &mut ProcReader) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let c = &queue.counters;
    while !stop.load(Ordering::Relaxed) {
        match super::receive(sock, &mut buf, c) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::error!("process connector: {e}; the exec source stops");
                return;
            }
        }
        let mut alive = true;
        let undecoded = proc_connector::decode(&buf, |ev| match ev {
            ProcEvent::Exec { tgid, .. } => {
                let mut x = reader.exec(tgid);
                x.time = Some(SystemTime::now());
                alive &= queue.push(Event::Exec(Box::new(x)));
            }
            ProcEvent::Fork {
                parent_tgid,
                child_pid,
                child_tgid,
                ..
            } if child_pid == child_tgid => {
                reader.on_fork(parent_tgid, child_tgid);
            }
            ProcEvent::Exit { pid, tgid, .. } if pid == tgid => reader.on_exit(tgid),
            ProcEvent::Ack { err } if err != 0 => {
                tracing::warn!("process connector refused the subscription: errno {err}");
            }
            _ => {}
        });
        c.undecoded.fetch_add(undecoded as u64, Ordering::Relaxed);
        if !alive {
            return;
        }
    }
}
