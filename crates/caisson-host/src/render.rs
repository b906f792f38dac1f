//! Inventory reports: a table for people, the inventory JSON
//! (`docs/formats/caisson-host-inventory.md`), SARIF 2.1.0 and CycloneDX
//! 1.6. SARIF and CycloneDX reuse `caisson-scan-report`'s writers for each
//! image: SARIF gets one run per scanned image (as `caisson scan` writes it,
//! with the image id and its containers in the run's properties); CycloneDX
//! one BOM for the host whose top-level components are the images, each
//! holding its packages, with every `bom-ref` prefixed by the image id so
//! the same package in two images stays two components.

use std::io::{self, Write};

use caisson_scan_report::{RenderOptions, ScanFormat};
use serde_json::{json, Value};

use crate::inventory::model::{Counts, Inventory, ScanStatus};
use crate::inventory::Report;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("writing the {format} inventory report")]
    Io {
        format: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("rendering image {image} as {format}")]
    Image {
        format: &'static str,
        image: String,
        #[source]
        source: caisson_scan_report::ScanReportError,
    },
}

/// `table`, `json`, `sarif`, `cyclonedx-json`.
pub fn write(
    format: ScanFormat,
    report: &Report,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let io_err = |format| move |source| RenderError::Io { format, source };
    match format {
        ScanFormat::Table => table(&report.inventory, out).map_err(io_err("table")),
        ScanFormat::Json => json_out(&report.inventory, out).map_err(io_err("json")),
        ScanFormat::Sarif => {
            let doc = sarif(report, opts)?;
            json_out(&doc, out).map_err(io_err("sarif"))
        }
        ScanFormat::CycloneDxJson => {
            let doc = cyclonedx(report, opts)?;
            json_out(&doc, out).map_err(io_err("cyclonedx-json"))
        }
    }
}

fn json_out<T: serde::Serialize>(doc: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("?")
}

fn counts_cells(c: &Counts) -> [String; 6] {
    [
        c.critical.to_string(),
        c.high.to_string(),
        c.medium.to_string(),
        c.low.to_string(),
        (c.negligible + c.unknown).to_string(),
        c.fixable.to_string(),
    ]
}

