//! Event sources and the bounded queue between them and the engine.
//!
//! Each source runs on its own thread, reads a netlink socket with a short
//! receive timeout (so it notices the stop flag), and pushes events with
//! `try_send`: when the queue is full the event is dropped and counted, the
//! source never blocks and memory never grows. Overflow of the kernel's
//! socket buffer (`ENOBUFS`) is counted too.

#[cfg(target_os = "linux")]
pub mod conntrack;
#[cfg(target_os = "linux")]
pub mod exec;
#[cfg(target_os = "linux")]
pub mod fanotify;
#[cfg(target_os = "linux")]
pub mod nflog;
#[cfg(target_os = "linux")]
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use crate::event::Event;

/// Counters of one source, shared with the engine.
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub name: &'static str,
    /// Events decoded from the kernel.
    pub received: AtomicU64,
    /// Events put on the queue.
    pub queued: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Times the kernel reported lost messages (`ENOBUFS`: the socket's
    /// receive buffer overflowed; each may stand for many events).
    pub kernel_overruns: AtomicU64,
    /// Netlink messages that did not decode.
    pub undecoded: AtomicU64,
}

impl SourceCounters {
    pub fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            ..Self::default()
        })
    }

    /// Queue drops plus kernel overruns: what the drop alert reports.
    pub fn lost(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.kernel_overruns.load(Ordering::Relaxed)
    }
}

/// The sending end of the bounded queue, for one source.
#[derive(Debug, Clone)]
pub struct Queue {
    tx: SyncSender<Event>,
    pub counters: Arc<SourceCounters>,
}

/// A bounded queue of `capacity` events: one receiver (the engine), one
/// [`Queue`] per source via [`Queue::for_source`].
pub fn bounded(capacity: usize) -> (SyncSender<Event>, Receiver<Event>) {
    std::sync::mpsc::sync_channel(capacity)
}

impl Queue {
    pub fn for_source(tx: SyncSender<Event>, name: &'static str) -> Self {
        Self {
            tx,
            counters: SourceCounters::new(name),
        }
    }

    /// Puts an event on the queue without blocking. Returns false when the
    /// engine is gone (the source should stop).
    pub fn push(&self, ev: Event) -> bool {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(ev) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// One datagram from a netlink source's socket into `buf` (cleared first).
/// `Ok(false)`: nothing to decode, poll again (receive timeout, interrupt,
/// or a kernel-side overrun, which is counted); `Err`: the source stops.
pub(crate) fn receive(
    sock: &netlink_sys::Socket,
    buf: &mut Vec<u8>,
    counters: &SourceCounters,
) -> std::io::Result<bool> {
    buf.clear();
    match sock.recv(buf, 0) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => {
            counters.kernel_overruns.fetch_add(1, Ordering::Relaxed);
            Ok(false)
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Interrupted
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::event::{ConnEvent, ConnPhase};

    fn ev() -> Event {
        Event::Conn(ConnEvent {
            time: None,
            phase: ConnPhase::New,
            proto: "tcp",
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            src_port: 1,
            dst_port: 2,
            bytes_orig: None,
            bytes_reply: None,
            reply_src: None,
            reply_src_port: None,
        })
    }

    /// Driven far past its capacity, the queue holds `capacity` events and
    /// counts every other one as dropped; the producer never blocks.
    #[test]
    fn full_queue_drops_and_counts_never_blocks() {
        let (tx, rx) = bounded(16);
        let q = Queue::for_source(tx, "test");
        for _ in 0..100_000 {
            assert!(q.push(ev()));
        }
        let c = &q.counters;
        assert_eq!(c.queued.load(Ordering::Relaxed), 16);
        assert_eq!(c.dropped.load(Ordering::Relaxed), 100_000 - 16);
        assert_eq!(rx.try_iter().count(), 16);
        drop(rx);
        assert!(!q.push(ev()), "a gone engine stops the source");
    }
}
