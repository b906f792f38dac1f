//! The kernel process connector (`linux/connector.h`, `linux/cn_proc.h`):
//! the subscription message and the `proc_event`s it multicasts. All fields
//! are in host byte order.
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::{read_u32_ne, read_u64_ne, split_messages, NLMSG_DONE, NLMSG_HDRLEN};

/// `CN_IDX_PROC`: the connector index (and multicast group) of process events.
pub const CN_IDX_PROC: u32 = 1;
/// `CN_VAL_PROC`.
pub const CN_VAL_PROC: u32 = 1;
/// `PROC_CN_MCAST_LISTEN`.
pub const PROC_CN_MCAST_LISTEN: u32 = 1;
/// `PROC_CN_MCAST_IGNORE`.
pub const PROC_CN_MCAST_IGNORE: u32 = 2;

const CN_MSG_LEN: usize = 20;
const PROC_EVENT_HDR: usize = 16;

const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// One decoded process event. Pids are the kernel's (host pid namespace);
/// `tgid` is the process, `pid` the thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcEvent {
    /// The kernel's acknowledgement of a subscription.
    Ack { err: u32 },
    Fork {
        parent_tgid: u32,
        child_pid: u32,
        child_tgid: u32,
        timestamp_ns: u64,
    },
    Exec {
        pid: u32,
        tgid: u32,
        timestamp_ns: u64,
    },
    Exit {
        pid: u32,
        tgid: u32,
        exit_code: u32,
        timestamp_ns: u64,
    },
    /// uid/gid/sid/ptrace/comm/coredump changes: not used (yet).
    Other { what: u32 },
}

/// The datagram that subscribes (`op` = [`PROC_CN_MCAST_LISTEN`]) or
/// unsubscribes a socket, from port id `portid`.
pub fn subscription(op: u32, portid: u32) -> Vec<u8> {
    let total = NLMSG_HDRLEN + CN_MSG_LEN + 4;
    let mut b = Vec::with_capacity(total);
    // nlmsghdr
    b.extend_from_slice(&(total as u32).to_ne_bytes());
    b.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&portid.to_ne_bytes());
    // cn_msg
    b.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    b.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes()); // seq
    b.extend_from_slice(&0u32.to_ne_bytes()); // ack
    b.extend_from_slice(&4u16.to_ne_bytes()); // len
    b.extend_from_slice(&0u16.to_ne_bytes()); // flags
    b.extend_from_slice(&op.to_ne_bytes());
    b
}

/// Decodes every process event in a datagram. Messages that are not
/// connector messages for `CN_IDX_PROC`, or are too short for their event
/// type, are skipped and counted in the returned number.
pub fn decode(buf: &[u8], mut each: impl FnMut(ProcEvent)) -> usize {
    let mut skipped = 0usize;
    let truncated = split_messages(buf, |m| {
        if m.ty != NLMSG_DONE {
            skipped += 1;
            return;
        }
        match decode_cn(m.payload) {
            Some(ev) => each(ev),
            None => skipped += 1,
        }
    });
    skipped + usize::from(truncated)
}

fn decode_cn(cn: &[u8]) -> Option<ProcEvent> {
    let idx = read_u32_ne(cn, 0)?;
    let val = read_u32_ne(cn, 4)?;
    if idx != CN_IDX_PROC || val != CN_VAL_PROC {
        return None;
    }
    let len = usize::from(super::read_u16_ne(cn, 16)?);
    let data = cn.get(CN_MSG_LEN..CN_MSG_LEN.checked_add(len)?)?;
    let what = read_u32_ne(data, 0)?;
    let timestamp_ns = read_u64_ne(data, 8)?;
    let body = data.get(PROC_EVENT_HDR..)?;
    let u = |i: usize| read_u32_ne(body, i * 4);
    Some(match what {
        PROC_EVENT_NONE => ProcEvent::Ack { err: u(0)? },
        PROC_EVENT_FORK => ProcEvent::Fork {
            parent_tgid: u(1)?,
            child_pid: u(2)?,
            child_tgid: u(3)?,
            timestamp_ns,
        },
        PROC_EVENT_EXEC => ProcEvent::Exec {
            pid: u(0)?,
            tgid: u(1)?,
            timestamp_ns,
        },
        PROC_EVENT_EXIT => ProcEvent::Exit {
            pid: u(0)?,
            tgid: u(1)?,
            exit_code: u(2)?,
            timestamp_ns,
        },
        other => ProcEvent::Other { what: other },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    /// A datagram as the kernel sends it: nlmsghdr + cn_msg + proc_event.
    pub(crate) fn event(what: u32, words: &[u32]) -> Vec<u8> {
        let mut data = Vec::new();
        data.extend_from_slice(&what.to_ne_bytes());
        data.extend_from_slice(&1u32.to_ne_bytes()); // cpu
        data.extend_from_slice(&42u64.to_ne_bytes());
        for w in words {
            data.extend_from_slice(&w.to_ne_bytes());
        }
        let mut sub = subscription(0, 0);
        sub.truncate(NLMSG_HDRLEN + CN_MSG_LEN);
        sub[NLMSG_HDRLEN + 16..NLMSG_HDRLEN + 18]
            .copy_from_slice(&(data.len() as u16).to_ne_bytes());
        sub.extend_from_slice(&data);
        let total = sub.len() as u32;
        sub[..4].copy_from_slice(&total.to_ne_bytes());
        sub
    }

    #[test]
    fn decodes_exec_fork_exit() {
        let mut got = Vec::new();
        let mut d = event(PROC_EVENT_EXEC, &[10, 10]);
        d.extend(event(PROC_EVENT_FORK, &[1, 1, 11, 11]));
        d.extend(event(PROC_EVENT_EXIT, &[11, 11, 256, 17, 1, 1]));
        assert_eq!(decode(&d, |e| got.push(e)), 0);
        assert_eq!(
            got,
            vec![
                ProcEvent::Exec {
                    pid: 10,
                    tgid: 10,
                    timestamp_ns: 42
                },
                ProcEvent::Fork {
                    parent_tgid: 1,
                    child_pid: 11,
                    child_tgid: 11,
                    timestamp_ns: 42
                },
                ProcEvent::Exit {
                    pid: 11,
                    tgid: 11,
                    exit_code: 256,
                    timestamp_ns: 42
                },
            ]
        );
    }

    #[test]
    fn short_event_bodies_are_skipped_not_read_past() {
        let d = event(PROC_EVENT_FORK, &[1, 1]);
        let mut got = Vec::new();
        assert_eq!(decode(&d, |e| got.push(e)), 1);
        assert!(got.is_empty());
        // cn_msg.len larger than the message.
        let mut d = event(PROC_EVENT_EXEC, &[1, 1]);
        d[NLMSG_HDRLEN + 16..NLMSG_HDRLEN + 18].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert_eq!(decode(&d, |e| got.push(e)), 1);
    }

    #[test]
    fn subscription_layout() {
        let s = subscription(PROC_CN_MCAST_LISTEN, 77);
        assert_eq!(s.len(), 40);
        assert_eq!(read_u32_ne(&s, 0), Some(40));
        assert_eq!(read_u32_ne(&s, 12), Some(77));
        assert_eq!(read_u32_ne(&s, 36), Some(PROC_CN_MCAST_LISTEN));
    }
}
