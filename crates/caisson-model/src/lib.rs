//! Caisson's data model.
//!
//! Pure types shared by the catalogers, the report writers and (later) the
//! matcher: an [`Sbom`] is the source it was read from, the OS it identified
//! and the [`Package`]s found. Nothing here does I/O.

mod advisory;
pub mod exec_profile;
pub mod host_report;
mod purl;
pub mod runtime_alert;

pub use advisory::{
    normalize_package_name, Advisory, AdvisorySource, Affected, AffectedPackage, Bound,
    BoundOrdering, Candidate, CandidateRecord, Event, Finding, Range, Reference, Severity,
    SeverityScore,
};
pub use purl::Purl;

use serde::{Deserialize, Serialize};

/// Which packaging system a package comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageType {
    /// Debian / Ubuntu `.deb`, recorded by dpkg.
    Deb,
    /// Alpine `.apk`, recorded by apk-tools.
    Apk,
    /// RPM, recorded in the rpmdb.
    Rpm,
    /// Python distributions (PyPI).
    Python,
    /// Node.js packages (npm registry).
    Npm,
    /// Go modules.
    Golang,
    /// Rust crates (crates.io).
    Cargo,
    /// Java archives (Maven coordinates).
    Maven,
    /// Ruby gems.
    Gem,
    /// PHP packages (Packagist / Composer).
    Composer,
    /// .NET packages (NuGet).
    Nuget,
}

impl PackageType {
    /// The purl `type` component.
    pub fn purl_type(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Rpm => "rpm",
            PackageType::Python => "pypi",
            PackageType::Npm => "npm",
            PackageType::Golang => "golang",
            PackageType::Cargo => "cargo",
            PackageType::Maven => "maven",
            PackageType::Gem => "gem",
            PackageType::Composer => "composer",
            PackageType::Nuget => "nuget",
        }
    }

    /// The OSV ecosystem name for language packages (`PyPI`, `npm`, `Go`, …).
    /// OS packages are matched per distribution (`Debian:12`, `Alpine:v3.20`),
    /// which needs the OS release too, so they return `None` here.
    pub fn osv_ecosystem(self) -> Option<&'static str> {
        match self {
            PackageType::Deb | PackageType::Apk | PackageType::Rpm => None,
            PackageType::Python => Some("PyPI"),
            PackageType::Npm => Some("npm"),
            PackageType::Golang => Some("Go"),
            PackageType::Cargo => Some("crates.io"),
            PackageType::Maven => Some("Maven"),
            PackageType::Gem => Some("RubyGems"),
            PackageType::Composer => Some("Packagist"),
            PackageType::Nuget => Some("NuGet"),
        }
    }

    /// True for packages managed by the operating system's package manager.
    pub fn is_os(self) -> bool {
        matches!(self, PackageType::Deb | PackageType::Apk | PackageType::Rpm)
    }
}

impl std::fmt::Display for PackageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.purl_type())
    }
}

/// The layer of an image a package or file came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LayerRef {
    /// Zero-based position in the image's layer list.
    pub index: usize,
    /// The layer's uncompressed digest (`sha256:…`), as in the config's `rootfs.diff_ids`.
    pub diff_id: String,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Stable identifier within one SBOM (used as CycloneDX `bom-ref` / SPDX id seed).
    pub id: String,
    #[serde(rename = "type")]
    pub package_type: PackageType,
    pub name: String,
    /// Full version as the package manager writes it: dpkg `[epoch:]upstream[-revision]`,
    /// apk `ver-rN`, rpm `version-release` (epoch kept separately in [`Package::epoch`]).
    pub version: String,
    /// RPM epoch, when the rpmdb records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Source package name (dpkg `Source:`, apk origin, rpm source rpm name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version when it differs from the binary's (dpkg `Source: name (ver)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// License expressions or names as declared by the package metadata.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// Maintainer / packager as declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// Package URL.
    pub purl: String,
    /// The layer that introduced this package (same name and version) into the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
    /// Database files that evidence this package (e.g. `/var/lib/dpkg/status`).
    pub locations: Vec<String>,
    /// Files the package manager says this package installed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// For a language package whose files an OS package installed (Debian's
    /// `python3-jinja2`): the id of that OS package. The matcher uses the OS
    /// advisories for it instead of reporting it twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// Digests of the artifact the package was read from, as `<algorithm>:<hex>`
    /// (a jar's `sha1:…`, which Maven Central indexes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<String>,
}

impl Package {
    /// A package a cataloger found at `location`: id and layer are assigned
    /// later by the catalog pass, the optional fields are left empty.
    pub fn found(
        ty: PackageType,
        name: &str,
        version: &str,
        purl: String,
        location: &str,
    ) -> Package {
        Package {
            id: String::new(),
            package_type: ty,
            name: name.to_string(),
            version: version.to_string(),
            epoch: None,
            arch: None,
            source_name: None,
            source_version: None,
            licenses: Vec::new(),
            supplier: None,
            purl,
            layer: None,
            locations: vec![location.to_string()],
            files: Vec::new(),
            owned_by: None,
            digests: Vec::new(),
        }
    }
}

/// The operating system identified in an image (from `os-release` or fallbacks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `ID`, e.g. `debian`, `alpine`, `rhel`.
    pub id: String,
    /// `VERSION_ID`, e.g. `12`, `3.23.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`, e.g. `bookworm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// `PRETTY_NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// `ID_LIKE`, split on whitespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
}

impl OsRelease {
    /// The purl `distro` qualifier: `debian-12`, `alpine-3.23.0`.
    pub fn distro_qualifier(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{}-{}", self.id, v),
            None => self.id.clone(),
        }
    }
}

/// What was read to produce an SBOM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The source as the user wrote it (`oci:./dir:tag`).
    pub reference: String,
    /// Kind of source: `oci`, `oci-archive`, `docker-archive`, `dir`, `registry`.
    pub kind: String,
    /// Digest of the image manifest, for image sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// Digest of the image config, for image sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    /// Layers in order (diff ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerRef>,
    /// `os/arch[/variant]` from the image config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Tags / names the image is known by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Severity of a non-fatal problem met while cataloging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Stable kebab-case code, e.g. `tar-path-escapes-root`.
    pub code: String,
    pub message: String,
}

/// A software bill of materials for one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    pub source: SourceInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsRelease>,
    pub packages: Vec<Package>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}
