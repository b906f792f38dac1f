//! Debian security tracker JSON (`https://security-tracker.debian.org/tracker/data/json`):
//! `{ "<source package>": { "<CVE or TEMP id>": { "description", "scope",
//! "debianbug", "releases": { "<codename>": { "status", "fixed_version",
//! "urgency", "nodsa", "nodsa_reason", "repositories" } } } } }`.
//!
//! One advisory per issue per source package, with one `affected` entry per
//! release in ecosystem `Debian:<number>` (codenames mapped by
//! [`debian_codename_to_release`]):
//! * `resolved` with `fixed_version: "0"`: the release was never affected, no
//!   entry ([`ImportStats::not_affected`]);
//! * `resolved` with a version: `introduced: "0"`, `fixed: <version>`;
//! * `open`: `introduced: "0"` and no fix; `fix_status` is `end-of-life` when
//!   the urgency is `end-of-life` (the release's security support ended for
//!   the package), `unfixed` otherwise;
//! * `undetermined`: `introduced: "0"`, `fix_status: "undetermined"`.
//!
//! `affected[].database_specific` keeps `status`, `fix_status`, `urgency`
//! (verbatim), `vendor_severity` (urgency without the `*` uncertainty marks),
//! and `nodsa` / `nodsa_reason` when present. An issue with no affected
//! release produces no advisory.

use std::collections::BTreeMap;

use caisson_model::{Advisory, Affected, AffectedPackage, Reference};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{
    bound_affected, collect, ecosystem_range, emit_to, Emit, ImportStats, Imported, Limits,
};
use crate::ImportError;

const FORMAT: &str = "debian-tracker";

/// Debian codename → release number as OSV writes it (`Debian:12`). Unknown
/// codenames (and `sid`, which has no number) are kept as they are, so
/// nothing is lost: `Debian:sid`.
pub fn debian_codename_to_release(codename: &str) -> String {
    let n = match codename {
        "buzz" => "1.1",
        "rex" => "1.2",
        "bo" => "1.3",
        "hamm" => "2.0",
        "slink" => "2.1",
        "potato" => "2.2",
        "woody" => "3.0",
        "sarge" => "3.1",
        "etch" => "4",
        "lenny" => "5",
        "squeeze" => "6",
        "wheezy" => "7",
        "jessie" => "8",
        "stretch" => "9",
        "buster" => "10",
        "bullseye" => "11",
        "bookworm" => "12",
        "trixie" => "13",
        "forky" => "14",
        "duke" => "15",
        other => other,
    };
    n.to_string()
}

#[derive(Deserialize)]
struct Issue {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    debianbug: Option<Value>,
    #[serde(default)]
    releases: BTreeMap<String, Release>,
}

