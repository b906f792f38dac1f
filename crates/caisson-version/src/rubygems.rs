//! RubyGems' `Gem::Version`: `correct?` validation, `-` read as `.pre.`,
//! segments `[0-9]+|[a-z]+`, trailing zeros dropped from the numeric part and
//! from the pre-release part, letters sort before numbers.

use std::cmp::Ordering;

use crate::num::Num;

type Reason = &'static str;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Num(Num),
    Str(Box<str>),
}

/// A parsed gem version holding its canonical segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GemVersion {
    segments: Vec<Seg>,
}

/// Ruby's `\s` (ASCII only).
fn is_rb_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0c' | '\x0b')
}

/// `\A\s*([0-9]+(?>\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\s*\z`
fn correct(v: &str) -> bool {
    if v.is_empty() {
        return true;
    }
    let b = v.as_bytes();
    let lead = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if lead == 0 {
        return false;
    }
    let (release, pre) = match v.get(lead..).and_then(|r| r.find('-')).map(|i| i + lead) {
        Some(i) => (v.get(..i).unwrap_or_default(), v.get(i + 1..)),
        None => (v, None),
    };
    let rel_ok = release
        .split('.')
        .skip(1)
        .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric()));
    let first_ok = release
        .split('.')
        .next()
        .is_some_and(|p| p.bytes().all(|c| c.is_ascii_digit()));
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
    });
    rel_ok && first_ok && pre_ok
}

impl GemVersion {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        let v = input.trim_matches(is_rb_space);
        if !correct(v) {
            return Err("malformed version number string");
        }
        let v = if v.is_empty() { "0" } else { v };
        // `gsub("-", ".pre.")` then `scan(/[0-9]+|[a-z]+/i)`.
        let mut raw: Vec<Seg> = Vec::with_capacity(4);
        let mut rest = v;
        while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '-') {
            let tail = rest.get(start..).unwrap_or_default();
            if let Some(after) = tail.strip_prefix('-') {
                raw.push(Seg::Str("pre".into()));
                rest = after;
                continue;
            }
            let digit = tail.starts_with(|c: char| c.is_ascii_digit());
            let len = tail
                .find(|c: char| {
                    if digit {
                        !c.is_ascii_digit()
                    } else {
                        !c.is_ascii_alphabetic()
                    }
                })
                .unwrap_or(tail.len());
            let tok = tail.get(..len).unwrap_or_default();
            raw.push(if digit {
                Seg::Num(Num::from_digits(tok))
            } else {
                Seg::Str(tok.into())
            });
            rest = tail.get(len..).unwrap_or_default();
        }
        // canonical_segments: drop trailing zeros from the numeric part and
        // from the part starting at the first string segment.
        let split = raw
            .iter()
            .position(|s| matches!(s, Seg::Str(_)))
            .unwrap_or(raw.len());
        let mut strings = raw.split_off(split);
        let drop_zeros = |v: &mut Vec<Seg>| {
            while matches!(v.last(), Some(Seg::Num(n)) if n.is_zero()) {
                v.pop();
            }
        };
        drop_zeros(&mut raw);
        drop_zeros(&mut strings);
        raw.append(&mut strings);
        Ok(GemVersion { segments: raw })
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Seg::Num(Num::ZERO);
        let n = self.segments.len().max(other.segments.len());
        for i in 0..n {
            let l = self.segments.get(i).unwrap_or(&zero);
            let r = other.segments.get(i).unwrap_or(&zero);
            let ord = match (l, r) {
                (Seg::Num(a), Seg::Num(b)) => a.cmp(b),
                (Seg::Str(a), Seg::Str(b)) => a.cmp(b),
                (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
                (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}
impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn c(a: &str, b: &str) -> Ordering {
        let pa = GemVersion::parse(a).unwrap_or_else(|e| panic!("{a}: {e}"));
        let pb = GemVersion::parse(b).unwrap_or_else(|e| panic!("{b}: {e}"));
        pa.cmp(&pb)
    }

    #[test]
    fn documented_cases() {
        // From rubygems' test_gem_version.rb.
        assert_eq!(c("1.0", "1.0.0"), Equal);
        assert_eq!(c("1.0", "1.0.a"), Greater);
        assert_eq!(c("1.8.2", "0.0.0"), Greater);
        assert_eq!(c("1.8.2", "1.8.2.a"), Greater);
        assert_eq!(c("1.8.2.b", "1.8.2.a"), Greater);
        assert_eq!(c("1.8.2.a", "1.8.2"), Less);
        assert_eq!(c("1.8.2.a10", "1.8.2.a9"), Greater);
        assert_eq!(c("", "0"), Equal);
        assert_eq!(c("0.beta.1", "0.0.beta.1"), Equal);
        assert_eq!(c("0.0.beta", "0.0.beta.1"), Less);
        assert_eq!(c("0.0.beta", "0.beta.1"), Less);
        assert_eq!(c("5.a", "5.0.0.rc2"), Less);
        assert_eq!(c("5.x", "5.0.0.rc2"), Greater);
        assert_eq!(c("1.9.3-p0", "1.9.3.pre.p0"), Equal);
        assert_eq!(c("1-1", "1.pre.1"), Equal);
    }

    #[test]
    fn malformed() {
        for bad in [
            "junk",
            "1.0\n2.0",
            "1..2",
            "1.2\\ 3.4",
            "2.3422222.222.222222222.22222.ads0as.dasd0.ddd2222.2.qd3e.",
            "1a",
            "1.0-",
            "-1",
        ] {
            assert!(GemVersion::parse(bad).is_err(), "{bad:?}");
        }
        for good in [" 1.0 ", "1.0.0-rc1", "1.0.a.2", "1.0-x-y.z", "  "] {
            assert!(GemVersion::parse(good).is_ok(), "{good:?}");
        }
    }
}
