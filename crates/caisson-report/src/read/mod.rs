//! Reading SBOMs back into the model: Caisson JSON, CycloneDX JSON 1.4–1.7 and
//! SPDX 2.2/2.3 JSON, detected from the document itself.
//!
//! [`read_sbom`] parses the bytes once, picks the reader from the top-level
//! keys (`schema_version`, `bomFormat`, `spdxVersion`) and rebuilds an [`Sbom`].
//! Packages are identified by their purls ([`parse_purl`]); facts a purl
//! does not carry come from the tool's own properties where it wrote them:
//! Caisson's `caisson:*`, syft's `syft:*` and trivy's `aquasecurity:trivy:*`.
//! What could not be used (a purl type Caisson does not scan, a component
//! without a purl) is reported as warnings, aggregated per kind.
//!
//! The input is untrusted: sizes are bounded ([`MAX_BYTES`],
//! [`MAX_COMPONENTS`], [`MAX_DEPTH`]) and nothing here panics.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo
)]

mod cyclonedx;
mod json;
mod native;
mod purl;
mod spdx;

use std::collections::{BTreeMap, HashMap};

use caisson_model::{
    normalize_package_name, LayerRef, OsRelease, Package, PackageType, Sbom, Warning,
};
use serde_json::Value;

pub use purl::{parse_purl, ParsedPurl, PurlError};

/// Largest document read, in bytes (256 MiB).
pub const MAX_BYTES: usize = 256 * 1024 * 1024;
/// Most components (CycloneDX, counting nested ones) or packages (SPDX, Caisson JSON).
pub const MAX_COMPONENTS: usize = 1_000_000;
/// Deepest nesting of CycloneDX `components` inside components.
pub const MAX_DEPTH: usize = 64;

/// Why a document could not be read as an SBOM.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the SBOM is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("reading the SBOM as JSON")]
    Json(#[source] serde_json::Error),
    #[error("not an SBOM: {0}")]
    NotAnSbom(String),
    #[error("CycloneDX specVersion {0} is not supported (Caisson reads 1.4 to 1.7)")]
    CycloneDxVersion(String),
    #[error("SPDX version {0} is not supported (Caisson reads SPDX-2.2 and SPDX-2.3 JSON)")]
    SpdxVersion(String),
    #[error(
        "Caisson JSON schema_version {found} is not supported (this Caisson reads {supported})"
    )]
    SchemaVersion { found: String, supported: u32 },
    #[error("{format}: {path} should be {expected}, but is {found}")]
    WrongType {
        format: &'static str,
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{format}: {path}: {message}")]
    Invalid {
        format: &'static str,
        path: String,
        message: String,
    },
    #[error("{format}: more than {limit} {what}")]
    TooMany {
        format: &'static str,
        what: &'static str,
        limit: usize,
    },
    #[error("{format}: components nested more than {limit} deep at {path}")]
    TooDeep {
        format: &'static str,
        path: String,
        limit: usize,
    },
}

