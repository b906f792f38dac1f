//! Importers: pure functions from the bytes of one feed file to OSV-shaped
//! [`Advisory`] records plus warnings. No I/O; every size is bounded by
//! [`Limits`]; a bad record is a warning, a bad input an [`ImportError`].
//!
//! Each importer has a collecting form (`osv_zip(bytes, limits)` returning
//! [`Imported`]) and a streaming form (`osv_zip_with(…, emit)`) that hands each
//! advisory to a callback, which the database writer uses to keep memory flat
//! on the large live feeds.

mod alpine;
mod csaf;
mod debian;
mod detect;
mod osv;

use std::io::{Read, Seek};

use caisson_model::Advisory;
use serde::{Deserialize, Serialize};

use crate::ImportError;

pub use alpine::{alpine_secdb, alpine_secdb_with};
pub use csaf::{csaf_vex, csaf_vex_archive_reader_with, csaf_vex_archive_with, csaf_vex_with};
pub use debian::{debian_codename_to_release, debian_tracker, debian_tracker_with};
pub use detect::detect_format;
pub use osv::{osv_json, osv_json_with, osv_zip, osv_zip_reader_with};

/// The formats the importers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// OSV `all.zip` (osv.dev bucket layout: `<ID>.json` entries).
    OsvZip,
    /// One OSV record, or a JSON array of records.
    OsvJson,
    /// Alpine secdb `v3.X/{main,community}.json`.
    AlpineSecdb,
    /// Debian security tracker `tracker/data/json`.
    DebianTracker,
    /// One CSAF 2.0 VEX document (Red Hat `vex/<year>/cve-….json`).
    CsafVex,
    /// A `tar.zst` (or plain `tar`) of CSAF VEX documents, as Red Hat's
    /// `csaf_vex_<date>.tar.zst` archive.
    CsafVexArchive,
    /// Red Hat's `archive_latest.txt`: a text file naming the current
    /// archive, resolved relative to its own URL (update only).
    CsafVexLatest,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::OsvZip => "osv-zip",
            Format::OsvJson => "osv-json",
            Format::AlpineSecdb => "alpine-secdb",
            Format::DebianTracker => "debian-tracker",
            Format::CsafVex => "csaf-vex",
            Format::CsafVexArchive => "csaf-vex-archive",
            Format::CsafVexLatest => "csaf-vex-latest",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown advisory feed format {s:?}"))
    }
}

/// Size and count limits for one input. The defaults fit the live feeds with
/// a wide margin (npm's `all.zip` has ~200k entries; the largest OSV and
/// CSAF records are a few MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Entries in one zip or tar archive.
    pub max_entries: usize,
    /// Bytes of one decompressed entry or one JSON document.
    pub max_entry_bytes: u64,
    /// Decompressed bytes of a whole archive.
    pub max_total_bytes: u64,
    /// `affected` entries kept per advisory (the rest are dropped with a warning).
    pub max_affected: usize,
    /// Warnings kept in [`ImportStats::warnings`]; the rest are only counted.
    pub max_warnings: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_entries: 2_000_000,
            max_entry_bytes: 64 << 20,
            max_total_bytes: 16 << 30,
            max_affected: 100_000,
            max_warnings: 1000,
        }
    }
}

/// What an import found besides the advisories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStats {
    /// Advisories produced.
    pub records: usize,
    /// Withdrawn OSV records, dropped.
    pub withdrawn: usize,
    /// Entries saying "not affected" (Alpine `0`, Debian `fixed_version: "0"`,
    /// CSAF `known_not_affected`), which produce no range.
    pub not_affected: usize,
    /// Entries skipped on purpose (not JSON by name, non-RPM CSAF products…).
    pub skipped: usize,
    /// The first [`Limits::max_warnings`] warnings, `location: message`.
    pub warnings: Vec<String>,
    /// Every warning, including those not kept.
    pub warning_count: usize,
}

impl ImportStats {
    pub(crate) fn warn(
        &mut self,
        limits: &Limits,
        location: &str,
        message: impl std::fmt::Display,
    ) {
        self.warning_count = self.warning_count.saturating_add(1);
        if self.warnings.len() < limits.max_warnings {
            self.warnings.push(format!("{location}: {message}"));
        }
    }

    pub(crate) fn merge(&mut self, other: ImportStats, limits: &Limits) {
        self.records += other.records;
        self.withdrawn += other.withdrawn;
        self.not_affected += other.not_affected;
        self.skipped += other.skipped;
        self.warning_count = self.warning_count.saturating_add(other.warning_count);
        for w in other.warnings {
            if self.warnings.len() < limits.max_warnings {
                self.warnings.push(w);
            }
        }
    }
}

/// The advisories of one input and what else the import found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    pub advisories: Vec<Advisory>,
    pub stats: ImportStats,
}

