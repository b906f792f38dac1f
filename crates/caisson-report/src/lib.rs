//! Report writers for Caisson SBOMs.
//!
//! [`write`] renders one [`Sbom`] in one [`Format`] to any [`io::Write`]:
//!
//! - [`Format::Table`]: aligned columns for people ([`table`]);
//! - [`Format::Json`]: Caisson's own JSON, the model plus `schema_version`, `tool` and `created`
//!   (see `docs/formats/caisson-json.md`);
//! - [`Format::CycloneDxJson`]: CycloneDX 1.6 JSON;
//! - [`Format::SpdxJson`]: SPDX 2.3 JSON.
//!
//! [`read_sbom`] goes the other way: it reads Caisson JSON, CycloneDX JSON or
//! SPDX JSON (from Caisson or another tool) back into an [`Sbom`] ([`read`]).
//!
//! Everything that would make output vary between runs (the timestamp, the
//! document UUID, the tool version) comes in through [`RenderOptions`], so the
//! same inputs always give the same bytes.
//!
//! The readers parse documents from other tools, untrusted input: `unwrap`,
//! `expect`, unchecked indexing and `panic` are denied.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod cyclonedx;
mod license;
mod native;
pub mod read;
mod spdx_doc;
mod table;
mod timestamp;

use std::fmt;
use std::io;
use std::str::FromStr;

use caisson_model::{Package, PackageType, Sbom};
use sha2::{Digest, Sha256};

pub use native::SCHEMA_VERSION;
pub use read::{parse_purl, read_sbom, ParsedPurl, PurlError, ReadError};
pub use timestamp::{parse_utc, rfc3339_utc, rfc3339_utc_secs};

/// The tool name written into every document.
pub const TOOL_NAME: &str = "caisson";

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Human-readable aligned table.
    Table,
    /// Caisson's own JSON.
    Json,
    /// CycloneDX 1.6 JSON.
    CycloneDxJson,
    /// SPDX 2.3 JSON.
    SpdxJson,
}

impl Format {
    /// Every format, in the order `--help` should list them.
    pub const ALL: [Format; 4] = [
        Format::Table,
        Format::Json,
        Format::CycloneDxJson,
        Format::SpdxJson,
    ];

    /// The name users type: `table`, `json`, `cyclonedx-json`, `spdx-json`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::CycloneDxJson => "cyclonedx-json",
            Format::SpdxJson => "spdx-json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown output format `{given}` (expected one of: table, json, cyclonedx-json, spdx-json)"
)]
pub struct ParseFormatError {
    pub given: String,
}

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| ParseFormatError {
                given: s.to_string(),
            })
    }
}

/// Inputs that are not in the SBOM but end up in the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Creation time, RFC 3339 in UTC with whole seconds: `2024-05-01T12:00:00Z`
    /// (the form SPDX requires). See [`rfc3339_utc`].
    pub timestamp: String,
    /// Lower-case hyphenated UUID naming this document: the CycloneDX
    /// `serialNumber` (`urn:uuid:…`) and the tail of the SPDX `documentNamespace`.
    /// See [`RenderOptions::derived_uuid`].
    pub document_uuid: String,
    /// Caisson's version, written as the tool version.
    pub tool_version: String,
    /// Emit ANSI colour in the table. The caller decides (and honours `NO_COLOR`).
    pub color: bool,
}

impl RenderOptions {
    /// Options whose document UUID is derived from the SBOM and the timestamp,
    /// so that rendering is reproducible yet two scans at different times differ.
    pub fn new(sbom: &Sbom, timestamp: &str, tool_version: &str) -> Self {
        RenderOptions {
            timestamp: timestamp.to_string(),
            document_uuid: Self::derived_uuid(sbom, timestamp),
            tool_version: tool_version.to_string(),
            color: false,
        }
    }

    /// A UUID (RFC 9562 version 8, "custom") from SHA-256 over the SBOM's JSON and `salt`.
    pub fn derived_uuid(sbom: &Sbom, salt: &str) -> String {
        let mut h = Sha256::new();
        // Serializing the model cannot fail: it is plain strings, numbers and vectors.
        h.update(serde_json::to_vec(sbom).unwrap_or_default());
        h.update([0u8]);
        h.update(salt.as_bytes());
        let d = h.finalize();
        let mut b = [0u8; 16];
        for (dst, src) in b.iter_mut().zip(d.iter()) {
            *dst = *src;
        }
        b[6] = (b[6] & 0x0f) | 0x80; // version 8
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        let x = hex::encode(b);
        format!(
            "{}-{}-{}-{}-{}",
            &x[0..8],
            &x[8..12],
            &x[12..16],
            &x[16..20],
            &x[20..32]
        )
    }

