//! What the user asked to see: severity and `--ignore-unfixed` filters hide
//! findings (counted); ignore-file entries and VEX statements suppress them
//! (kept, with the reason, for the reports).

use std::collections::{BTreeSet, HashMap};

use caisson_model::{Finding, Sbom, Severity, Warning};
use serde::{Deserialize, Serialize};
use time::format_description::{modifier, BorrowedFormatItem, Component};

use crate::ignore::IgnoreFile;
use crate::query::OsOwnedMatching;
use crate::vex::VexDocument;

/// A calendar day (UTC), for ignore-entry expiry. The calendar is the `time`
/// crate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

/// `[year]-[month]-[day]`: four, two and two ASCII digits (a year with a sign
/// cannot fit the ten bytes [`Date::parse`] reads).
const YMD: &[BorrowedFormatItem<'static>] = &[
    BorrowedFormatItem::Component(Component::CalendarYearFullStandardRange(
        modifier::CalendarYearFullStandardRange::default(),
    )),
    BorrowedFormatItem::StringLiteral("-"),
    BorrowedFormatItem::Component(Component::MonthNumerical(
        modifier::MonthNumerical::default(),
    )),
    BorrowedFormatItem::StringLiteral("-"),
    BorrowedFormatItem::Component(Component::Day(modifier::Day::default())),
];

impl Date {
    /// Parses `YYYY-MM-DD` (a longer RFC 3339 timestamp is cut to its date);
    /// `None` for another shape or a day the calendar lacks (`2023-02-29`).
    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        let date = s.get(..10)?;
        if s.len() > 10 && !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
            return None;
        }
        time::Date::parse(date, YMD).ok().map(Date)
    }

    /// Today in UTC from the system clock.
    pub fn today_utc() -> Date {
        Date(time::OffsetDateTime::now_utc().date())
    }

    /// The civil date `days` after 1970-01-01, clamped to the years
    /// -9999 through 9999.
    pub fn from_unix_days(days: i64) -> Date {
        let clamped = if days < 0 {
            time::Date::MIN
        } else {
            time::Date::MAX
        };
        Date(
            time::OffsetDateTime::from_unix_timestamp(days.saturating_mul(86_400))
                .map_or(clamped, time::OffsetDateTime::date),
        )
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
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
        assert_eq!(Date::from_unix_days(i64::MAX).to_string(), "9999-12-31");
        assert!(Date::parse("2100-02-29").is_none());
        assert!(Date::parse("2000-02-29").is_some());
        assert!(Date::parse("+024-05-01").is_none());
        assert!(Date::parse("2024-05-1").is_none());
        assert!(Date::parse("2024-05-01 12:00").is_some());
        assert!(Date::parse("２０２4-05-01").is_none());
        assert!(Date::parse("2024-05-01") < Date::parse("2024-05-02"));
        assert!(Date::parse("2023-12-31") < Date::parse("2024-01-01"));
    }

    #[test]
    fn severity_lists() {
        let s = parse_severities("low, HIGH").expect("parses");
        assert!(s.contains(&Severity::Low) && s.contains(&Severity::High) && s.len() == 2);
        assert!(parse_severities("LOW,SEVERE").is_err());
    }
}