/// The engine line, a row per container, then the images' scan status and
/// the notes.
pub fn table(inv: &Inventory, out: &mut dyn Write) -> io::Result<()> {
    let e = &inv.engine;
    let kind = match e.kind {
        crate::engine::EngineKind::Docker => "Docker",
        crate::engine::EngineKind::Podman => "Podman",
    };
    writeln!(
        out,
        "Engine: {kind} {} (API {}, used {}) at {}",
        opt(&e.version),
        opt(&e.api_version),
        e.negotiated_api_version,
        e.endpoint
    )?;
    writeln!(
        out,
        "Host: {} {}, kernel {}, storage driver {}; {} images, {} containers ({} running)",
        opt(&e.os),
        opt(&e.arch),
        opt(&e.kernel_version),
        opt(&e.storage_driver),
        e.images.map_or("?".into(), |n| n.to_string()),
        e.containers.map_or("?".into(), |n| n.to_string()),
        e.containers_running.map_or("?".into(), |n| n.to_string()),
    )?;
    writeln!(out)?;
    let header = [
        "CONTAINER",
        "IMAGE",
        "IMAGE ID",
        "STATE",
        "CRIT",
        "HIGH",
        "MED",
        "LOW",
        "OTHER",
        "FIXABLE",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for c in &inv.containers {
        let mut row = vec![
            c.name.clone(),
            c.image.clone(),
            short(&c.image_id).to_string(),
            c.state.clone(),
        ];
        match c.scan_status {
            ScanStatus::Scanned => row.extend(counts_cells(&c.vulnerabilities)),
            ScanStatus::ScanFailed => {
                row.extend(["scan-failed".to_string(), String::new(), String::new()]);
                row.extend([String::new(), String::new(), String::new()]);
            }
        }
        rows.push(row);
    }
    let mut widths = vec![0usize; header.len()];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    if inv.containers.is_empty() {
        writeln!(out, "(no containers)")?;
    }
    writeln!(out)?;
    writeln!(out, "Images:")?;
    for i in &inv.images {
        let name = i.repo_tags.first().map_or("<untagged>", String::as_str);
        match i.status {
            ScanStatus::Scanned => {
                let source = match i.source {
                    Some(crate::inventory::model::FindingsSource::Cache) => "cached SBOM",
                    Some(crate::inventory::model::FindingsSource::Registry) => "registry",
                    _ => "scanned",
                };
                writeln!(
                    out,
                    "  {} {name}: {} findings ({} fixable), {}{}",
                    short(&i.id),
                    i.vulnerabilities.total,
                    i.vulnerabilities.fixable,
                    source,
                    i.os.as_ref().map(|o| format!(", {o}")).unwrap_or_default()
                )?;
            }
            ScanStatus::ScanFailed => writeln!(
                out,
                "  {} {name}: scan-failed: {}",
                short(&i.id),
                i.error.as_deref().unwrap_or("unknown reason")
            )?,
        }
    }
    for n in &inv.notes {
        writeln!(out, "note[{}]: {}", n.code, n.message)?;
    }
    Ok(())
}

fn image_doc(
    format: ScanFormat,
    name: &'static str,
    report: &Report,
    image_id: &str,
    opts: &RenderOptions,
) -> Result<Option<Value>, RenderError> {
    let Some(scan) = report.scans.get(image_id) else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    caisson_scan_report::write(format, &scan.sbom, &scan.results, opts, &mut buf).map_err(
        |source| RenderError::Image {
            format: name,
            image: image_id.to_string(),
            source,
        },
    )?;
    Ok(serde_json::from_slice(&buf).ok())
}

/// One SARIF run per scanned image.
pub fn sarif(report: &Report, opts: &RenderOptions) -> Result<Value, RenderError> {
    let mut runs = Vec::new();
    let mut schema = Value::Null;
    for img in &report.inventory.images {
        let Some(mut doc) = image_doc(ScanFormat::Sarif, "sarif", report, &img.id, opts)? else {
            continue;
        };
        if schema.is_null() {
            schema = doc.get("$schema").cloned().unwrap_or(Value::Null);
        }
        let Some(Value::Array(doc_runs)) = doc.get_mut("runs").map(Value::take) else {
            continue;
        };
        for mut run in doc_runs {
            let Some(run_obj) = run.as_object_mut() else {
                continue;
            };
            run_obj.insert(
                "automationDetails".into(),
                json!({"id": format!("caisson/host/{}", img.id)}),
            );
            if let Some(props) = run_obj.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert("imageId".into(), json!(img.id));
                props.insert("repoDigests".into(), json!(img.repo_digests));
                props.insert("containers".into(), json!(img.containers));
            }
            runs.push(run);
        }
    }
    if runs.is_empty() {
        runs.push(json!({
            "tool": {"driver": {
                "name": caisson_report::TOOL_NAME,
                "version": opts.tool_version,
                "informationUri": "https://example.invalid/caisson",
            }},
            "results": [],
        }));
    }
    if schema.is_null() {
        schema = json!("https://json.schemastore.org/sarif-2.1.0.json");
    }
    Ok(json!({"$schema": schema, "version": "2.1.0", "runs": runs}))
}

/// Prefixes every `bom-ref`, `ref` and `dependsOn` entry with `prefix`.
fn prefix_refs(v: &mut Value, prefix: &str) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                match (k.as_str(), &mut *val) {
                    ("bom-ref" | "ref", Value::String(s)) => *s = format!("{prefix}{s}"),
                    ("dependsOn", Value::Array(items)) => {
                        for i in items.iter_mut() {
                            if let Value::String(s) = i {
                                *s = format!("{prefix}{s}");
                            }
                        }
                    }
                    _ => prefix_refs(val, prefix),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| prefix_refs(i, prefix)),
        _ => {}
    }
}

