//! Secret and misconfiguration findings in the table and SARIF formats (the
//! JSON format serializes them directly, see `json.rs`).

use std::collections::BTreeMap;
use std::io;

use caisson_model::{Sbom, Severity};
use serde_json::{json, Value};

use crate::sarif::{escape_md, level, uri};
use crate::table::{clean, colour, truncate, BOLD, RESET};
use crate::{severity_name, Extras, RenderOptions};

fn score(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Negligible | Severity::Unknown => "0.0",
    }
}

/// Table sections after the vulnerabilities.
pub(crate) fn table(
    extras: &Extras<'_>,
    opts: &RenderOptions,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let paint = |style: &str, s: &str| {
        if opts.color {
            format!("{style}{s}{RESET}")
        } else {
            s.to_string()
        }
    };
    if let Some(secrets) = extras.secrets {
        writeln!(out)?;
        writeln!(out, "{} {}", paint(BOLD, "secrets:"), secrets.len())?;
        for s in secrets {
            let layer = s
                .layer
                .as_ref()
                .map_or(String::new(), |l| format!(" (layer {})", l.index));
            writeln!(
                out,
                "  {}  {}  {}:{}{layer}",
                paint(colour(s.severity), severity_name(s.severity)),
                clean(&s.rule_id),
                clean(&s.path),
                s.start_line,
            )?;
            writeln!(out, "    {}", truncate(&clean(&s.redacted), 100))?;
        }
    }
    if let Some(m) = extras.misconfigs {
        writeln!(out)?;
        writeln!(out, "{} {}", paint(BOLD, "misconfigurations:"), m.len())?;
        for f in m {
            let cis = f
                .cis
                .as_deref()
                .map_or(String::new(), |c| format!(" [CIS {c}]"));
            let line = f.line.map_or(String::new(), |l| format!(":{l}"));
            writeln!(
                out,
                "  {}  {}{cis}  {}{line}  {}",
                paint(colour(f.severity), severity_name(f.severity)),
                clean(&f.id),
                clean(&f.location),
                truncate(&clean(&f.message), 100),
            )?;
        }
    }
    Ok(())
}

fn is_config(path: &str) -> bool {
    path.starts_with("config:") || path == "config" || path.starts_with("history[")
}

fn location(sbom: &Sbom, path: &str, start: usize, end: usize) -> Value {
    let (file, logical) = if is_config(path) || path.is_empty() {
        (sbom.source.reference.clone(), Some(path))
    } else {
        (path.to_string(), None)
    };
    let mut loc = json!({
        "physicalLocation": {
            "artifactLocation": {"uri": uri(&file)},
            "region": {"startLine": start.max(1), "endLine": end.max(start).max(1)},
        },
    });
    if let Some(l) = logical {
        loc["logicalLocations"] = json!([{"name": l, "kind": "member"}]);
    }
    loc
}

struct RuleInfo {
    id: String,
    title: String,
    severity: Severity,
    help: String,
    tags: [&'static str; 2],
}

fn rule_json(r: &RuleInfo) -> Value {
    json!({
        "id": r.id,
        "name": r.id.replace('-', "_"),
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": r.title},
        "help": {"text": r.help, "markdown": escape_md(&r.help)},
        "defaultConfiguration": {"level": level(r.severity)},
        "properties": {
            "security-severity": score(r.severity),
            "tags": ["security", r.tags[0], r.tags[1], severity_name(r.severity)],
            "precision": "high",
        },
    })
}

/// Adds rules and results for the extras to the run of a SARIF document.
pub(crate) fn sarif(doc: &mut Value, sbom: &Sbom, extras: &Extras<'_>) {
    if extras.count() == 0 {
        return;
    }
    let Some(run) = doc.get_mut("runs").and_then(|r| r.get_mut(0)) else {
        return;
    };
    let mut new_rules: BTreeMap<String, RuleInfo> = BTreeMap::new();
    for s in extras.secrets.unwrap_or_default() {
        new_rules.entry(s.rule_id.clone()).or_insert_with(|| RuleInfo {
            id: s.rule_id.clone(),
            title: s.title.clone(),
            severity: s.severity,
            help: format!(
                "Secret rule {}: {}. Remove the secret from the image (every layer that holds it) and rotate it.",
                s.rule_id, s.title
            ),
            tags: ["secret", "caisson-secret"],
        });
    }
    for m in extras.misconfigs.unwrap_or_default() {
        new_rules.entry(m.id.clone()).or_insert_with(|| {
            let cis = m
                .cis
                .as_deref()
                .map_or(String::new(), |c| format!(" (CIS Docker Benchmark {c})"));
            RuleInfo {
                id: m.id.clone(),
                title: m.title.clone(),
                severity: m.severity,
                help: format!("{}{cis}. {}", m.title, m.remediation),
                tags: ["misconfiguration", "caisson-misconfig"],
            }
        });
    }
    let rules = run
        .pointer_mut("/tool/driver/rules")
        .and_then(Value::as_array_mut);
    let Some(rules) = rules else { return };
    let base = rules.len();
    let index: BTreeMap<String, usize> = new_rules
        .keys()
        .enumerate()
        .map(|(i, k)| (k.clone(), base + i))
        .collect();
    rules.extend(new_rules.values().map(rule_json));
    let mut results: Vec<Value> = Vec::new();
    for s in extras.secrets.unwrap_or_default() {
        let mut props = json!({"severity": severity_name(s.severity), "kind": "secret"});
        if let Some(l) = &s.layer {
            props["layerDiffID"] = json!(l.diff_id);
            props["layerIndex"] = json!(l.index);
        }
        results.push(json!({
            "ruleId": s.rule_id,
            "ruleIndex": index.get(&s.rule_id).copied().unwrap_or(0),
            "level": level(s.severity),
            "message": {"text": format!("{} in {}: {}", s.title, s.path, s.redacted)},
            "locations": [location(sbom, &s.path, s.start_line, s.end_line)],
            "partialFingerprints": {
                "caisson/v1": format!("{}:{}:{}:{}", s.rule_id, s.path, s.start_line, s.layer.as_ref().map_or(0, |l| l.index)),
            },
            "properties": props,
        }));
    }
    for m in extras.misconfigs.unwrap_or_default() {
        let line = m.line.unwrap_or(1);
        let mut props = json!({"severity": severity_name(m.severity), "kind": "misconfiguration"});
        if let Some(c) = &m.cis {
            props["cis"] = json!(c);
        }
        results.push(json!({
            "ruleId": m.id,
            "ruleIndex": index.get(&m.id).copied().unwrap_or(0),
            "level": level(m.severity),
            "message": {"text": m.message},
            "locations": [location(sbom, &m.location, line, line)],
            "partialFingerprints": {"caisson/v1": format!("{}:{}:{}", m.id, m.location, m.message)},
            "properties": props,
        }));
    }
    if let Some(r) = run.get_mut("results").and_then(Value::as_array_mut) {
        r.extend(results);
    }
}
