//! Reading Java archives (jar, war, ear, …) and the archives nested in them,
//! within limits: nesting depth, entry count, bytes inflated per archive
//! tree, and each entry's size and compression ratio (zip bombs).

use std::io::{self, Read, Seek};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::spool::Spool;

/// Limits on one archive tree.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Nested archives deeper than this are not opened (the outer one is depth 0).
    pub max_depth: usize,
    /// Most central-directory entries in one archive.
    pub max_entries: usize,
    /// Most archives (outer plus nested) in one tree.
    pub max_archives: usize,
    /// Most bytes inflated across the tree.
    pub max_inflated: u64,
    /// Largest nested archive opened.
    pub max_nested: u64,
    /// Bytes of a nested archive kept in memory before a temp file is used.
    pub nested_memory: usize,
    /// Largest ratio of an entry's inflated to compressed size.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 4,
            max_entries: 200_000,
            max_archives: 10_000,
            max_inflated: 2 << 30,
            max_nested: 512 << 20,
            nested_memory: 16 << 20,
            max_ratio: 200,
        }
    }
}

/// Largest `pom.properties` / `MANIFEST.MF` read.
const MAX_META: u64 = 1 << 20;

/// A `META-INF/maven/<group>/<artifact>/pom.properties` file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PomProperties {
    pub path: String,
    #[serde(rename = "groupId")]
    pub group_id: String,
    #[serde(rename = "artifactId")]
    pub artifact_id: String,
    pub version: String,
}

/// What one archive (outer or nested) holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveInfo {
    /// Path inside the outer file (`""` for the outer archive itself,
    /// `BOOT-INF/lib/x.jar` or `a.war!/WEB-INF/lib/y.jar` for nested ones).
    pub path: String,
    pub sha1: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poms: Vec<PomProperties>,
    /// Selected `MANIFEST.MF` main-section attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest: Vec<(String, String)>,
}

/// Everything found in one archive tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archives {
    pub archives: Vec<ArchiveInfo>,
    /// Problems met in nested archives (skipped, not fatal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

pub const EXTENSIONS: &[&str] = &[
    ".jar", ".war", ".ear", ".jpi", ".hpi", ".par", ".sar", ".nar", ".kar", ".rar",
];

/// Whether a file name is a Java archive by its extension.
pub fn is_archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    EXTENSIONS.iter().any(|e| lower.ends_with(e))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Attributes kept from a manifest's main section.
const MANIFEST_KEYS: &[&str] = &[
    "Implementation-Title",
    "Implementation-Version",
    "Implementation-Vendor",
    "Implementation-Vendor-Id",
    "Specification-Title",
    "Specification-Version",
    "Bundle-SymbolicName",
    "Bundle-Version",
    "Bundle-Name",
    "Automatic-Module-Name",
    "Main-Class",
    "Start-Class",
];

/// Parses a manifest's main section (continuation lines start with a space).
pub fn parse_manifest(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break; // end of the main section
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some((_, v)) = &mut current {
                v.push_str(cont);
            }
            continue;
        }
        if let Some(c) = current.take() {
            out.push(c);
        }
        if let Some((k, v)) = line.split_once(':') {
            current = Some((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if let Some(c) = current {
        out.push(c);
    }
    out.retain(|(k, _)| MANIFEST_KEYS.iter().any(|m| m.eq_ignore_ascii_case(k)));
    for (_, v) in &mut out {
        // Bundle-SymbolicName may carry directives: `org.x.y;singleton:=true`.
        if let Some((head, _)) = v.split_once(';') {
            *v = head.trim().to_string();
        }
    }
    out
}

/// Parses `pom.properties` (Java properties; only simple `key=value` lines matter).
pub fn parse_pom_properties(path: &str, text: &str) -> Option<PomProperties> {
    let mut p = PomProperties {
        path: path.to_string(),
        ..PomProperties::default()
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((k, v)) = line.split_once(['=', ':']) else {
            continue;
        };
        let v = v.trim().to_string();
        match k.trim() {
            "groupId" => p.group_id = v,
            "artifactId" => p.artifact_id = v,
            "version" => p.version = v,
            _ => {}
        }
    }
    (!p.group_id.is_empty() && !p.artifact_id.is_empty() && !p.version.is_empty()).then_some(p)
}

/// Hashes what passes through.
struct Sha1Reader<'a, R: ?Sized> {
    inner: &'a mut R,
    hasher: Sha1,
}

impl<R: Read + ?Sized> Read for Sha1Reader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

struct Walk<'l> {
    limits: &'l Limits,
    inflated: u64,
    out: Archives,
}

