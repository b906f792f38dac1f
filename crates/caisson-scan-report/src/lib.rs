//! Vulnerability scan report writers.
//!
//! [`write`] renders one scanned [`Sbom`] and its [`ScanResults`] in one
//! [`ScanFormat`]:
//!
//! - [`ScanFormat::Table`]: findings grouped by package, coloured by severity
//!   when [`RenderOptions::color`] is set (the caller decides, honouring `NO_COLOR`);
//! - [`ScanFormat::Json`]: Caisson's scan JSON (`docs/formats/caisson-scan-json.md`);
//! - [`ScanFormat::Sarif`]: SARIF 2.1.0 for GitHub code scanning;
//! - [`ScanFormat::CycloneDxJson`]: the SBOM's CycloneDX 1.6 BOM plus `vulnerabilities`.
//!
//! Secret and misconfiguration findings ([`Extras`], from `--scanners
//! secret,misconfig`) share the same report: extra sections of the table,
//! `secrets` / `misconfigurations` arrays in the JSON, rules and results in
//! the same SARIF run (one rule per secret rule id or check id). The
//! CycloneDX format carries vulnerabilities only. Secrets appear only in their
//! redacted form in every format.
//!
//! Suppressed findings (ignore file, VEX) are listed apart in JSON and SARIF
//! (SARIF `suppressions`) and counted, with reasons, in the table. Everything
//! run-dependent (time, UUID, tool version) comes from [`RenderOptions`].

mod cyclonedx;
mod extras;
mod json;
mod sarif;
mod table;

pub use caisson_misconfig::MisconfigFinding;
pub use caisson_secrets::SecretFinding;

/// Findings of the secret and misconfig scanners; `None` when that scanner
/// did not run (the section is then absent, not empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    pub secrets: Option<&'a [SecretFinding]>,
    pub misconfigs: Option<&'a [MisconfigFinding]>,
}

impl Extras<'_> {
    /// Number of secret and misconfiguration findings.
    pub fn count(&self) -> usize {
        self.secrets.map_or(0, <[_]>::len) + self.misconfigs.map_or(0, <[_]>::len)
    }
}

use std::fmt;
use std::io;
use std::str::FromStr;

use caisson_match::ScanResults;
use caisson_model::{Finding, Package, Sbom, Severity};
pub use caisson_report::RenderOptions;

/// A scan report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanFormat {
    Table,
    Json,
    Sarif,
    CycloneDxJson,
}

impl ScanFormat {
    pub const ALL: [ScanFormat; 4] = [
        ScanFormat::Table,
        ScanFormat::Json,
        ScanFormat::Sarif,
        ScanFormat::CycloneDxJson,
    ];

    /// The name users type: `table`, `json`, `sarif`, `cyclonedx-json`.
    pub fn name(self) -> &'static str {
        match self {
            ScanFormat::Table => "table",
            ScanFormat::Json => "json",
            ScanFormat::Sarif => "sarif",
            ScanFormat::CycloneDxJson => "cyclonedx-json",
        }
    }
}

impl fmt::Display for ScanFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scan output format `{given}` (expected one of: table, json, sarif, cyclonedx-json)"
)]
pub struct ParseScanFormatError {
    pub given: String,
}

impl FromStr for ScanFormat {
    type Err = ParseScanFormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScanFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| ParseScanFormatError { given: s.into() })
    }
}

/// Why a scan report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScanReportError {
    #[error("writing the {format} scan report")]
    Io {
        format: ScanFormat,
        #[source]
        source: io::Error,
    },
    #[error("serializing the {format} scan report")]
    Json {
        format: ScanFormat,
        #[source]
        source: serde_json::Error,
    },
    #[error("rendering the CycloneDX components of the scan report")]
    Bom(#[source] caisson_report::ReportError),
}

/// Renders `results` for `sbom` as `format` into `out`.
pub fn write(
    format: ScanFormat,
    sbom: &Sbom,
    results: &ScanResults,
    opts: &RenderOptions,
    out: &mut dyn io::Write,
) -> Result<(), ScanReportError> {
    write_with(format, sbom, results, Extras::default(), opts, out)
}

/// [`write`] with secret and misconfiguration findings.
pub fn write_with(
    format: ScanFormat,
    sbom: &Sbom,
    results: &ScanResults,
    extras: Extras<'_>,
    opts: &RenderOptions,
    out: &mut dyn io::Write,
) -> Result<(), ScanReportError> {
    let io_err = |source| ScanReportError::Io { format, source };
    match format {
        ScanFormat::Table => table::write(sbom, results, opts, out)
            .and_then(|()| extras::table(&extras, opts, out))
            .map_err(io_err),
        ScanFormat::Json => write_json(format, &json::document(sbom, results, extras, opts), out),
        ScanFormat::Sarif => {
            let mut doc = sarif::document(sbom, results, opts);
            extras::sarif(&mut doc, sbom, &extras);
            write_json(format, &doc, out)
        }
        ScanFormat::CycloneDxJson => {
            let doc = cyclonedx::document(sbom, results, opts).map_err(ScanReportError::Bom)?;
            write_json(format, &doc, out)
        }
    }
}

/// Renders into a `String`.
pub fn to_string(
    format: ScanFormat,
    sbom: &Sbom,
    results: &ScanResults,
    opts: &RenderOptions,
) -> Result<String, ScanReportError> {
    let mut buf = Vec::new();
    write_with(format, sbom, results, Extras::default(), opts, &mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn write_json<T: serde::Serialize>(
    format: ScanFormat,
    doc: &T,
    out: &mut dyn io::Write,
) -> Result<(), ScanReportError> {
    serde_json::to_writer_pretty(&mut *out, doc)
        .map_err(|source| ScanReportError::Json { format, source })?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(|source| ScanReportError::Io { format, source })
}

/// The severity's upper-case name.
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Unknown => "UNKNOWN",
        Severity::Negligible => "NEGLIGIBLE",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// The SBOM's packages by id.
fn packages_by_id(sbom: &Sbom) -> std::collections::HashMap<&str, &Package> {
    sbom.packages.iter().map(|p| (p.id.as_str(), p)).collect()
}

/// An advisory's web page, from its id.
/// Every id other than `id` that the findings `group` (one vulnerability,
/// possibly in several packages) are known by: the union of their aliases,
/// sorted, so a rule or vulnerability entry names every record that
/// matched in any of the packages.
pub(crate) fn group_aliases<'a>(
    id: &str,
    group: impl IntoIterator<Item = &'a Finding>,
) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> = group
        .into_iter()
        .flat_map(|f| f.aliases.iter().chain(&f.records).map(String::as_str))
        .filter(|a| *a != id)
        .collect();
    set.into_iter().map(str::to_string).collect()
}

pub fn advisory_url(id: &str) -> String {
    if id.starts_with("CVE-") {
        format!("https://nvd.nist.gov/vuln/detail/{id}")
    } else if id.starts_with("GHSA-") {
        format!("https://github.com/advisories/{id}")
    } else {
        format!("https://osv.dev/vulnerability/{id}")
    }
}
