//! apk-tools 2.x ordering: a port of `src/version.c` (Gentoo-style
//! `{digit}{.digit}…{letter}{_suffix{#}}…{-r#}`), including its quirks:
//! leading zeros after a dot count as a negative value (`1.01 < 1.1`,
//! `1.0 > 1.00`). Numbers compare at any size (newer apk-tools no longer
//! overflow a 32-bit `int`: `_pre20191002222144 < _pre20210530193627`).
//! Strings that `apk_version_validate` rejects are errors.

use std::cmp::Ordering;

use crate::num::cmp_digits;

type Reason = &'static str;

const INVALID: i8 = -1;
const DIGIT_OR_ZERO: i8 = 0;
const DIGIT: i8 = 1;
const LETTER: i8 = 2;
const SUFFIX: i8 = 3;
const SUFFIX_NO: i8 = 4;
const REVISION_NO: i8 = 5;
const END: i8 = 6;

const PRE_SUFFIXES: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
const POST_SUFFIXES: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];

/// A validated apk version string.
#[derive(Clone, Debug)]
pub(crate) struct ApkVersion {
    raw: Box<str>,
}

struct Blob<'a> {
    s: &'a [u8],
}

impl Blob<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }
    fn advance(&mut self, n: usize) {
        self.s = self.s.get(n..).unwrap_or_default();
    }
}

fn next_token(t: &mut i8, blob: &mut Blob<'_>) {
    let n = match blob.at(0) {
        None | Some(0) => END,
        Some(c) if (*t == DIGIT || *t == DIGIT_OR_ZERO) && c.is_ascii_lowercase() => LETTER,
        Some(c) if *t == LETTER && c.is_ascii_digit() => DIGIT,
        Some(c) if *t == SUFFIX && c.is_ascii_digit() => SUFFIX_NO,
        Some(c) => {
            let n = match c {
                b'.' => DIGIT_OR_ZERO,
                b'_' => SUFFIX,
                b'-' if blob.at(1) == Some(b'r') => {
                    blob.advance(1);
                    REVISION_NO
                }
                _ => INVALID,
            };
            blob.advance(1);
            n
        }
    };
    let allowed_backstep = (n == DIGIT_OR_ZERO && *t == DIGIT)
        || (n == SUFFIX && *t == SUFFIX_NO)
        || (n == DIGIT && *t == LETTER);
    *t = if n < *t && !allowed_backstep {
        INVALID
    } else {
        n
    };
}

/// A token's value: small integers (letters, suffixes, zero runs) or a run
/// of decimal digits of any length.
#[derive(Clone, Copy, Debug)]
enum Val<'a> {
    Int(i64),
    Digits(&'a [u8]),
}

impl Val<'_> {
    fn is_negative(self) -> bool {
        matches!(self, Val::Int(v) if v < 0)
    }
    fn cmp(self, other: Val<'_>) -> Ordering {
        match (self, other) {
            (Val::Int(a), Val::Int(b)) => a.cmp(&b),
            (Val::Digits(a), Val::Digits(b)) => cmp_digits(a, b),
            (Val::Int(a), Val::Digits(d)) => cmp_int_digits(a, d),
            (Val::Digits(d), Val::Int(b)) => cmp_int_digits(b, d).reverse(),
        }
    }
}

fn cmp_int_digits(a: i64, d: &[u8]) -> Ordering {
    if a < 0 {
        return Ordering::Less;
    }
    let mut buf = [0u8; 20];
    let mut n = a.unsigned_abs();
    let mut k = buf.len();
    loop {
        k -= 1;
        if let Some(slot) = buf.get_mut(k) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || k == 0 {
            break;
        }
    }
    cmp_digits(buf.get(k..).unwrap_or_default(), d)
}

