//! Severity of a finding: the vendor's own rating first (Debian urgency,
//! Ubuntu priority, GHSA `database_specific.severity`, Red Hat impact), else
//! the best CVSS vector scored by a pluggable [`CvssScorer`], else UNKNOWN.

use caisson_model::{Advisory, Affected, Severity, SeverityScore};
use serde_json::Value;

/// A CVSS vector's computed base score and qualitative rating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CvssRating {
    pub score: f64,
    pub severity: Severity,
}

/// Turns a CVSS vector string (`CVSS:3.1/AV:N/…`, `CVSS:4.0/…`, or a bare v2
/// vector `AV:N/AC:L/…`) into a score. Returns `None` for a vector it cannot
/// score. Any `Fn(&str) -> Option<CvssRating>` is a scorer.
pub trait CvssScorer {
    fn score(&self, vector: &str) -> Option<CvssRating>;
}

impl<F: Fn(&str) -> Option<CvssRating>> CvssScorer for F {
    fn score(&self, vector: &str) -> Option<CvssRating> {
        self(vector)
    }
}

/// A scorer that scores nothing: severities then come only from vendors.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCvssScorer;

impl CvssScorer for NoCvssScorer {
    fn score(&self, _vector: &str) -> Option<CvssRating> {
        None
    }
}

/// What [`assess`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub severity: Severity,
    /// `vendor`, `cvss_v4`, `cvss_v3.1`, `cvss_v3.0`, `cvss_v2`, or `None` for UNKNOWN.
    pub source: Option<String>,
    pub cvss_score: Option<f64>,
    pub cvss_vector: Option<String>,
}

/// Maps a vendor's word to a severity (case-insensitive; Debian's trailing
/// `*` markers ignored). `None` for words that carry no rating
/// (`not yet assigned`, `unknown`, `end-of-life`).
pub fn parse_vendor_severity(word: &str) -> Option<Severity> {
    let w = word
        .trim()
        .trim_end_matches('*')
        .trim()
        .to_ascii_lowercase();
    Some(match w.as_str() {
        "unimportant" | "negligible" | "none" => Severity::Negligible,
        "low" => Severity::Low,
        "medium" | "moderate" => Severity::Medium,
        "high" | "important" => Severity::High,
        "critical" => Severity::Critical,
        _ => return None,
    })
}

fn vendor_word(v: Option<&Value>) -> Option<Severity> {
    let obj = v?.as_object()?;
    [
        "vendor_severity",
        "severity",
        "urgency",
        "priority",
        "impact",
    ]
    .iter()
    .find_map(|k| obj.get(*k)?.as_str().and_then(parse_vendor_severity))
}

/// The vendor severity of one record, looking at the package's `affected[]`
/// entries first and the record's top level second.
pub fn vendor_severity(adv: &Advisory, entries: &[&Affected]) -> Option<Severity> {
    let from_entries = entries.iter().find_map(|e| {
        vendor_word(e.ecosystem_specific.as_ref())
            .or_else(|| vendor_word(e.database_specific.as_ref()))
            .or_else(|| ubuntu_score(&e.severity))
    });
    from_entries
        .or_else(|| vendor_word(adv.database_specific.as_ref()))
        .or_else(|| ubuntu_score(&adv.severity))
}

fn ubuntu_score(scores: &[SeverityScore]) -> Option<Severity> {
    scores
        .iter()
        .find(|s| s.kind.eq_ignore_ascii_case("Ubuntu"))
        .and_then(|s| parse_vendor_severity(&s.score))
}

/// Rank of a CVSS entry (higher is preferred) and the source label.
fn cvss_rank(s: &SeverityScore) -> Option<(u8, &'static str)> {
    let vector = s.score.trim();
    match s.kind.as_str() {
        "CVSS_V4" => Some((4, "cvss_v4")),
        "CVSS_V3" if vector.starts_with("CVSS:3.1/") => Some((3, "cvss_v3.1")),
        "CVSS_V3" => Some((2, "cvss_v3.0")),
        "CVSS_V2" => Some((1, "cvss_v2")),
        _ => None,
    }
}

