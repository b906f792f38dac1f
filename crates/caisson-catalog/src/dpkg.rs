//! dpkg: `/var/lib/dpkg/status`, distroless `/var/lib/dpkg/status.d/*`,
//! installed files from `info/*.list`, licenses from `/usr/share/doc/*/copyright`.

use std::collections::BTreeSet;

use caisson_image::{Vfs, VfsFile};
use caisson_model::{OsRelease, Package, PackageType, Purl, Warning};

use crate::{control, Found};

const STATUS: &str = "/var/lib/dpkg/status";
const STATUS_D: &str = "/var/lib/dpkg/status.d";
const INFO: &str = "/var/lib/dpkg/info";

pub fn wants_db(path: &str) -> bool {
    path == STATUS
        || path
            .strip_prefix(STATUS_D)
            .is_some_and(|r| r.starts_with('/') && !r[1..].contains('/'))
}

pub fn wants_small(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix(INFO).and_then(|r| r.strip_prefix('/')) {
        return !rest.contains('/') && rest.ends_with(".list");
    }
    if let Some(rest) = path.strip_prefix("/usr/share/doc/") {
        return rest
            .strip_suffix("/copyright")
            .is_some_and(|pkg| !pkg.contains('/'));
    }
    false
}

/// `Source: name` or `Source: name (version)`.
fn parse_source(v: &str) -> (String, Option<String>) {
    match v.split_once('(') {
        Some((n, rest)) => (
            n.trim().to_string(),
            Some(rest.trim_end_matches(')').trim().to_string()).filter(|s| !s.is_empty()),
        ),
        None => (v.trim().to_string(), None),
    }
}

/// License names from a copyright file: DEP-5 `License:` fields, and
/// references to `/usr/share/common-licenses/<NAME>`.
fn copyright_licenses(text: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("License:") {
            let v = v.trim();
            if !v.is_empty() && v.len() < 100 {
                out.insert(v.to_string());
            }
        }
        let mut rest = line;
        while let Some(i) = rest.find("/usr/share/common-licenses/") {
            let after = rest
                .get(i + "/usr/share/common-licenses/".len()..)
                .unwrap_or("");
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+'))
                .collect();
            let name = name.trim_end_matches('.').to_string();
            if !name.is_empty() {
                out.insert(name);
            }
            rest = after;
        }
    }
    out.into_iter().collect()
}

fn read_lines(f: &VfsFile) -> impl Iterator<Item = &str> {
    std::str::from_utf8(&f.data).unwrap_or("").lines()
}

fn installed_files(vfs: &Vfs, name: &str, arch: Option<&str>) -> (Vec<String>, Option<String>) {
    let mut candidates = vec![format!("{INFO}/{name}.list")];
    if let Some(a) = arch {
        candidates.push(format!("{INFO}/{name}:{a}.list"));
    }
    for c in candidates {
        if let Ok(Some(f)) = vfs.read(&c) {
            let files = read_lines(&f)
                .map(str::trim)
                .filter(|l| !l.is_empty() && *l != "/.")
                .map(str::to_string)
                .collect();
            return (files, Some(c));
        }
    }
    (Vec::new(), None)
}

fn md5sums_files(f: &VfsFile) -> Vec<String> {
    read_lines(f)
        .filter_map(|l| l.split_once("  ").map(|(_, p)| p.trim()))
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('/') {
                p.to_string()
            } else {
                format!("/{p}")
            }
        })
        .collect()
}

fn is_installed(status: Option<&str>) -> bool {
    // `want flag status`: keep installed (and half-set-up) packages, drop
    // `config-files` / `not-installed` leftovers. Distroless stanzas may lack Status.
    match status {
        None => true,
        Some(s) => matches!(
            s.split_whitespace().nth(2),
            Some(
                "installed"
                    | "half-configured"
                    | "unpacked"
                    | "half-installed"
                    | "triggers-awaited"
                    | "triggers-pending"
            )
        ),
    }
}

