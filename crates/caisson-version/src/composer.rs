//! Packagist: Composer's `VersionParser::normalize` followed by PHP's
//! `version_compare` (a port of `ext/standard/versioning.c`).
//!
//! Branch versions (`dev-*` after normalization) are not ordered by
//! Composer at all; here they sort below every numeric version and by name
//! among themselves, which keeps the order total.

use std::cmp::Ordering;

type Reason = &'static str;

/// A normalized Composer version.
#[derive(Clone, Debug)]
pub(crate) enum ComposerVersion {
    Branch(Box<str>),
    /// PHP-canonicalized normalized version (`1.0.0.0.beta.2`).
    Numeric(Box<[u8]>),
}

fn is_php_trim(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\x0b')
}

fn is_pcre_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..).unwrap_or_default())
}

fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

const STABILITIES: [&str; 9] = [
    "stable", "beta", "b", "RC", "alpha", "a", "patch", "pl", "p",
];

struct Modifier<'a> {
    stability: Option<&'a str>,
    numbers: &'a str,
    dev: bool,
}

/// `[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?$`
/// (case-insensitive), with the regex engine's backtracking order.
fn modifier(s: &str) -> Option<Modifier<'_>> {
    let dev_tail = |t: &str| -> Option<bool> {
        if t.is_empty() {
            return Some(false);
        }
        let t2 = t.strip_prefix(['.', '-']).unwrap_or(t);
        match strip_ci(t2, "dev") {
            Some("") => Some(true),
            _ => strip_ci(t, "dev").filter(|r| r.is_empty()).map(|_| true),
        }
    };
    let starts = if s.starts_with(['.', '_', '-']) {
        vec![s.get(1..).unwrap_or_default(), s]
    } else {
        vec![s]
    };
    for t in starts {
        for stab in STABILITIES {
            let Some(rest) = strip_ci(t, stab) else {
                continue;
            };
            let stability = t.get(..stab.len());
            // Possessive `(?:[.-]?\d+)*+`.
            let mut n = 0;
            loop {
                let r = rest.get(n..).unwrap_or_default();
                let sep = usize::from(r.starts_with(['.', '-']));
                let d = digits(r.get(sep..).unwrap_or_default());
                if d == 0 {
                    break;
                }
                n += sep + d;
            }
            if let Some(dev) = dev_tail(rest.get(n..).unwrap_or_default()) {
                return Some(Modifier {
                    stability,
                    numbers: rest.get(..n).unwrap_or_default(),
                    dev,
                });
            }
        }
        if let Some(dev) = dev_tail(t) {
            return Some(Modifier {
                stability: None,
                numbers: "",
                dev,
            });
        }
    }
    None
}

fn expand_stability(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "a" => "alpha".into(),
        "b" => "beta".into(),
        "p" | "pl" => "patch".into(),
        "rc" => "RC".into(),
        _ => lower,
    }
}

fn with_modifier(mut version: String, m: &Modifier<'_>) -> String {
    if let Some(stab) = m.stability.filter(|s| !s.is_empty()) {
        if stab == "stable" {
            return version;
        }
        version.push('-');
        version.push_str(&expand_stability(stab));
        version.push_str(m.numbers.trim_start_matches(['.', '-']));
    }
    if m.dev {
        version.push_str("-dev");
    }
    version
}

/// `^v?(\d{1,5})(\.\d++)?(\.\d++)?(\.\d++)?` + modifier.
fn classical(s: &str) -> Option<String> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let d = digits(s);
    if d == 0 || d > 5 {
        return None;
    }
    let mut out = s.get(..d)?.to_owned();
    let mut rest = s.get(d..)?;
    for _ in 0..3 {
        let n = rest.strip_prefix('.').map_or(0, digits);
        if n == 0 {
            out.push_str(".0");
        } else {
            out.push_str(rest.get(..=n)?);
            rest = rest.get(n + 1..)?;
        }
    }
    let m = modifier(rest)?;
    Some(with_modifier(out, &m))
}

