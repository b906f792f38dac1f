//! Ordering for versions an ecosystem's own tool rejects but real feeds and
//! installed packages contain: typos in Alpine's secdb (`1.18.-r2`,
//! `6.6.2p1-r0`), `v`-prefixed or short SemVer (`v1.2.3`, `1.0`), legacy
//! (pre-PEP 440) PyPI versions (`0.3m1`, `2.0.0-final`).
//!
//! The rules are those of OSV's reference implementation, the `semantic`
//! package osv.dev and osv-scanner use (now maintained in osv-scalibr),
//! reimplemented here from its description, not translated:
//!
//! - **Alpine**: numbers split by dots (a dot that no digit follows is
//!   ignored), an optional letter, `_suffix[N]` items found anywhere in what
//!   is left, an optional `~hash`, an optional `-rN`; whatever is left after
//!   that is a *remainder*. A version with a remainder sorts just below the
//!   same version without it.
//! - **SemVer family** (npm, crates.io, Go, SemVer, Pub): a leading `v` is
//!   dropped, numbers split by dots up to the first other character, missing
//!   numbers are 0, the rest is the pre-release (build metadata after `+`
//!   is ignored, except by Pub).
//! - **PyPI**: a string PEP 440 rejects is a *legacy* version (setuptools'
//!   pre-PEP 440 scheme): it sorts below every PEP 440 version, and legacy
//!   versions order by their legacy key (digit runs zero-padded to 8, words
//!   prefixed with `*`, `pre`/`preview`/`rc` → `c`, `dev` → `@`, `-` →
//!   `final-`, trailing zeros dropped before a word) compared as one joined
//!   string. Characters outside `[a-z0-9.-]` are dropped, as OSV drops them.
//!
//! How a fallback version meets a valid one: the Alpine and SemVer rules
//! *repair* the string (`1.18.-r2` → `1.18-r2`, `v1.2.3` → `1.2.3`) and the
//! repair is ordered by the ecosystem's own rules, so the tool stays the
//! judge wherever it can be; an Alpine remainder puts the version just
//! below its repair (ties broken by the original string). PyPI legacy
//! versions form their own band below PEP 440. Each of these is a total
//! order. What even these rules cannot read (no leading number, an empty
//! string, a repair the tool still rejects) is *unorderable*.

use crate::Ecosystem;

/// How a rejected version is ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lenient {
    /// Exactly as the strict version `0` (equal to it).
    Repaired(String),
    /// Just below the strict version `0`; such versions tie-break by the
    /// original string.
    Below(String),
    /// A PyPI legacy version with this joined legacy key.
    PyLegacy(String),
}

/// The OSV-rule reading of `input` under `eco`, or `None` when `eco` has no
/// fallback or the string cannot be read even so.
pub(crate) fn lenient(eco: Ecosystem, input: &str) -> Option<Lenient> {
    if input.trim().is_empty() {
        return None;
    }
    match eco {
        Ecosystem::Alpine => alpine(input),
        Ecosystem::PyPI => Some(Lenient::PyLegacy(pypi_legacy_key(input))),
        Ecosystem::Npm
        | Ecosystem::Go
        | Ecosystem::CratesIo
        | Ecosystem::SemVer
        | Ecosystem::Pub => semver_like(input, eco == Ecosystem::Pub).map(Lenient::Repaired),
        _ => None,
    }
}

/// Digits without leading zeros (`""` stays `""`).
fn trim_zeros(d: &str) -> &str {
    let t = d.trim_start_matches('0');
    if t.is_empty() && !d.is_empty() {
        "0"
    } else {
        t
    }
}

fn digits_len(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

const ALPINE_SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];

/// One `_(alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*` match at the start of
/// `s`: (suffix name, digits, length of the match). The names are tried in
/// that order, so `_pre` is `pre`, not `p`.
fn alpine_suffix_at(s: &str) -> Option<(&'static str, &str, usize)> {
    let rest = s.strip_prefix('_')?;
    let name = ALPINE_SUFFIXES.into_iter().find(|n| rest.starts_with(n))?;
    let after = rest.get(name.len()..)?;
    let d = digits_len(after);
    Some((name, after.get(..d)?, 1 + name.len() + d))
}

