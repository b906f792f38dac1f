//! CycloneDX 1.6 with vulnerabilities: the SBOM's BOM exactly as
//! `caisson-report` renders it, plus `vulnerabilities[]` (one per advisory id;
//! `affects[].ref` is the affected components' `bom-ref`). Suppressed findings
//! are separate entries carrying an `analysis` (VEX `not_affected` →
//! `not_affected`, `fixed` → `resolved`, ignore file → `exploitable` with
//! response `will_not_fix`).

use std::collections::BTreeMap;

use caisson_match::{ScanResults, Suppression};
use caisson_model::{Finding, Sbom, Severity};
use serde_json::{json, Value};

use crate::{advisory_url, RenderOptions};

fn cdx_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Negligible => "info",
        Severity::Unknown => "unknown",
    }
}

fn method(vector: &str) -> &'static str {
    if vector.starts_with("CVSS:4.0/") {
        "CVSSv4"
    } else if vector.starts_with("CVSS:3.1/") {
        "CVSSv31"
    } else if vector.starts_with("CVSS:3.0/") {
        "CVSSv3"
    } else if vector.contains("AV:") {
        "CVSSv2"
    } else {
        "other"
    }
}

fn source(id: &str) -> Value {
    let name = if id.starts_with("CVE-") {
        "NVD"
    } else if id.starts_with("GHSA-") {
        "GitHub Advisory Database"
    } else {
        "OSV"
    };
    json!({"name": name, "url": advisory_url(id)})
}

fn ratings(f: &Finding) -> Vec<Value> {
    let mut out = Vec::new();
    if f.severity_source.as_deref() == Some("vendor") {
        out.push(json!({
            "source": {"name": f.data_source},
            "severity": cdx_severity(f.severity),
            "method": "other",
        }));
    }
    if let (Some(score), Some(vector)) = (f.cvss_score, &f.cvss_vector) {
        let severity = if f.severity_source.as_deref() == Some("vendor") {
            None
        } else {
            Some(cdx_severity(f.severity))
        };
        let mut r = json!({"score": score, "method": method(vector), "vector": vector});
        if let Some(s) = severity {
            r["severity"] = json!(s);
        }
        out.push(r);
    }
    if out.is_empty() {
        out.push(json!({"severity": cdx_severity(f.severity), "method": "other"}));
    }
    out
}

fn analysis(s: &Suppression) -> Value {
    let mut a = match s.status.as_deref() {
        Some("fixed") => json!({"state": "resolved"}),
        Some(_) => json!({"state": "not_affected"}),
        None => json!({"state": "exploitable", "response": ["will_not_fix"]}),
    };
    let j = s.justification.as_str();
    let mapped = [
        ("component_not_present", "code_not_present"),
        ("vulnerable_code_not_present", "code_not_present"),
        ("vulnerable_code_not_in_execute_path", "code_not_reachable"),
        (
            "vulnerable_code_cannot_be_controlled_by_adversary",
            "requires_environment",
        ),
        (
            "inline_mitigations_already_exist",
            "protected_by_mitigating_control",
        ),
    ]
    .iter()
    .find(|(k, _)| j.starts_with(k))
    .map(|(_, v)| *v);
    if let (Some(m), Some("not_affected")) = (mapped, s.status.as_deref()) {
        a["justification"] = json!(m);
    }
    a["detail"] = json!(format!("{} ({}: {})", s.justification, s.kind, s.origin));
    a
}

fn vulnerability(
    bom_ref: String,
    group: &[&Finding],
    refs: &BTreeMap<&str, &str>,
    suppression: Option<&Suppression>,
) -> Option<Value> {
    let f = group.first()?;
    let mut affects: Vec<Value> = Vec::new();
    for g in group {
        if let Some(r) = refs.get(g.package_id.as_str()) {
            let status = if suppression.is_some() {
                "unaffected"
            } else {
                "affected"
            };
            affects.push(
                json!({"ref": r, "versions": [{"version": g.installed_version, "status": status}]}),
            );
        }
    }
    let mut v = json!({
        "bom-ref": bom_ref,
        "id": f.id,
        "source": source(&f.id),
        "ratings": ratings(f),
        "affects": affects,
    });
    // Every id the vulnerability is known by in any of its packages.
    let aliases = crate::group_aliases(&f.id, group.iter().copied());
    if !aliases.is_empty() {
        v["references"] = json!(aliases
            .iter()
            .map(|a| json!({"id": a, "source": source(a)}))
            .collect::<Vec<_>>());
    }
    if let Some(t) = &f.title {
        v["description"] = json!(t);
    }
    let mut fixes: Vec<String> = Vec::new();
    for g in group {
        if !g.fixed_versions.is_empty() {
            fixes.push(format!(
                "{}: upgrade {} to {}",
                g.package_name,
                g.installed_version,
                g.fixed_versions.join(" or ")
            ));
        }
    }
    fixes.dedup();
    v["recommendation"] = json!(if fixes.is_empty() {
        "No fixed version is known.".to_string()
    } else {
        fixes.join("; ")
    });
    let advisories: Vec<Value> = f
        .references
        .iter()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .take(20)
        .map(|u| json!({"url": u}))
        .collect();
    if !advisories.is_empty() {
        v["advisories"] = json!(advisories);
    }
    if let Some(s) = suppression {
        v["analysis"] = analysis(s);
    }
    Some(v)
}

pub(crate) fn document(
    sbom: &Sbom,
    results: &ScanResults,
    opts: &RenderOptions,
) -> Result<Value, caisson_report::ReportError> {
    let (mut bom, package_refs) = caisson_report::cyclonedx_value(sbom, opts)?;
    let refs: BTreeMap<&str, &str> = sbom
        .packages
        .iter()
        .zip(&package_refs)
        .map(|(p, r)| (p.id.as_str(), r.as_str()))
        .collect();

    let mut active: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &results.findings {
        active.entry(f.id.as_str()).or_default().push(f);
    }
    let mut vulns: Vec<Value> = active
        .iter()
        .filter_map(|(id, group)| vulnerability(format!("vuln:{id}"), group, &refs, None))
        .collect();
    for (i, s) in results.suppressed.iter().enumerate() {
        let bom_ref = format!("vuln:{}#suppressed-{}", s.finding.id, i + 1);
        vulns.extend(vulnerability(
            bom_ref,
            &[&s.finding],
            &refs,
            Some(&s.suppression),
        ));
    }
    if let Some(obj) = bom.as_object_mut() {
        obj.insert("vulnerabilities".into(), Value::Array(vulns));
    }
    Ok(bom)
}