/// `^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)` + modifier.
fn date(s: &str) -> Option<String> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    if digits(s) < 4 {
        return None;
    }
    let b = s.as_bytes();
    let is_d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let is_sep = |i: usize| matches!(b.get(i), Some(b'.' | b':' | b'-'));
    // Positions reachable after `\d{4}(?:[.:-]?\d{2}){k}`.
    let mut frontier = vec![4usize];
    let mut ends = Vec::new();
    for _ in 0..6 {
        let mut next = Vec::new();
        for &p in &frontier {
            for q in [p, p + 1] {
                if (q == p || is_sep(p)) && is_d(q) && is_d(q + 1) && !next.contains(&(q + 2)) {
                    next.push(q + 2);
                }
            }
        }
        ends.extend(next.iter().copied());
        frontier = next;
    }
    let mut all = ends.clone();
    for &p in &ends {
        for q in [p, p + 1] {
            if q == p || is_sep(p) {
                let mut k = q;
                while k < q + 3 && is_d(k) {
                    k += 1;
                    all.push(k);
                }
            }
        }
    }
    all.sort_unstable_by(|a, b| b.cmp(a));
    all.dedup();
    for e in all {
        if let Some(m) = s.get(e..).and_then(modifier) {
            let head: String = s
                .get(..e)?
                .chars()
                .map(|c| if c.is_ascii_digit() { c } else { '.' })
                .collect();
            return Some(with_modifier(head, &m));
        }
    }
    None
}

/// `VersionParser::normalizeBranch` for names that end in `-dev`.
fn normalize_branch(name: &str) -> String {
    let name = name.trim_matches(is_php_trim);
    let s = name.strip_prefix(['v', 'V']).unwrap_or(name);
    let mut parts: Vec<String> = Vec::new();
    let mut rest = s;
    let d = digits(rest);
    if d > 0 {
        parts.push(rest.get(..d).unwrap_or_default().to_owned());
        rest = rest.get(d..).unwrap_or_default();
        while parts.len() < 4 {
            let Some(r) = rest.strip_prefix('.') else {
                break;
            };
            let n = digits(r);
            if n > 0 {
                parts.push(format!(".{}", r.get(..n).unwrap_or_default()));
                rest = r.get(n..).unwrap_or_default();
            } else if r.starts_with(['x', 'X', '*']) {
                parts.push(".x".into());
                rest = r.get(1..).unwrap_or_default();
            } else {
                break;
            }
        }
        if rest.is_empty() {
            while parts.len() < 4 {
                parts.push(".x".into());
            }
            return parts.concat().replace('x', "9999999") + "-dev";
        }
    }
    format!("dev-{name}")
}

/// `VersionParser::normalize`.
fn normalize(input: &str) -> Result<String, Reason> {
    const INVALID: Reason =
        "invalid version string (Composer's VersionParser::normalize rejects it)";
    let mut v = input.trim_matches(is_php_trim);
    // Strip an alias: `^([^,\s]++) ++as ++([^,\s]++)$`.
    if let Some((left, right)) = v.split_once(" as ") {
        let (l, r) = (left.trim_end_matches(' '), right.trim_start_matches(' '));
        let ok = |x: &str| !x.is_empty() && !x.contains(|c: char| c == ',' || is_pcre_space(c));
        if ok(l) && ok(r) {
            v = l;
        }
    }
    // Strip a stability flag.
    if let Some(at) = v.rfind('@') {
        let flag = v.get(at + 1..).unwrap_or_default();
        if ["stable", "rc", "beta", "alpha", "dev"]
            .iter()
            .any(|s| flag.eq_ignore_ascii_case(s))
        {
            v = v.get(..at).unwrap_or_default();
        }
    }
    if matches!(v, "master" | "trunk" | "default") {
        return Ok(format!("dev-{v}"));
    }
    if let Some(rest) = strip_ci(v, "dev-") {
        return Ok(format!("dev-{rest}"));
    }
    // Strip build metadata: `^([^,\s+]++)\+[^\s]++$`.
    if let Some((head, tail)) = v.split_once('+') {
        if !head.is_empty()
            && !head.contains(|c: char| c == ',' || is_pcre_space(c))
            && !tail.is_empty()
            && !tail.contains(is_pcre_space)
        {
            v = head;
        }
    }
    if let Some(n) = classical(v).or_else(|| date(v)) {
        return Ok(n);
    }
    // `(.*?)[.-]?dev$` (case-insensitive): numeric branches like `1.x-dev`.
    if v.len() >= 3
        && v.get(v.len() - 3..)
            .is_some_and(|t| t.eq_ignore_ascii_case("dev"))
    {
        let head = v.get(..v.len() - 3).unwrap_or_default();
        let head = head.strip_suffix(['.', '-']).unwrap_or(head);
        let n = normalize_branch(head);
        if !n.contains("dev-") {
            return Ok(n);
        }
    }
    Err(INVALID)
}

