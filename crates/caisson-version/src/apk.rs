//! apk-tools 3 ordering (Alpine ≥ 3.23): a port of apk-tools 3.0 `src/version.c`.
//!
//! Grammar: `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`, tokenized
//! the way apk does it:
//! - the first number and every suffix/revision number compare as numbers,
//!   parsed like `apk_blob_pull_uint` — into a `u64` that silently wraps
//!   (`18446744073709551617 = 1`);
//! - a number after a dot whose digits start with `0` (on either side)
//!   compares as a byte string (`1.01 < 1.1`, `1.0 < 1.00`, `1.09 > 1.010`);
//! - one lowercase letter may follow a number, and nothing but `_`, `~` or
//!   `-r` may follow the letter (`1a2` is invalid);
//! - a suffix is exactly one of `alpha beta pre rc` (before the release) or
//!   `cvs svn git hg p` (after it), optionally followed by a number;
//! - `~hash` is a run of lowercase hex digits, compared as a byte string;
//! - when one version runs out of tokens, or the token kinds differ, a
//!   pre-release suffix sorts lowest, then the shorter/"later kind" version:
//!   `END < -r < ~hash < suffix number < _post suffix < letter < .digit`.
//!
//! Strings that `apk_version_validate` rejects are errors (`apk version -t`
//! prints nothing and exits 1 for them).

use std::cmp::Ordering;

type Reason = &'static str;

const INVALID_REASON: Reason =
    "not a valid apk version (digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#})";

/// Token kinds, in apk's order: the order is part of the semantics (a token
/// may only be followed by a later kind, and the tail of `compare` uses it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffixes by value; `NONE` (the release) is the pivot between
/// pre-release and post-release suffixes.
const SUFFIXES: [(&[u8], u8); 9] = [
    (b"alpha", 1),
    (b"beta", 2),
    (b"pre", 3),
    (b"rc", 4),
    (b"cvs", 6),
    (b"svn", 7),
    (b"git", 8),
    (b"hg", 9),
    (b"p", 10),
];
const SUFFIX_NONE: u8 = 5;

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    suffix: u8,
    number: u64,
    value: &'a [u8],
}

/// Splits `s` after the longest prefix whose bytes satisfy `pred`.
fn span(s: &[u8], pred: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|c| pred(**c)).count();
    s.split_at(n.min(s.len()))
}

struct Lexer<'a> {
    rest: &'a [u8],
    tok: Token<'a>,
}

impl<'a> Lexer<'a> {
    /// `token_first`: the leading number.
    fn new(s: &'a str) -> Self {
        let mut lx = Lexer {
            rest: s.as_bytes(),
            tok: Token {
                kind: Kind::InitialDigit,
                suffix: 0,
                number: 0,
                value: &[],
            },
        };
        lx.digits();
        lx
    }

    /// `token_parse_digits`: a (wrapping) decimal number; none is invalid.
    fn digits(&mut self) {
        let (run, rest) = span(self.rest, |c| c.is_ascii_digit());
        self.tok.number = run.iter().fold(0u64, |n, d| {
            n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        });
        self.tok.value = run;
        self.rest = rest;
        if run.is_empty() {
            self.tok.kind = Kind::Invalid;
        }
    }

    /// `token_next`: classifies the next token by its first byte and checks
    /// that it may follow the previous one.
    fn advance(&mut self) {
        let kind = self.tok.kind;
        let Some((&c, after)) = self.rest.split_first() else {
            self.tok.kind = Kind::End;
            return;
        };
        let ok = match c {
            b'a'..=b'z' if kind <= Kind::Digit => {
                self.tok.value = self.rest.get(..1).unwrap_or_default();
                self.tok.kind = Kind::Letter;
                self.rest = after;
                true
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if kind > Kind::Digit {
                        false
                    } else {
                        self.rest = after;
                        self.number_after(kind)
                    }
                } else {
                    self.number_after(kind)
                }
            }
            b'_' if kind <= Kind::SuffixNo => {
                let (name, rest) = span(after, |c| c.is_ascii_lowercase());
                self.rest = rest;
                self.tok.value = name;
                match SUFFIXES.iter().find(|(s, _)| *s == name) {
                    Some((_, v)) => {
                        self.tok.suffix = *v;
                        self.tok.kind = Kind::Suffix;
                        true
                    }
                    None => false,
                }
            }
            b'~' if kind < Kind::CommitHash => {
                let (hash, rest) = span(after, |c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                self.rest = rest;
                self.tok.value = hash;
                self.tok.kind = Kind::CommitHash;
                !hash.is_empty()
            }
            b'-' if kind < Kind::RevisionNo => match self.rest.strip_prefix(b"-r") {
                Some(rest) => {
                    self.rest = rest;
                    self.tok.kind = Kind::RevisionNo;
                    self.digits();
                    true
                }
                None => false,
            },
            _ => false,
        };
        if !ok {
            self.tok.kind = Kind::Invalid;
        }
    }

    /// Digits (after an optional dot) continue a number or number a suffix.
    fn number_after(&mut self, kind: Kind) -> bool {
        self.tok.kind = match kind {
            Kind::InitialDigit | Kind::Digit => Kind::Digit,
            Kind::Suffix => Kind::SuffixNo,
            _ => return false,
        };
        self.digits();
        true
    }
}

/// `token_cmp` for two tokens of the same kind.
fn token_cmp(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        Kind::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => {
            a.value.cmp(b.value)
        }
        Kind::Digit | Kind::InitialDigit | Kind::SuffixNo | Kind::RevisionNo => {
            a.number.cmp(&b.number)
        }
        Kind::Letter | Kind::CommitHash | Kind::End | Kind::Invalid => a.value.cmp(b.value),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
    }
}

