//! Parsing of CVSS vector strings and computation of their scores, for CVSS v2.0,
//! v3.0, v3.1 and v4.0.
//!
//! Scores are always computed from the vector with the equations of the FIRST
//! specification of its version (v4.0 through its MacroVector lookup table), never
//! taken from a score published next to it.
//!
//! ```
//! let score = caisson_cvss::score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
//! assert_eq!(score.base, 9.8);
//! assert_eq!(score.severity, caisson_cvss::Severity::Critical);
//! ```
//!
//! Parsing is strict: an unknown metric or value, a repeated metric, a missing base
//! metric, an empty field or an unknown `CVSS:x.y/` prefix is an error naming it.
//! Metrics may come in any order; surrounding whitespace is ignored.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod error;
mod parse;
mod round;
mod v2;
mod v3;
mod v4;
mod v4_table;

use std::fmt;

pub use error::{CvssError, ERROR_VECTOR_CHARS};
use parse::{parse_fields, Group, Metrics};

/// Longest input accepted, in bytes. A v4.0 vector with every metric set is about
/// 200 bytes.
pub const MAX_VECTOR_LEN: usize = 1024;

/// A CVSS specification version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// CVSS v2.0: vectors without prefix, optionally in parentheses.
    V2_0,
    /// CVSS v3.0 (`CVSS:3.0/`).
    V3_0,
    /// CVSS v3.1 (`CVSS:3.1/`).
    V3_1,
    /// CVSS v4.0 (`CVSS:4.0/`).
    V4_0,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V2_0 => "2.0",
            Version::V3_0 => "3.0",
            Version::V3_1 => "3.1",
            Version::V4_0 => "4.0",
        })
    }
}

/// Qualitative severity rating of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// 0.0 (v3.x and v4.0 only).
    None,
    /// v2.0: 0.0–3.9; v3.x and v4.0: 0.1–3.9.
    Low,
    /// 4.0–6.9.
    Medium,
    /// v2.0: 7.0–10.0; v3.x and v4.0: 7.0–8.9.
    High,
    /// 9.0–10.0 (v3.x and v4.0 only).
    Critical,
}

impl Severity {
    /// The rating of `score` on the qualitative scale of `version`: the v3.x/v4.0
    /// table of the specifications, or for v2.0 the Low/Medium/High ranges of NVD.
    pub fn from_score(version: Version, score: f64) -> Severity {
        // Scores carry one decimal; compare in tenths to avoid float edges.
        let tenths = (score * 10.0).round();
        match version {
            Version::V2_0 if tenths <= 39.0 => Severity::Low,
            Version::V2_0 if tenths <= 69.0 => Severity::Medium,
            Version::V2_0 => Severity::High,
            _ if tenths <= 0.0 => Severity::None,
            _ if tenths <= 39.0 => Severity::Low,
            _ if tenths <= 69.0 => Severity::Medium,
            _ if tenths <= 89.0 => Severity::High,
            _ => Severity::Critical,
        }
    }

    /// The name used by the specifications: `None`, `Low`, `Medium`, `High`, `Critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "None",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scores computed from one vector. All scores have one decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Version of the vector.
    pub version: Version,
    /// Base score (v4.0: CVSS-B, from the base metrics alone).
    pub base: f64,
    /// v2.0/v3.x temporal score, when the vector defines a temporal metric.
    pub temporal: Option<f64>,
    /// v4.0 CVSS-BT score, when the vector defines the threat metric `E`.
    pub threat: Option<f64>,
    /// Environmental score, when the vector defines an environmental metric
    /// (v4.0: CVSS-BE, or CVSS-BTE when `E` is defined too; v2.0/v3.x: includes
    /// the temporal metrics, as the specifications define it).
    pub environmental: Option<f64>,
    /// Severity of the base score.
    pub severity: Severity,
}

impl Score {
    /// The most specific score: environmental, else temporal/threat, else base.
    pub fn overall(&self) -> f64 {
        self.environmental
            .or(self.threat)
            .or(self.temporal)
            .unwrap_or(self.base)
    }

    /// Severity of [`Score::overall`].
    pub fn overall_severity(&self) -> Severity {
        Severity::from_score(self.version, self.overall())
    }
}

