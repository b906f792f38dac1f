//! NuGet's `NuGetVersion.TryParse` and `VersionComparer.Default`: up to four
//! `Int32` numbers (`System.Version` rules, leading zeros allowed), SemVer 2
//! release labels compared case-insensitively, metadata ignored.

use std::cmp::Ordering;

type Reason = &'static str;

#[derive(Clone, Debug)]
enum Label {
    Num(i32),
    Str(Box<str>),
}

/// A parsed NuGet version.
#[derive(Clone, Debug)]
pub(crate) struct NuGetVersion {
    numbers: [i32; 4],
    labels: Vec<Label>,
}

fn is_label_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// `IsValidPart`: non-empty, `[0-9A-Za-z-]`, optionally no leading zero.
fn valid_part(s: &str, allow_leading_zeros: bool) -> bool {
    !s.is_empty()
        && s.bytes().all(is_label_char)
        && (allow_leading_zeros
            || !(s.len() > 1 && s.starts_with('0') && s.bytes().all(|c| c.is_ascii_digit())))
}

/// `int.TryParse(s, NumberStyles.Integer, InvariantCulture)`.
fn dotnet_int(s: &str) -> Option<i32> {
    let t = s.trim_matches(|c: char| matches!(c, '\t'..='\r' | ' '));
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..)?),
        Some(b'+') => (false, t.get(1..)?),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for c in digits.bytes() {
        v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
        if v > 1 << 31 {
            return None;
        }
    }
    i32::try_from(if neg { -v } else { v }).ok()
}

impl NuGetVersion {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        const INVALID: Reason = "not a valid NuGet version";
        let value = input.trim();
        // ParseSections: version up to the first '-' or '+'; when that
        // character is the last one it stays part of the version string.
        let cut = value.find(['-', '+']);
        let (version, labels, metadata) = match cut {
            None => (value, None, None),
            Some(i) if i + 1 == value.len() => (value, None, None),
            Some(i) => {
                let (v, rest) = value.split_at(i);
                if let Some(meta) = rest.strip_prefix('+') {
                    (v, None, Some(meta))
                } else {
                    let rest = rest.get(1..).unwrap_or_default();
                    match rest.split_once('+') {
                        Some((l, m)) => (v, Some(l), if m.is_empty() { None } else { Some(m) }),
                        None => (v, Some(rest), None),
                    }
                }
            }
        };
        if version.is_empty() {
            return Err(INVALID);
        }
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() > 4 {
            return Err(INVALID);
        }
        let mut numbers = [0i32; 4];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            *slot = dotnet_int(part).filter(|v| *v >= 0).ok_or(INVALID)?;
        }
        let labels = match labels {
            None => Vec::new(),
            Some(l) => l
                .split('.')
                .map(|p| {
                    if !valid_part(p, false) {
                        Err(INVALID)
                    } else if let Some(n) = dotnet_int(p) {
                        Ok(Label::Num(n))
                    } else {
                        Ok(Label::Str(p.into()))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        if let Some(m) = metadata {
            if !m.split('.').all(|p| valid_part(p, true)) {
                return Err(INVALID);
            }
        }
        Ok(NuGetVersion { numbers, labels })
    }
}

fn cmp_label(a: &Label, b: &Label) -> Ordering {
    match (a, b) {
        (Label::Num(x), Label::Num(y)) => x.cmp(y),
        (Label::Num(_), Label::Str(_)) => Ordering::Less,
        (Label::Str(_), Label::Num(_)) => Ordering::Greater,
        (Label::Str(x), Label::Str(y)) => x
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(y.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| {
            match (self.labels.is_empty(), other.labels.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.labels.iter().zip(&other.labels) {
                        let ord = cmp_label(a, b);
                        if ord != Ordering::Equal {
                            return ord;
                        }
                    }
                    self.labels.len().cmp(&other.labels.len())
                }
            }
        })
    }
}
impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for NuGetVersion {}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn c(a: &str, b: &str) -> Ordering {
        let pa = NuGetVersion::parse(a).unwrap_or_else(|e| panic!("{a}: {e}"));
        let pb = NuGetVersion::parse(b).unwrap_or_else(|e| panic!("{b}: {e}"));
        pa.cmp(&pb)
    }

    #[test]
    fn documented_cases() {
        // From NuGet's versioning docs and NuGet.Client's VersionComparerTests.
        assert_eq!(c("1.0", "1.0.0.0"), Equal);
        assert_eq!(c("1.01", "1.1"), Equal);
        assert_eq!(c("1.0.0-BETA", "1.0.0-beta"), Equal);
        assert_eq!(c("1.0.0+meta", "1.0.0"), Equal);
        assert_eq!(c("1.0.0.1", "1.0.0"), Greater);
        assert_eq!(c("1.0.0-alpha", "1.0.0"), Less);
        assert_eq!(c("1.0.0-alpha.2", "1.0.0-alpha.10"), Less);
        assert_eq!(c("1.0.0-alpha", "1.0.0-alpha.1"), Less);
        assert_eq!(c("1.0.0-1", "1.0.0-a"), Less);
        assert_eq!(c("1", "1.0"), Equal);
        assert_eq!(c("1.0.0-a+", "1.0.0-a"), Equal);
    }

    #[test]
    fn invalid() {
        for bad in [
            "",
            "a",
            "1.0.0.0.0",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-01",
            "1.0.0-a..b",
            "-1.0",
            "1.2147483648",
            "1.0.0-a_b",
        ] {
            assert!(NuGetVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
