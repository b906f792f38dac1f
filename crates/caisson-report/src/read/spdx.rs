//! SPDX 2.2 and 2.3 JSON.
//!
//! Packages are the `packages[]` with a `purl` external reference (category
//! `PACKAGE-MANAGER`, or 2.2's `PACKAGE_MANAGER`). The package(s) the document
//! DESCRIBES stand for the image and give the source; an `OPERATING_SYSTEM`
//! package gives the OS. SPDX has no field for a source package, so that comes
//! from the purl's `upstream` qualifier. Caisson's own `sourceInfo` sentences
//! (`introduced in image layer 0 (sha256:…)`, `acquired package info from deb
//! database: …`, `built from source package bash 5.2.15-2`) give back layers,
//! locations and source packages.

use std::collections::HashSet;

use caisson_model::{LayerRef, OsRelease, Sbom, SourceInfo, Warning};
use serde_json::{Map, Value};

use super::json::{At, Doc};
use super::{Builder, Entry, ReadError, MAX_COMPONENTS};

const DOC: Doc = Doc { format: "SPDX" };
const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";

pub(crate) fn read(top: &Map<String, Value>) -> Result<(Sbom, Vec<Warning>), ReadError> {
    let root = At::Root;
    let version = DOC.opt_str(top, "spdxVersion", &root)?.unwrap_or_default();
    if !matches!(version, "SPDX-2.2" | "SPDX-2.3") {
        return Err(ReadError::SpdxVersion(version.to_string()));
    }
    let roots = described(top)?;
    let packages = DOC.arr(top, "packages", &root)?;
    if packages.len() > MAX_COMPONENTS {
        return Err(ReadError::TooMany {
            format: DOC.format,
            what: "packages",
            limit: MAX_COMPONENTS,
        });
    }

    let mut b = Builder::default();
    let mut source = SourceInfo {
        kind: "sbom".into(),
        ..SourceInfo::default()
    };
    let mut os = None;
    let at_p = root.key("packages");
    // The described package first: its layer list resolves the others' layers.
    for (i, v) in packages.iter().enumerate() {
        let at = at_p.index(i);
        let p = DOC.obj(v, &at)?;
        if DOC
            .opt_str(p, "SPDXID", &at)?
            .is_some_and(|id| roots.contains(id))
        {
            image_source(p, &at, &mut source)?;
            b.layers = source
                .layers
                .iter()
                .map(|l| (l.diff_id.clone(), l.index))
                .collect();
            break;
        }
    }
    for (i, v) in packages.iter().enumerate() {
        let at = at_p.index(i);
        let p = DOC.obj(v, &at)?;
        if DOC
            .opt_str(p, "SPDXID", &at)?
            .is_some_and(|id| roots.contains(id))
        {
            continue;
        }
        let name = DOC.opt_str(p, "name", &at)?;
        let version = DOC.opt_str(p, "versionInfo", &at)?;
        let purpose = DOC.opt_str(p, "primaryPackagePurpose", &at)?;
        if purpose == Some("OPERATING_SYSTEM") {
            if os.is_none() {
                os = Some(OsRelease {
                    id: name.unwrap_or_default().to_string(),
                    version_id: version.map(str::to_string),
                    pretty_name: DOC.opt_str(p, "description", &at)?.map(str::to_string),
                    ..OsRelease::default()
                });
            }
            continue;
        }
        let purl = purl_of(p, &at)?;
        if purl.is_none() && matches!(purpose, Some("CONTAINER" | "FILE" | "SOURCE")) {
            continue;
        }
        let mut e = Entry {
            purl: purl.unwrap_or(""),
            name,
            version,
            ..Entry::default()
        };
        e.supplier = DOC
            .opt_str(p, "supplier", &at)?
            .filter(|s| *s != "NOASSERTION")
            .map(|s| {
                let s = s
                    .strip_prefix("Organization:")
                    .or_else(|| s.strip_prefix("Person:"))
                    .or_else(|| s.strip_prefix("Tool:"))
                    .unwrap_or(s);
                s.trim().to_string()
            });
        let declared = DOC.opt_str(p, "licenseDeclared", &at)?;
        let concluded = DOC.opt_str(p, "licenseConcluded", &at)?;
        if let Some(l) = [declared, concluded]
            .into_iter()
            .flatten()
            .find(|l| !matches!(*l, "NOASSERTION" | "NONE" | ""))
        {
            e.licenses.push(l.to_string());
        }
        let at_c = at.key("checksums");
        for (j, c) in DOC.arr(p, "checksums", &at)?.iter().enumerate() {
            let at = at_c.index(j);
            let c = DOC.obj(c, &at)?;
            if let (Some(alg), Some(hex)) = (
                DOC.opt_str(c, "algorithm", &at)?,
                DOC.opt_str(c, "checksumValue", &at)?,
            ) {
                let alg = alg.to_ascii_lowercase().replace('-', "");
                e.digests
                    .push(format!("{alg}:{}", hex.to_ascii_lowercase()));
            }
        }
        if let Some(info) = DOC.opt_str(p, "sourceInfo", &at)? {
            caisson_source_info(info, &mut e);
        }
        b.add(e);
    }
    Ok(b.finish(source, os, Vec::new()))
}

