//! Rendering decisions: a table for people, JSON and SARIF 2.1.0 for machines.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use crate::{Decision, Mode, PolicyInfo, Violation};

/// Human-readable text, one block per object.
pub fn table(decisions: &[Decision]) -> String {
    let mut out = String::new();
    for d in decisions {
        let verdict = if !d.allowed {
            "DENY "
        } else if d.warnings.is_empty() {
            "ALLOW"
        } else {
            "WARN "
        };
        let origin = d
            .object
            .origin
            .as_deref()
            .map(|o| format!("  ({o})"))
            .unwrap_or_default();
        out.push_str(&format!("{verdict} {}{origin}\n", d.object));
        let lines = d
            .denials
            .iter()
            .map(|v| ("deny ", v))
            .chain(d.warnings.iter().map(|v| ("warn ", v)))
            .chain(d.audits.iter().map(|v| ("audit", v)));
        for (tag, v) in lines {
            out.push_str(&format!(
                "  {tag} {:<8} [{}] {}\n",
                v.severity.as_str(),
                v.policy,
                v.message
            ));
        }
        for n in &d.notes {
            out.push_str(&format!("  note  {n}\n"));
        }
    }
    let denied = decisions.iter().filter(|d| !d.allowed).count();
    let warned = decisions.iter().map(|d| d.warnings.len()).sum::<usize>();
    out.push_str(&format!(
        "{} object(s): {} denied, {} allowed, {} warning(s)\n",
        decisions.len(),
        denied,
        decisions.len() - denied,
        warned
    ));
    out
}

/// `{"allowed": …, "decisions": [...]}`.
pub fn json(decisions: &[Decision]) -> Json {
    json!({
        "allowed": decisions.iter().all(|d| d.allowed),
        "decisions": decisions,
    })
}

fn level(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "error",
        Mode::Warn => "warning",
        Mode::Audit => "note",
    }
}

/// SARIF 2.1.0: one rule per policy, one result per violation. The artifact is the
/// manifest file; the object and field path are given as a logical location.
pub fn sarif(decisions: &[Decision], policies: &[PolicyInfo]) -> Json {
    let mut rules: BTreeMap<String, Json> = BTreeMap::new();
    for p in policies {
        rules.insert(
            p.meta.id.clone(),
            json!({
                "id": p.meta.id,
                "shortDescription": {"text": if p.meta.description.is_empty() { &p.meta.id } else { &p.meta.description }},
                "help": {"text": p.meta.remediation},
                "defaultConfiguration": {"level": level(p.mode)},
                "properties": {"severity": p.meta.severity.as_str()},
            }),
        );
    }
    let mut results = Vec::new();
    for d in decisions {
        let all = d.denials.iter().chain(&d.warnings).chain(&d.audits);
        for v in all {
            results.push(result(d, v, &mut rules));
        }
    }
    let rule_list: Vec<&Json> = rules.values().collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "caisson",
                "informationUri": "https://example.invalid/caisson",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rule_list,
            }},
            "results": results,
        }],
    })
}

fn result(d: &Decision, v: &Violation, rules: &mut BTreeMap<String, Json>) -> Json {
    rules.entry(v.code.clone()).or_insert_with(|| {
        json!({"id": v.code, "shortDescription": {"text": v.code}, "defaultConfiguration": {"level": level(v.mode)}})
    });
    let file = d
        .object
        .origin
        .as_deref()
        .map(|o| o.rsplit_once('#').map_or(o, |(f, _)| f))
        .unwrap_or("-");
    let mut logical = d.object.to_string();
    if let Some(p) = &v.path {
        logical.push('/');
        logical.push_str(p);
    }
    json!({
        "ruleId": v.code,
        "level": level(v.mode),
        "message": {"text": v.message},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": file}},
            "logicalLocations": [{"fullyQualifiedName": logical, "kind": "object"}],
        }],
        "properties": {"severity": v.severity.as_str(), "policy": v.policy, "mode": v.mode.as_str()},
    })
}