    fn check(&self) -> Result<(), ReportError> {
        if !timestamp::is_rfc3339_utc_seconds(&self.timestamp) {
            return Err(ReportError::InvalidOption {
                option: "timestamp",
                value: self.timestamp.clone(),
                expected: "RFC 3339 UTC with whole seconds, e.g. 2024-05-01T12:00:00Z",
            });
        }
        if !is_uuid(&self.document_uuid) {
            return Err(ReportError::InvalidOption {
                option: "document_uuid",
                value: self.document_uuid.clone(),
                expected: "a lower-case hyphenated UUID, e.g. 3e671687-395b-41f5-a30f-a58921a69b79",
            });
        }
        Ok(())
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("writing the {format} report")]
    Io {
        format: Format,
        #[source]
        source: io::Error,
    },
    #[error("serializing the {format} report")]
    Json {
        format: Format,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid render option {option} = `{value}`: expected {expected}")]
    InvalidOption {
        option: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Renders `sbom` as `format` into `out`.
pub fn write(
    format: Format,
    sbom: &Sbom,
    opts: &RenderOptions,
    out: &mut dyn io::Write,
) -> Result<(), ReportError> {
    let io_err = |source| ReportError::Io { format, source };
    match format {
        Format::Table => table::write(sbom, opts, out).map_err(io_err),
        Format::Json => {
            opts.check()?;
            write_json(format, &native::document(sbom, opts), out)
        }
        Format::CycloneDxJson => {
            opts.check()?;
            write_json(format, &cyclonedx::document(sbom, opts), out)
        }
        Format::SpdxJson => {
            opts.check()?;
            write_json(format, &spdx_doc::document(sbom, opts), out)
        }
    }
}

/// The CycloneDX 1.6 BOM for `sbom` as a JSON value, and the `bom-ref` given
/// to each package (in `sbom.packages` order), for writers that extend the BOM
/// (the scan report adds `vulnerabilities` that refer to those components).
pub fn cyclonedx_value(
    sbom: &Sbom,
    opts: &RenderOptions,
) -> Result<(serde_json::Value, Vec<String>), ReportError> {
    opts.check()?;
    let (bom, refs) = cyclonedx::document_with_refs(sbom, opts);
    let value = serde_json::to_value(&bom).map_err(|source| ReportError::Json {
        format: Format::CycloneDxJson,
        source,
    })?;
    Ok((value, refs))
}

/// Renders into a `String` (convenience for tests and small callers).
pub fn to_string(format: Format, sbom: &Sbom, opts: &RenderOptions) -> Result<String, ReportError> {
    let mut buf = Vec::new();
    write(format, sbom, opts, &mut buf)?;
    // Every writer emits UTF-8 (serde_json, and the table from `str`s).
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn write_json<T: serde::Serialize>(
    format: Format,
    doc: &T,
    out: &mut dyn io::Write,
) -> Result<(), ReportError> {
    serde_json::to_writer_pretty(&mut *out, doc)
        .map_err(|source| ReportError::Json { format, source })?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(|source| ReportError::Io { format, source })
}

/// The version as vulnerability databases and SBOM consumers compare it: for RPM,
/// `epoch:version-release` when the rpmdb records an epoch; otherwise as recorded.
pub fn display_version(p: &Package) -> String {
    match (p.package_type, p.epoch) {
        (PackageType::Rpm, Some(e)) => format!("{e}:{}", p.version),
        _ => p.version.clone(),
    }
}

/// Packages in report order: name, version, type, arch, id.
pub(crate) fn sorted_packages(sbom: &Sbom) -> Vec<&Package> {
    let mut v: Vec<&Package> = sbom.packages.iter().collect();
    v.sort_by(|a, b| {
        (&a.name, &a.version, a.package_type, &a.arch, &a.id).cmp(&(
            &b.name,
            &b.version,
            b.package_type,
            &b.arch,
            &b.id,
        ))
    });
    v
}

/// Splits a maintainer string `Name <email>` into its parts. The email is kept only
/// when it looks like one (`local@domain`, no spaces or angle brackets).
pub(crate) fn split_contact(raw: &str) -> (String, Option<String>) {
    let raw = raw.trim();
    if let (Some(open), true) = (raw.rfind('<'), raw.ends_with('>')) {
        let name = raw.get(..open).unwrap_or_default().trim();
        let email = raw.get(open + 1..raw.len() - 1).unwrap_or_default().trim();
        let plausible = email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        }) && !email
            .contains(|c: char| c.is_whitespace() || "<>()\",;:".contains(c));
        let name = if name.is_empty() { email } else { name };
        return (name.to_string(), plausible.then(|| email.to_string()));
    }
    (raw.to_string(), None)
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8usize, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_split_into_name_and_email() {
        assert_eq!(
            split_contact("GNU Libc Maintainers <debian-glibc@lists.debian.org>"),
            (
                "GNU Libc Maintainers".into(),
                Some("debian-glibc@lists.debian.org".into())
            )
        );
        assert_eq!(
            split_contact("Red Hat, Inc."),
            ("Red Hat, Inc.".into(), None)
        );
        assert_eq!(
            split_contact("<a@b.org>"),
            ("a@b.org".into(), Some("a@b.org".into()))
        );
        assert_eq!(split_contact("X <not an email>"), ("X".into(), None));
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        assert!("cyclonedx".parse::<Format>().is_err());
        assert!("JSON".parse::<Format>().is_err());
    }

    #[test]
    fn derived_uuid_is_a_valid_uuid_and_depends_on_salt() {
        let sbom = Sbom::default();
        let a = RenderOptions::derived_uuid(&sbom, "2024-01-01T00:00:00Z");
        let b = RenderOptions::derived_uuid(&sbom, "2024-01-01T00:00:01Z");
        assert!(is_uuid(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(
            a,
            RenderOptions::derived_uuid(&sbom, "2024-01-01T00:00:00Z")
        );
        assert_eq!(a.as_bytes()[14], b'8');
    }

    #[test]
    fn bad_options_are_rejected_before_writing() {
        let sbom = Sbom::default();
        let mut opts = RenderOptions::new(&sbom, "2024-01-01 00:00:00", "0.1.0");
        let err = to_string(Format::SpdxJson, &sbom, &opts).expect_err("bad timestamp");
        assert!(err.to_string().contains("timestamp"), "{err}");
        opts.timestamp = "2024-01-01T00:00:00Z".into();
        opts.document_uuid = "NOT-A-UUID".into();
        assert!(to_string(Format::CycloneDxJson, &sbom, &opts).is_err());
    }
}
