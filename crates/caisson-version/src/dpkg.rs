//! dpkg's version ordering (`lib/dpkg/version.c`, `parsehelp.c`).
//!
//! Parsing follows `parseversion`: what dpkg rejects with an error is an
//! error here; what it only warns about (a version not starting with a digit,
//! odd characters) is accepted and compared, as `dpkg --compare-versions` does.

use std::cmp::Ordering;

type Reason = &'static str;

/// A parsed dpkg version: `[epoch:]upstream[-revision]`.
#[derive(Clone, Debug)]
pub(crate) struct DpkgVersion {
    epoch: u32,
    raw: Box<str>,
    upstream: (usize, usize),
    revision: (usize, usize),
}

struct Parts<'a> {
    epoch: u32,
    upstream: &'a [u8],
    revision: &'a [u8],
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn split(input: &str) -> Result<Parts<'_>, Reason> {
    let bytes = input.as_bytes();
    let start = bytes.iter().take_while(|&&c| is_blank(c)).count();
    let rest = bytes.get(start..).unwrap_or_default();
    if rest.is_empty() {
        return Err("version string is empty");
    }
    let end = rest.iter().position(|&c| is_space(c)).unwrap_or(rest.len());
    let (token, tail) = rest.split_at(end);
    if tail.iter().any(|&c| !is_space(c)) {
        return Err("version string has embedded spaces");
    }
    let (epoch, version) = match token.iter().position(|&c| c == b':') {
        Some(colon) => {
            let (head, after) = token.split_at(colon);
            let epoch = parse_epoch(head)?;
            let after = after.get(1..).unwrap_or_default();
            if after.is_empty() {
                return Err("nothing after colon in version number");
            }
            (epoch, after)
        }
        None => (0, token),
    };
    let (upstream, revision) = match version.iter().rposition(|&c| c == b'-') {
        Some(h) => {
            let (u, r) = version.split_at(h);
            let r = r.get(1..).unwrap_or_default();
            if r.is_empty() {
                return Err("revision number is empty");
            }
            (u, r)
        }
        None => (version, &[][..]),
    };
    if upstream.is_empty() {
        return Err("version number is empty");
    }
    Ok(Parts {
        epoch,
        upstream,
        revision,
    })
}

/// `strtol(head, &end, 10)` that must consume all of `head`, then range checks.
fn parse_epoch(head: &[u8]) -> Result<u32, Reason> {
    let (negative, digits) = match head.first() {
        Some(b'-') => (true, head.get(1..).unwrap_or_default()),
        Some(b'+') => (false, head.get(1..).unwrap_or_default()),
        _ => (false, head),
    };
    let ndigits = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if ndigits == 0 {
        return Err("epoch in version is empty");
    }
    if ndigits != digits.len() {
        return Err("epoch in version is not number");
    }
    let mut value: u64 = 0;
    for &c in digits {
        value = value.saturating_mul(10).saturating_add(u64::from(c - b'0'));
    }
    if negative && value != 0 {
        return Err("epoch in version is negative");
    }
    u32::try_from(value)
        .ok()
        .filter(|&v| v <= i32::MAX as u32)
        .ok_or("epoch in version is too big")
}

impl DpkgVersion {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        let p = split(input)?;
        let base = input.as_ptr() as usize;
        let range = |s: &[u8]| {
            let off = (s.as_ptr() as usize).wrapping_sub(base);
            (off, off + s.len())
        };
        Ok(DpkgVersion {
            epoch: p.epoch,
            raw: input.into(),
            upstream: range(p.upstream),
            revision: if p.revision.is_empty() {
                (0, 0)
            } else {
                range(p.revision)
            },
        })
    }

    fn parts(&self) -> Parts<'_> {
        let b = self.raw.as_bytes();
        Parts {
            epoch: self.epoch,
            upstream: b.get(self.upstream.0..self.upstream.1).unwrap_or_default(),
            revision: b.get(self.revision.0..self.revision.1).unwrap_or_default(),
        }
    }
}

fn cmp_parts(a: &Parts<'_>, b: &Parts<'_>) -> Ordering {
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_parts(&self.parts(), &other.parts())
    }
}
impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for DpkgVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for DpkgVersion {}

pub(crate) fn compare_str<'a>(a: &'a str, b: &'a str) -> Result<Ordering, (&'a str, Reason)> {
    let pa = split(a).map_err(|r| (a, r))?;
    let pb = split(b).map_err(|r| (b, r))?;
    Ok(cmp_parts(&pa, &pb))
}

/// dpkg's `order()`: `~` before end before letters before everything else.
/// Bytes ≥ 0x80 are a signed `char` in dpkg, which lands them between
/// letters and other punctuation.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) if c >= 0x80 => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    let digit_at = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        loop {
            let ca = a.get(i).copied();
            let cb = b.get(j).copied();
            let a_nd = ca.is_some_and(|c| !c.is_ascii_digit());
            let b_nd = cb.is_some_and(|c| !c.is_ascii_digit());
            if !(a_nd || b_nd) {
                break;
            }
            let (ac, bc) = (order(ca), order(cb));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit_at(a, i) && digit_at(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a.get(i).cmp(&b.get(j));
            }
            i += 1;
            j += 1;
        }
        if digit_at(a, i) {
            return Ordering::Greater;
        }
        if digit_at(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        compare_str(a, b).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn documented_cases() {
        assert_eq!(c("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(c("1.0", "1.0+b1"), Ordering::Less);
        assert_eq!(c("1:0.1", "2.0"), Ordering::Greater);
        assert_eq!(c("1.0-1", "1.0-1ubuntu1"), Ordering::Less);
        assert_eq!(c("0:1.0", "1.0"), Ordering::Equal);
        assert_eq!(c("1.00", "1.0"), Ordering::Equal);
        assert_eq!(c("1.0~~", "1.0~~a"), Ordering::Less);
        assert_eq!(c("1.0~", "1.0"), Ordering::Less);
        assert_eq!(c("1.0a", "1.0."), Ordering::Less);
        assert_eq!(c("2:1.0-1-2", "2:1.0-1-1"), Ordering::Greater);
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "  ",
            "1.0 2",
            "a:1",
            ":1",
            "1:",
            "1.0-",
            "-1",
            "-1:1",
            "3000000000:1",
        ] {
            assert!(split(bad).is_err(), "{bad:?}");
        }
        assert!(split("+1:1.0").is_ok());
        assert!(split("-0:1.0").is_ok());
    }
}