fn validate(s: &str) -> Result<(), Reason> {
    let mut lx = Lexer::new(s);
    while lx.tok.kind < Kind::End {
        lx.advance();
    }
    if lx.tok.kind == Kind::End {
        Ok(())
    } else {
        Err(INVALID_REASON)
    }
}

/// `apk_version_compare` (non-fuzzy) on two valid versions.
fn compare_valid(a: &str, b: &str) -> Ordering {
    let mut la = Lexer::new(a);
    let mut lb = Lexer::new(b);
    while la.tok.kind == lb.tok.kind && la.tok.kind < Kind::End {
        match token_cmp(&la.tok, &lb.tok) {
            Ordering::Equal => {}
            other => return other,
        }
        la.advance();
        lb.advance();
    }
    let (ta, tb) = (la.tok, lb.tok);
    if ta.kind == tb.kind {
        return Ordering::Equal;
    }
    // The version that goes on is greater, unless it goes on with a
    // pre-release suffix; otherwise the later token kind sorts first.
    if ta.kind == Kind::Suffix && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.kind == Kind::Suffix && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    tb.kind.cmp(&ta.kind)
}

/// A validated apk version string.
#[derive(Clone, Debug)]
pub(crate) struct ApkVersion {
    raw: Box<str>,
}

impl ApkVersion {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        validate(input)?;
        Ok(ApkVersion { raw: input.into() })
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_valid(&self.raw, &other.raw)
    }
}
impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ApkVersion {}

pub(crate) fn compare_str<'a>(a: &'a str, b: &'a str) -> Result<Ordering, (&'a str, Reason)> {
    validate(a).map_err(|r| (a, r))?;
    validate(b).map_err(|r| (b, r))?;
    Ok(compare_valid(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    /// Checked with apk-tools 3.0.8's `apk version -t` (Alpine 3.23), plus
    /// rows of apk-tools' `test/version.data`.
    #[test]
    fn documented_cases() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-r1", Less),
            ("1.0-r1", "1.0-r2", Less),
            ("1.1_rc1", "1.1", Less),
            ("1.0_rc1", "1.0", Less),
            ("0.1.0_alpha_pre2", "0.1.0_alpha", Less),
            (
                "1.0.0_pre20191002222144-r0",
                "1.0.0_pre20210530193627-r0",
                Less,
            ),
            ("1.06-r6", "006", Less),
            ("0.20070118", "0.20070207_rc1", Less),
            ("3.0.0-r2", "021109-r3", Less),
            ("1.07-r1", "1.07.5", Less),
            ("2.10.1", "02.08.01b", Greater),
            ("1.3_pre1-r1", "1.3.2", Less),
            ("1.0_alpha1", "1.0_beta1", Less),
            ("1.0_beta1", "1.0_pre1", Less),
            ("1.0_pre1", "1.0_rc1", Less),
            ("1.0_pre", "1.0_p", Less),
            ("1.0_p1", "1.0", Greater),
            ("1.0_git20200101", "1.0", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0b", Less),
            ("1.0a", "1.0.1", Less),
            ("1.0", "1", Greater),
            ("1.01", "1.1", Less),
            ("1.001", "1.01", Less),
            ("1.09", "1.010", Greater),
            // v3: zero-led numbers compare as strings, so the shorter is less
            // (apk-tools 2 said 1.0 > 1.00).
            ("1.0", "1.00", Less),
            ("01", "1", Equal),
            ("2.0", "1.99", Greater),
            ("1.2.3", "1.2.3_rc1-r0", Greater),
            ("1.2.3", "1.2_p", Greater),
            ("1.0_rc1", "1.0_rc", Greater),
            ("1.0_rc", "1.0.1", Less),
            ("1.0_p1", "1.0_p1-r1", Less),
            ("1_rc1_p", "1_rc1", Greater),
            ("1.0_p_rc", "1.0_p", Less),
            ("1.0a_rc1", "1.0a", Less),
            ("1.0.2k-r0", "1.0.2j-r5", Greater),
            ("1.0~ab", "1.0", Greater),
            ("1.0~ab", "1.0~abc", Less),
            ("1.0~b", "1.0~abc", Greater),
            ("1.0~a-r1", "1.0-r1", Greater),
            ("1.0-r1", "1.0~a", Less),
            ("18446744073709551616", "1", Less),
            ("18446744073709551617", "1", Equal),
            ("1.18446744073709551617", "1.1", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_str(a, b), Ok(*want), "{a} vs {b}");
            assert_eq!(compare_str(b, a), Ok(want.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn rejects_what_apk_rejects() {
        for bad in [
            "",
            "a",
            "1.",
            "1.0-",
            "1.0-r",
            "1.0-foo",
            "1.0_bogus",
            "1.0_",
            "1.0_rca",
            "1.0_rc1a",
            "1.0A",
            "1a2",
            "1ab",
            "1a.2",
            "1.0-r1.2",
            "1.0-r1a",
            "1.0-r1~ab",
            "1.0~",
            "1.0~AB",
            "1.0~ab_rc1",
            "1.0~ab~cd",
            "-r1",
            "1 ",
            "1\0",
        ] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        for good in [
            "1",
            "1.2.3",
            "1.0a",
            "1.0_rc1_p2-r3",
            "20240101",
            "1.0-r0",
            "1.0_p_rc",
            "1.0~0a1f",
            "1.0_git1~abc-r2",
        ] {
            assert!(validate(good).is_ok(), "{good:?}");
        }
    }
}
