//! Advisories and findings. [`Advisory`] mirrors the OSV schema
//! (<https://ossf.github.io/osv-schema/>) so OSV JSON deserializes into it
//! directly; importers of other feeds (Alpine secdb, Debian tracker, Red Hat
//! CSAF) convert into the same shape, with OS ecosystems written as OSV does
//! (`Debian:12`, `Alpine:v3.20`, `Ubuntu:22.04:LTS`, `Red Hat`).

use serde::{Deserialize, Serialize};

/// One OSV record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// `severity[]`: a scoring system and its vector (CVSS_V2, CVSS_V3, CVSS_V4,
/// Ubuntu) as OSV writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<AffectedPackage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedPackage {
    /// OSV ecosystem, optionally with a release: `PyPI`, `Debian:12`, `Alpine:v3.20`.
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// One event of a range; exactly one field is set in valid OSV.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

/// Qualitative severity, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

/// One vulnerability in one package of a scanned source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The advisory id reported (a CVE when one of the merged records has it).
    pub id: String,
    /// Every other id of the same vulnerability (GHSA, PYSEC, DSA, …): the
    /// ids and aliases of every record that matched, less `id`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The ids of the advisory records that matched, sorted (each is `id`
    /// or one of `aliases`): `PYSEC-2020-270` for `tensorflow-cpu` where
    /// `id` is `CVE-2020-15190`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    /// `Package::id` of the affected package.
    pub package_id: String,
    pub package_name: String,
    pub installed_version: String,
    /// Versions that fix it; empty when there is no fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_versions: Vec<String>,
    pub severity: Severity,
    /// Where the severity came from: `vendor`, `cvss_v3`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_vector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<crate::LayerRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// Source of the data: `osv:PyPI`, `debian-tracker`, `alpine-secdb`, …
    pub data_source: String,
}

/// Where the matcher gets advisories from: the advisory database, or an
/// in-memory set in tests. Implementations return every advisory that has an
/// `affected` entry for `name` in `ecosystem`; both are compared after
/// [`normalize_package_name`], and an ecosystem with a release (`Debian:12`)
/// matches only that release.
pub trait AdvisorySource {
    fn advisories(
        &self,
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<Advisory>, Box<dyn std::error::Error + Send + Sync>>;

    /// The same records as [`AdvisorySource::advisories`], as an index lists
    /// them: a source that stores records may return keys to
    /// [`AdvisorySource::load`] only when they matter, each with the bounds
    /// above which the record affects no version of the package. The default
    /// loads every record and bounds none.
    fn candidates(
        &self,
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<Candidate>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self
            .advisories(ecosystem, name)?
            .into_iter()
            .map(|a| Candidate {
                record: CandidateRecord::Loaded(Box::new(a)),
                above: None,
            })
            .collect())
    }

    /// Loads the record a [`CandidateRecord::Stored`] key names.
    fn load(&self, key: u64) -> Result<Advisory, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("this advisory source stores no records by key (asked for {key})").into())
    }
}

/// A record that may affect a package.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub record: CandidateRecord,
    /// `Some(bounds)`: the record affects no version of the package that is
    /// strictly above every bound (each compared under its own ordering); an
    /// empty list means it affects none at all. `None`: no such promise.
    pub above: Option<Vec<Bound>>,
}

/// A candidate record, loaded or stored under a key.
#[derive(Debug, Clone, PartialEq)]
pub enum CandidateRecord {
    Loaded(Box<Advisory>),
    Stored(u64),
}

/// The highest version a record's ranges or lists mention under one ordering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bound {
    pub ordering: BoundOrdering,
    pub version: String,
}

/// Which ordering a [`Bound`] compares under: the ecosystem's own (OSV
/// `ECOSYSTEM` ranges and `versions` lists) or SemVer 2.0.0 (`SEMVER` ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoundOrdering {
    Ecosystem,
    SemVer,
}

/// The key under which an ecosystem compares package names: PEP 503 for PyPI
/// (lower case, runs of `-`, `_`, `.` become `-`), lower case where the
/// registry is case-insensitive (Packagist, NuGet, crates.io with `_` = `-`),
/// unchanged elsewhere.
pub fn normalize_package_name(ecosystem: &str, name: &str) -> String {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    match base {
        "PyPI" => {
            let mut out = String::with_capacity(name.len());
            let mut in_sep = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !in_sep {
                        out.push('-');
                    }
                    in_sep = true;
                } else {
                    out.extend(c.to_lowercase());
                    in_sep = false;
                }
            }
            out
        }
        "crates.io" => name.to_ascii_lowercase().replace('_', "-"),
        "Packagist" | "NuGet" => name.to_lowercase(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_normalisation() {
        assert_eq!(normalize_package_name("PyPI", "Jinja2"), "jinja2");
        assert_eq!(
            normalize_package_name("PyPI", "zope.interface__x"),
            "zope-interface-x"
        );
        assert_eq!(
            normalize_package_name("crates.io", "Serde_JSON"),
            "serde-json"
        );
        assert_eq!(normalize_package_name("Debian:12", "OpenSSL"), "OpenSSL");
        assert_eq!(
            normalize_package_name("Maven", "org.Foo:Bar"),
            "org.Foo:Bar"
        );
    }

    #[test]
    fn osv_record_deserializes() {
        let rec = r#"{"id":"GHSA-x","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2024-1"],
          "affected":[{"package":{"ecosystem":"PyPI","name":"jinja2"},
          "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.1.3"}]}],
          "versions":["3.1.2"]}],
          "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}"#;
        let a: Advisory = serde_json::from_str(rec).expect("parses");
        assert_eq!(
            a.affected[0].ranges[0].events[1].fixed.as_deref(),
            Some("3.1.3")
        );
        assert_eq!(a.severity[0].kind, "CVSS_V3");
    }
}
