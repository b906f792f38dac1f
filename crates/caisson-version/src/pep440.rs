//! PEP 440 as implemented by `packaging.version.Version` (packaging 26):
//! the same grammar as its regex (possessive groups, implicit numbers,
//! alternate spellings), the same normalization and `_cmpkey` order.

use std::cmp::Ordering;

use crate::num::Num;

type Reason = &'static str;

#[derive(Clone, Debug, PartialEq, Eq)]
enum LocalSeg {
    Str(Box<str>),
    Int(Num),
}

impl Ord for LocalSeg {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (LocalSeg::Int(a), LocalSeg::Int(b)) => a.cmp(b),
            (LocalSeg::Str(a), LocalSeg::Str(b)) => a.cmp(b),
            (LocalSeg::Str(_), LocalSeg::Int(_)) => Ordering::Less,
            (LocalSeg::Int(_), LocalSeg::Str(_)) => Ordering::Greater,
        }
    }
}
impl PartialOrd for LocalSeg {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A parsed PEP 440 version, holding its comparison key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pep440Version {
    epoch: Num,
    /// Release with trailing zeros stripped (`1.0.0` == `1`).
    release: Vec<Num>,
    /// (pre_rank, pre_n, post_rank, post_n, dev_rank, dev_n) as in `_cmpkey`.
    pre_rank: i8,
    pre_n: Num,
    post: Option<Num>,
    dev: Option<Num>,
    local: Option<Vec<LocalSeg>>,
}

/// Python's `str.isspace()`, which is what `\s` matches in a str pattern.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

struct Cursor<'a> {
    s: &'a [u8],
    p: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self, off: usize) -> Option<u8> {
        self.s.get(self.p + off).copied()
    }
    fn is_sep(&self, off: usize) -> bool {
        matches!(self.peek(off), Some(b'.' | b'_' | b'-'))
    }
    fn digits_len(&self, off: usize) -> usize {
        self.s
            .get(self.p + off..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    }
    fn slice(&self, from: usize, len: usize) -> &'a str {
        let b = self.s.get(from..from + len).unwrap_or_default();
        std::str::from_utf8(b).unwrap_or_default()
    }
    fn starts_with(&self, off: usize, lit: &[u8]) -> bool {
        self.s
            .get(self.p + off..)
            .is_some_and(|r| r.starts_with(lit))
    }
    /// Consumes an optional run of digits; `None` if there is none.
    fn opt_number(&mut self) -> Option<Num> {
        let d = self.digits_len(0);
        if d == 0 {
            return None;
        }
        let n = Num::from_digits(self.slice(self.p, d));
        self.p += d;
        Some(n)
    }
    /// `[._-]?+ (labels) [._-]?+ ([0-9]+)?` — returns the label index.
    fn letter_group(&mut self, labels: &[&[u8]]) -> Option<(usize, Num)> {
        let mut off = usize::from(self.is_sep(0));
        let idx = labels.iter().position(|l| self.starts_with(off, l))?;
        off += labels.get(idx).map_or(0, |l| l.len());
        if self.is_sep(off) {
            off += 1;
        }
        self.p += off;
        let n = self.opt_number().unwrap_or(Num::ZERO);
        Some((idx, n))
    }
}

const PRE_LABELS: [&[u8]; 8] = [
    b"alpha", b"a", b"beta", b"b", b"preview", b"pre", b"c", b"rc",
];
const PRE_RANK: [i8; 8] = [0, 0, 1, 1, 2, 2, 2, 2];