/// The SPDXIDs the document DESCRIBES (`documentDescribes`, or relationships).
fn described(top: &Map<String, Value>) -> Result<HashSet<String>, ReadError> {
    let root = At::Root;
    let mut ids = HashSet::new();
    let at_d = root.key("documentDescribes");
    for (i, v) in DOC.arr(top, "documentDescribes", &root)?.iter().enumerate() {
        match v {
            Value::String(s) => {
                ids.insert(s.clone());
            }
            other => return Err(DOC.wrong(&at_d.index(i), "a string", other)),
        }
    }
    let at_r = root.key("relationships");
    for (i, v) in DOC.arr(top, "relationships", &root)?.iter().enumerate() {
        let at = at_r.index(i);
        let r = DOC.obj(v, &at)?;
        let from = DOC.opt_str(r, "spdxElementId", &at)?;
        let ty = DOC.opt_str(r, "relationshipType", &at)?;
        let to = DOC.opt_str(r, "relatedSpdxElement", &at)?;
        match (from, ty, to) {
            (Some(DOCUMENT_ID), Some("DESCRIBES"), Some(to)) => {
                ids.insert(to.to_string());
            }
            (Some(from), Some("DESCRIBED_BY"), Some(DOCUMENT_ID)) => {
                ids.insert(from.to_string());
            }
            _ => {}
        }
    }
    Ok(ids)
}

/// The first `purl` external reference.
fn purl_of<'v>(p: &'v Map<String, Value>, at: &At<'_>) -> Result<Option<&'v str>, ReadError> {
    let at_r = at.key("externalRefs");
    for (i, r) in DOC.arr(p, "externalRefs", at)?.iter().enumerate() {
        let at = at_r.index(i);
        let r = DOC.obj(r, &at)?;
        let category = DOC.opt_str(r, "referenceCategory", &at)?;
        let ty = DOC.opt_str(r, "referenceType", &at)?;
        if ty == Some("purl")
            && matches!(category, None | Some("PACKAGE-MANAGER" | "PACKAGE_MANAGER"))
        {
            if let Some(l) = DOC.opt_str(r, "referenceLocator", &at)? {
                return Ok(Some(l));
            }
        }
    }
    Ok(None)
}

/// Caisson writes a package's layer and database files into `sourceInfo`.
fn caisson_source_info(info: &str, e: &mut Entry<'_>) {
    for part in info.split("; ") {
        if let Some(rest) = part.strip_prefix("introduced in image layer ") {
            if let Some((i, d)) = rest.split_once(" (") {
                if let (Ok(i), Some(d)) = (i.parse(), d.strip_suffix(')')) {
                    e.layer_index = Some(i);
                    e.layer_diff_id = Some(d.to_string());
                }
            }
        } else if let Some(rest) = part.strip_prefix("built from source package ") {
            let (n, v) = match rest.split_once(' ') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (rest, None),
            };
            e.source_name = Some(n.to_string());
            e.source_version = v;
        } else if let Some(owner) = part.strip_prefix("files installed by OS package ") {
            e.owned_by = Some(owner.to_string());
        } else if let Some(rest) = part.strip_prefix("acquired package info from ") {
            if let Some((_, paths)) = rest.split_once(" database: ") {
                e.locations = paths.split(", ").map(str::to_string).collect();
            }
        }
    }
}

/// The described package: reference, manifest digest, and Caisson's
/// `oci source; platform …; config …; layer N sha256:…` sentences.
fn image_source(p: &Map<String, Value>, at: &At<'_>, s: &mut SourceInfo) -> Result<(), ReadError> {
    s.reference = DOC.opt_str(p, "name", at)?.unwrap_or_default().to_string();
    s.manifest_digest = DOC
        .opt_str(p, "versionInfo", at)?
        .filter(|v| v.starts_with("sha256:"))
        .map(str::to_string);
    let Some(info) = DOC.opt_str(p, "sourceInfo", at)? else {
        return Ok(());
    };
    for part in info.split("; ") {
        if let Some(k) = part.strip_suffix(" source") {
            if !k.contains(' ') {
                s.kind = k.to_string();
            }
        } else if let Some(pl) = part.strip_prefix("platform ") {
            s.platform = Some(pl.to_string());
        } else if let Some(c) = part.strip_prefix("config ") {
            s.config_digest = Some(c.to_string());
        } else if let Some(l) = part.strip_prefix("layer ") {
            if let Some((i, d)) = l.split_once(' ') {
                if let Ok(index) = i.parse() {
                    s.layers.push(LayerRef {
                        index,
                        diff_id: d.to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}