/// One CycloneDX BOM for the host: each image a `container` component
/// holding its packages; vulnerabilities of every image.
pub fn cyclonedx(report: &Report, opts: &RenderOptions) -> Result<Value, RenderError> {
    let inv = &report.inventory;
    let mut components = Vec::new();
    let mut vulnerabilities = Vec::new();
    let mut dependencies = Vec::new();
    let mut base: Option<Value> = None;
    for img in &inv.images {
        let prefix = format!("{}/", img.id);
        let doc = image_doc(
            ScanFormat::CycloneDxJson,
            "cyclonedx-json",
            report,
            &img.id,
            opts,
        )?;
        let mut image = json!({
            "type": "container",
            "bom-ref": img.id,
            "name": img.repo_tags.first().cloned().unwrap_or_else(|| img.id.clone()),
            "version": img.id,
            "properties": img.containers.iter()
                .map(|c| json!({"name": "caisson:host:container", "value": c}))
                .chain(img.repo_digests.iter().map(|d| json!({"name": "caisson:host:repoDigest", "value": d})))
                .chain(std::iter::once(json!({
                    "name": "caisson:host:scanStatus",
                    "value": match img.status { ScanStatus::Scanned => "scanned", ScanStatus::ScanFailed => "scan-failed" },
                })))
                .collect::<Vec<_>>(),
        });
        if let Some(mut doc) = doc {
            prefix_refs(&mut doc, &prefix);
            if let Some(Value::Array(c)) = doc.get_mut("components").map(Value::take) {
                if let Some(obj) = image.as_object_mut() {
                    obj.insert("components".into(), Value::Array(c));
                }
            }
            if let Some(Value::Array(v)) = doc.get_mut("vulnerabilities").map(Value::take) {
                vulnerabilities.extend(v);
            }
            if let Some(Value::Array(d)) = doc.get_mut("dependencies").map(Value::take) {
                dependencies.extend(d);
            }
            if base.is_none() {
                base = Some(doc);
            }
        }
        components.push(image);
    }
    let mut bom = base.unwrap_or_else(|| {
        json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "version": 1,
        })
    });
    if let Some(obj) = bom.as_object_mut() {
        obj.insert(
            "serialNumber".into(),
            json!(format!("urn:uuid:{}", opts.document_uuid)),
        );
        obj.insert(
            "metadata".into(),
            json!({
                "timestamp": opts.timestamp,
                "tools": {"components": [{
                    "type": "application",
                    "name": caisson_report::TOOL_NAME,
                    "version": opts.tool_version,
                }]},
                "component": {
                    "type": "platform",
                    "bom-ref": "host",
                    "name": inv.engine.endpoint,
                    "version": inv.engine.version.clone().unwrap_or_default(),
                },
            }),
        );
        obj.insert("components".into(), Value::Array(components));
        obj.insert("vulnerabilities".into(), Value::Array(vulnerabilities));
        if dependencies.is_empty() {
            obj.remove("dependencies");
        } else {
            obj.insert("dependencies".into(), Value::Array(dependencies));
        }
    }
    Ok(bom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_prefixed_everywhere() {
        let mut v = json!({
            "components": [{"bom-ref": "a", "name": "ref"}],
            "vulnerabilities": [{"affects": [{"ref": "a"}]}],
            "dependencies": [{"ref": "a", "dependsOn": ["b"]}],
        });
        prefix_refs(&mut v, "img/");
        assert_eq!(v["components"][0]["bom-ref"], "img/a");
        assert_eq!(v["components"][0]["name"], "ref");
        assert_eq!(v["vulnerabilities"][0]["affects"][0]["ref"], "img/a");
        assert_eq!(v["dependencies"][0]["dependsOn"][0], "img/b");
    }
}