impl Pep440Version {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        const INVALID: Reason = "not a valid PEP 440 version";
        let trimmed = input.trim_matches(is_py_space);
        if !trimmed.is_ascii() {
            return Err(INVALID);
        }
        let lower = trimmed.to_ascii_lowercase();
        let mut c = Cursor {
            s: lower.as_bytes(),
            p: 0,
        };
        if c.peek(0) == Some(b'v') {
            c.p += 1;
        }
        let mut epoch = Num::ZERO;
        let d = c.digits_len(0);
        if d > 0 && c.peek(d) == Some(b'!') {
            epoch = Num::from_digits(c.slice(c.p, d));
            c.p += d + 1;
        }
        let mut release = Vec::with_capacity(4);
        release.push(c.opt_number().ok_or(INVALID)?);
        while c.peek(0) == Some(b'.') && c.digits_len(1) > 0 {
            c.p += 1;
            release.extend(c.opt_number());
        }
        while release.last().is_some_and(Num::is_zero) {
            release.pop();
        }
        let pre = c.letter_group(&PRE_LABELS);
        let post = if c.peek(0) == Some(b'-') && c.digits_len(1) > 0 {
            c.p += 1;
            c.opt_number()
        } else {
            c.letter_group(&[b"post", b"rev", b"r"]).map(|(_, n)| n)
        };
        let dev = c.letter_group(&[b"dev"]).map(|(_, n)| n);
        let mut local = None;
        if c.peek(0) == Some(b'+') {
            let alnum_len = |c: &Cursor<'_>, off: usize| {
                c.s.get(c.p + off..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric())
                    .count()
            };
            let first = alnum_len(&c, 1);
            if first > 0 {
                let start = c.p + 1;
                c.p += 1 + first;
                while c.is_sep(0) && alnum_len(&c, 1) > 0 {
                    c.p += 1 + alnum_len(&c, 1);
                }
                let text = c.slice(start, c.p - start);
                local = Some(
                    text.split(['.', '_', '-'])
                        .map(|seg| {
                            if crate::num::all_digits(seg) {
                                LocalSeg::Int(Num::from_digits(seg))
                            } else {
                                LocalSeg::Str(seg.into())
                            }
                        })
                        .collect(),
                );
            }
        }
        if c.p != c.s.len() {
            return Err(INVALID);
        }
        let (pre_rank, pre_n) = match pre {
            Some((idx, n)) => (PRE_RANK.get(idx).copied().unwrap_or(2), n),
            None if post.is_none() && dev.is_some() => (-1, Num::ZERO),
            None => (3, Num::ZERO),
        };
        Ok(Pep440Version {
            epoch,
            release,
            pre_rank,
            pre_n,
            post,
            dev,
            local,
        })
    }
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.release.cmp(&other.release))
            .then_with(|| self.pre_rank.cmp(&other.pre_rank))
            .then_with(|| self.pre_n.cmp(&other.pre_n))
            // No post sorts before any post.
            .then_with(|| self.post.cmp(&other.post))
            // No dev sorts after any dev.
            .then_with(|| match (&self.dev, &other.dev) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
            .then_with(|| self.local.cmp(&other.local))
    }
}
impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn c(a: &str, b: &str) -> Ordering {
        let pa = Pep440Version::parse(a).unwrap_or_else(|e| panic!("{a}: {e}"));
        let pb = Pep440Version::parse(b).unwrap_or_else(|e| panic!("{b}: {e}"));
        pa.cmp(&pb)
    }

    #[test]
    fn pep440_documented_order() {
        // The ordering example from PEP 440's "Summary of permitted suffixes".
        let ordered = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for w in ordered.windows(2) {
            if let [a, b] = w {
                assert_eq!(c(a, b), Less, "{a} < {b}");
            }
        }
    }

    #[test]
    fn normalization() {
        assert_eq!(c("1.0", "1.0.0"), Equal);
        assert_eq!(c("v1.0", "1.0"), Equal);
        assert_eq!(c("1.0alpha1", "1.0a1"), Equal);
        assert_eq!(c("1.0-preview_2", "1.0rc2"), Equal);
        assert_eq!(c("1.0-1", "1.0.post1"), Equal);
        assert_eq!(c("1.0.rev", "1.0-post0"), Equal);
        assert_eq!(c("1.0+UBUNTU-1", "1.0+ubuntu.1"), Equal);
        assert_eq!(c(" 1.0\n", "1.0"), Equal);
        assert_eq!(c("1!0.1", "2.0"), Greater);
        assert_eq!(c("1.0a-1", "1.0a1"), Equal);
    }

    #[test]
    fn invalid() {
        for bad in [
            "", "1.0.", "a1", "1.0+", "1.0-", "1..0", "1.0+a..b", "1.0 a", "٣",
        ] {
            assert!(Pep440Version::parse(bad).is_err(), "{bad:?}");
        }
    }
}
