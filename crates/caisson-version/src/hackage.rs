//! Cabal's `Distribution.Types.Version`: one or more non-negative numbers
//! separated by dots, no leading zeros, at most nine digits each (Cabal's
//! parser limits), ordered as lists (`1.0 < 1.0.0`).

type Reason = &'static str;

/// A parsed Hackage version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct HackageVersion {
    parts: Vec<u32>,
}

impl HackageVersion {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        input
            .split('.')
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                    Err("version component is not a number")
                } else if p.len() > 1 && p.starts_with('0') {
                    Err("version component has a leading zero")
                } else if p.len() > 9 {
                    Err("version component has more than nine digits")
                } else {
                    p.parse().map_err(|_| "version component is not a number")
                }
            })
            .collect::<Result<Vec<u32>, _>>()
            .map(|parts| HackageVersion { parts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_order() {
        let p = |s: &str| HackageVersion::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(p("1.0") < p("1.0.0"));
        assert!(p("1.2.3") < p("1.10"));
        assert!(p("0") < p("0.0"));
        for bad in ["", "1.", ".1", "1.01", "1.0-tag", "v1", "1234567890"] {
            assert!(HackageVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