/// Reads an SBOM in any supported format. Returns the SBOM and the warnings
/// met while reading (things skipped); the SBOM's own recorded warnings stay
/// in [`Sbom::warnings`].
pub fn read_sbom(bytes: &[u8]) -> Result<(Sbom, Vec<Warning>), ReadError> {
    if bytes.len() > MAX_BYTES {
        return Err(ReadError::TooLarge {
            size: bytes.len(),
            limit: MAX_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => return Err(ReadError::NotAnSbom("the document is empty".into())),
        Some(b'<') => return Err(ReadError::NotAnSbom(
            "this is XML; Caisson reads JSON SBOMs only (CycloneDX JSON, SPDX JSON, Caisson JSON)"
                .into(),
        )),
        Some(_) if bytes.starts_with(b"SPDXVersion:") => {
            return Err(ReadError::NotAnSbom(
                "SPDX tag-value is not supported; convert it to SPDX JSON".into(),
            ))
        }
        Some(_) => {}
    }
    let value: Value = serde_json::from_slice(bytes).map_err(ReadError::Json)?;
    let Value::Object(top) = &value else {
        return Err(ReadError::NotAnSbom(
            "the top level is not a JSON object".into(),
        ));
    };
    if top.contains_key("bomFormat") {
        cyclonedx::read(top)
    } else if top.contains_key("spdxVersion") {
        spdx::read(top)
    } else if top.contains_key("schema_version") {
        native::read(value)
    } else {
        Err(ReadError::NotAnSbom(
            "no bomFormat/spdxVersion/schema_version".into(),
        ))
    }
}

/// Maps a purl type to the package type Caisson scans.
pub fn package_type(purl_type: &str) -> Option<PackageType> {
    Some(match purl_type {
        "deb" => PackageType::Deb,
        "apk" => PackageType::Apk,
        "rpm" => PackageType::Rpm,
        "pypi" => PackageType::Python,
        "npm" => PackageType::Npm,
        "golang" => PackageType::Golang,
        "cargo" => PackageType::Cargo,
        "maven" => PackageType::Maven,
        "gem" => PackageType::Gem,
        "composer" => PackageType::Composer,
        "nuget" => PackageType::Nuget,
        _ => return None,
    })
}

/// The package name as Caisson writes it, from the purl: Maven `group:artifact`,
/// npm `@scope/name`, Go module paths and Composer `vendor/name` in full.
fn name_from_purl(ty: PackageType, p: &ParsedPurl) -> String {
    match (ty, p.namespace_path()) {
        (PackageType::Maven, Some(ns)) => format!("{ns}:{}", p.name),
        (PackageType::Npm | PackageType::Golang | PackageType::Composer, Some(ns)) => {
            format!("{ns}/{}", p.name)
        }
        _ => p.name.clone(),
    }
}

/// The source package name in a source rpm file name: `bash-5.1.8-6.el9.src.rpm` → `bash`.
fn srpm_name(srpm: &str) -> Option<&str> {
    let stem = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (nv, _release) = stem.rsplit_once('-')?;
    let (name, _version) = nv.rsplit_once('-')?;
    (!name.is_empty()).then_some(name)
}

/// One package as a document describes it, before it becomes a [`Package`].
#[derive(Debug, Default)]
pub(crate) struct Entry<'a> {
    pub purl: &'a str,
    /// The document's own name and version for it (component `name`, SPDX `versionInfo`).
    pub name: Option<&'a str>,
    pub version: Option<&'a str>,
    /// Caisson's `package:type` property: the entry was written by Caisson and
    /// its name, version and properties are taken exactly.
    pub caisson_type: Option<PackageType>,
    pub id: Option<&'a str>,
    pub arch: Option<String>,
    pub epoch: Option<u64>,
    pub source_name: Option<String>,
    pub source_version: Option<String>,
    pub layer_index: Option<usize>,
    pub layer_diff_id: Option<String>,
    pub locations: Vec<String>,
    pub licenses: Vec<String>,
    pub supplier: Option<String>,
    pub digests: Vec<String>,
    /// Caisson's record that an OS package installed this language package.
    pub owned_by: Option<String>,
}

/// What all three readers share: packages built from entries, OS hints from
/// `distro` qualifiers, aggregated warnings.
#[derive(Default)]
pub(crate) struct Builder {
    packages: Vec<Package>,
    /// First `distro` qualifier seen on an OS package, and that purl's namespace.
    distro: Option<(String, Option<String>)>,
    /// Layer diff id → index, when the document lists the image's layers.
    pub layers: HashMap<String, usize>,
    warnings: BTreeMap<&'static str, (usize, String)>,
}

impl Builder {
    pub(crate) fn warn(&mut self, code: &'static str, message: impl FnOnce() -> String) {
        self.warnings
            .entry(code)
            .and_modify(|(n, _)| *n += 1)
            .or_insert_with(|| (1, message()));
    }

    /// Adds the package `e` describes, or a warning saying why it is skipped.
    pub(crate) fn add(&mut self, mut e: Entry<'_>) {
        let parsed = if e.purl.is_empty() {
            None
        } else {
            match parse_purl(e.purl) {
                Ok(p) => Some(p),
                Err(err) if e.caisson_type.is_some() => {
                    self.warn("purl-invalid", || err.to_string());
                    None
                }
                Err(err) => {
                    self.warn("purl-invalid", || format!("{err}; that package is skipped"));
                    return;
                }
            }
        };
        let ty = match (e.caisson_type, &parsed) {
            (Some(t), _) => t,
            (None, Some(p)) => match package_type(&p.ty) {
                Some(t) => t,
                None => {
                    let ty = p.ty.clone();
                    self.warn("purl-type-unsupported", || {
                        format!(
                            "skipped `{}`: Caisson does not scan purl type `{ty}`",
                            e.purl
                        )
                    });
                    return;
                }
            },
            (None, None) => {
                let name = e.name.unwrap_or("(unnamed)").to_string();
                self.warn("package-without-purl", || {
                    format!("skipped `{name}`: it has no purl to say what kind of package it is")
                });
                return;
            }
        };
        if let (Some(p), true) = (&parsed, ty.is_os()) {
            if let (None, Some(d)) = (&self.distro, p.qualifier("distro")) {
                self.distro = Some((d.to_string(), p.namespace.first().cloned()));
            }
        }
        let layer = match (e.layer_index, e.layer_diff_id.take()) {
            (Some(index), Some(diff_id)) => Some(LayerRef { index, diff_id }),
            (None, Some(diff_id)) => self
                .layers
                .get(&diff_id)
                .map(|&index| LayerRef { index, diff_id }),
            _ => None,
        };
        let package = match (e.caisson_type, parsed) {
            (Some(_), _) => exact_package(ty, e, layer),
            (None, Some(p)) => purl_package(ty, &p, e, layer),
            (None, None) => return,
        };
        self.packages.push(package);
    }

    /// The SBOM: `os` from the document, else from the first OS package's
    /// `distro` qualifier; packages sorted, with unique ids.
    pub(crate) fn finish(
        mut self,
        source: caisson_model::SourceInfo,
        os: Option<OsRelease>,
        recorded: Vec<Warning>,
    ) -> (Sbom, Vec<Warning>) {
        let os = os
            .or_else(|| {
                let (q, ns) = self.distro.take()?;
                os_from_distro(&q, ns.as_deref())
            })
            .map(normalize_os);
        let mut packages = std::mem::take(&mut self.packages);
        packages.sort_by(|a, b| {
            (a.package_type, &a.name, &a.version, &a.arch, &a.id).cmp(&(
                b.package_type,
                &b.name,
                &b.version,
                &b.arch,
                &b.id,
            ))
        });
        let mut seen: HashMap<String, usize> = HashMap::new();
        for p in &mut packages {
            let base = if p.id.is_empty() {
                p.purl.clone()
            } else {
                std::mem::take(&mut p.id)
            };
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            p.id = if *n == 1 { base } else { format!("{base}#{n}") };
        }
        let warnings = self
            .warnings
            .into_iter()
            .map(|(code, (n, first))| Warning {
                code: code.to_string(),
                message: if n > 1 {
                    format!("{first} (and {} more like it)", n - 1)
                } else {
                    first
                },
            })
            .collect();
        let sbom = Sbom {
            source,
            os,
            packages,
            warnings: recorded,
        };
        (sbom, warnings)
    }
}

/// A package Caisson wrote: the document's name and version are the model's,
/// with an rpm epoch taken back off the displayed `epoch:version`.
fn exact_package(ty: PackageType, e: Entry<'_>, layer: Option<LayerRef>) -> Package {
    let mut version = e.version.unwrap_or_default().to_string();
    if let (PackageType::Rpm, Some(ep)) = (ty, e.epoch) {
        if let Some(v) = version.strip_prefix(&format!("{ep}:")) {
            version = v.to_string();
        }
    }
    Package {
        id: e.id.unwrap_or_default().to_string(),
        package_type: ty,
        name: e.name.unwrap_or_default().to_string(),
        version,
        epoch: e.epoch,
        arch: e.arch,
        source_name: e.source_name,
        source_version: e.source_version,
        licenses: e.licenses,
        supplier: e.supplier,
        purl: e.purl.to_string(),
        layer,
        locations: e.locations,
        files: Vec::new(),
        owned_by: e.owned_by,
        digests: e.digests,
    }
}

/// A package another tool wrote: identity from the purl, source package from
/// the tool's properties, else from the purl's `upstream` qualifier, else (deb,
/// apk) the binary package itself, as dpkg and apk mean when none is recorded.
fn purl_package(ty: PackageType, p: &ParsedPurl, e: Entry<'_>, layer: Option<LayerRef>) -> Package {
    let mut name = name_from_purl(ty, p);
    if let (PackageType::Python, Some(doc)) = (ty, e.name) {
        // The purl's name is normalised; keep the document's spelling of the same name.
        if normalize_package_name("PyPI", doc) == normalize_package_name("PyPI", &name) {
            name = doc.to_string();
        }
    }
    let mut version = p
        .version
        .clone()
        .or_else(|| e.version.map(str::to_string))
        .unwrap_or_default();
    let mut epoch = e.epoch;
    match ty {
        PackageType::Deb => {
            // trivy writes a dpkg epoch as a qualifier: `…@2.38.1-5?epoch=1`.
            if let Some(q) = p.qualifier("epoch").filter(|_| !version.contains(':')) {
                version = format!("{q}:{version}");
            }
        }
        PackageType::Rpm => {
            epoch = epoch.or_else(|| p.qualifier("epoch").and_then(|q| q.parse().ok()));
            if let Some((ep, rest)) = version.split_once(':') {
                if let Ok(ep) = ep.parse::<u64>() {
                    epoch = epoch.or(Some(ep));
                    version = rest.to_string();
                }
            }
        }
        _ => {}
    }
    let upstream = p.qualifier("upstream");
    let (mut source_name, mut source_version) = (e.source_name, e.source_version);
    match ty {
        PackageType::Deb | PackageType::Apk => {
            if source_name.is_none() {
                let (n, v) = match upstream.map(|u| u.split_once('@').unwrap_or((u, ""))) {
                    Some((n, v)) if !n.is_empty() => (n.to_string(), v),
                    _ => (name.clone(), ""),
                };
                source_name = Some(n);
                if source_version.is_none() && !v.is_empty() {
                    source_version = Some(v.to_string());
                }
            }
            if source_version.is_none() {
                source_version = Some(version.clone());
            }
        }
        PackageType::Rpm => {
            if let (None, Some(u)) = (&source_name, upstream) {
                source_name = Some(srpm_name(u).unwrap_or(u).to_string());
            }
            if source_version.is_none() && upstream.is_some() {
                source_version = Some(version.clone());
            }
        }
        _ => {}
    }
    Package {
        id: e.id.unwrap_or_default().to_string(),
        package_type: ty,
        name,
        version,
        epoch,
        arch: e.arch.or_else(|| p.qualifier("arch").map(str::to_string)),
        source_name,
        source_version,
        licenses: e.licenses,
        supplier: e.supplier,
        purl: e.purl.to_string(),
        layer,
        locations: e.locations,
        files: Vec::new(),
        owned_by: e.owned_by,
        digests: e.digests,
    }
}

/// An OS from a purl `distro` qualifier: `debian-12`, `alpine-3.20.3`,
/// `rocky-9.3`, trivy's bare `3.23.6` (the id is then the purl namespace), or a
/// Debian codename such as `bookworm`.
pub(crate) fn os_from_distro(q: &str, namespace: Option<&str>) -> Option<OsRelease> {
    let q = q.trim();
    let split = q
        .char_indices()
        .rev()
        .find(|&(i, c)| {
            c == '-'
                && q.get(i + 1..)
                    .is_some_and(|r| r.starts_with(|d: char| d.is_ascii_digit()))
        })
        .map(|(i, _)| i);
    let (id, version) = match split {
        Some(i) => (q.get(..i)?, q.get(i + 1..)),
        None if q.starts_with(|d: char| d.is_ascii_digit()) => (namespace?, Some(q)),
        None => {
            let id = namespace.unwrap_or(q);
            let version = match (id, q) {
                ("debian", "buster") => Some("10"),
                ("debian", "bullseye") => Some("11"),
                ("debian", "bookworm") => Some("12"),
                ("debian", "trixie") => Some("13"),
                _ => None,
            };
            return (!id.is_empty()).then(|| OsRelease {
                id: id.to_ascii_lowercase(),
                version_id: version.map(str::to_string),
                codename: (id != q).then(|| q.to_string()),
                ..OsRelease::default()
            });
        }
    };
    (!id.is_empty()).then(|| OsRelease {
        id: id.to_ascii_lowercase(),
        version_id: version.filter(|v| !v.is_empty()).map(str::to_string),
        ..OsRelease::default()
    })
}

/// Debian's `VERSION_ID` is the major release (`12`); trivy reports the point
/// release from `/etc/debian_version` (`12.5`, also in its `distro=debian-12.5`).
/// Debian advisories are per major release, so the point is dropped. Other
/// distributions keep their version as written (`3.20.3`, `9.3`, `22.04`).
pub(crate) fn normalize_os(mut os: OsRelease) -> OsRelease {
    os.id = os.id.trim().to_ascii_lowercase();
    if os.id == "debian" {
        if let Some(v) = &os.version_id {
            if let Some((major, _)) = v.split_once('.') {
                os.version_id = Some(major.to_string());
            }
        }
    }
    os
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn os(q: &str, ns: Option<&str>) -> (String, Option<String>) {
        let o = normalize_os(os_from_distro(q, ns).unwrap());
        (o.id, o.version_id)
    }

    #[test]
    fn distro_qualifiers_as_syft_and_trivy_write_them() {
        assert_eq!(os("debian-12", None), ("debian".into(), Some("12".into())));
        assert_eq!(
            os("debian-12.5", None),
            ("debian".into(), Some("12".into()))
        );
        assert_eq!(
            os("alpine-3.20.3", None),
            ("alpine".into(), Some("3.20.3".into()))
        );
        assert_eq!(
            os("3.23.6", Some("alpine")),
            ("alpine".into(), Some("3.23.6".into()))
        );
        assert_eq!(os("rocky-9.3", None), ("rocky".into(), Some("9.3".into())));
        assert_eq!(
            os("opensuse-leap-15.5", None),
            ("opensuse-leap".into(), Some("15.5".into()))
        );
        assert_eq!(
            os("ubuntu-22.04", None),
            ("ubuntu".into(), Some("22.04".into()))
        );
        assert_eq!(
            os("bookworm", Some("debian")),
            ("debian".into(), Some("12".into()))
        );
        assert!(os_from_distro("3.1", None).is_none());
    }

    #[test]
    fn srpm_names() {
        assert_eq!(srpm_name("bash-5.1.8-6.el9.src.rpm"), Some("bash"));
        assert_eq!(
            srpm_name("caisson-hello-1.4.2-3.el9.src.rpm"),
            Some("caisson-hello")
        );
        assert_eq!(srpm_name("bash"), None);
    }
}
