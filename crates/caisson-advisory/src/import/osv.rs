//! OSV: `all.zip` in the osv.dev bucket layout, and single JSON records.

use std::io::{Read, Seek};

use caisson_model::Advisory;

use super::{bound_affected, collect, emit_to, json_document, Emit, ImportStats, Imported, Limits};
use crate::ImportError;

const ZIP: &str = "osv-zip";
const JSON: &str = "osv-json";

/// Imports an OSV `all.zip`.
pub fn osv_zip(bytes: &[u8], limits: &Limits) -> Result<Imported, ImportError> {
    collect(|emit| osv_zip_reader_with(std::io::Cursor::new(bytes), limits, emit))
}

/// Streams the records of an OSV `all.zip`. A corrupt or oversized entry is a
/// warning; a corrupt archive, too many entries or too many decompressed
/// bytes in total is an error. Sizes are enforced on the bytes actually
/// inflated, not on the sizes the archive declares.
pub fn osv_zip_reader_with<R: Read + Seek>(
    reader: R,
    limits: &Limits,
    emit: &mut Emit<'_>,
) -> Result<ImportStats, ImportError> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|source| ImportError::Zip {
        format: ZIP,
        source,
    })?;
    if archive.len() > limits.max_entries {
        return Err(ImportError::Limit {
            format: ZIP,
            what: format!("{} entries", archive.len()),
            limit: limits.max_entries as u64,
        });
    }
    let mut stats = ImportStats::default();
    let mut total: u64 = 0;
    let mut buf = Vec::new();
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                stats.warn(
                    limits,
                    &format!("entry #{i}"),
                    format_args!("unreadable: {e}"),
                );
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        if !name.ends_with(".json") {
            stats.skipped += 1;
            continue;
        }
        if entry.size() > limits.max_entry_bytes {
            stats.warn(
                limits,
                &name,
                format_args!(
                    "declares {} bytes, over the {} byte limit",
                    entry.size(),
                    limits.max_entry_bytes
                ),
            );
            continue;
        }
        buf.clear();
        let read = (&mut entry)
            .take(limits.max_entry_bytes.saturating_add(1))
            .read_to_end(&mut buf);
        total = total.saturating_add(buf.len() as u64);
        if total > limits.max_total_bytes {
            return Err(ImportError::Limit {
                format: ZIP,
                what: "decompressed size".to_string(),
                limit: limits.max_total_bytes,
            });
        }
        if let Err(e) = read {
            // Covers deflate errors and CRC mismatches, which the zip reader
            // reports at the end of the entry.
            stats.warn(limits, &name, format_args!("corrupt entry: {e}"));
            continue;
        }
        if buf.len() as u64 > limits.max_entry_bytes {
            stats.warn(
                limits,
                &name,
                format_args!("inflates past the {} byte limit", limits.max_entry_bytes),
            );
            continue;
        }
        record(&buf, &name, limits, &mut stats, emit)?;
    }
    Ok(stats)
}

/// Imports one OSV JSON record, or a JSON array of records.
pub fn osv_json(bytes: &[u8], limits: &Limits) -> Result<Imported, ImportError> {
    collect(|emit| osv_json_with(bytes, limits, emit))
}

/// Streaming form of [`osv_json`]. For an array, a malformed element is a
/// warning; a single malformed record is an error.
pub fn osv_json_with(
    bytes: &[u8],
    limits: &Limits,
    emit: &mut Emit<'_>,
) -> Result<ImportStats, ImportError> {
    let value = json_document(JSON, bytes, limits)?;
    let mut stats = ImportStats::default();
    match value {
        serde_json::Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let loc = format!("[{i}]");
                match serde_json::from_value::<Advisory>(item) {
                    Ok(adv) => accept(adv, &loc, limits, &mut stats, emit)?,
                    Err(e) => stats.warn(limits, &loc, format_args!("not an OSV record: {e}")),
                }
            }
        }
        other => {
            let adv: Advisory =
                serde_json::from_value(other).map_err(|source| ImportError::Json {
                    format: JSON,
                    source,
                })?;
            accept(adv, "record", limits, &mut stats, emit)?;
        }
    }
    Ok(stats)
}

fn record(
    bytes: &[u8],
    name: &str,
    limits: &Limits,
    stats: &mut ImportStats,
    emit: &mut Emit<'_>,
) -> Result<(), ImportError> {
    match serde_json::from_slice::<Advisory>(bytes) {
        Ok(adv) => accept(adv, name, limits, stats, emit),
        Err(e) => {
            stats.warn(limits, name, format_args!("not an OSV record: {e}"));
            Ok(())
        }
    }
}

fn accept(
    mut adv: Advisory,
    loc: &str,
    limits: &Limits,
    stats: &mut ImportStats,
    emit: &mut Emit<'_>,
) -> Result<(), ImportError> {
    if adv.id.trim().is_empty() {
        stats.warn(limits, loc, "record without an id");
        return Ok(());
    }
    if adv.withdrawn.is_some() {
        stats.withdrawn += 1;
        return Ok(());
    }
    bound_affected(&mut adv, limits, stats, loc);
    emit_to(emit, stats, adv)
}