fn alpine(input: &str) -> Option<Lenient> {
    // Numbers: `^((\d+)\.?)*`; a dot no digit follows ends them.
    let mut rest = input;
    let mut numbers: Vec<&str> = Vec::new();
    loop {
        let d = digits_len(rest);
        if d == 0 {
            break;
        }
        numbers.push(rest.get(..d)?);
        rest = rest.get(d..)?;
        match rest.strip_prefix('.') {
            Some(r) => rest = r,
            None => break,
        }
    }
    if numbers.is_empty() {
        return None;
    }
    // An optional lower-case letter.
    let letter = rest.chars().next().filter(char::is_ascii_lowercase);
    if let Some(l) = letter {
        rest = rest.get(l.len_utf8()..)?;
    }
    // Suffixes: every match anywhere in the rest counts; a match is cut
    // off the front only when the rest (as cut so far) starts with its text.
    let mut suffixes: Vec<(&str, &str)> = Vec::new();
    let mut matches: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let Some(tail) = rest.get(i..) else {
            i += 1;
            continue;
        };
        match alpine_suffix_at(tail) {
            Some((name, digits, len)) => {
                suffixes.push((name, digits));
                matches.push(tail.get(..len)?);
                i += len;
            }
            None => i += 1,
        }
    }
    for m in matches {
        if let Some(r) = rest.strip_prefix(m) {
            rest = r;
        }
    }
    // `~hash`: lower-case hex.
    let mut hash = "";
    if let Some(h) = rest.strip_prefix('~') {
        let n = h
            .bytes()
            .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .count();
        if n > 0 {
            hash = rest.get(..=n)?;
            rest = rest.get(n + 1..)?;
        }
    }
    // `-rN`; anything else left over is the remainder.
    let mut build = None;
    if let Some(r) = rest.strip_prefix("-r") {
        let d = digits_len(r);
        build = Some(trim_zeros(r.get(..d)?));
        rest = r.get(d..)?;
    }

    let mut repaired = numbers.join(".");
    if let Some(l) = letter {
        repaired.push(l);
    }
    for (name, digits) in suffixes {
        repaired.push('_');
        repaired.push_str(name);
        repaired.push_str(trim_zeros(digits));
    }
    repaired.push_str(hash);
    if let Some(b) = build {
        repaired.push_str("-r");
        repaired.push_str(if b.is_empty() { "0" } else { b });
    }
    Some(if rest.is_empty() {
        Lenient::Repaired(repaired)
    } else {
        Lenient::Below(repaired)
    })
}

/// OSV's SemVer-like reading, rendered as strict SemVer: `v1.2` →
/// `1.2.0`, `1.2.3rc1` → `1.2.3-rc1`. More than three numbers go to the
/// pre-release (`1.2.3.4` → pre-release `.4`, which strict SemVer rejects).
fn semver_like(input: &str, keep_build: bool) -> Option<String> {
    let s = input.strip_prefix('v').unwrap_or(input);
    let mut numbers: Vec<&str> = Vec::new();
    let mut rest = s;
    loop {
        let d = digits_len(rest);
        if d > 0 {
            numbers.push(trim_zeros(rest.get(..d)?));
            rest = rest.get(d..)?;
        }
        match rest.strip_prefix('.') {
            Some(r) => rest = r,
            None => break,
        }
    }
    if numbers.is_empty() {
        return None;
    }
    let mut build = rest.to_string();
    for extra in numbers.get(3..).unwrap_or_default() {
        build.push('.');
        build.push_str(extra);
    }
    let (pre, meta) = match build.split_once('+') {
        Some((p, m)) => (p, Some(m)),
        None => (build.as_str(), None),
    };
    let pre = pre.strip_prefix('-').unwrap_or(pre);
    let num = |i: usize| numbers.get(i).copied().unwrap_or("0");
    let mut out = format!("{}.{}.{}", num(0), num(1), num(2));
    if !pre.is_empty() {
        out.push('-');
        out.push_str(pre);
    }
    if keep_build {
        if let Some(m) = meta.filter(|m| !m.is_empty()) {
            out.push('+');
            out.push_str(m);
        }
    }
    Some(out)
}

