//! SPDX 2.3 JSON (<https://spdx.github.io/spdx-spec/v2.3/>).
//!
//! One root package stands for the image (purpose `CONTAINER`); the document
//! DESCRIBES it and it CONTAINS the OS package (when known) and every installed
//! package. `SPDXID`s are `SPDXRef-` plus ASCII letters, digits, `.` and `-` only,
//! and unique within the document.

use std::collections::HashSet;

use caisson_model::{OsRelease, Package, Sbom};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{display_version, license, sorted_packages, split_contact, RenderOptions, TOOL_NAME};

const NOASSERTION: &str = "NOASSERTION";
const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";
const IMAGE_ID: &str = "SPDXRef-Image";
const OS_ID: &str = "SPDXRef-OperatingSystem";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<SpdxPackage>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    supplier: String,
    download_location: &'static str,
    files_analyzed: bool,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
}

impl SpdxPackage {
    fn new(name: String, spdx_id: String, purpose: &'static str) -> Self {
        SpdxPackage {
            name,
            spdx_id,
            version_info: None,
            supplier: NOASSERTION.to_string(),
            download_location: NOASSERTION,
            files_analyzed: false,
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION.to_string(),
            copyright_text: NOASSERTION,
            source_info: None,
            description: None,
            external_refs: Vec::new(),
            primary_package_purpose: purpose,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

fn rel(from: &str, ty: &'static str, to: &str) -> Relationship {
    Relationship {
        spdx_element_id: from.to_string(),
        relationship_type: ty,
        related_spdx_element: to.to_string(),
    }
}

pub(crate) fn document(sbom: &Sbom, opts: &RenderOptions) -> Document {
    let name = if sbom.source.reference.is_empty() {
        "unnamed-source".to_string()
    } else {
        sbom.source.reference.clone()
    };
    let mut slug = sanitize(&name);
    slug.truncate(64);

    let mut ids = IdAllocator::default();
    let mut packages = vec![image_package(sbom, ids.take(IMAGE_ID))];
    let mut relationships = vec![rel(DOCUMENT_ID, "DESCRIBES", IMAGE_ID)];
    if let Some(os) = &sbom.os {
        let id = ids.take(OS_ID);
        relationships.push(rel(IMAGE_ID, "CONTAINS", &id));
        packages.push(os_package(os, id));
    }
    for p in sorted_packages(sbom) {
        let id = ids.take(&package_spdx_id(p));
        relationships.push(rel(IMAGE_ID, "CONTAINS", &id));
        packages.push(package(p, id));
    }

    Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: DOCUMENT_ID,
        document_namespace: format!(
            "https://spdx.org/spdxdocs/{TOOL_NAME}-{slug}-{}",
            opts.document_uuid
        ),
        name,
        creation_info: CreationInfo {
            created: opts.timestamp.clone(),
            creators: vec![format!("Tool: {TOOL_NAME}-{}", opts.tool_version)],
        },
        packages,
        relationships,
    }
}

fn image_package(sbom: &Sbom, id: String) -> SpdxPackage {
    let s = &sbom.source;
    let mut pkg = SpdxPackage::new(s.reference.clone(), id, "CONTAINER");
    pkg.version_info = s.manifest_digest.clone();
    let mut info = vec![format!("{} source", s.kind)];
    if let Some(p) = &s.platform {
        info.push(format!("platform {p}"));
    }
    if let Some(c) = &s.config_digest {
        info.push(format!("config {c}"));
    }
    for l in &s.layers {
        info.push(format!("layer {} {}", l.index, l.diff_id));
    }
    pkg.source_info = Some(info.join("; "));
    pkg
}

fn os_package(os: &OsRelease, id: String) -> SpdxPackage {
    let mut pkg = SpdxPackage::new(os.id.clone(), id, "OPERATING_SYSTEM");
    pkg.version_info = os.version_id.clone();
    pkg.description = os.pretty_name.clone();
    pkg
}

fn package(p: &Package, id: String) -> SpdxPackage {
    let mut pkg = SpdxPackage::new(p.name.clone(), id, "LIBRARY");
    pkg.version_info = Some(display_version(p));
    pkg.supplier = p
        .supplier
        .as_deref()
        .map_or_else(|| NOASSERTION.to_string(), spdx_actor);
    pkg.license_declared = license::spdx_declared(&p.licenses);
    let mut info = Vec::new();
    if !p.locations.is_empty() {
        info.push(format!(
            "acquired package info from {} database: {}",
            p.package_type,
            p.locations.join(", ")
        ));
    }
    if let Some(l) = &p.layer {
        info.push(format!(
            "introduced in image layer {} ({})",
            l.index, l.diff_id
        ));
    }
    // SPDX 2.3 has no field for a source package; a binNMU's source version
    // (`bash 5.2.15-2` for `5.2.15-2+b13`) is not in every purl either.
    if let Some(sn) = &p.source_name {
        if *sn != p.name || p.source_version.as_ref().is_some_and(|v| *v != p.version) {
            match &p.source_version {
                Some(sv) => info.push(format!("built from source package {sn} {sv}")),
                None => info.push(format!("built from source package {sn}")),
            }
        }
    }
    if let Some(o) = &p.owned_by {
        info.push(format!("files installed by OS package {o}"));
    }
    if !info.is_empty() {
        pkg.source_info = Some(info.join("; "));
    }
    if !p.purl.is_empty() {
        pkg.external_refs.push(ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: p.purl.clone(),
        });
    }
    pkg
}

/// `Organization: Name (email)` for teams, projects and companies, otherwise
/// `Person: Name (email)`; parentheses inside the name are dropped because the
/// SPDX actor syntax uses them for the email.
fn spdx_actor(raw: &str) -> String {
    let (name, email) = split_contact(raw);
    let name: String = name.chars().filter(|c| !matches!(c, '(' | ')')).collect();
    let name = name.trim();
    if name.is_empty() {
        return NOASSERTION.to_string();
    }
    const ORG_WORDS: [&str; 14] = [
        "team",
        "project",
        "maintainers",
        "developers",
        "inc",
        "ltd",
        "llc",
        "gmbh",
        "foundation",
        "community",
        "organization",
        "corporation",
        "group",
        "packagers",
    ];
    let lower = name.to_lowercase();
    let is_org = lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| ORG_WORDS.contains(&w));
    let kind = if is_org { "Organization" } else { "Person" };
    match email {
        Some(e) => format!("{kind}: {name} ({e})"),
        None => format!("{kind}: {name}"),
    }
}