/// A parsed, validated CVSS vector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vector {
    version: Version,
    metrics: Metrics,
}

impl Vector {
    /// Parses a vector; see [`parse`].
    pub fn parse(input: &str) -> Result<Vector, CvssError> {
        parse(input)
    }

    /// The version of the vector.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The value given for `metric` (`"AV"` → `"N"`), `None` when the vector omits it.
    pub fn metric(&self, metric: &str) -> Option<&'static str> {
        self.metrics.given(metric)
    }

    /// The `(metric, value)` pairs of the vector, in the specification's order.
    pub fn metrics(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.metrics.iter()
    }

    /// Computes the scores.
    pub fn score(&self) -> Score {
        let m = &self.metrics;
        let (base, temporal, threat, environmental) = match self.version {
            Version::V2_0 => {
                let (b, t, e) = v2::scores(m);
                (b, t, None, e)
            }
            Version::V3_0 | Version::V3_1 => {
                let minor = u8::from(self.version == Version::V3_1);
                let (b, t, e) = v3::scores(m, minor);
                (b, t, None, e)
            }
            Version::V4_0 => {
                let base = v4::score(&m.filtered(|g| g == Group::Base));
                let threat = m.any_defined(Group::Temporal).then(|| {
                    v4::score(&m.filtered(|g| matches!(g, Group::Base | Group::Temporal)))
                });
                let environmental = m.any_defined(Group::Environmental).then(|| v4::score(m));
                (base, None, threat, environmental)
            }
        };
        Score {
            version: self.version,
            base,
            temporal,
            threat,
            environmental,
            severity: Severity::from_score(self.version, base),
        }
    }
}

/// Canonical form: the prefix (none for v2.0) and the given metrics in the
/// specification's order.
impl fmt::Display for Vector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = match self.version {
            Version::V2_0 => "",
            Version::V3_0 => "CVSS:3.0/",
            Version::V3_1 => "CVSS:3.1/",
            Version::V4_0 => "CVSS:4.0/",
        };
        for (k, v) in self.metrics.iter() {
            write!(f, "{sep}{k}:{v}")?;
            sep = "/";
        }
        Ok(())
    }
}

impl std::str::FromStr for Vector {
    type Err = CvssError;
    fn from_str(s: &str) -> Result<Vector, CvssError> {
        parse(s)
    }
}

/// Parses a CVSS vector string. The version comes from the prefix: `CVSS:4.0/`,
/// `CVSS:3.1/`, `CVSS:3.0/`; without prefix the vector is CVSS v2.0, bare
/// (`AV:N/AC:L/Au:N/C:P/I:P/A:P`) or in parentheses (`(AV:N/...)`).
pub fn parse(input: &str) -> Result<Vector, CvssError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(CvssError::Empty);
    }
    if s.len() > MAX_VECTOR_LEN {
        return Err(CvssError::TooLong {
            vector: error::cut(s),
            len: s.len(),
            max: MAX_VECTOR_LEN,
        });
    }
    let bad_prefix = |prefix: &str| CvssError::BadPrefix {
        vector: error::cut(s),
        prefix: error::cut(prefix),
    };
    let (version, body, defs): (_, _, &'static [parse::MetricDef]) =
        if let Some(rest) = s.strip_prefix("CVSS:") {
            let Some((label, body)) = rest.split_once('/') else {
                return Err(bad_prefix(s));
            };
            match label {
                "4.0" => (Version::V4_0, body, &v4::METRICS),
                "3.1" => (Version::V3_1, body, &v3::METRICS),
                "3.0" => (Version::V3_0, body, &v3::METRICS),
                _ => return Err(bad_prefix(&format!("CVSS:{label}/"))),
            }
        } else if let Some(inner) = s.strip_prefix('(') {
            let Some(body) = inner.strip_suffix(')') else {
                return Err(bad_prefix("("));
            };
            (Version::V2_0, body, &v2::METRICS)
        } else {
            (Version::V2_0, s, &v2::METRICS)
        };
    let metrics = parse_fields(version, s, body, defs)?;
    Ok(Vector { version, metrics })
}

/// Parses `input` and computes its scores.
pub fn score(input: &str) -> Result<Score, CvssError> {
    parse(input).map(|v| v.score())
}
