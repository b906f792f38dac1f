//! SARIF 2.1.0 (<https://docs.oasis-open.org/sarif/sarif/v2.1.0/>), shaped for
//! GitHub code scanning: one `rule` per advisory id (help text, help URI,
//! `security-severity`), one `result` per finding (level from severity) whose
//! location is the package database file that records the package, with the
//! purl as a logical location and in `properties`. Suppressed findings are
//! results carrying `suppressions` (kind `external`, status `accepted`).

use std::collections::BTreeMap;

use caisson_match::{ScanResults, Suppression};
use caisson_model::{Finding, Package, Sbom, Severity};
use serde_json::{json, Value};

use crate::{advisory_url, packages_by_id, severity_name, RenderOptions};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

pub(crate) fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium | Severity::Unknown => "warning",
        Severity::Low | Severity::Negligible => "note",
    }
}

/// GitHub's `security-severity`: the CVSS score, else a representative score.
fn security_severity(f: &Finding) -> String {
    let score = f
        .cvss_score
        .filter(|_| f.severity_source.as_deref() != Some("vendor"));
    let score = score.unwrap_or(match f.severity {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        Severity::Negligible | Severity::Unknown => 0.0,
    });
    format!("{score:.1}")
}

/// The rule for one vulnerability id, described by its first finding;
/// `aliases` are those of every finding with that id.
fn rule(f: &Finding, aliases: &[String]) -> Value {
    let title = f.title.clone().unwrap_or_else(|| f.id.clone());
    let mut help = format!(
        "Vulnerability {}\nSeverity: {}",
        f.id,
        severity_name(f.severity)
    );
    if !aliases.is_empty() {
        help.push_str(&format!("\nAliases: {}", aliases.join(", ")));
    }
    if let Some(v) = &f.cvss_vector {
        help.push_str(&format!("\nCVSS vector: {v}"));
    }
    for r in f.references.iter().take(10) {
        help.push_str(&format!("\n{r}"));
    }
    let mut markdown = format!(
        "**{}** ({})\n\n{}\n",
        f.id,
        severity_name(f.severity),
        escape_md(&title)
    );
    for r in f.references.iter().take(10) {
        markdown.push_str(&format!("\n- <{r}>"));
    }
    json!({
        "id": f.id,
        "name": f.id.replace(['-', '.'], "_"),
        "shortDescription": {"text": format!("{}: {}", f.id, title)},
        "fullDescription": {"text": title},
        "helpUri": advisory_url(&f.id),
        "help": {"text": help, "markdown": markdown},
        "defaultConfiguration": {"level": level(f.severity)},
        "properties": {
            "security-severity": security_severity(f),
            "tags": ["security", "vulnerability", severity_name(f.severity)],
            "precision": "very-high",
            "aliases": aliases,
        },
    })
}

pub(crate) fn escape_md(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let esc = matches!(c, '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#');
            esc.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

/// A relative URI for a path inside the image (`var/lib/dpkg/status`).
pub(crate) fn uri(path: &str) -> String {
    let mut out = String::new();
    for c in path.trim_start_matches('/').chars() {
        if c.is_ascii_alphanumeric() || "-._~/+:@!$&'()*,;=".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

fn result(
    f: &Finding,
    rule_index: usize,
    pkg: Option<&Package>,
    sbom: &Sbom,
    suppression: Option<&Suppression>,
) -> Value {
    let purl = pkg.map(|p| p.purl.as_str()).unwrap_or("");
    let fixed = if f.fixed_versions.is_empty() {
        "no fixed version is known".to_string()
    } else {
        format!("fixed in {}", f.fixed_versions.join(", "))
    };
    let text = format!(
        "{} {} is affected by {} ({}); {fixed}.",
        f.package_name,
        f.installed_version,
        f.id,
        severity_name(f.severity)
    );
    let location_path = f
        .locations
        .first()
        .cloned()
        .unwrap_or_else(|| sbom.source.reference.clone());
    let mut location = json!({
        "physicalLocation": {
            "artifactLocation": {"uri": uri(&location_path)},
            "region": {"startLine": 1},
        },
        "message": {"text": format!("{} {}", f.package_name, f.installed_version)},
    });
    if !purl.is_empty() {
        location["logicalLocations"] = json!([{
            "name": f.package_name,
            "fullyQualifiedName": purl,
            "kind": "package",
        }]);
    }
    let mut properties = json!({
        "packageName": f.package_name,
        "installedVersion": f.installed_version,
        "fixedVersions": f.fixed_versions,
        "severity": severity_name(f.severity),
        "dataSource": f.data_source,
    });
    if !purl.is_empty() {
        properties["purl"] = json!(purl);
    }
    if !f.aliases.is_empty() {
        properties["aliases"] = json!(f.aliases);
    }
    if !f.records.is_empty() {
        properties["records"] = json!(f.records);
    }
    if let Some(l) = &f.layer {
        properties["layerDiffID"] = json!(l.diff_id);
    }
    let mut r = json!({
        "ruleId": f.id,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {
            "caisson/v1": format!("{}:{}:{}", f.id, purl, f.installed_version),
        },
        "properties": properties,
    });
    if let Some(s) = suppression {
        r["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": format!("{}: {}", s.kind, s.justification),
            "location": {"physicalLocation": {"artifactLocation": {"uri": uri(s.origin.split(' ').next().unwrap_or(""))}}},
        }]);
    }
    r
}

pub(crate) fn document(sbom: &Sbom, results: &ScanResults, opts: &RenderOptions) -> Value {
    let by_id = packages_by_id(sbom);
    let all: Vec<(&Finding, Option<&Suppression>)> = results
        .findings
        .iter()
        .map(|f| (f, None))
        .chain(
            results
                .suppressed
                .iter()
                .map(|s| (&s.finding, Some(&s.suppression))),
        )
        .collect();
    // One rule per id, described by its first finding and naming the
    // aliases of all of them; rules in id order.
    let mut by_rule: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for (f, _) in &all {
        by_rule.entry(f.id.as_str()).or_default().push(f);
    }
    let index: BTreeMap<&str, usize> = by_rule.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rules: Vec<Value> = by_rule
        .iter()
        .filter_map(|(id, group)| {
            let first = group.first()?;
            Some(rule(
                first,
                &crate::group_aliases(id, group.iter().copied()),
            ))
        })
        .collect();
    let results_json: Vec<Value> = all
        .iter()
        .map(|(f, s)| {
            let pkg = by_id.get(f.package_id.as_str()).copied();
            let i = index.get(f.id.as_str()).copied().unwrap_or(0);
            result(f, i, pkg, sbom, *s)
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": caisson_report::TOOL_NAME,
                "version": opts.tool_version,
                "informationUri": "https://example.invalid/caisson",
                "rules": rules,
            }},
            "automationDetails": {"id": format!("caisson/scan/{}", sbom.source.reference)},
            "invocations": [{
                "executionSuccessful": true,
                "endTimeUtc": opts.timestamp,
                "toolExecutionNotifications": results.warnings.iter().map(|w| json!({
                    "level": "warning",
                    "message": {"text": w.message},
                    "descriptor": {"id": w.code},
                })).collect::<Vec<_>>(),
            }],
            "results": results_json,
            "properties": {
                "source": sbom.source.reference,
                "hiddenBySeverity": results.hidden_by_severity,
                "hiddenUnfixed": results.hidden_unfixed,
            },
        }],
    })
}
