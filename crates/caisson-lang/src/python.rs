//! Installed Python distributions: `*.dist-info/METADATA` (files from
//! `RECORD`), `*.egg-info/PKG-INFO` and single-file `*.egg-info` (files from
//! `installed-files.txt`).

use caisson_image::Vfs;
use caisson_model::{normalize_package_name, Package, PackageType, Purl};

use crate::common::{self, Collector};
use crate::{MAX_LOCK_BYTES, MAX_METADATA_BYTES};

/// Largest number of file-list entries kept for one package.
const MAX_FILES: usize = 200_000;

fn is_metadata(path: &str) -> bool {
    path.ends_with(".dist-info/METADATA")
        || path.ends_with(".egg-info/PKG-INFO")
        || path.ends_with(".egg-info")
}

pub fn wants(path: &str) -> Option<u64> {
    if is_metadata(path) {
        Some(MAX_METADATA_BYTES)
    } else if path.ends_with(".dist-info/RECORD") || path.ends_with(".egg-info/installed-files.txt")
    {
        Some(MAX_LOCK_BYTES)
    } else {
        None
    }
}

/// The fields of a core-metadata document (METADATA, PKG-INFO) we use.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub licenses: Vec<String>,
    pub author: Option<String>,
}

/// Parses the RFC 822 header block of a core-metadata file. `None` without
/// both `Name` and `Version`.
pub fn parse_metadata(text: &str) -> Option<Metadata> {
    let mut m = Metadata::default();
    let mut license: Option<String> = None;
    let mut expression: Option<String> = None;
    let mut classifiers: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break; // the body (long description) follows
        }
        if line.starts_with([' ', '\t']) {
            // A continuation: only a multi-line License matters, and we keep its first line.
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" if m.name.is_empty() => m.name = v.to_string(),
            "version" if m.version.is_empty() => m.version = v.to_string(),
            "license" => license = Some(v.to_string()),
            "license-expression" => expression = Some(v.to_string()),
            "author" | "author-email" if m.author.is_none() && !v.is_empty() => {
                m.author = Some(v.to_string())
            }
            "classifier" => {
                if let Some(rest) = v.strip_prefix("License ::") {
                    if let Some(l) = rest.rsplit("::").next().map(str::trim) {
                        if !l.is_empty() && l != "OSI Approved" {
                            classifiers.push(l.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if m.name.is_empty() || m.version.is_empty() {
        return None;
    }
    m.licenses = match (expression, license) {
        (Some(e), _) if !e.is_empty() => vec![e],
        (_, Some(l)) if !l.is_empty() && l != "UNKNOWN" && l.len() <= 100 => vec![l],
        _ => classifiers,
    };
    Some(m)
}

/// First field of each `RECORD` row (CSV: a path may be quoted).
pub fn parse_record(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().take(MAX_FILES) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let path = if let Some(rest) = line.strip_prefix('"') {
            // "a ""quoted"" path",sha256=…,123
            let mut p = String::new();
            let mut chars = rest.chars().peekable();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        p.push('"');
                    } else {
                        closed = true;
                        break;
                    }
                } else {
                    p.push(c);
                }
            }
            if !closed {
                continue;
            }
            p
        } else {
            line.split(',').next().unwrap_or("").to_string()
        };
        if !path.is_empty() {
            out.push(path);
        }
    }
    out
}

/// The purl of a PyPI distribution: PEP 503 normalised name.
pub fn purl(name: &str, version: &str) -> String {
    Purl::new("pypi", &normalize_package_name("PyPI", name))
        .version(version)
        .to_string()
}

pub fn package(name: &str, version: &str, location: &str) -> Package {
    Package::found(
        PackageType::Python,
        name,
        version,
        purl(name, version),
        location,
    )
}

pub fn catalog(vfs: &Vfs, c: &mut Collector) {
    for f in common::files(vfs, is_metadata) {
        let Some(m) = parse_metadata(&common::text(&f)) else {
            c.warn(
                "python-metadata-malformed",
                format!("{}: no Name and Version header; skipped", f.path),
            );
            continue;
        };
        let mut p = package(&m.name, &m.version, &f.path);
        p.licenses = m.licenses;
        p.supplier = m.author;
        // The directory holding the .dist-info / .egg-info (site-packages).
        let (meta_dir, list) = if let Some(d) = f.path.strip_suffix("/METADATA") {
            (d, Some((format!("{d}/RECORD"), common::parent(d))))
        } else if let Some(d) = f.path.strip_suffix("/PKG-INFO") {
            (d, Some((format!("{d}/installed-files.txt"), d)))
        } else {
            (f.path.as_str(), None)
        };
        if let Some((list_path, base)) = list {
            if let Ok(Some(l)) = vfs.read(&list_path) {
                p.files = parse_record(&common::text(&l))
                    .iter()
                    .filter_map(|r| common::join(base, r))
                    .collect();
            }
        }
        let root = common::parent(meta_dir).to_string();
        c.installed(p, &root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_headers_and_licenses() {
        let t = "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.11.2\nLicense: BSD-3-Clause\nClassifier: License :: OSI Approved :: BSD License\n\nName: not-this\n";
        let m = parse_metadata(t).unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str()), ("Jinja2", "2.11.2"));
        assert_eq!(m.licenses, vec!["BSD-3-Clause"]);
        let t = "Name: x\r\nVersion: 1\r\nLicense: UNKNOWN\r\nClassifier: License :: OSI Approved :: MIT License\r\n";
        assert_eq!(parse_metadata(t).unwrap().licenses, vec!["MIT License"]);
        assert_eq!(parse_metadata("Name: x\n\nVersion: 1\n"), None);
        assert_eq!(parse_metadata("\0\u{fffd}: :\n:::"), None);
    }

    #[test]
    fn record_rows_with_quotes() {
        let r = "jinja2/__init__.py,sha256=x,1\n\"odd, name.py\",,\n\"a \"\"q\"\".py\",,\n\"unterminated\n../../bin/x,,\n";
        assert_eq!(
            parse_record(r),
            vec![
                "jinja2/__init__.py",
                "odd, name.py",
                "a \"q\".py",
                "../../bin/x"
            ]
        );
    }

    #[test]
    fn purls_are_pep503_normalised() {
        assert_eq!(purl("Jinja2", "3.1.2"), "pkg:pypi/jinja2@3.1.2");
        assert_eq!(purl("zope.interface", "5"), "pkg:pypi/zope-interface@5");
    }
}
