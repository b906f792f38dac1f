//! Scanning bytes: binary detection, keyword prefilter, regexes, entropy,
//! allow-lists, redaction.

use std::collections::BTreeSet;
use std::io::Read;

use crate::{RuleSet, SecretFinding};

/// Most findings reported for one file (a generated file full of tokens
/// should not flood the report).
pub const MAX_FINDINGS_PER_FILE: usize = 64;
/// Longest redacted match line kept.
const MAX_MATCH_CHARS: usize = 160;

/// Why a file was not scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    AllowedPath,
    TooLarge,
    Binary,
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c += 1;
        }
    }
    let len = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// How much of a file [`is_binary`] looks at.
const BINARY_HEAD: usize = 8192;

/// Binary content: a NUL byte in the first 8 KiB, or a known binary magic.
pub fn is_binary(head: &[u8]) -> bool {
    const MAGICS: &[&[u8]] = &[
        b"\x7fELF",
        b"MZ",
        b"\xca\xfe\xba\xbe",
        b"\xcf\xfa\xed\xfe",
        b"PK\x03\x04",
        b"\x1f\x8b",
        b"\x28\xb5\x2f\xfd",
        b"BZh",
        b"\xfd7zXZ",
        b"\x89PNG",
        b"\xff\xd8\xff",
        b"GIF8",
        b"\x00asm",
        b"SQLite format 3",
    ];
    if MAGICS.iter().any(|m| head.starts_with(m)) {
        return true;
    }
    head.get(..BINARY_HEAD).unwrap_or(head).contains(&0)
}

/// Whether the line holding `at` is a comment.
fn on_comment_line(data: &[u8], at: usize) -> bool {
    let start = data
        .get(..at)
        .and_then(|d| d.iter().rposition(|&b| b == b'\n'))
        .map_or(0, |p| p + 1);
    let line = data.get(start..at).unwrap_or_default();
    let t = line.trim_ascii_start();
    [&b"#"[..], b"//", b"/*", b"*", b"--", b";"]
        .iter()
        .any(|c| t.starts_with(c))
}

/// 1-based line number of byte offset `at`.
fn line_of(data: &[u8], at: usize) -> usize {
    data.get(..at)
        .map(|d| d.iter().filter(|&&b| b == b'\n').count())
        .unwrap_or(0)
        + 1
}

/// The line holding `start`, with every byte of `secret` (a range) on it
/// replaced by `*`, trimmed and capped.
fn redacted_line(data: &[u8], start: usize, secret: std::ops::Range<usize>) -> String {
    let line_start = data
        .get(..start)
        .and_then(|d| d.iter().rposition(|&b| b == b'\n'))
        .map_or(0, |p| p + 1);
    let line_end = data
        .get(start..)
        .and_then(|d| d.iter().position(|&b| b == b'\n'))
        .map_or(data.len(), |p| start + p);
    let line = data.get(line_start..line_end).unwrap_or_default();
    // Work on bytes so invalid UTF-8 cannot shift the mask off the secret.
    let mut masked: Vec<u8> = Vec::with_capacity(line.len() + 5);
    let mut masked_any = false;
    for (i, &b) in line.iter().enumerate() {
        if secret.contains(&(line_start + i)) {
            // A constant-width mask: the secret's length is not revealed.
            if !masked_any {
                masked.extend_from_slice(b"*****");
                masked_any = true;
            }
        } else {
            masked.push(b);
        }
    }
    if !masked_any {
        masked.extend_from_slice(b" *****");
    }
    let out = String::from_utf8_lossy(&masked);
    let out = out.trim();
    let mut capped: String = out.chars().take(MAX_MATCH_CHARS).collect();
    if out.chars().count() > MAX_MATCH_CHARS {
        capped.push('…');
    }
    capped
}

impl RuleSet {
    /// Why `path` (of `size` bytes) would be skipped before reading it.
    pub fn skip_before_read(&self, path: &str, size: u64) -> Option<Skip> {
        if self.path_allowed(path) {
            Some(Skip::AllowedPath)
        } else if size > self.max_file_size {
            Some(Skip::TooLarge)
        } else {
            None
        }
    }

    /// Reads one file (at most `max_file_size` bytes) and scans it; binaries,
    /// allowed paths and larger files yield nothing.
    pub fn scan_reader(
        &self,
        path: &str,
        reader: &mut dyn Read,
        size: u64,
    ) -> std::io::Result<Vec<SecretFinding>> {
        if self.skip_before_read(path, size).is_some() {
            return Ok(Vec::new());
        }
        let cap = self.max_file_size;
        let mut buf = Vec::with_capacity(usize::try_from(size.min(cap)).unwrap_or(0));
        // The binary check needs only the head: a binary's rest is never read
        // into memory (most bytes of an image are binaries).
        let mut limited = reader.take(cap.saturating_add(1));
        (&mut limited)
            .take(BINARY_HEAD as u64)
            .read_to_end(&mut buf)?;
        if is_binary(&buf) {
            return Ok(Vec::new());
        }
        limited.read_to_end(&mut buf)?;
        if buf.len() as u64 > cap {
            return Ok(Vec::new());
        }
        Ok(self.scan(path, &buf))
    }

    /// Scans one file's bytes.
    pub fn scan(&self, path: &str, data: &[u8]) -> Vec<SecretFinding> {
        if self.path_allowed(path) || data.len() as u64 > self.max_file_size || is_binary(data) {
            return Vec::new();
        }
        self.scan_text(path, data)
    }

    /// Scans text that is not a file (an `Env` entry, a history line): no
    /// path allow-list, no binary check.
    pub fn scan_text(&self, path: &str, data: &[u8]) -> Vec<SecretFinding> {
        let mut selected: BTreeSet<usize> = BTreeSet::new();
        for m in self.prefilter.find_overlapping_iter(data) {
            if let Some(rules) = self.pattern_rules.get(m.pattern().as_usize()) {
                selected.extend(rules.iter().copied());
            }
            if selected.len() == self.rules.len() {
                break;
            }
        }
        selected.extend(self.unfiltered.iter().copied());
        let mut out = Vec::new();
        let mut seen: BTreeSet<(usize, usize)> = BTreeSet::new();
        for i in selected {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            if !rule.applies_to(path) {
                continue;
            }
            for caps in rule.regex.captures_iter(data) {
                let Some(whole) = caps.get(0) else { continue };
                let secret = caps.name("secret").unwrap_or(whole);
                let bytes = secret.as_bytes();
                if let Some(min) = rule.entropy {
                    if shannon_entropy(bytes) < min {
                        continue;
                    }
                }
                if rule.allow.iter().any(|a| a.is_match(bytes))
                    || self.allow_secrets.iter().any(|a| a.is_match(bytes))
                {
                    continue;
                }
                if rule.skip_comments && on_comment_line(data, secret.start()) {
                    continue;
                }
                // One finding per secret position, whichever rule saw it first.
                if !seen.insert((secret.start(), secret.end())) {
                    continue;
                }
                out.push(SecretFinding {
                    rule_id: rule.id.clone(),
                    title: rule.title.clone(),
                    severity: rule.severity,
                    path: path.to_string(),
                    layer: None,
                    start_line: line_of(data, secret.start()),
                    end_line: line_of(data, secret.end()),
                    redacted: redacted_line(data, secret.start(), secret.range()),
                });
                if out.len() >= MAX_FINDINGS_PER_FILE {
                    return out;
                }
            }
        }
        out.sort_by(|a, b| (a.start_line, &a.rule_id).cmp(&(b.start_line, &b.rule_id)));
        out
    }
}
