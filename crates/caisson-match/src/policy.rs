//! What the user asked to see: severity and `--ignore-unfixed` filters hide
//! findings (counted); ignore-file entries and VEX statements suppress them
//! (kept, with the reason, for the reports).

use std::collections::{BTreeSet, HashMap};

use caisson_model::{Finding, Sbom, Severity, Warning};
use serde::{Deserialize, Serialize};

use crate::ignore::IgnoreFile;
use crate::query::OsOwnedMatching;
use crate::vex::VexDocument;

/// A calendar day (UTC), for ignore-entry expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD` (a longer RFC 3339 timestamp is cut to its date).
    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        let date = s.get(..10)?;
        if s.len() > 10 && !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
            return None;
        }
        let mut it = date.split('-');
        let (y, m, d) = (it.next()?, it.next()?, it.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
        if !(all_digits(y) && all_digits(m) && all_digits(d)) {
            return None;
        }
        let (year, month, day) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Date { year, month, day })
    }

    /// Today in UTC from the system clock.
    pub fn today_utc() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_unix_days(i64::try_from(secs / 86_400).unwrap_or(0))
    }

    /// The civil date `days` after 1970-01-01 (Howard Hinnant's algorithm).
    pub fn from_unix_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Parses `--severity LOW,MEDIUM,HIGH,CRITICAL` (case-insensitive; also
/// `UNKNOWN`, `NEGLIGIBLE`).
pub fn parse_severities(list: &str) -> Result<BTreeSet<Severity>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.to_ascii_uppercase().as_str() {
            "UNKNOWN" => Ok(Severity::Unknown),
            "NEGLIGIBLE" => Ok(Severity::Negligible),
            "LOW" => Ok(Severity::Low),
            "MEDIUM" => Ok(Severity::Medium),
            "HIGH" => Ok(Severity::High),
            "CRITICAL" => Ok(Severity::Critical),
            _ => Err(format!(
                "unknown severity {s:?} (expected UNKNOWN, NEGLIGIBLE, LOW, MEDIUM, HIGH, CRITICAL)"
            )),
        })
        .collect()
}

/// The user's filters and suppressions.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Show only these severities (`None`: all).
    pub severities: Option<BTreeSet<Severity>>,
    /// Hide findings that have no fixed version.
    pub ignore_unfixed: bool,
    pub ignore: Option<IgnoreFile>,
    pub vex: Vec<VexDocument>,
    /// The day expiry is judged against (normally [`Date::today_utc`]).
    pub today: Option<Date>,
    /// How language packages installed by OS packages are matched (the
    /// matcher reads it; [`apply`] passes it on to [`ScanResults`] for the report).
    pub os_owned: OsOwnedMatching,
}

/// Why a finding was suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// `ignore-file` or `vex`.
    pub kind: String,
    /// VEX status (`not_affected`, `fixed`), for VEX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The ignore entry's reason, or the VEX justification / impact statement.
    pub justification: String,
    /// The file (and entry / statement) it came from.
    pub origin: String,
}

/// A finding that an ignore entry or VEX statement suppressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressedFinding {
    pub finding: Finding,
    pub suppression: Suppression,
}

/// Findings after the policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanResults {
    /// Findings to report, in matcher order.
    pub findings: Vec<Finding>,
    /// Findings suppressed by an ignore file or VEX, in matcher order.
    pub suppressed: Vec<SuppressedFinding>,
    /// Findings hidden by the severity filter.
    pub hidden_by_severity: usize,
    /// Findings hidden by `--ignore-unfixed`.
    pub hidden_unfixed: usize,
    /// Matcher warnings plus expired-ignore-entry warnings.
    pub warnings: Vec<Warning>,
    /// How OS-owned language packages were matched (the policy's choice).
    pub os_owned: OsOwnedMatching,
    /// Language packages of the SBOM that an OS package installed.
    pub os_owned_packages: usize,
}

