//! Report writers: a table for people, the `caisson-host-bench/v1` JSON
//! (docs/formats/caisson-host-bench.md) and SARIF 2.1.0.

use serde_json::{json, Value};

use crate::catalog::section_title;
use crate::model::{Object, Report, Status};

const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "table" => Some(Format::Table),
            "json" => Some(Format::Json),
            "sarif" => Some(Format::Sarif),
            _ => None,
        }
    }
}

/// Renders `r` in `f`; `color` applies to the table only (callers honour
/// `NO_COLOR` and terminals).
pub fn render(r: &Report, f: Format, tool_version: &str, color: bool) -> String {
    match f {
        Format::Table => table(r, color),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Sarif => {
            let mut s = serde_json::to_string_pretty(&sarif(r, tool_version)).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

fn paint(s: Status, color: bool) -> String {
    let label = format!("[{}]", s.as_str().to_ascii_uppercase());
    if !color {
        return label;
    }
    let code = match s {
        Status::Pass => "32",
        Status::Warn => "31",
        Status::Info | Status::Manual => "34",
        Status::Note => "33",
        Status::NotApplicable => "90",
    };
    format!("\x1b[1;{code}m{label}\x1b[0m")
}

/// docker-bench-like text: one line per check, evidence indented below, the
/// affected objects under it, then the score.
pub fn table(r: &Report, color: bool) -> String {
    let mut out = format!("# {} ({})\n", r.benchmark_name, r.schema);
    if let Some(h) = &r.engine.docker_host {
        out.push_str(&format!("# engine: {h}"));
        if let Some(v) = &r.engine.server_version {
            out.push_str(&format!(" (Docker {v})"));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "# host root: {}, containers checked: {}\n",
        r.engine.root, r.engine.containers_checked
    ));
    let mut section = "";
    for c in &r.results {
        if c.section != section {
            section = &c.section;
            out.push_str(&format!(
                "\n{} - {}\n",
                c.section,
                section_title(&c.section)
            ));
        }
        let scored = if c.scored { "" } else { " (not scored)" };
        out.push_str(&format!(
            "{:<16} {:<7} {} [L{}]{scored}\n",
            paint(c.status, color),
            c.id,
            c.title,
            c.level
        ));
        if !c.evidence.is_empty() {
            out.push_str(&format!("                         * {}\n", c.evidence));
        }
        if c.objects.len() > 1 {
            for o in &c.objects {
                out.push_str(&format!(
                    "                           - {}: {}\n",
                    o.label(),
                    o.evidence()
                ));
            }
        }
    }
    let s = &r.summary;
    out.push_str(&format!(
        "\nScore: {} ({} pass, {} warn, {} info, {} note, {} not applicable, {} manual)\n",
        s.score, s.pass, s.warn, s.info, s.note, s.not_applicable, s.manual
    ));
    for sk in &r.skipped {
        out.push_str(&format!(
            "skipped container {} {}: {}\n",
            crate::model::short_id(&sk.id),
            sk.name,
            sk.reason
        ));
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

fn sarif_kind(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Pass => ("pass", "none"),
        Status::Warn => ("fail", "warning"),
        Status::Info | Status::Note | Status::Manual => ("review", "none"),
        Status::NotApplicable => ("notApplicable", "none"),
    }
}

fn location(o: &Object) -> Value {
    match o {
        Object::File { path, .. } => json!({
            "physicalLocation": {"artifactLocation": {"uri": format!("file://{path}")}},
            "message": {"text": o.evidence()},
        }),
        Object::Container { id, name, .. } => json!({
            "logicalLocations": [{"name": name, "fullyQualifiedName": format!("container/{id}"), "kind": "resource"}],
            "message": {"text": o.evidence()},
        }),
        Object::Image { id, .. } => json!({
            "logicalLocations": [{"name": o.label(), "fullyQualifiedName": format!("image/{id}"), "kind": "resource"}],
            "message": {"text": o.evidence()},
        }),
    }
}

/// SARIF 2.1.0: one rule per reported item, one result per item (`kind`
/// pass / fail / review / notApplicable; `level` warning for failures),
/// the affected files as physical and containers/images as logical
/// locations.
pub fn sarif(r: &Report, tool_version: &str) -> Value {
    let rules: Vec<Value> = r
        .results
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.key,
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": format!("{} {}: {}", r.benchmark_name, c.id, c.title)},
                "help": {"text": c.remediation},
                "properties": {
                    "section": c.section,
                    "level": c.level,
                    "scored": c.scored,
                    "tags": ["security", "cis-docker-benchmark"],
                },
            })
        })
        .collect();
    let results: Vec<Value> = r
        .results
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (kind, level) = sarif_kind(c.status);
            let mut v = json!({
                "ruleId": c.id,
                "ruleIndex": i,
                "kind": kind,
                "level": level,
                "message": {"text": format!("{} [{}] {}", c.id, c.status.as_str(), if c.evidence.is_empty() { c.title.as_str() } else { c.evidence.as_str() })},
                "properties": {"status": c.status.as_str(), "key": c.key, "evidence": c.evidence},
            });
            if let (false, Some(map)) = (c.objects.is_empty(), v.as_object_mut()) {
                map.insert("locations".into(), Value::Array(c.objects.iter().map(location).collect()));
            }
            v
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "caisson",
                "version": tool_version,
                "informationUri": "https://example.invalid/caisson",
                "rules": rules,
            }},
            "automationDetails": {"id": format!("caisson/host-bench/{}", r.benchmark.as_str())},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": r.notes.iter().map(|n| json!({"level": "note", "message": {"text": n}})).collect::<Vec<_>>(),
            }],
            "results": results,
            "properties": {
                "benchmark": r.benchmark_name,
                "score": r.summary.score,
                "engine": r.engine,
                "skipped": r.skipped,
            },
        }],
    })
}