/// `php_canonicalize_version`.
fn canonicalize(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 2);
    let Some((&first, rest)) = v.split_first() else {
        return out;
    };
    out.push(first);
    let mut lp = first;
    let isdig = |c: u8| c.is_ascii_digit();
    let isndig = |c: u8| !c.is_ascii_digit() && c != b'.';
    for &c in rest {
        let lq = out.last().copied().unwrap_or(0);
        if matches!(c, b'-' | b'_' | b'+') {
            if lq != b'.' {
                out.push(b'.');
            }
        } else if (isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c)) {
            if lq != b'.' {
                out.push(b'.');
            }
            out.push(c);
        } else if !c.is_ascii_alphanumeric() {
            if lq != b'.' {
                out.push(b'.');
            }
        } else {
            out.push(c);
        }
        lp = c;
    }
    out
}

fn special_form(form: &[u8]) -> i32 {
    const FORMS: [(&[u8], i32); 10] = [
        (b"dev", 0),
        (b"alpha", 1),
        (b"a", 1),
        (b"beta", 2),
        (b"b", 2),
        (b"RC", 3),
        (b"rc", 3),
        (b"#", 4),
        (b"pl", 5),
        (b"p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| form.starts_with(name))
        .map_or(-1, |(_, o)| *o)
}

/// `strtol(s, NULL, 10)` on a run starting with a digit, saturating.
fn strtol(s: &[u8]) -> i64 {
    let mut v: i64 = 0;
    for &c in s.iter().take_while(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    v
}

/// `php_version_compare` on already-canonical strings.
fn php_compare(v1: &[u8], v2: &[u8]) -> Ordering {
    if v1.is_empty() || v2.is_empty() {
        return (!v1.is_empty()).cmp(&!v2.is_empty());
    }
    let (mut p1, mut p2) = (0usize, 0usize);
    let (mut n1, mut n2) = (Some(0usize), Some(0usize));
    let mut compare = Ordering::Equal;
    let digit_at = |s: &[u8], i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    while p1 < v1.len() && p2 < v2.len() && n1.is_some() && n2.is_some() {
        n1 = v1
            .get(p1..)
            .and_then(|r| r.iter().position(|&c| c == b'.'))
            .map(|i| p1 + i);
        n2 = v2
            .get(p2..)
            .and_then(|r| r.iter().position(|&c| c == b'.'))
            .map(|i| p2 + i);
        let e1 = v1.get(p1..n1.unwrap_or(v1.len())).unwrap_or_default();
        let e2 = v2.get(p2..n2.unwrap_or(v2.len())).unwrap_or_default();
        let (d1, d2) = (digit_at(e1, 0), digit_at(e2, 0));
        compare = match (d1, d2) {
            (true, true) => strtol(e1).cmp(&strtol(e2)),
            (false, false) => special_form(e1).cmp(&special_form(e2)),
            (true, false) => special_form(b"#N#").cmp(&special_form(e2)),
            (false, true) => special_form(e1).cmp(&special_form(b"#N#")),
        };
        if compare != Ordering::Equal {
            break;
        }
        if let Some(n) = n1 {
            p1 = n + 1;
        }
        if let Some(n) = n2 {
            p2 = n + 1;
        }
    }
    if compare == Ordering::Equal {
        if n1.is_some() {
            compare = if digit_at(v1, p1) {
                Ordering::Greater
            } else {
                php_compare(v1.get(p1..).unwrap_or_default(), b"#N#")
            };
        } else if n2.is_some() {
            compare = if digit_at(v2, p2) {
                Ordering::Less
            } else {
                php_compare(b"#N#", v2.get(p2..).unwrap_or_default())
            };
        }
    }
    compare
}

/// PHP's `version_compare($a, $b)` on raw strings.
#[cfg(test)]
pub(crate) fn version_compare(a: &str, b: &str) -> Ordering {
    let canon = |s: &str| {
        let s = s.split('\0').next().unwrap_or_default().as_bytes();
        if s.first() == Some(&b'#') {
            s.to_vec()
        } else {
            canonicalize(s)
        }
    };
    php_compare(&canon(a), &canon(b))
}

impl ComposerVersion {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        let n = normalize(input)?;
        if let Some(name) = n.strip_prefix("dev-") {
            return Ok(ComposerVersion::Branch(name.into()));
        }
        Ok(ComposerVersion::Numeric(canonicalize(n.as_bytes()).into()))
    }
}

impl Ord for ComposerVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (ComposerVersion::Numeric(a), ComposerVersion::Numeric(b)) => php_compare(a, b),
            (ComposerVersion::Branch(a), ComposerVersion::Branch(b)) => a.cmp(b),
            (ComposerVersion::Branch(_), ComposerVersion::Numeric(_)) => Ordering::Less,
            (ComposerVersion::Numeric(_), ComposerVersion::Branch(_)) => Ordering::Greater,
        }
    }
}
impl PartialOrd for ComposerVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for ComposerVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ComposerVersion {}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn normalize_cases() {
        // From composer/semver's VersionParserTest::successfulNormalizedVersions.
        let cases = [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-rc1", "1.0.0.0-RC1"),
            ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
            ("1.0-dev", "1.0.0.0-dev"),
            ("0", "0.0.0.0"),
            ("10.4.13-beta", "10.4.13.0-beta"),
            ("10.4.13beta2", "10.4.13.0-beta2"),
            ("10.4.13beta.2", "10.4.13.0-beta2"),
            ("v1.13.11-beta.0", "1.13.11.0-beta0"),
            ("10.4.13-b", "10.4.13.0-beta"),
            ("10.4.13-b5", "10.4.13.0-beta5"),
            ("v1.0.0", "1.0.0.0"),
            ("v20100102", "20100102"),
            ("2010-01-02", "2010.01.02"),
            ("2010-01-02.5", "2010.01.02.5"),
            ("1.0.0-alpha3.1+foo/-bar", "1.0.0.0-alpha3.1"),
            ("20100102-203040", "20100102.203040"),
            ("20100102203040-10", "20100102203040.10"),
            ("20100102-203040-p1", "20100102.203040-patch1"),
            ("dev-master", "dev-master"),
            ("master", "dev-master"),
            ("dev-feature-foo", "dev-feature-foo"),
            ("DEV-FOOBAR", "dev-FOOBAR"),
            ("1.x-dev", "1.9999999.9999999.9999999-dev"),
            ("1.0.0+foo", "1.0.0.0"),
            ("1.0.0-alpha.3.1+foo", "1.0.0.0-alpha3.1"),
            ("1.0.0-alpha2.1+0123", "1.0.0.0-alpha2.1"),
            ("1.0.0+foo as 2.0", "1.0.0.0"),
            ("1.0.0-beta.5+foo", "1.0.0.0-beta5"),
            ("1.0.0@dev", "1.0.0.0"),
            ("00.01.03.04", "00.01.03.04"),
            ("000.001.003.004", "000.001.003.004"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).as_deref(), Ok(want), "{input}");
        }
        for bad in [
            "",
            "a",
            "1.0.0-meh",
            "1.0.0.0.0",
            "feature-foo",
            "1.0 .2",
            "1.0.0+foo bar",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn php_version_compare_cases() {
        // From php-src ext/standard/tests/versioning/version_compare.phpt.
        assert_eq!(version_compare("1", "1.0"), Less);
        assert_eq!(version_compare("1.0", "1.0.0"), Less);
        assert_eq!(version_compare("1.0-dev", "1.0"), Less);
        assert_eq!(version_compare("1.0a", "1.0b"), Less);
        assert_eq!(version_compare("1.0RC1", "1.0"), Less);
        assert_eq!(version_compare("1.0pl1", "1.0"), Greater);
        assert_eq!(version_compare("1.0-a1", "1.0alpha1"), Equal);
        assert_eq!(version_compare("", "1"), Less);
    }
}
