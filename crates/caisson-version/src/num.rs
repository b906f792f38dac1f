//! Arbitrary-precision non-negative integers as found in version strings.

use std::cmp::Ordering;

/// A non-negative integer of any size: small values inline, huge ones as
/// their decimal digits (no leading zeros). Allocates only past `u64`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Num {
    Small(u64),
    Big(Box<str>),
}

impl Num {
    pub(crate) const ZERO: Num = Num::Small(0);

    /// `digits` must be ASCII digits (may be empty, meaning zero).
    pub(crate) fn from_digits(digits: &str) -> Num {
        let stripped = digits.trim_start_matches('0');
        match stripped.parse::<u64>() {
            Ok(v) => Num::Small(v),
            Err(_) if stripped.is_empty() => Num::Small(0),
            Err(_) => Num::Big(stripped.into()),
        }
    }

    pub(crate) fn is_zero(&self) -> bool {
        matches!(self, Num::Small(0))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Num::Small(a), Num::Small(b)) => a.cmp(b),
            (Num::Small(_), Num::Big(_)) => Ordering::Less,
            (Num::Big(_), Num::Small(_)) => Ordering::Greater,
            (Num::Big(a), Num::Big(b)) => cmp_digits(a.as_bytes(), b.as_bytes()),
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two runs of ASCII digits numerically, ignoring leading zeros.
pub(crate) fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let a = strip_zeros(a);
    let b = strip_zeros(b);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn strip_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    s.get(n..).unwrap_or_default()
}

/// True if `s` is non-empty and all ASCII digits.
pub(crate) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_numbers_order_by_value() {
        let a = Num::from_digits("000123456789012345678901234567890");
        let b = Num::from_digits("123456789012345678901234567891");
        assert!(a < b);
        assert!(
            Num::from_digits("18446744073709551615") < Num::from_digits("18446744073709551616")
        );
        assert_eq!(Num::from_digits("000"), Num::ZERO);
    }
}