impl Walk<'_> {
    fn charge(&mut self, n: u64) -> io::Result<()> {
        self.inflated = self.inflated.saturating_add(n);
        if self.inflated > self.limits.max_inflated {
            return Err(invalid(format!(
                "archive tree inflates past {} bytes",
                self.limits.max_inflated
            )));
        }
        Ok(())
    }

    fn archive<R: Read + Seek>(
        &mut self,
        reader: R,
        path: &str,
        sha1: String,
        depth: usize,
    ) -> io::Result<()> {
        if self.out.archives.len() >= self.limits.max_archives {
            return Err(invalid(format!(
                "more than {} nested archives",
                self.limits.max_archives
            )));
        }
        let mut zip = zip::ZipArchive::new(reader)
            .map_err(|e| invalid(format!("not a readable zip: {e}")))?;
        if zip.len() > self.limits.max_entries {
            return Err(invalid(format!(
                "{} entries is over the limit of {}",
                zip.len(),
                self.limits.max_entries
            )));
        }
        let index = self.out.archives.len();
        self.out.archives.push(ArchiveInfo {
            path: path.to_string(),
            sha1,
            ..ArchiveInfo::default()
        });
        for i in 0..zip.len() {
            let mut entry = match zip.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    self.out
                        .problems
                        .push(format!("{path}: entry {i} unreadable: {e}"));
                    continue;
                }
            };
            if entry.is_dir() {
                continue;
            }
            let name = entry.name().to_string();
            let declared = entry.size();
            let compressed = entry.compressed_size();
            let ratio_cap = compressed
                .saturating_mul(self.limits.max_ratio)
                .saturating_add(64 << 10);
            let is_manifest = name.eq_ignore_ascii_case("META-INF/MANIFEST.MF");
            let is_pom = name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties");
            if is_manifest || is_pom {
                let cap = MAX_META.min(ratio_cap);
                let mut buf = Vec::new();
                (&mut entry).take(cap + 1).read_to_end(&mut buf)?;
                self.charge(buf.len() as u64)?;
                if buf.len() as u64 > cap || declared > cap {
                    self.out
                        .problems
                        .push(format!("{path}: {name} is too large or too compressed"));
                    continue;
                }
                let text = String::from_utf8_lossy(&buf);
                let Some(info) = self.out.archives.get_mut(index) else {
                    continue;
                };
                if is_manifest {
                    info.manifest = parse_manifest(&text);
                } else if let Some(p) = parse_pom_properties(&name, &text) {
                    info.poms.push(p);
                }
            } else if is_archive_name(&name) {
                let nested_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}!/{name}")
                };
                if depth + 1 > self.limits.max_depth {
                    self.out.problems.push(format!(
                        "{nested_path}: nested deeper than {} levels",
                        self.limits.max_depth
                    ));
                    continue;
                }
                let cap = self.limits.max_nested.min(ratio_cap);
                if declared > cap {
                    self.out.problems.push(format!(
                        "{nested_path}: {declared} bytes from {compressed} compressed is over the limit"
                    ));
                    continue;
                }
                let mut spool = Spool::with_memory(cap, self.limits.nested_memory);
                let mut hashing = Sha1Reader {
                    inner: &mut entry,
                    hasher: Sha1::new(),
                };
                let filled = spool.fill(&mut hashing);
                let digest = hex::encode(hashing.hasher.finalize());
                self.charge(spool.len())?;
                if let Err(e) = filled {
                    self.out.problems.push(format!("{nested_path}: {e}"));
                    continue;
                }
                let nested = spool.finish()?;
                if let Err(e) = self.archive(nested, &nested_path, digest, depth + 1) {
                    if self.out.archives.len() >= self.limits.max_archives
                        || self.inflated > self.limits.max_inflated
                    {
                        return Err(e);
                    }
                    self.out.problems.push(format!("{nested_path}: {e}"));
                }
            }
        }
        Ok(())
    }
}

/// Reads an archive tree from a seekable reader whose SHA-1 is `sha1`.
pub fn read_tree<R: Read + Seek>(reader: R, sha1: String, limits: &Limits) -> io::Result<Archives> {
    let mut walk = Walk {
        limits,
        inflated: 0,
        out: Archives::default(),
    };
    walk.archive(reader, "", sha1, 0)?;
    Ok(walk.out)
}

/// Spools a stream (hashing it) and reads it as an archive tree.
pub fn read_stream(reader: &mut dyn Read, cap: u64, limits: &Limits) -> io::Result<Archives> {
    let mut spool = Spool::new(cap);
    let mut hashing = Sha1Reader {
        inner: reader,
        hasher: Sha1::new(),
    };
    spool.fill(&mut hashing)?;
    let sha1 = hex::encode(hashing.hasher.finalize());
    read_tree(spool.finish()?, sha1, limits)
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
