//! SemVer 2.0.0 family: node-semver (npm), `golang.org/x/mod/semver` (Go),
//! Cargo's `semver` crate (crates.io) and the plain spec (SemVer). All four
//! order by precedence: build metadata is parsed, validated and ignored.

use std::cmp::Ordering;

use crate::num::{all_digits, Num};

type Reason = &'static str;

/// A pre-release identifier.
#[derive(Clone, Debug)]
enum Ident {
    Num(Num),
    /// node-semver compares numeric-looking identifiers as JS numbers.
    Float(f64),
    Str(Box<str>),
}

impl Ident {
    fn rank(&self) -> u8 {
        match self {
            Ident::Num(_) | Ident::Float(_) => 0,
            Ident::Str(_) => 1,
        }
    }
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Ident::Num(a), Ident::Num(b)) => a.cmp(b),
            (Ident::Float(a), Ident::Float(b)) => a.total_cmp(b),
            (Ident::Str(a), Ident::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}
impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Ident {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ident {}

/// A SemVer version reduced to what precedence looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SemVer {
    major: Num,
    minor: Num,
    patch: Num,
    pre: Vec<Ident>,
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        self.major
            .cmp(&other.major)
            .then_with(|| self.minor.cmp(&other.minor))
            .then_with(|| self.patch.cmp(&other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}
impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// A numeric identifier in the spec's sense: `0|[1-9][0-9]*`.
fn numeric_ok(s: &str) -> bool {
    all_digits(s) && (s.len() == 1 || !s.starts_with('0'))
}

/// Splits `core[-pre][+build]`; the pre-release starts at the first `-`,
/// the build at the first `+`.
fn split_core(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    (core, pre, build)
}

fn check_build(build: Option<&str>) -> Result<(), Reason> {
    if let Some(b) = build {
        if b.split('.')
            .any(|id| id.is_empty() || !id.bytes().all(is_ident_char))
        {
            return Err("invalid build metadata identifier");
        }
    }
    Ok(())
}

fn parse_pre(pre: Option<&str>, numeric: impl Fn(&str) -> Ident) -> Result<Vec<Ident>, Reason> {
    let Some(pre) = pre else {
        return Ok(Vec::new());
    };
    pre.split('.')
        .map(|id| {
            if id.is_empty() || !id.bytes().all(is_ident_char) {
                Err("invalid pre-release identifier")
            } else if all_digits(id) {
                if numeric_ok(id) {
                    Ok(numeric(id))
                } else {
                    Err("numeric pre-release identifier has a leading zero")
                }
            } else {
                Ok(Ident::Str(id.into()))
            }
        })
        .collect()
}

fn parse_core(core: &str) -> Result<[Num; 3], Reason> {
    let mut it = core.split('.');
    let mut next = || -> Result<Num, Reason> {
        let part = it.next().ok_or("expected major.minor.patch")?;
        if !numeric_ok(part) {
            return Err("version number is not a number without leading zeros");
        }
        Ok(Num::from_digits(part))
    };
    let nums = [next()?, next()?, next()?];
    if it.next().is_some() {
        return Err("expected major.minor.patch");
    }
    Ok(nums)
}

/// JavaScript's `String.prototype.trim` whitespace.
fn is_js_space(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}'
}

const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

impl SemVer {
    /// Cargo's `semver::Version::parse`: numbers must fit `u64`.
    pub(crate) fn parse_cargo(input: &str) -> Result<Self, Reason> {
        let v = Self::parse_strict(input)?;
        for n in [&v.major, &v.minor, &v.patch] {
            if matches!(n, Num::Big(_)) {
                return Err("version number does not fit in u64");
            }
        }
        Ok(v)
    }

    /// The SemVer 2.0.0 grammar, numbers of any size.
    pub(crate) fn parse_strict(input: &str) -> Result<Self, Reason> {
        let (core, pre, build) = split_core(input);
        let [major, minor, patch] = parse_core(core)?;
        let pre = parse_pre(pre, |id| Ident::Num(Num::from_digits(id)))?;
        check_build(build)?;
        Ok(SemVer {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// node-semver's `new SemVer(v)` in strict mode.
    pub(crate) fn parse_npm(input: &str) -> Result<Self, Reason> {
        if input.encode_utf16().count() > 256 {
            return Err("version is longer than 256 characters");
        }
        let t = input.trim_matches(is_js_space);
        let t = t.strip_prefix('v').unwrap_or(t);
        let (core, pre, build) = split_core(t);
        let [major, minor, patch] = parse_core(core)?;
        for n in [&major, &minor, &patch] {
            if !matches!(n, Num::Small(v) if *v <= MAX_SAFE_INTEGER) {
                return Err("version number is larger than Number.MAX_SAFE_INTEGER");
            }
        }
        let pre = parse_pre(pre, |id| {
            Ident::Float(id.parse::<f64>().unwrap_or(f64::INFINITY))
        })?;
        check_build(build)?;
        Ok(SemVer {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// node-semver's `compare`: identical to precedence with float identifiers.
    pub(crate) fn cmp_npm(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }

    /// `golang.org/x/mod/semver`, with the leading `v` optional as in OSV
    /// (`v1` and `v1.2` are shorthands for `v1.0.0` and `v1.2.0`).
    pub(crate) fn parse_go(input: &str) -> Result<Self, Reason> {
        let t = input.strip_prefix('v').unwrap_or(input);
        let (core, pre, build) = split_core(t);
        let parts: Vec<&str> = core.splitn(4, '.').collect();
        if parts.len() > 3 || parts.iter().any(|p| !numeric_ok(p)) {
            return Err("not a valid Go semantic version");
        }
        if parts.len() < 3 && (pre.is_some() || build.is_some()) {
            return Err("shorthand Go version cannot have pre-release or build");
        }
        let num = |i: usize| parts.get(i).map_or(Num::ZERO, |p| Num::from_digits(p));
        let pre = parse_pre(pre, |id| Ident::Num(Num::from_digits(id)))?;
        check_build(build)?;
        Ok(SemVer {
            major: num(0),
            minor: num(1),
            patch: num(2),
            pre,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn semver_spec_precedence() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for w in ordered.windows(2) {
            if let [a, b] = w {
                let (pa, pb) = (SemVer::parse_strict(a), SemVer::parse_strict(b));
                assert_eq!(
                    pa.and_then(|a| pb.map(|b| a.cmp(&b))),
                    Ok(Less),
                    "{a} < {b}"
                );
            }
        }
        assert_eq!(
            SemVer::parse_strict("1.0.0+build.1")
                .map(|v| v == SemVer::parse_strict("1.0.0+zz").unwrap_or(v.clone())),
            Ok(true)
        );
    }

    #[test]
    fn go_pseudo_versions_and_shorthand() {
        let go = |s: &str| SemVer::parse_go(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(go("v1").cmp(&go("v1.0.0")), Equal);
        assert_eq!(go("v1.2").cmp(&go("1.2.0")), Equal);
        assert_eq!(go("v2.0.0+incompatible").cmp(&go("v2.0.0")), Equal);
        assert_eq!(
            go("v0.0.0-20191109021931-daa7c04131f5").cmp(&go("v0.0.1")),
            Less
        );
        assert_eq!(
            go("v1.2.4-0.20191109021931-daa7c04131f5").cmp(&go("v1.2.3")),
            Greater
        );
        assert_eq!(
            go("v1.2.4-0.20191109021931-daa7c04131f5").cmp(&go("v1.2.4-pre")),
            Less
        );
        for bad in [
            "v1.2-pre", "v01.2.3", "v1.2.3.4", "v1.2.3-", "v1.2.3+", "", "v",
        ] {
            assert!(SemVer::parse_go(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn npm_quirks() {
        let npm = |s: &str| SemVer::parse_npm(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(npm(" v1.2.3 ").cmp(&npm("1.2.3")), Equal);
        // Identifiers past 2^53 compare as doubles.
        assert_eq!(
            npm("1.0.0-9007199254740993").cmp(&npm("1.0.0-9007199254740992")),
            Equal
        );
        assert!(SemVer::parse_npm("9007199254740992.0.0").is_err());
        assert!(SemVer::parse_npm("V1.2.3").is_err());
    }
}