pub fn catalog(vfs: &Vfs, os: Option<&OsRelease>, found: &mut Found) {
    let mut dbs: Vec<(VfsFile, Option<VfsFile>)> = Vec::new();
    if let Ok(Some(f)) = vfs.read(STATUS) {
        dbs.push((f, None));
    }
    if let Ok(entries) = vfs.list_dir(STATUS_D) {
        let md5: Vec<&VfsFile> = entries
            .iter()
            .filter(|f| f.path.ends_with(".md5sums"))
            .collect();
        for f in entries.iter().filter(|f| !f.path.ends_with(".md5sums")) {
            let sums = md5
                .iter()
                .find(|m| m.path.strip_suffix(".md5sums") == Some(f.path.as_str()))
                .map(|m| (*m).clone());
            dbs.push((f.clone(), sums));
        }
    }
    let namespace = os
        .map(|o| o.id.as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("debian");
    for (db, sums) in dbs {
        let text = String::from_utf8_lossy(&db.data);
        let (stanzas, errors) = control::parse(&text);
        for e in errors {
            found.warnings.push(Warning {
                code: "dpkg-status-malformed".into(),
                message: format!("{}: {e}", db.path),
            });
        }
        for st in stanzas {
            let (Some(name), Some(version)) = (st.get("Package"), st.get("Version")) else {
                found.warnings.push(Warning {
                    code: "dpkg-status-malformed".into(),
                    message: format!(
                        "{}: stanza at line {} has no Package or Version; skipped",
                        db.path, st.line
                    ),
                });
                continue;
            };
            if !is_installed(st.get("Status")) {
                continue;
            }
            let arch = st
                .get("Architecture")
                .filter(|a| !a.is_empty())
                .map(str::to_string);
            let (source_name, source_version) = match st.get("Source") {
                Some(s) if !s.is_empty() => {
                    let (n, v) = parse_source(s);
                    (n, v.unwrap_or_else(|| version.to_string()))
                }
                _ => (name.to_string(), version.to_string()),
            };
            let (mut files, list_path) = installed_files(vfs, name, arch.as_deref());
            if files.is_empty() {
                if let Some(s) = &sums {
                    files = md5sums_files(s);
                }
            }
            let licenses = vfs
                .read(&format!("/usr/share/doc/{name}/copyright"))
                .ok()
                .flatten()
                .map(|f| copyright_licenses(&String::from_utf8_lossy(&f.data)))
                .unwrap_or_default();
            let mut purl = Purl::new("deb", name).namespace(namespace).version(version);
            if let Some(a) = &arch {
                purl = purl.qualifier("arch", a);
            }
            if let Some(o) = os {
                purl = purl.qualifier("distro", &o.distro_qualifier());
            }
            if source_name != name {
                let upstream = if source_version != version {
                    format!("{source_name}@{source_version}")
                } else {
                    source_name.clone()
                };
                purl = purl.qualifier("upstream", &upstream);
            }
            let mut locations = vec![db.path.clone()];
            locations.extend(list_path);
            found.packages.push(Package {
                id: String::new(),
                package_type: PackageType::Deb,
                name: name.to_string(),
                version: version.to_string(),
                epoch: None,
                arch,
                source_name: Some(source_name),
                source_version: Some(source_version),
                licenses,
                supplier: st.get("Maintainer").map(str::to_string),
                purl: purl.to_string(),
                layer: None,
                locations,
                files,
                owned_by: None,
                digests: Vec::new(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_field_forms() {
        assert_eq!(parse_source("glibc"), ("glibc".into(), None));
        assert_eq!(
            parse_source("openssl (3.0.11-1~deb12u2)"),
            ("openssl".into(), Some("3.0.11-1~deb12u2".into()))
        );
    }

    #[test]
    fn licenses_from_copyright() {
        let text = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nLicense: BSD-3-clause\n On Debian systems see /usr/share/common-licenses/GPL-2.\n";
        assert_eq!(
            copyright_licenses(text),
            vec!["BSD-3-clause", "GPL-2", "GPL-2+"]
        );
    }

    #[test]
    fn status_filter() {
        assert!(is_installed(Some("install ok installed")));
        assert!(is_installed(None));
        assert!(!is_installed(Some("deinstall ok config-files")));
        assert!(!is_installed(Some("purge ok not-installed")));
    }

    #[test]
    fn wanted_paths() {
        assert!(wants_db("/var/lib/dpkg/status"));
        assert!(wants_db("/var/lib/dpkg/status.d/libc6"));
        assert!(!wants_db("/var/lib/dpkg/status.d/x/y"));
        assert!(wants_small("/var/lib/dpkg/info/libc6:amd64.list"));
        assert!(!wants_small("/var/lib/dpkg/info/libc6.md5sums"));
        assert!(wants_small("/usr/share/doc/bash/copyright"));
        assert!(!wants_small("/usr/share/doc/bash/examples/copyright"));
    }
}