/// The callback of the streaming importers.
pub type Emit<'a> =
    dyn FnMut(Advisory) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + 'a;

pub(crate) fn emit_to(
    emit: &mut Emit<'_>,
    stats: &mut ImportStats,
    adv: Advisory,
) -> Result<(), ImportError> {
    stats.records += 1;
    emit(adv).map_err(ImportError::Sink)
}

/// The prologue of the single-document importers: the size bound, then the
/// document parsed as one JSON value.
pub(crate) fn json_document(
    format: &'static str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<serde_json::Value, ImportError> {
    if bytes.len() as u64 > limits.max_entry_bytes {
        return Err(ImportError::Limit {
            format,
            what: format!("{} byte document", bytes.len()),
            limit: limits.max_entry_bytes,
        });
    }
    serde_json::from_slice(bytes).map_err(|source| ImportError::Json { format, source })
}

fn collect(
    run: impl FnOnce(&mut Emit<'_>) -> Result<ImportStats, ImportError>,
) -> Result<Imported, ImportError> {
    let mut advisories = Vec::new();
    let stats = run(&mut |a| {
        advisories.push(a);
        Ok(())
    })?;
    Ok(Imported { advisories, stats })
}

/// Imports `bytes` read in `format`. [`Format::CsafVexLatest`] is not a
/// data format (it names an archive to fetch) and gives an error here.
pub fn import_bytes(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Imported, ImportError> {
    collect(|emit| import_bytes_with(format, bytes, limits, emit))
}

/// Streaming form of [`import_bytes`].
pub fn import_bytes_with(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
    emit: &mut Emit<'_>,
) -> Result<ImportStats, ImportError> {
    match format {
        Format::OsvZip => osv_zip_reader_with(std::io::Cursor::new(bytes), limits, emit),
        Format::OsvJson => osv_json_with(bytes, limits, emit),
        Format::AlpineSecdb => alpine_secdb_with(bytes, limits, emit),
        Format::DebianTracker => debian_tracker_with(bytes, limits, emit),
        Format::CsafVex => csaf_vex_with(bytes, limits, emit),
        Format::CsafVexArchive => csaf_vex_archive_with(bytes, limits, emit),
        Format::CsafVexLatest => Err(ImportError::Invalid {
            format: "csaf-vex-latest",
            reason: "an archive pointer is not importable by itself; fetch the archive it names"
                .to_string(),
        }),
    }
}

/// Imports from a seekable reader (a downloaded file): zip and tar archives
/// are streamed, other formats are read into memory up to
/// [`Limits::max_entry_bytes`] (the Debian tracker up to
/// [`Limits::max_total_bytes`]).
pub fn import_reader_with<R: Read + Seek>(
    format: Format,
    mut reader: R,
    limits: &Limits,
    emit: &mut Emit<'_>,
) -> Result<ImportStats, ImportError> {
    match format {
        Format::OsvZip => return osv_zip_reader_with(reader, limits, emit),
        Format::CsafVexArchive => return csaf_vex_archive_reader_with(reader, limits, emit),
        _ => {}
    }
    // The Debian tracker is one large document (~100 MB); the others are small.
    let cap = if format == Format::DebianTracker {
        limits.max_total_bytes
    } else {
        limits.max_entry_bytes
    };
    let mut bytes = Vec::new();
    (&mut reader)
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ImportError::Io {
            format: format.as_str(),
            source,
        })?;
    if bytes.len() as u64 > cap {
        return Err(ImportError::Limit {
            format: format.as_str(),
            what: "input size".to_string(),
            limit: cap,
        });
    }
    import_bytes_with(format, &bytes, limits, emit)
}

/// Drops `affected` entries beyond the limit, with a warning.
pub(crate) fn bound_affected(
    adv: &mut Advisory,
    limits: &Limits,
    stats: &mut ImportStats,
    loc: &str,
) {
    if adv.affected.len() > limits.max_affected {
        stats.warn(
            limits,
            loc,
            format_args!(
                "{} affected entries, keeping the first {}",
                adv.affected.len(),
                limits.max_affected
            ),
        );
        adv.affected.truncate(limits.max_affected);
    }
}

/// One `ECOSYSTEM` range `introduced: 0` (and `fixed` when given).
pub(crate) fn ecosystem_range(fixed: Option<&str>) -> caisson_model::Range {
    let mut events = vec![caisson_model::Event {
        introduced: Some("0".to_string()),
        ..Default::default()
    }];
    if let Some(f) = fixed {
        events.push(caisson_model::Event {
            fixed: Some(f.to_string()),
            ..Default::default()
        });
    }
    caisson_model::Range {
        kind: "ECOSYSTEM".to_string(),
        repo: None,
        events,
        database_specific: None,
    }
}