/// `SPDXRef-Package-<type>-<name>-<16 hex of sha256(id)>`: readable, stable across
/// runs and distinct for same-named packages (other arch, other version).
fn package_spdx_id(p: &Package) -> String {
    let digest = Sha256::digest(p.id.as_bytes());
    let short = hex::encode(digest.get(..8).unwrap_or_default());
    let mut name = sanitize(&p.name);
    name.truncate(80);
    format!("SPDXRef-Package-{}-{name}-{short}", p.package_type)
}

/// Maps every character outside `[A-Za-z0-9.-]` to `-`.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Keeps `SPDXID`s unique: a repeat gets `-2`, `-3`, …
#[derive(Default)]
struct IdAllocator {
    used: HashSet<String>,
}

impl IdAllocator {
    fn take(&mut self, wish: &str) -> String {
        let mut candidate = wish.to_string();
        let mut n = 1u64;
        while !self.used.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{wish}-{n}");
        }
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors() {
        assert_eq!(
            spdx_actor("GNU Libc Maintainers <debian-glibc@lists.debian.org>"),
            "Organization: GNU Libc Maintainers (debian-glibc@lists.debian.org)"
        );
        assert_eq!(
            spdx_actor("Natanael Copa <ncopa@alpinelinux.org>"),
            "Person: Natanael Copa (ncopa@alpinelinux.org)"
        );
        assert_eq!(spdx_actor("Red Hat, Inc."), "Organization: Red Hat, Inc.");
        assert_eq!(spdx_actor("Jo (Joe) Bloggs"), "Person: Jo Joe Bloggs");
        assert_eq!(spdx_actor("  "), NOASSERTION);
    }

    #[test]
    fn sanitize_keeps_only_idstring_chars() {
        assert_eq!(sanitize("libstdc++6"), "libstdc--6");
        assert_eq!(sanitize("zürich_1.0~rc1"), "z-rich-1.0-rc1");
    }
}
