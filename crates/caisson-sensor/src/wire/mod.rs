//! Pure decoders for the netlink messages the sources read: the process
//! connector's `cn_msg`/`proc_event` datagrams, conntrack events and NFLOG
//! packets. No I/O,
//! no panics on any input (the lints below), bounded work per datagram; the
//! fuzz targets in `fuzz/` drive both.
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

pub mod conntrack;
pub mod nflog;
pub mod proc_connector;

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_DONE`: the process connector sends every event with this type.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_NOOP`.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_OVERRUN`.
pub const NLMSG_OVERRUN: u16 = 4;
/// At most this many netlink messages are decoded from one datagram; the rest
/// are counted as skipped.
pub const MAX_MESSAGES_PER_DATAGRAM: usize = 1024;

/// One netlink message: its header fields and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub payload: &'a [u8],
    /// The whole message, header included (what `netlink-packet-core` parses).
    pub whole: &'a [u8],
}

/// Splits a datagram into netlink messages (4-byte aligned). Stops at the
/// first malformed header and at [`MAX_MESSAGES_PER_DATAGRAM`]; returns
/// whether anything was left undecoded.
pub fn split_messages(buf: &[u8], mut each: impl FnMut(NlMsg<'_>)) -> bool {
    let mut rest = buf;
    let mut n = 0usize;
    while !rest.is_empty() {
        if n >= MAX_MESSAGES_PER_DATAGRAM {
            return true;
        }
        let Some(len) = read_u32_ne(rest, 0) else {
            return true;
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return true;
        }
        let (Some(ty), Some(flags), Some(whole), Some(payload)) = (
            read_u16_ne(rest, 4),
            read_u16_ne(rest, 6),
            rest.get(..len),
            rest.get(NLMSG_HDRLEN..len),
        ) else {
            return true;
        };
        each(NlMsg {
            ty,
            flags,
            payload,
            whole,
        });
        n += 1;
        let aligned = len.saturating_add(3) & !3;
        rest = rest.get(aligned..).unwrap_or(&[]);
    }
    false
}

pub(crate) fn read_u16_ne(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes(b.try_into().ok()?))
}

pub(crate) fn read_u32_ne(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(b.try_into().ok()?))
}

pub(crate) fn read_u64_ne(buf: &[u8], at: usize) -> Option<u64> {
    let b = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_ne_bytes(b.try_into().ok()?))
}

pub(crate) fn read_u64_be(buf: &[u8], at: usize) -> Option<u64> {
    let b = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn split_stops_at_truncated_header_and_bad_lengths() {
        let mut seen = 0;
        assert!(split_messages(&[1, 2, 3], |_| seen += 1));
        // len says 100 but only 16 bytes.
        let mut m = vec![0u8; 16];
        m[0] = 100;
        assert!(split_messages(&m, |_| seen += 1));
        // len 0 would loop forever if accepted.
        assert!(split_messages(&[0u8; 16], |_| seen += 1));
        assert_eq!(seen, 0);
    }

    #[test]
    fn split_walks_aligned_messages() {
        let mut buf = Vec::new();
        for ty in [7u16, 8] {
            buf.extend_from_slice(&18u32.to_ne_bytes());
            buf.extend_from_slice(&ty.to_ne_bytes());
            buf.extend_from_slice(&0u16.to_ne_bytes());
            buf.extend_from_slice(&[0u8; 8]);
            buf.extend_from_slice(&[0xaa, 0xbb, 0, 0]); // 2 payload bytes + padding
        }
        let mut tys = Vec::new();
        assert!(!split_messages(&buf, |m| tys.push((m.ty, m.payload.to_vec()))));
        assert_eq!(tys, vec![(7, vec![0xaa, 0xbb]), (8, vec![0xaa, 0xbb])]);
    }
}
