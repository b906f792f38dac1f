//! rpm: the rpmdb in any of its three formats (SQLite, Berkeley DB, NDB), read
//! by `caisson-rpmdb` without librpm.

use caisson_image::Vfs;
use caisson_model::{OsRelease, Package, PackageType, Purl, Warning};
use caisson_rpmdb::{DbFormat, Limits};

use crate::Found;

const DIRS: &[&str] = &["/usr/lib/sysimage/rpm", "/var/lib/rpm"];
const FILES: &[&str] = &["rpmdb.sqlite", "Packages.db", "Packages"];

pub fn wants(path: &str) -> bool {
    let Some((dir, base)) = path.rsplit_once('/') else {
        return false;
    };
    DIRS.contains(&dir) && (FILES.contains(&base) || base == "rpmdb.sqlite-wal")
}

/// `bash-5.1.8-6.el9.src.rpm` → `bash`.
pub fn source_name(srpm: &str) -> Option<&str> {
    let stem = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (nv, _release) = stem.rsplit_once('-')?;
    let (name, _version) = nv.rsplit_once('-')?;
    (!name.is_empty()).then_some(name)
}

/// The purl namespace distributions use for rpm (syft and trivy agree on `redhat` for RHEL).
fn namespace(os: Option<&OsRelease>) -> &str {
    match os.map(|o| o.id.as_str()) {
        Some("rhel") => "redhat",
        Some(id) if !id.is_empty() => id,
        _ => "redhat",
    }
}

pub fn catalog(vfs: &Vfs, os: Option<&OsRelease>, found: &mut Found) {
    // The first database found wins: /var/lib/rpm is usually a symlink to
    // /usr/lib/sysimage/rpm, and the resolved path dedupes them.
    let mut seen_paths = Vec::new();
    for dir in DIRS {
        for file in FILES {
            let Ok(Some(db)) = vfs.read(&format!("{dir}/{file}")) else {
                continue;
            };
            if seen_paths.contains(&db.path) {
                continue;
            }
            seen_paths.push(db.path.clone());
            let Some(format) = caisson_rpmdb::detect(&db.data) else {
                found.warnings.push(Warning {
                    code: "rpmdb-unrecognised".into(),
                    message: format!("{}: not an rpm database in a known format (SQLite, Berkeley DB hash, NDB); skipped", db.path),
                });
                continue;
            };
            let limits = Limits::default();
            let wal = (format == DbFormat::Sqlite)
                .then(|| vfs.read(&format!("{}-wal", db.path)).ok().flatten())
                .flatten()
                .filter(|w| !w.data.is_empty());
            let result = match &wal {
                Some(w) => caisson_rpmdb::read_sqlite_packages_with_wal(&db.data, &w.data, &limits),
                None => caisson_rpmdb::read_packages(format, &db.data, &limits),
            };
            let entries = match result {
                Ok(e) => e,
                Err(e) => {
                    found.warnings.push(Warning {
                        code: "rpmdb-unreadable".into(),
                        message: format!(
                            "{} ({format}): {e}; its packages are not listed",
                            db.path
                        ),
                    });
                    continue;
                }
            };
            for entry in entries {
                let p = match entry {
                    Ok(p) => p,
                    Err(e) => {
                        found.warnings.push(Warning {
                            code: "rpm-header-corrupt".into(),
                            message: format!("{}: {e}; that package is skipped", db.path),
                        });
                        continue;
                    }
                };
                // gpg-pubkey entries are imported signing keys, not packages.
                if p.name == "gpg-pubkey" {
                    continue;
                }
                let version = format!("{}-{}", p.version, p.release);
                let mut purl = Purl::new("rpm", &p.name)
                    .namespace(namespace(os))
                    .version(&version);
                if let Some(a) = &p.arch {
                    purl = purl.qualifier("arch", a);
                }
                if let Some(e) = p.epoch {
                    purl = purl.qualifier("epoch", &e.to_string());
                }
                if let Some(o) = os {
                    purl = purl.qualifier("distro", &o.distro_qualifier());
                }
                if let Some(s) = &p.source_rpm {
                    purl = purl.qualifier("upstream", s);
                }
                found.packages.push(Package {
                    id: String::new(),
                    package_type: PackageType::Rpm,
                    source_name: p
                        .source_rpm
                        .as_deref()
                        .and_then(source_name)
                        .map(str::to_string),
                    source_version: p.source_rpm.as_ref().map(|_| version.clone()),
                    name: p.name,
                    version,
                    epoch: p.epoch,
                    arch: p.arch,
                    licenses: p.license.into_iter().collect(),
                    supplier: p.vendor.or(p.packager),
                    purl: purl.to_string(),
                    layer: None,
                    locations: vec![db.path.clone()],
                    files: p.files,
                    owned_by: None,
                    digests: Vec::new(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_rpm_names() {
        assert_eq!(source_name("bash-5.1.8-6.el9.src.rpm"), Some("bash"));
        assert_eq!(
            source_name("python3-foo-bar-1.0-1.fc40.src.rpm"),
            Some("python3-foo-bar")
        );
        assert_eq!(source_name("weird.rpm"), None);
    }

    #[test]
    fn wanted_paths() {
        assert!(wants("/var/lib/rpm/Packages"));
        assert!(wants("/usr/lib/sysimage/rpm/rpmdb.sqlite-wal"));
        assert!(!wants("/var/lib/rpm/Basenames"));
    }
}
