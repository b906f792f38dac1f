//! R's `package_version`: at least two non-negative integers separated by
//! `.` or `-`, compared as integer lists padded with zeros (`1.0 == 1.0.0`,
//! `1.01 == 1.1`).

type Reason = &'static str;

/// A parsed CRAN package version (trailing zeros dropped, so that derived
/// list order is R's zero-padded order).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CranVersion {
    parts: Vec<u32>,
}

impl CranVersion {
    pub(crate) fn parse(input: &str) -> Result<Self, Reason> {
        const INVALID: Reason = "invalid version specification";
        let parts = input
            .split(['.', '-'])
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(INVALID);
                }
                let v: u64 = p
                    .trim_start_matches('0')
                    .parse()
                    .unwrap_or(if p.len() > 20 { u64::MAX } else { 0 });
                u32::try_from(v)
                    .ok()
                    .filter(|v| *v <= i32::MAX as u32)
                    .ok_or(INVALID)
            })
            .collect::<Result<Vec<u32>, _>>()?;
        if parts.len() < 2 {
            return Err(INVALID);
        }
        let mut parts = parts;
        while parts.last() == Some(&0) {
            parts.pop();
        }
        Ok(CranVersion { parts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_rules() {
        let p = |s: &str| CranVersion::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(p("1.0"), p("1.0.0"));
        assert!(p("1.0") < p("1.0.1"));
        assert_eq!(p("1.01"), p("1.1"));
        assert_eq!(p("1-2"), p("1.2"));
        assert!(p("1.9-5") < p("1.10-0"));
        for bad in ["", "1", "1.", "1..2", "a.1", "1.0a", "1.99999999999"] {
            assert!(CranVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
