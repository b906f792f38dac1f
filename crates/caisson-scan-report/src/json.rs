//! Caisson's scan JSON, documented in `docs/formats/caisson-scan-json.md`.

use std::collections::BTreeMap;

use caisson_match::{ScanResults, SuppressedFinding};
use caisson_model::{Finding, OsRelease, Sbom, SourceInfo, Warning};
use serde::Serialize;

use crate::{packages_by_id, severity_name, RenderOptions};

/// Version of the scan JSON format; bumped only on incompatible changes.
pub const SCAN_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
pub(crate) struct Document<'a> {
    schema_version: u32,
    tool: Tool<'a>,
    created: &'a str,
    source: &'a SourceInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<&'a OsRelease>,
    summary: Summary,
    matching: Matching,
    findings: Vec<Entry<'a>>,
    suppressed: Vec<SuppressedEntry<'a>>,
    /// Present when the secret scanner ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    secrets: Option<&'a [caisson_secrets::SecretFinding]>,
    /// Present when the misconfig scanner ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    misconfigurations: Option<&'a [caisson_misconfig::MisconfigFinding]>,
    #[serde(skip_serializing_if = "<[Warning]>::is_empty")]
    warnings: &'a [Warning],
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct Summary {
    total: usize,
    by_severity: BTreeMap<&'static str, usize>,
    suppressed: usize,
    hidden_by_severity: usize,
    hidden_unfixed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    secrets: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    misconfigurations: Option<usize>,
}

/// How the matcher treated language packages that OS packages installed.
#[derive(Serialize)]
struct Matching {
    /// `os-advisories-only` (default) or `os-and-language-advisories`.
    os_owned_language_packages: &'static str,
    /// How many language packages of the SBOM an OS package installed.
    os_owned_packages: usize,
}

/// A finding plus the package facts a reader needs without the SBOM.
#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    #[serde(skip_serializing_if = "Option::is_none")]
    package_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<&'a str>,
}

#[derive(Serialize)]
struct SuppressedEntry<'a> {
    #[serde(flatten)]
    entry: Entry<'a>,
    suppression: &'a caisson_match::Suppression,
}

pub(crate) fn document<'a>(
    sbom: &'a Sbom,
    results: &'a ScanResults,
    extras: crate::Extras<'a>,
    opts: &'a RenderOptions,
) -> Document<'a> {
    let by_id = packages_by_id(sbom);
    let entry = |f: &'a Finding| {
        let p = by_id.get(f.package_id.as_str());
        Entry {
            finding: f,
            package_type: p.map(|p| p.package_type.to_string()),
            purl: p.map(|p| p.purl.as_str()).filter(|s| !s.is_empty()),
        }
    };
    let mut by_severity = BTreeMap::new();
    for f in &results.findings {
        *by_severity.entry(severity_name(f.severity)).or_insert(0) += 1;
    }
    Document {
        schema_version: SCAN_SCHEMA_VERSION,
        tool: Tool {
            name: caisson_report::TOOL_NAME,
            version: &opts.tool_version,
        },
        created: &opts.timestamp,
        source: &sbom.source,
        os: sbom.os.as_ref(),
        summary: Summary {
            total: results.findings.len(),
            by_severity,
            suppressed: results.suppressed.len(),
            hidden_by_severity: results.hidden_by_severity,
            hidden_unfixed: results.hidden_unfixed,
            secrets: extras.secrets.map(<[_]>::len),
            misconfigurations: extras.misconfigs.map(<[_]>::len),
        },
        matching: Matching {
            os_owned_language_packages: results.os_owned.name(),
            os_owned_packages: results.os_owned_packages,
        },
        findings: results.findings.iter().map(entry).collect(),
        suppressed: results
            .suppressed
            .iter()
            .map(|s: &'a SuppressedFinding| SuppressedEntry {
                entry: entry(&s.finding),
                suppression: &s.suppression,
            })
            .collect(),
        secrets: extras.secrets,
        misconfigurations: extras.misconfigs,
        warnings: &results.warnings,
    }
}
