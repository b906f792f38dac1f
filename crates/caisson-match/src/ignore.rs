//! The `.caissonignore` file: a YAML list of findings to suppress.
//!
//! ```yaml
//! - id: CVE-2023-5678          # the finding id or any of its aliases
//!   package: openssl           # optional: only this package name
//!   purl: pkg:deb/debian/openssl   # optional: only packages with this purl (version optional)
//!   reason: not reachable: we never parse DH parameters
//!   expires: 2025-06-30        # optional: stops suppressing after this day (UTC)
//! ```
//!
//! Unknown fields are rejected; an expired entry no longer suppresses and
//! produces a warning.

use serde::Deserialize;

use crate::purl_match::purl_matches;
use crate::Date;

/// Largest ignore file accepted.
pub const MAX_IGNORE_FILE_BYTES: usize = 4 << 20;

/// One parsed ignore entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreEntry {
    pub id: String,
    pub package: Option<String>,
    pub purl: Option<String>,
    pub reason: String,
    pub expires: Option<Date>,
    /// 1-based position in the list, for messages.
    pub index: usize,
}

/// A parsed ignore file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreFile {
    /// Where it came from (a path), for messages.
    pub origin: String,
    pub entries: Vec<IgnoreEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    #[error("reading ignore file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("ignore file {origin} is {size} bytes, over the {MAX_IGNORE_FILE_BYTES}-byte limit")]
    TooLarge { origin: String, size: usize },
    #[error("parsing ignore file {origin}")]
    Yaml {
        origin: String,
        #[source]
        source: serde_norway::Error,
    },
    #[error("ignore file {origin}, entry {index}: {problem}")]
    Invalid {
        origin: String,
        index: usize,
        problem: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    reason: String,
    #[serde(default)]
    expires: Option<String>,
}

impl IgnoreFile {
    /// Parses ignore-file bytes; `origin` names them in errors. An empty file is an empty list.
    pub fn parse(origin: &str, bytes: &[u8]) -> Result<IgnoreFile, IgnoreError> {
        if bytes.len() > MAX_IGNORE_FILE_BYTES {
            return Err(IgnoreError::TooLarge {
                origin: origin.into(),
                size: bytes.len(),
            });
        }
        let yaml_err = |source| IgnoreError::Yaml {
            origin: origin.into(),
            source,
        };
        let raw: Option<Vec<RawEntry>> = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            serde_norway::from_slice(bytes).map_err(yaml_err)?
        };
        let mut entries = Vec::new();
        for (i, r) in raw.unwrap_or_default().into_iter().enumerate() {
            let index = i + 1;
            let invalid = |problem: String| IgnoreError::Invalid {
                origin: origin.into(),
                index,
                problem,
            };
            if r.id.trim().is_empty() {
                return Err(invalid("`id` is empty".into()));
            }
            if r.reason.trim().is_empty() {
                return Err(invalid(format!(
                    "`reason` is empty for {}; say why it is ignored",
                    r.id
                )));
            }
            if let Some(p) = &r.purl {
                if !p.starts_with("pkg:") {
                    return Err(invalid(format!("`purl` {p:?} does not start with `pkg:`")));
                }
            }
            let expires = match &r.expires {
                Some(e) => Some(Date::parse(e).ok_or_else(|| {
                    invalid(format!("`expires` {e:?} is not a date (YYYY-MM-DD)"))
                })?),
                None => None,
            };
            entries.push(IgnoreEntry {
                id: r.id.trim().to_string(),
                package: r.package,
                purl: r.purl,
                reason: r.reason.trim().to_string(),
                expires,
                index,
            });
        }
        Ok(IgnoreFile {
            origin: origin.into(),
            entries,
        })
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &std::path::Path) -> Result<IgnoreFile, IgnoreError> {
        let origin = path.display().to_string();
        let bytes = fs_err::read(path).map_err(|source| IgnoreError::Read {
            path: origin.clone(),
            source,
        })?;
        Self::parse(&origin, &bytes)
    }
}

impl IgnoreEntry {
    /// True when this entry names the finding (by id or alias) and package.
    pub fn applies(&self, ids: &[&str], package_name: &str, purl: &str) -> bool {
        ids.iter().any(|i| i.eq_ignore_ascii_case(&self.id))
            && self.package.as_deref().is_none_or(|n| n == package_name)
            && self.purl.as_deref().is_none_or(|p| purl_matches(p, purl))
    }

    /// True when the entry has expired by `today`.
    pub fn expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|e| e < today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_rejects_unknown_fields() {
        let f = IgnoreFile::parse(
            ".caissonignore",
            b"- id: CVE-2023-1\n  reason: fine\n  expires: 2025-01-31\n- id: GHSA-x\n  purl: pkg:pypi/jinja2\n  reason: test only\n",
        )
        .expect("parses");
        assert_eq!(f.entries.len(), 2);
        assert_eq!(f.entries[0].expires, Date::parse("2025-01-31"));
        let err = IgnoreFile::parse("f", b"- id: X\n  reason: r\n  until: 2020-01-01\n")
            .expect_err("unknown field");
        assert!(format!("{err}").contains("parsing ignore file f"), "{err}");
        let err = IgnoreFile::parse("f", b"- id: X\n  reason: r\n  expires: soon\n")
            .expect_err("bad date");
        assert!(err.to_string().contains("entry 1"), "{err}");
        assert!(IgnoreFile::parse("f", b"- id: X\n").is_err());
        assert!(IgnoreFile::parse("f", b"\n")
            .expect("empty")
            .entries
            .is_empty());
    }
}
