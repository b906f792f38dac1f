//! Dart's `pub_semver` `Version.parse` and `Version.compareTo`: SemVer
//! syntax with leading zeros allowed, identifiers that `int.tryParse`
//! accepts compared as numbers, and build metadata *not* ignored (a build
//! sorts after no build).

use std::cmp::Ordering;

type Reason = &'static str;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Num(i64),
    Str(Box<str>),
}

/// A parsed pub version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PubVersion {
    nums: [i64; 3],
    pre: Vec<Part>,
    build: Vec<Part>,
}

/// Dart's `int.tryParse` (decimal, or `0x` hex, optional sign, 64-bit).
fn dart_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let (radix, digits) = match body.get(..2) {
        Some("0x" | "0X") => (16, body.get(2..)?),
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if neg { -mag } else { mag }).ok()
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

fn parts(s: Option<&str>) -> Result<Vec<Part>, Reason> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split('.')
        .map(|p| {
            if p.is_empty() || !p.bytes().all(is_ident_char) {
                Err("invalid pre-release or build identifier")
            } else {
                Ok(dart_int(p).map_or_else(|| Part::Str(p.into()), Part::Num))
            }
        })
        .collect()
}

impl PubVersion {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        const INVALID: Reason = "could not parse pub version";
        let (rest, build) = match input.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (input, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let mut it = core.split('.');
        let mut nums = [0i64; 3];
        for slot in &mut nums {
            let part = it.next().ok_or(INVALID)?;
            if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(INVALID);
            }
            *slot = part
                .parse()
                .map_err(|_| "version number does not fit in a 64-bit int")?;
        }
        if it.next().is_some() {
            return Err(INVALID);
        }
        Ok(PubVersion {
            nums,
            pre: parts(pre)?,
            build: parts(build)?,
        })
    }
}

fn cmp_lists(a: &[Part], b: &[Part]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let ord = match (a.get(i), b.get(i)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(Part::Num(x)), Some(Part::Num(y))) => x.cmp(y),
            (Some(Part::Num(_)), Some(Part::Str(_))) => Ordering::Less,
            (Some(Part::Str(_)), Some(Part::Num(_))) => Ordering::Greater,
            (Some(Part::Str(x)), Some(Part::Str(y))) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

impl Ord for PubVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nums
            .cmp(&other.nums)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => cmp_lists(&self.pre, &other.pre),
            })
            .then_with(|| match (self.build.is_empty(), other.build.is_empty()) {
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => cmp_lists(&self.build, &other.build),
            })
    }
}
impl PartialOrd for PubVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn documented_order() {
        // From pub_semver's test/version_test.dart "compareTo".
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0-rc.1+build.1",
            "1.0.0",
            "1.0.0+0.3.7",
            "1.3.7+build",
            "1.3.7+build.2.b8f12d7",
            "1.3.7+build.11.e0f985a",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for w in ordered.windows(2) {
            if let [a, b] = w {
                let pa = PubVersion::parse(a).unwrap_or_else(|e| panic!("{a}: {e}"));
                let pb = PubVersion::parse(b).unwrap_or_else(|e| panic!("{b}: {e}"));
                assert_eq!(pa.cmp(&pb), Less, "{a} < {b}");
            }
        }
        for bad in [
            "",
            "1.0",
            "1.2.3.4",
            "1.0.0-",
            "1.0.0+",
            "a.b.c",
            "1.0.0-a..b",
        ] {
            assert!(PubVersion::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PubVersion::parse("01.02.03").is_ok());
    }
}
