//! CycloneDX 1.6 JSON (<https://cyclonedx.org/docs/1.6/json/>).
//!
//! The image is `metadata.component` (type `container`); the OS, when known, is a
//! component of type `operating-system`; each package is a `library` whose
//! `bom-ref` is the package id. Facts CycloneDX has no field for travel as
//! `properties` named `caisson:…`.

use std::collections::HashSet;

use caisson_model::{OsRelease, Package, Sbom};
use serde::Serialize;

use crate::license::{self, CdxLicenseChoice};
use crate::{display_version, sorted_packages, split_contact, RenderOptions, TOOL_NAME};

const IMAGE_REF: &str = "caisson:image";
const OS_REF: &str = "caisson:os";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

#[derive(Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    component: Component,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize, Default)]
struct Component {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<Organization>,
    #[serde(skip_serializing_if = "Option::is_none")]
    publisher: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<CdxLicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Organization {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    contact: Vec<Contact>,
}

#[derive(Serialize)]
struct Contact {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    email: String,
}

#[derive(Serialize)]
struct Property {
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    depends_on: Vec<String>,
}

fn prop(name: &str, value: impl Into<String>) -> Property {
    Property {
        name: format!("caisson:{name}"),
        value: value.into(),
    }
}

pub(crate) fn document(sbom: &Sbom, opts: &RenderOptions) -> Bom {
    document_with_refs(sbom, opts).0
}

/// The BOM and the `bom-ref` given to each package, in `sbom.packages` order.
pub(crate) fn document_with_refs(sbom: &Sbom, opts: &RenderOptions) -> (Bom, Vec<String>) {
    let mut refs = RefAllocator::default();
    let image_ref = refs.take(IMAGE_REF);

    let mut components = Vec::new();
    if let Some(os) = &sbom.os {
        components.push(os_component(os, refs.take(OS_REF)));
    }
    let index: std::collections::HashMap<*const Package, usize> = sbom
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p as *const Package, i))
        .collect();
    let mut package_refs = vec![String::new(); sbom.packages.len()];
    for p in sorted_packages(sbom) {
        let bom_ref = refs.take(&p.id);
        if let Some(slot) = index
            .get(&(p as *const Package))
            .and_then(|i| package_refs.get_mut(*i))
        {
            slot.clone_from(&bom_ref);
        }
        components.push(package_component(p, bom_ref));
    }

    let depends_on: Vec<String> = components
        .iter()
        .filter_map(|c| c.bom_ref.clone())
        .collect();

    let bom = Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", opts.document_uuid),
        version: 1,
        metadata: Metadata {
            timestamp: opts.timestamp.clone(),
            tools: Tools {
                components: vec![Component {
                    ty: "application",
                    name: TOOL_NAME.to_string(),
                    version: Some(opts.tool_version.clone()),
                    ..Component::default()
                }],
            },
            component: image_component(sbom, image_ref.clone()),
            properties: sbom
                .warnings
                .iter()
                .map(|w| prop("warning", format!("{}: {}", w.code, w.message)))
                .collect(),
        },
        components,
        dependencies: vec![Dependency {
            reference: image_ref,
            depends_on,
        }],
    };
    (bom, package_refs)
}

fn image_component(sbom: &Sbom, bom_ref: String) -> Component {
    let s = &sbom.source;
    let mut properties = vec![prop("source:kind", s.kind.clone())];
    if let Some(d) = &s.config_digest {
        properties.push(prop("image:configDigest", d.clone()));
    }
    if let Some(p) = &s.platform {
        properties.push(prop("image:platform", p.clone()));
    }
    for t in &s.tags {
        properties.push(prop("image:tag", t.clone()));
    }
    for l in &s.layers {
        properties.push(prop(
            &format!("image:layer:{}:diffID", l.index),
            l.diff_id.clone(),
        ));
    }
    Component {
        ty: "container",
        bom_ref: Some(bom_ref),
        name: s.reference.clone(),
        version: s.manifest_digest.clone(),
        properties,
        ..Component::default()
    }
}

fn os_component(os: &OsRelease, bom_ref: String) -> Component {
    let mut properties = Vec::new();
    if let Some(c) = &os.codename {
        properties.push(prop("os:codename", c.clone()));
    }
    for l in &os.id_like {
        properties.push(prop("os:idLike", l.clone()));
    }
    Component {
        ty: "operating-system",
        bom_ref: Some(bom_ref),
        name: os.id.clone(),
        version: os.version_id.clone(),
        description: os.pretty_name.clone(),
        properties,
        ..Component::default()
    }
}

fn package_component(p: &Package, bom_ref: String) -> Component {
    let mut properties = vec![prop("package:type", p.package_type.to_string())];
    if let Some(a) = &p.arch {
        properties.push(prop("package:arch", a.clone()));
    }
    if let Some(e) = p.epoch {
        properties.push(prop("package:epoch", e.to_string()));
    }
    if let Some(n) = &p.source_name {
        properties.push(prop("package:sourceName", n.clone()));
    }
    if let Some(v) = &p.source_version {
        properties.push(prop("package:sourceVersion", v.clone()));
    }
    if let Some(o) = &p.owned_by {
        properties.push(prop("package:ownedBy", o.clone()));
    }
    if let Some(l) = &p.layer {
        properties.push(prop("layer:index", l.index.to_string()));
        properties.push(prop("layer:diffID", l.diff_id.clone()));
    }
    for loc in &p.locations {
        properties.push(prop("location:path", loc.clone()));
    }
    let supplier = p.supplier.as_deref().map(|s| {
        let (name, email) = split_contact(s);
        Organization {
            contact: email
                .map(|email| Contact {
                    name: Some(name.clone()),
                    email,
                })
                .into_iter()
                .collect(),
            name,
        }
    });
    Component {
        ty: "library",
        bom_ref: Some(bom_ref),
        supplier,
        publisher: p.supplier.clone(),
        name: p.name.clone(),
        version: Some(display_version(p)),
        licenses: license::cyclonedx(&p.licenses),
        purl: (!p.purl.is_empty()).then(|| p.purl.clone()),
        properties,
        ..Component::default()
    }
}

/// Hands out `bom-ref`s, which must be unique within a BOM: a repeated (or empty)
/// wish gets a numeric suffix.
#[derive(Default)]
struct RefAllocator {
    used: HashSet<String>,
}

impl RefAllocator {
    fn take(&mut self, wish: &str) -> String {
        let base = if wish.is_empty() {
            "caisson:package"
        } else {
            wish
        };
        let mut candidate = base.to_string();
        let mut n = 1u64;
        while !self.used.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{base}#{n}");
        }
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_unique() {
        let mut r = RefAllocator::default();
        assert_eq!(r.take("a"), "a");
        assert_eq!(r.take("a"), "a#2");
        assert_eq!(r.take("a#2"), "a#2#2");
        assert_eq!(r.take(""), "caisson:package");
        assert_eq!(r.take(""), "caisson:package#2");
    }
}