fn get_token<'a>(t: &mut i8, blob: &mut Blob<'a>) -> Val<'a> {
    if blob.s.is_empty() {
        *t = END;
        return Val::Int(0);
    }
    let mut i = 0usize;
    let mut v = Val::Int(0);
    let mut nt = INVALID;
    let read_digits = |i: &mut usize, v: &mut Val<'a>| {
        let run = blob.s.iter().take_while(|c| c.is_ascii_digit()).count();
        *v = Val::Digits(blob.s.get(..run).unwrap_or_default());
        *i = run;
    };
    match *t {
        DIGIT_OR_ZERO if blob.at(0) == Some(b'0') => {
            while blob.at(i) == Some(b'0') {
                i += 1;
            }
            nt = DIGIT;
            v = Val::Int(-i64::try_from(i).unwrap_or(i64::MAX));
        }
        DIGIT_OR_ZERO | DIGIT | SUFFIX_NO | REVISION_NO => read_digits(&mut i, &mut v),
        LETTER => {
            v = Val::Int(i64::from(blob.at(0).unwrap_or(0) as i8));
            i = 1;
        }
        SUFFIX => {
            if let Some(k) = PRE_SUFFIXES.iter().position(|p| blob.s.starts_with(p)) {
                i = PRE_SUFFIXES.get(k).map_or(0, |p| p.len());
                v = Val::Int(k as i64 - PRE_SUFFIXES.len() as i64);
            } else if let Some(k) = POST_SUFFIXES.iter().position(|p| blob.s.starts_with(p)) {
                i = POST_SUFFIXES.get(k).map_or(0, |p| p.len());
                v = Val::Int(k as i64);
            } else {
                *t = INVALID;
                return Val::Int(-1);
            }
        }
        _ => {
            *t = INVALID;
            return Val::Int(-1);
        }
    }
    blob.advance(i);
    if blob.s.is_empty() {
        *t = END;
    } else if nt != INVALID {
        *t = nt;
    } else {
        next_token(t, blob);
    }
    v
}

fn validate(s: &str) -> Result<(), Reason> {
    let mut t = DIGIT;
    let mut blob = Blob { s: s.as_bytes() };
    while t != END && t != INVALID {
        get_token(&mut t, &mut blob);
    }
    if t == END {
        Ok(())
    } else {
        Err("not a valid apk version ({digit}{.digit}...{letter}{_suffix{#}}...{-r#})")
    }
}

fn compare_valid(a: &str, b: &str) -> Ordering {
    let (mut at, mut bt) = (DIGIT, DIGIT);
    let (mut av, mut bv) = (Val::Int(0), Val::Int(0));
    let mut a = Blob { s: a.as_bytes() };
    let mut b = Blob { s: b.as_bytes() };
    while at == bt && at != END && at != INVALID && av.cmp(bv) == Ordering::Equal {
        av = get_token(&mut at, &mut a);
        bv = get_token(&mut bt, &mut b);
    }
    match av.cmp(bv) {
        Ordering::Equal => {}
        other => return other,
    }
    if at == bt {
        return Ordering::Equal;
    }
    // The longer version wins unless what follows is a pre-release suffix.
    let mut tt = at;
    if at == SUFFIX && get_token(&mut tt, &mut a).is_negative() {
        return Ordering::Less;
    }
    tt = bt;
    if bt == SUFFIX && get_token(&mut tt, &mut b).is_negative() {
        return Ordering::Greater;
    }
    bt.cmp(&at)
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

    /// Hand-checked against apk-tools' `version.c` and its test data
    /// (`test/version.data`), tracing the tokenizer by hand.
    #[test]
    fn documented_cases() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-r1", Less),
            ("1.0-r1", "1.0-r2", Less),
            ("1.1_rc1", "1.1", Less),
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
            ("2.12r-r4", "2.12r-r5", Less),
            ("1.3_pre1-r1", "1.3.2", Less),
            ("1.0_alpha1", "1.0_beta1", Less),
            ("1.0_beta1", "1.0_pre1", Less),
            ("1.0_pre1", "1.0_rc1", Less),
            ("1.0_p1", "1.0", Greater),
            ("1.0_git20200101", "1.0", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0b", Less),
            ("1.0", "1", Greater),
            ("1.01", "1.1", Less),
            ("1.001", "1.01", Less),
            ("1.0", "1.00", Greater),
            ("2.0", "1.99", Greater),
            ("1.2.3", "1.2.3_rc1-r0", Greater),
            ("1.0_rc1", "1.0_rc", Greater),
            ("1.0_p1", "1.0_p1-r1", Less),
            ("0.1_pre2", "0.1_p1_pre2", Less),
            ("1.0.2k-r0", "1.0.2j-r5", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_str(a, b), Ok(*want), "{a} vs {b}");
            assert_eq!(compare_str(b, a), Ok(want.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn rejects_what_apk_rejects() {
        for bad in [
            "1.0-foo",
            "1.0_bogus",
            "1.0_rc1a",
            "1.0A",
            "1.0-r1.2",
            "1.0-r1a",
        ] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        for good in ["1", "1.2.3", "1.0a", "1.0_rc1_p2-r3", "20240101", "1.0-r0"] {
            assert!(validate(good).is_ok(), "{good:?}");
        }
    }
}
