//! RPM ordering: `rpmvercmp` (`rpmio/rpmvercmp.c`) over epoch, version and
//! release, split the way `parseEVR` (`lib/rpmds.c`) splits `E:V-R`.

use std::cmp::Ordering;

type Reason = &'static str;

/// A parsed `[epoch:]version[-release]`.
#[derive(Clone, Debug)]
pub(crate) struct RpmVersion {
    raw: Box<str>,
    epoch: (usize, usize),
    version: (usize, usize),
    release: Option<(usize, usize)>,
}

struct Evr<'a> {
    epoch: &'a [u8],
    version: &'a [u8],
    /// `None` when there is no `-`: a missing release sorts before any
    /// release, even an empty one (`rpmverCmp`).
    release: Option<&'a [u8]>,
}

fn split(input: &str) -> Result<Evr<'_>, Reason> {
    let b = input.as_bytes();
    if b.is_empty() {
        return Err("version string is empty");
    }
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let (epoch, vr): (&[u8], &[u8]) = if b.get(digits) == Some(&b':') {
        let e = b.get(..digits).unwrap_or_default();
        (
            if e.is_empty() { b"0" } else { e },
            b.get(digits + 1..).unwrap_or_default(),
        )
    } else {
        (b"0", b)
    };
    let (version, release) = match vr.iter().rposition(|&c| c == b'-') {
        Some(h) => (
            vr.get(..h).unwrap_or_default(),
            Some(vr.get(h + 1..).unwrap_or_default()),
        ),
        None => (vr, None),
    };
    Ok(Evr {
        epoch,
        version,
        release,
    })
}

fn cmp_evr(a: &Evr<'_>, b: &Evr<'_>) -> Ordering {
    rpmvercmp(a.epoch, b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| match (a.release, b.release) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        })
}

impl RpmVersion {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        let evr = split(input)?;
        let base = input.as_ptr() as usize;
        let range = |s: &[u8]| {
            let off = (s.as_ptr() as usize).wrapping_sub(base);
            if off > input.len() {
                (0, 0)
            } else {
                (off, off + s.len())
            }
        };
        Ok(RpmVersion {
            raw: input.into(),
            epoch: range(evr.epoch),
            version: range(evr.version),
            release: evr.release.map(range),
        })
    }

    fn evr(&self) -> Evr<'_> {
        let b = self.raw.as_bytes();
        let get = |(s, e): (usize, usize)| b.get(s..e).unwrap_or_default();
        let epoch = get(self.epoch);
        Evr {
            epoch: if epoch.is_empty() { b"0" } else { epoch },
            version: get(self.version),
            release: self.release.map(get),
        }
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_evr(&self.evr(), &other.evr())
    }
}
impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for RpmVersion {}

pub(crate) fn compare_str<'a>(a: &'a str, b: &'a str) -> Result<Ordering, (&'a str, Reason)> {
    let ea = split(a).map_err(|r| (a, r))?;
    let eb = split(b).map_err(|r| (b, r))?;
    Ok(cmp_evr(&ea, &eb))
}

fn is_sep(c: u8) -> bool {
    !(c.is_ascii_alphanumeric() || c == b'~' || c == b'^')
}

/// A port of `rpmvercmp()`.
pub(crate) fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        while a.get(i).is_some_and(|&c| is_sep(c)) {
            i += 1;
        }
        while b.get(j).is_some_and(|&c| is_sep(c)) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        // Tilde sorts before everything else.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // Caret sorts like tilde, except that the end of a string sorts lower.
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let isnum = ca.is_ascii_digit();
        let class = |c: &u8| {
            if isnum {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let rest_a = a.get(i..).unwrap_or_default();
        let rest_b = b.get(j..).unwrap_or_default();
        let la = rest_a.iter().take_while(|c| class(c)).count();
        let lb = rest_b.iter().take_while(|c| class(c)).count();
        let seg_a = rest_a.get(..la).unwrap_or_default();
        let seg_b = rest_b.get(..lb).unwrap_or_default();
        if seg_b.is_empty() {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if isnum {
            crate::num::cmp_digits(seg_a, seg_b)
        } else {
            seg_a.cmp(seg_b)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i += la;
        j += lb;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpmvercmp_documented_cases() {
        // From rpm's tests/rpmvercmp.at.
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1a", Less),
            ("5.5p1", "5.5p10", Less),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("1b.fc17", "1.fc17", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc1~git123", Greater),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0^git1~pre", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("2_0", "2.0", Equal),
            ("a+", "a_", Equal),
            ("+", "_", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a.as_bytes(), b.as_bytes()), *want, "{a} vs {b}");
        }
    }

    #[test]
    fn evr_split() {
        assert_eq!(compare_str("1:1.0-1", "2.0-1"), Ok(Greater));
        assert_eq!(compare_str("0:1.0-1", "1.0-1"), Ok(Equal));
        assert_eq!(compare_str(":1.0", "1.0"), Ok(Equal));
        assert!(compare_str("", "1").is_err());
    }
}