#[derive(Deserialize)]
struct Release {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    nodsa: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

/// One package's issues, each parsed or with the reason it could not be.
type PackageIssues = Vec<(String, Result<Issue, String>)>;

/// Imports the tracker JSON.
pub fn debian_tracker(bytes: &[u8], limits: &Limits) -> Result<Imported, ImportError> {
    collect(|emit| debian_tracker_with(bytes, limits, emit))
}

/// Streaming form of [`debian_tracker`]. The document must be the tracker's
/// map of maps; an issue whose fields have unexpected types is a warning.
pub fn debian_tracker_with(
    bytes: &[u8],
    limits: &Limits,
    emit: &mut Emit<'_>,
) -> Result<ImportStats, ImportError> {
    if bytes.len() as u64 > limits.max_total_bytes {
        return Err(ImportError::Limit {
            format: FORMAT,
            what: format!("{} byte document", bytes.len()),
            limit: limits.max_total_bytes,
        });
    }
    let mut stats = ImportStats::default();
    // Fast path: the whole document typed (little memory on the ~100 MB live
    // file). If any issue has an unexpected shape, parse again generically
    // and turn each bad issue into a warning.
    let typed: Result<BTreeMap<String, BTreeMap<String, Issue>>, _> = serde_json::from_slice(bytes);
    let doc: Vec<(String, PackageIssues)> = match typed {
        Ok(doc) => doc
            .into_iter()
            .map(|(p, issues)| (p, issues.into_iter().map(|(id, i)| (id, Ok(i))).collect()))
            .collect(),
        Err(_) => {
            let doc: BTreeMap<String, BTreeMap<String, Value>> = serde_json::from_slice(bytes)
                .map_err(|source| ImportError::Json {
                    format: FORMAT,
                    source,
                })?;
            doc.into_iter()
                .map(|(p, issues)| {
                    let issues = issues
                        .into_iter()
                        .map(|(id, raw)| {
                            (id, serde_json::from_value(raw).map_err(|e| e.to_string()))
                        })
                        .collect();
                    (p, issues)
                })
                .collect()
        }
    };
    for (package, issues) in doc {
        for (id, issue) in issues {
            let loc = format!("{package}/{id}");
            if id.trim().is_empty() || package.trim().is_empty() {
                stats.warn(limits, &loc, "empty package name or issue id");
                continue;
            }
            let issue = match issue {
                Ok(i) => i,
                Err(e) => {
                    stats.warn(limits, &loc, format_args!("unexpected issue shape: {e}"));
                    continue;
                }
            };
            if let Some(mut adv) = convert(&package, &id, issue, limits, &mut stats, &loc) {
                bound_affected(&mut adv, limits, &mut stats, &loc);
                emit_to(emit, &mut stats, adv)?;
            }
        }
    }
    Ok(stats)
}

fn convert(
    package: &str,
    id: &str,
    issue: Issue,
    limits: &Limits,
    stats: &mut ImportStats,
    loc: &str,
) -> Option<Advisory> {
    let mut affected = Vec::new();
    for (codename, rel) in &issue.releases {
        let status = rel.status.as_deref().unwrap_or("");
        let urgency = rel.urgency.as_deref().unwrap_or("");
        let (range, fix_status) = match status {
            "resolved" => match rel.fixed_version.as_deref().map(str::trim) {
                Some("0") => {
                    stats.not_affected += 1;
                    continue;
                }
                Some(v) if !v.is_empty() => (ecosystem_range(Some(v)), "fixed"),
                _ => {
                    stats.warn(
                        limits,
                        loc,
                        format_args!("{codename}: resolved without a fixed version"),
                    );
                    continue;
                }
            },
            "open" if urgency == "end-of-life" => (ecosystem_range(None), "end-of-life"),
            "open" => (ecosystem_range(None), "unfixed"),
            "undetermined" => (ecosystem_range(None), "undetermined"),
            other => {
                stats.warn(
                    limits,
                    loc,
                    format_args!("{codename}: unknown status {other:?}"),
                );
                continue;
            }
        };
        let mut ds = Map::new();
        ds.insert("status".into(), json!(status));
        ds.insert("fix_status".into(), json!(fix_status));
        if !urgency.is_empty() {
            ds.insert("urgency".into(), json!(urgency));
            ds.insert(
                "vendor_severity".into(),
                json!(urgency.trim_end_matches('*').trim()),
            );
        }
        if let Some(n) = &rel.nodsa {
            ds.insert("nodsa".into(), json!(n));
        }
        if let Some(n) = &rel.nodsa_reason {
            ds.insert("nodsa_reason".into(), json!(n));
        }
        ds.insert("codename".into(), json!(codename));
        affected.push(Affected {
            package: Some(AffectedPackage {
                ecosystem: format!("Debian:{}", debian_codename_to_release(codename)),
                name: package.to_string(),
                purl: Some(format!("pkg:deb/debian/{package}?arch=source")),
            }),
            ranges: vec![range],
            database_specific: Some(Value::Object(ds)),
            ..Default::default()
        });
    }
    if affected.is_empty() {
        return None;
    }
    let mut top = Map::new();
    top.insert("source".into(), json!("debian-tracker"));
    if let Some(s) = &issue.scope {
        top.insert("scope".into(), json!(s));
    }
    if let Some(b) = issue.debianbug {
        top.insert("debianbug".into(), b);
    }
    Some(Advisory {
        id: id.to_string(),
        details: issue.description.filter(|d| !d.is_empty()),
        affected,
        references: vec![Reference {
            kind: "ADVISORY".to_string(),
            url: format!("https://security-tracker.debian.org/tracker/{id}"),
        }],
        database_specific: Some(Value::Object(top)),
        ..Default::default()
    })
}