/// Decides the severity of a finding from its (merged) records. `records`
/// pairs each advisory with its `affected[]` entries for the package.
pub fn assess(records: &[(&Advisory, Vec<&Affected>)], scorer: &dyn CvssScorer) -> Assessment {
    let vendor = records
        .iter()
        .filter_map(|(adv, entries)| vendor_severity(adv, entries))
        .max();

    let mut vectors: Vec<(u8, &'static str, &str)> = Vec::new();
    for (adv, entries) in records {
        let scores = entries
            .iter()
            .flat_map(|e| e.severity.iter())
            .chain(adv.severity.iter());
        for s in scores {
            if let Some((rank, label)) = cvss_rank(s) {
                vectors.push((rank, label, s.score.trim()));
            }
        }
    }
    // Stable: among equal ranks the first record (the reported id's) wins.
    vectors.sort_by_key(|v| std::cmp::Reverse(v.0));
    let cvss = vectors
        .iter()
        .find_map(|(_, label, v)| scorer.score(v).map(|r| (*label, *v, r)));

    match (vendor, cvss) {
        (Some(sev), c) => Assessment {
            severity: sev,
            source: Some("vendor".into()),
            cvss_score: c.map(|(_, _, r)| r.score),
            cvss_vector: c.map(|(_, v, _)| v.to_string()),
        },
        (None, Some((label, v, r))) => Assessment {
            severity: r.severity,
            source: Some(label.into()),
            cvss_score: Some(r.score),
            cvss_vector: Some(v.to_string()),
        },
        (None, None) => Assessment {
            severity: Severity::Unknown,
            source: None,
            cvss_score: None,
            cvss_vector: vectors.first().map(|(_, _, v)| v.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adv(json: &str) -> Advisory {
        serde_json::from_str(json).expect("test record parses")
    }

    fn fake(v: &str) -> Option<CvssRating> {
        let score = if v.starts_with("CVSS:4.0/") {
            9.3
        } else if v.starts_with("CVSS:3.1/") {
            7.5
        } else if v.starts_with("CVSS:3.0/") {
            5.0
        } else {
            2.0
        };
        Some(CvssRating {
            score,
            severity: Severity::Low,
        })
    }

    #[test]
    fn ghsa_moderate_is_medium_and_vendor_wins() {
        let a = adv(
            r#"{"id":"GHSA-1","database_specific":{"severity":"MODERATE"},
            "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N"}]}"#,
        );
        let got = assess(&[(&a, vec![])], &fake);
        assert_eq!(got.severity, Severity::Medium);
        assert_eq!(got.source.as_deref(), Some("vendor"));
        assert_eq!(got.cvss_score, Some(7.5));
    }

    #[test]
    fn newest_cvss_version_is_preferred() {
        let a = adv(
            r#"{"id":"X","severity":[{"type":"CVSS_V2","score":"AV:N/AC:L"},
            {"type":"CVSS_V3","score":"CVSS:3.0/AV:N"},{"type":"CVSS_V3","score":"CVSS:3.1/AV:N"}]}"#,
        );
        let got = assess(&[(&a, vec![])], &fake);
        assert_eq!(got.source.as_deref(), Some("cvss_v3.1"));
        assert_eq!(got.cvss_vector.as_deref(), Some("CVSS:3.1/AV:N"));
        let b = adv(r#"{"id":"Y","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N"}]}"#);
        let got = assess(&[(&a, vec![]), (&b, vec![])], &fake);
        assert_eq!(got.source.as_deref(), Some("cvss_v4"));
        let none = assess(&[(&a, vec![])], &NoCvssScorer);
        assert_eq!(none.severity, Severity::Unknown);
        assert_eq!(none.source, None);
    }

    #[test]
    fn debian_urgency_words() {
        assert_eq!(parse_vendor_severity("low**"), Some(Severity::Low));
        assert_eq!(
            parse_vendor_severity("unimportant"),
            Some(Severity::Negligible)
        );
        assert_eq!(parse_vendor_severity("not yet assigned"), None);
        assert_eq!(parse_vendor_severity("Important"), Some(Severity::High));
    }
}
