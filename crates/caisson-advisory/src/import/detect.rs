//! Recognising a feed file by its name and first bytes.

use super::Format;

/// Guesses the format of a feed file from its file name and content: zip
/// magic → OSV zip; tar / zstd magic → CSAF VEX archive; JSON is sniffed by
/// its first keys (`distroversion` → Alpine secdb, `document` → CSAF, `id` /
/// `affected` or a JSON array → OSV, a map of maps keyed by `CVE-…` → Debian
/// tracker). `None` when nothing fits.
pub fn detect_format(name: &str, bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(Format::OsvZip);
    }
    if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || bytes.get(257..262) == Some(b"ustar".as_slice())
        || name.ends_with(".tar.zst")
        || name.ends_with(".tar")
    {
        return Some(Format::CsafVexArchive);
    }
    let text = std::str::from_utf8(bytes.get(..bytes.len().min(1 << 16))?)
        .ok()
        .or_else(|| {
            // A cut inside a multi-byte character: retry a few bytes shorter.
            (1..4).find_map(|k| {
                let end = bytes.len().min(1 << 16).checked_sub(k)?;
                std::str::from_utf8(bytes.get(..end)?).ok()
            })
        })?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('[') {
        return Some(Format::OsvJson);
    }
    if !trimmed.starts_with('{') {
        return None;
    }
    // Look at the keys near the top of the document.
    let head = trimmed.get(..trimmed.len().min(4096)).unwrap_or(trimmed);
    if head.contains("\"distroversion\"") || head.contains("\"secfixes\"") {
        return Some(Format::AlpineSecdb);
    }
    if head.contains("\"csaf_version\"")
        || head.contains("\"product_tree\"")
        || head.contains("\"document\"")
    {
        return Some(Format::CsafVex);
    }
    if head.contains("\"releases\"") && (head.contains("\"CVE-") || head.contains("\"TEMP-")) {
        return Some(Format::DebianTracker);
    }
    let osv_keys = [
        "\"modified\"",
        "\"aliases\"",
        "\"schema_version\"",
        "\"published\"",
    ];
    if head.contains("\"affected\"")
        || (head.contains("\"id\"") && osv_keys.iter().any(|k| head.contains(k)))
    {
        return Some(Format::OsvJson);
    }
    None
}
