//! What every family shares: building packages, finding captured files, and
//! merging installed packages with the lockfile entries that declare them.

use std::collections::{BTreeSet, HashMap};

use caisson_catalog::Found;
use caisson_image::{Vfs, VfsFile};
use caisson_model::{normalize_package_name, Package, PackageType, Warning};

/// Longest path considered (deeper trees are skipped).
pub const MAX_PATH_LEN: usize = 4096;

/// The last component of `path`.
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The directory holding `path` (`/` for a top-level file).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => path.get(..i).unwrap_or("/"),
    }
}

/// True when `path` lies strictly inside directory `dir`.
pub fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || (path.len() > dir.len()
            && path.starts_with(dir)
            && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// `dir` joined with a relative path from a file list, normalised (`..` may
/// not climb above `/`). `None` for an empty or absurd entry.
pub fn join(dir: &str, rel: &str) -> Option<String> {
    if rel.is_empty() || rel.len() > MAX_PATH_LEN {
        return None;
    }
    if rel.starts_with('/') {
        return caisson_image::normalize(rel);
    }
    caisson_image::normalize(&format!("{dir}/{rel}"))
}

/// Captured files (not extractor output) whose path satisfies `pred`, in path order.
pub fn files(vfs: &Vfs, pred: impl Fn(&str) -> bool) -> Vec<VfsFile> {
    let paths: Vec<String> = vfs
        .files()
        .filter(|p| p.len() <= MAX_PATH_LEN && pred(p))
        .map(str::to_string)
        .collect();
    paths
        .iter()
        .filter_map(|p| vfs.read(p).ok().flatten())
        .filter(|f| f.extracted_by.is_none())
        .collect()
}

/// Text of a captured file: invalid UTF-8 is replaced, NUL bytes are kept
/// (parsers treat them as ordinary characters).
pub fn text(f: &VfsFile) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(&f.data)
}

/// A key under which names of one ecosystem compare equal.
pub fn name_key(ty: PackageType, name: &str) -> String {
    match ty.osv_ecosystem() {
        Some(eco) => normalize_package_name(eco, name),
        None => name.to_string(),
    }
}

struct Entry {
    package: Package,
    /// An installed package's own root (its site-packages, its project dir).
    root: String,
    installed: bool,
}

/// Packages of one family, gathered before merging.
#[derive(Default)]
pub struct Collector {
    entries: Vec<Entry>,
    lock_dirs: BTreeSet<String>,
    warnings: Vec<Warning>,
}

impl Collector {
    /// A package evidenced by installed metadata; `root` is the directory it
    /// belongs to when no lockfile above it claims it.
    pub fn installed(&mut self, package: Package, root: &str) {
        self.entries.push(Entry {
            package,
            root: root.to_string(),
            installed: true,
        });
    }

    /// A package declared by the lockfile at `lock_path`.
    pub fn declared(&mut self, package: Package, lock_path: &str) {
        let dir = parent(lock_path).to_string();
        self.lock_dirs.insert(dir.clone());
        self.entries.push(Entry {
            package,
            root: dir,
            installed: false,
        });
    }

    pub fn warn(&mut self, code: &str, message: String) {
        self.warnings.push(Warning {
            code: code.to_string(),
            message,
        });
    }

    /// Merges and appends to `found`: entries with the same type, name (as
    /// the ecosystem compares names) and version under the same project root
    /// become one package with every location. An installed package's root
    /// is the innermost lockfile directory above it, else its own root; so
    /// copies in unrelated directories stay separate packages.
    pub fn finish(self, found: &mut Found) {
        let Collector {
            mut entries,
            lock_dirs,
            mut warnings,
        } = self;
        for e in entries.iter_mut().filter(|e| e.installed) {
            let at = e.package.locations.first().map_or("", String::as_str);
            if let Some(d) = lock_dirs
                .iter()
                .filter(|d| is_under(at, d))
                .max_by_key(|d| d.len())
            {
                e.root = d.clone();
            }
        }
        // Installed packages first, so the merged package keeps the installed
        // metadata (declared name, licenses, files).
        entries.sort_by_key(|e| !e.installed);
        let mut index: HashMap<(PackageType, String, String, String), usize> = HashMap::new();
        let mut out: Vec<Package> = Vec::new();
        for e in entries {
            let p = e.package;
            let key = (
                p.package_type,
                name_key(p.package_type, &p.name),
                p.version.clone(),
                e.root,
            );
            match index.get(&key).and_then(|&i| out.get_mut(i)) {
                Some(base) => {
                    for l in p.locations {
                        if !base.locations.contains(&l) {
                            base.locations.push(l);
                        }
                    }
                    if base.files.is_empty() {
                        base.files = p.files;
                    }
                    if base.licenses.is_empty() {
                        base.licenses = p.licenses;
                    }
                }
                None => {
                    index.insert(key, out.len());
                    out.push(p);
                }
            }
        }
        found.packages.append(&mut out);
        found.warnings.append(&mut warnings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npm(name: &str, v: &str, at: &str) -> Package {
        Package::found(PackageType::Npm, name, v, format!("pkg:npm/{name}@{v}"), at)
    }

    #[test]
    fn paths() {
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(parent("/c"), "/");
        assert_eq!(basename("/a/b/c.json"), "c.json");
        assert!(is_under("/a/b", "/a"));
        assert!(!is_under("/ab", "/a"));
        assert_eq!(join("/x/site", "../../bin/t").as_deref(), Some("/bin/t"));
        assert_eq!(join("/x", "../../..").as_deref(), None);
    }

    #[test]
    fn installed_and_locked_merge_only_within_a_project() {
        let mut c = Collector::default();
        c.installed(
            npm("lodash", "4.17.15", "/app/node_modules/lodash/package.json"),
            "/app",
        );
        c.installed(
            npm(
                "lodash",
                "4.17.15",
                "/other/node_modules/lodash/package.json",
            ),
            "/other",
        );
        c.declared(
            npm("lodash", "4.17.15", "/app/package-lock.json"),
            "/app/package-lock.json",
        );
        c.declared(
            npm("lodash", "4.17.15", "/app/package-lock.json"),
            "/app/package-lock.json",
        );
        let mut f = Found::default();
        c.finish(&mut f);
        assert_eq!(f.packages.len(), 2, "{:#?}", f.packages);
        assert_eq!(
            f.packages[0].locations,
            vec![
                "/app/node_modules/lodash/package.json",
                "/app/package-lock.json"
            ]
        );
        assert_eq!(
            f.packages[1].locations,
            vec!["/other/node_modules/lodash/package.json"]
        );
    }
}