/// Applies `policy` to the matcher's findings. `sbom` supplies package purls.
pub fn apply(
    findings: Vec<Finding>,
    warnings: Vec<Warning>,
    sbom: &Sbom,
    policy: &Policy,
) -> ScanResults {
    let purls: HashMap<&str, &str> = sbom
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p.purl.as_str()))
        .collect();
    let today = policy.today.unwrap_or_else(Date::today_utc);
    let mut out = ScanResults {
        warnings,
        os_owned: policy.os_owned,
        os_owned_packages: sbom
            .packages
            .iter()
            .filter(|p| p.owned_by.is_some())
            .count(),
        ..ScanResults::default()
    };

    if let Some(ign) = &policy.ignore {
        for e in ign.entries.iter().filter(|e| e.expired(today)) {
            out.warnings.push(Warning {
                code: "ignore-entry-expired".into(),
                message: format!(
                    "{} entry {} ({}) expired on {}; it no longer suppresses findings",
                    ign.origin,
                    e.index,
                    e.id,
                    e.expires.map(|d| d.to_string()).unwrap_or_default()
                ),
            });
        }
    }

    for f in findings {
        if policy
            .severities
            .as_ref()
            .is_some_and(|s| !s.contains(&f.severity))
        {
            out.hidden_by_severity += 1;
            continue;
        }
        if policy.ignore_unfixed && f.fixed_versions.is_empty() {
            out.hidden_unfixed += 1;
            continue;
        }
        let purl = purls.get(f.package_id.as_str()).copied().unwrap_or("");
        match suppression(&f, purl, policy, today) {
            Some(suppression) => out.suppressed.push(SuppressedFinding {
                finding: f,
                suppression,
            }),
            None => out.findings.push(f),
        }
    }
    out
}

fn suppression(f: &Finding, purl: &str, policy: &Policy, today: Date) -> Option<Suppression> {
    let ids: Vec<&str> = std::iter::once(f.id.as_str())
        .chain(f.aliases.iter().map(String::as_str))
        .collect();
    if let Some(ign) = &policy.ignore {
        let hit = ign
            .entries
            .iter()
            .find(|e| !e.expired(today) && e.applies(&ids, &f.package_name, purl));
        if let Some(e) = hit {
            return Some(Suppression {
                kind: "ignore-file".into(),
                status: None,
                justification: e.reason.clone(),
                origin: format!("{} entry {}", ign.origin, e.index),
            });
        }
    }
    // The last document that says anything about the finding decides.
    let (doc, st) = policy
        .vex
        .iter()
        .rev()
        .find_map(|d| d.statement_for(&ids, purl).map(|s| (d, s)))?;
    if !st.status.suppresses() {
        return None;
    }
    let justification = match (&st.justification, &st.impact_statement) {
        (Some(j), Some(i)) => format!("{j}: {i}"),
        (Some(j), None) => j.clone(),
        (None, Some(i)) => i.clone(),
        (None, None) => st.status.name().to_string(),
    };
    Some(Suppression {
        kind: "vex".into(),
        status: Some(st.status.name().into()),
        justification,
        origin: format!("{} statement {}", doc.origin, st.index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            Date::parse("2024-02-29").map(|d| d.to_string()),
            Some("2024-02-29".into())
        );
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse("2023-13-01").is_none());
        assert!(Date::parse("2023-1-01").is_none());
        assert!(Date::parse("2024-05-01T10:00:00Z").is_some());
        assert!(Date::parse("2024-05-01x").is_none());
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(19_723).to_string(), "2024-01-01");
        assert_eq!(Date::from_unix_days(-1).to_string(), "1969-12-31");
    }

    #[test]
    fn severity_lists() {
        let s = parse_severities("low, HIGH").expect("parses");
        assert!(s.contains(&Severity::Low) && s.contains(&Severity::High) && s.len() == 2);
        assert!(parse_severities("LOW,SEVERE").is_err());
    }
}