/// setuptools' legacy version key as OSV computes it, joined into one string.
pub(crate) fn pypi_legacy_key(input: &str) -> String {
    let lower = input.to_lowercase();
    // Tokens: `\d+ | [a-z]+ | . | -`; anything else is dropped.
    let mut tokens: Vec<&str> = Vec::new();
    let b = lower.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let run = |pred: fn(&u8) -> bool| {
            b.get(i..)
                .map_or(0, |t| t.iter().take_while(|c| pred(c)).count())
        };
        let n = match b.get(i) {
            Some(c) if c.is_ascii_digit() => run(u8::is_ascii_digit),
            Some(c) if c.is_ascii_lowercase() => run(u8::is_ascii_lowercase),
            Some(b'.' | b'-') => 1,
            _ => {
                i += 1;
                continue;
            }
        };
        if let Some(t) = lower.get(i..i + n) {
            tokens.push(t);
        }
        i += n;
    }
    tokens.push("final");
    let mut parts: Vec<String> = Vec::new();
    for t in tokens {
        if t.is_empty() || t == "." {
            continue;
        }
        let t = match t {
            "pre" | "preview" | "rc" => "c",
            "-" => "final-",
            "dev" => "@",
            other => other,
        };
        let part = if t.bytes().next().is_some_and(|c| c.is_ascii_digit()) {
            format!("{t:0>8}")
        } else {
            format!("*{t}")
        };
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|p| p == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|p| p == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    }
    parts.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alp(s: &str) -> Option<Lenient> {
        alpine(s)
    }

    #[test]
    fn alpine_readings_of_the_secdb_typos() {
        use Lenient::*;
        assert_eq!(alp("1.18.-r2"), Some(Repaired("1.18-r2".into())));
        assert_eq!(alp("0.12.5.-r0"), Some(Repaired("0.12.5-r0".into())));
        assert_eq!(alp("2.15.r-r1"), Some(Repaired("2.15r-r1".into())));
        assert_eq!(alp("0.8.21.r2"), Some(Below("0.8.21r".into())));
        assert_eq!(alp("6.6.2p1-r0"), Some(Below("6.6.2p".into())));
        assert_eq!(alp("2.7.16-33"), Some(Below("2.7.16".into())));
        assert_eq!(alp("1.11-20-r0"), Some(Below("1.11".into())));
        assert_eq!(alp("57-1-r2"), Some(Below("57".into())));
        assert_eq!(
            alp("1.0_pre1_p02~ab-r"),
            Some(Repaired("1.0_pre1_p2~ab-r0".into()))
        );
        // A suffix found past the first unreadable character still counts.
        assert_eq!(alp("1.0_foo_rc1"), Some(Below("1.0_rc1".into())));
        assert_eq!(alp("v1.2"), None);
        assert_eq!(alp(""), None);
    }

    #[test]
    fn semver_like_repairs() {
        assert_eq!(semver_like("v1.2.3", false).as_deref(), Some("1.2.3"));
        assert_eq!(semver_like("1.0", false).as_deref(), Some("1.0.0"));
        assert_eq!(semver_like("01.2", false).as_deref(), Some("1.2.0"));
        assert_eq!(semver_like("1.2.3rc1", false).as_deref(), Some("1.2.3-rc1"));
        assert_eq!(
            semver_like("1.2.3-b.1+x", false).as_deref(),
            Some("1.2.3-b.1")
        );
        assert_eq!(semver_like("v1.2.3+x", true).as_deref(), Some("1.2.3+x"));
        assert_eq!(semver_like("1.2.3.4", false).as_deref(), Some("1.2.3-.4"));
        assert_eq!(semver_like("latest", false), None);
    }

    #[test]
    fn pypi_legacy_keys() {
        assert_eq!(pypi_legacy_key("0.3m1"), "0000000000000003*m00000001*final");
        assert_eq!(
            pypi_legacy_key("2.0.0-final"),
            "00000002*final-*final*final"
        );
        assert_eq!(pypi_legacy_key("1.0rc1"), "00000001*c00000001*final");
        assert_eq!(pypi_legacy_key("1.0.dev2"), "00000001*@00000002*final");
        assert_eq!(pypi_legacy_key("trunk"), "*trunk*final");
    }
}
