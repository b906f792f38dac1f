//! Node.js: installed `node_modules/[@scope/]<name>/package.json` (nested to a
//! bounded depth), modules a distribution installed into Node's global
//! search path (Debian's `node-*` packages: `/usr/share/nodejs/<name>/`,
//! `/usr/lib/nodejs/<name>/`, `/usr/lib/<triplet>/nodejs/<name>/`), the
//! project's own `package.json` when a lockfile sits beside it, and
//! `package-lock.json` / `npm-shrinkwrap.json` v1–v3.

use caisson_image::Vfs;
use caisson_model::{Package, PackageType, Purl};
use serde_json::Value;

use crate::common::{self, Collector};
use crate::{MAX_LOCK_BYTES, MAX_METADATA_BYTES};

/// Most `node_modules` levels followed (real trees rarely pass 10).
pub const MAX_NESTING: usize = 32;
const NM: &str = "node_modules/";
/// Lockfiles that make the directory holding them a project root.
const LOCKFILES: [&str; 5] = [
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
];

/// For `…/node_modules/[@scope/]name/package.json`: the package directory's
/// name (`@scope/name`); `None` for any other path or a tree nested too deep.
pub fn installed_name(path: &str) -> Option<&str> {
    let dir = path.strip_suffix("/package.json")?;
    let i = dir.rfind("/node_modules/")?;
    let name = dir.get(i + "/node_modules/".len()..)?;
    if path.matches("/node_modules/").count() > MAX_NESTING {
        return None;
    }
    module_dir_name(name).then_some(name)
}

/// `name` or `@scope/name`, as a module directory below a search path is named.
fn module_dir_name(name: &str) -> bool {
    match name.split_once('/') {
        None => !name.is_empty() && !name.starts_with(['.', '@']),
        Some((scope, n)) => {
            scope.len() > 1 && scope.starts_with('@') && !n.is_empty() && !n.contains('/')
        }
    }
}

/// For `/usr/share/nodejs/[@scope/]name/package.json` (and the same below
/// `/usr/lib/nodejs/` or `/usr/lib/<triplet>/nodejs/`, Node's global search
/// paths on Debian): the search path directory and the module's name. Paths
/// inside a module's own `node_modules` are left to [`installed_name`].
pub fn os_module(path: &str) -> Option<(&str, &str)> {
    let dir = path.strip_suffix("/package.json")?;
    if dir.contains("/node_modules/") {
        return None;
    }
    let rest = dir.strip_prefix("/usr/")?;
    let (prefix_len, rest) = if let Some(r) = rest.strip_prefix("share/nodejs/") {
        ("/usr/share/nodejs".len(), r)
    } else if let Some(r) = rest.strip_prefix("lib/nodejs/") {
        ("/usr/lib/nodejs".len(), r)
    } else {
        let r = rest.strip_prefix("lib/")?;
        let (triplet, r) = r.split_once('/')?;
        let r = r.strip_prefix("nodejs/")?;
        if triplet.is_empty() || triplet.starts_with('.') {
            return None;
        }
        ("/usr/lib/".len() + triplet.len() + "/nodejs".len(), r)
    };
    let search = path.get(..prefix_len)?;
    module_dir_name(rest).then_some((search, rest))
}

fn is_lock(path: &str) -> bool {
    matches!(
        common::basename(path),
        "package-lock.json" | "npm-shrinkwrap.json"
    ) && !path.contains("/node_modules/")
}

/// A `package.json` outside every `node_modules` and every global module
/// directory (a project's own manifest).
fn is_project_manifest(path: &str) -> bool {
    common::basename(path) == "package.json"
        && !path.contains("/node_modules/")
        && os_module(path).is_none()
}

pub fn wants(path: &str) -> Option<u64> {
    if installed_name(path).is_some() || os_module(path).is_some() || is_project_manifest(path) {
        Some(MAX_METADATA_BYTES)
    } else if is_lock(path) {
        Some(MAX_LOCK_BYTES)
    } else {
        None
    }
}

/// `pkg:npm/name@v`, `pkg:npm/%40scope/name@v`.
pub fn purl(name: &str, version: &str) -> String {
    let p = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => Purl::new("npm", n).namespace(scope),
        _ => Purl::new("npm", name),
    };
    p.version(version).to_string()
}

pub fn package(name: &str, version: &str, location: &str) -> Package {
    Package::found(
        PackageType::Npm,
        name,
        version,
        purl(name, version),
        location,
    )
}

/// Name, version and licenses of a `package.json`. `Ok(None)` when it has no
/// name or version (a manifest that is not a package).
pub fn parse_package_json(bytes: &[u8]) -> Result<Option<(String, String, Vec<String>)>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let (Some(name), Some(version)) = (
        v.get("name").and_then(Value::as_str),
        v.get("version").and_then(Value::as_str),
    ) else {
        return Ok(None);
    };
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    let mut licenses = Vec::new();
    match v.get("license") {
        Some(Value::String(s)) if !s.is_empty() => licenses.push(s.clone()),
        Some(Value::Object(o)) => {
            licenses.extend(o.get("type").and_then(Value::as_str).map(str::to_string))
        }
        _ => {}
    }
    if let Some(Value::Array(a)) = v.get("licenses") {
        for l in a.iter().take(16) {
            match l {
                Value::String(s) => licenses.push(s.clone()),
                Value::Object(o) => {
                    licenses.extend(o.get("type").and_then(Value::as_str).map(str::to_string))
                }
                _ => {}
            }
        }
    }
    Ok(Some((name.to_string(), version.to_string(), licenses)))
}

/// A version a registry could serve (not a URL, path, git or alias spec).
pub fn registry_version(v: &str) -> bool {
    !v.is_empty() && !v.contains([':', '/', ' '])
}

fn is_true(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool) == Some(true)
}

/// `(name, version)` of every package in a `package-lock.json`: the
/// `packages` map (v2, v3), else the nested `dependencies` tree (v1, walked
/// to [`MAX_NESTING`] levels). Links, workspace members, the root and
/// development-only packages (`"dev": true`, not installed by
/// `npm ci --omit=dev`; syft and trivy leave them out too) are skipped.
pub fn parse_package_lock(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    if let Some(pkgs) = v.get("packages").and_then(Value::as_object) {
        for (key, e) in pkgs {
            let Some(i) = key.rfind(NM) else { continue };
            if is_true(e, "link") || is_true(e, "dev") {
                continue;
            }
            let name = e
                .get("name")
                .and_then(Value::as_str)
                .or_else(|| key.get(i + NM.len()..))
                .unwrap_or("");
            let version = e.get("version").and_then(Value::as_str).unwrap_or("");
            if !name.is_empty() && registry_version(version) {
                out.push((name.to_string(), version.to_string()));
            }
        }
        return Ok(out);
    }
    let mut stack: Vec<(&serde_json::Map<String, Value>, usize)> = Vec::new();
    if let Some(d) = v.get("dependencies").and_then(Value::as_object) {
        stack.push((d, 1));
    }
    while let Some((deps, depth)) = stack.pop() {
        for (name, e) in deps {
            let version = e.get("version").and_then(Value::as_str).unwrap_or("");
            if registry_version(version) && !is_true(e, "dev") {
                out.push((name.clone(), version.to_string()));
            }
            if depth < MAX_NESTING {
                if let Some(d) = e.get("dependencies").and_then(Value::as_object) {
                    stack.push((d, depth + 1));
                }
            }
        }
    }
    Ok(out)
}

pub fn catalog(vfs: &Vfs, c: &mut Collector) {
    for f in common::files(vfs, |p| {
        installed_name(p).is_some() || os_module(p).is_some() || is_project_manifest(p)
    }) {
        let root = match (f.path.find("/node_modules/"), os_module(&f.path)) {
            (Some(i), _) => f.path.get(..i).filter(|r| !r.is_empty()).unwrap_or("/"),
            (None, Some((search, _))) => search,
            (None, None) => {
                // A project's own manifest counts only beside a lockfile.
                let dir = common::parent(&f.path);
                let has_lock = LOCKFILES.iter().any(|l| {
                    vfs.read(&format!("{}/{l}", dir.trim_end_matches('/')))
                        .ok()
                        .flatten()
                        .is_some()
                });
                if !has_lock {
                    continue;
                }
                dir
            }
        };
        match parse_package_json(&f.data) {
            Ok(Some((name, version, licenses))) => {
                let mut p = package(&name, &version, &f.path);
                p.licenses = licenses;
                c.installed(p, root);
            }
            Ok(None) => {}
            Err(e) => c.warn(
                "npm-package-json-malformed",
                format!("{}: {e}; skipped", f.path),
            ),
        }
    }
    for f in common::files(vfs, is_lock) {
        match parse_package_lock(&f.data) {
            Ok(entries) => {
                for (name, version) in entries {
                    c.declared(package(&name, &version, &f.path), &f.path);
                }
            }
            Err(e) => c.warn(
                "npm-lockfile-malformed",
                format!("{}: {e}; skipped", f.path),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_paths() {
        assert_eq!(
            installed_name("/app/node_modules/lodash/package.json"),
            Some("lodash")
        );
        assert_eq!(
            installed_name("/a/node_modules/@babel/x/package.json"),
            Some("@babel/x")
        );
        assert_eq!(
            installed_name("/a/node_modules/m/node_modules/minimist/package.json"),
            Some("minimist")
        );
        assert_eq!(
            installed_name("/a/node_modules/.pnpm/ms@2.1.2/node_modules/ms/package.json"),
            Some("ms")
        );
        assert_eq!(installed_name("/a/node_modules/x/lib/package.json"), None);
        assert_eq!(installed_name("/a/node_modules/@s/package.json"), None);
        assert_eq!(installed_name("/a/node_modules/.bin/package.json"), None);
        assert_eq!(installed_name("/a/package.json"), None);
        let deep = format!("{}/x/package.json", "/node_modules/x".repeat(40));
        assert_eq!(installed_name(&deep), None);
    }

    #[test]
    fn debian_global_module_paths() {
        assert_eq!(
            os_module("/usr/share/nodejs/semver/package.json"),
            Some(("/usr/share/nodejs", "semver"))
        );
        assert_eq!(
            os_module("/usr/share/nodejs/@npmcli/arborist/package.json"),
            Some(("/usr/share/nodejs", "@npmcli/arborist"))
        );
        assert_eq!(
            os_module("/usr/lib/nodejs/npm/package.json"),
            Some(("/usr/lib/nodejs", "npm"))
        );
        assert_eq!(
            os_module("/usr/lib/x86_64-linux-gnu/nodejs/bufferutil/package.json"),
            Some(("/usr/lib/x86_64-linux-gnu/nodejs", "bufferutil"))
        );
        // A module's own files, nested modules, and other trees are not modules.
        assert_eq!(os_module("/usr/share/nodejs/x/lib/package.json"), None);
        assert_eq!(os_module("/usr/share/nodejs/@s/package.json"), None);
        assert_eq!(os_module("/usr/share/nodejs/package.json"), None);
        assert_eq!(
            os_module("/usr/share/nodejs/a/node_modules/b/package.json"),
            None
        );
        assert_eq!(os_module("/usr/lib/a/b/nodejs/x/package.json"), None);
        assert_eq!(os_module("/opt/share/nodejs/x/package.json"), None);
        assert!(wants("/usr/share/nodejs/semver/package.json").is_some());
        assert!(!is_project_manifest(
            "/usr/share/nodejs/semver/package.json"
        ));
    }

    #[test]
    fn scoped_purls() {
        assert_eq!(
            purl("@babel/helper-string-parser", "7.22.5"),
            "pkg:npm/%40babel/helper-string-parser@7.22.5"
        );
        assert_eq!(purl("lodash", "4.17.15"), "pkg:npm/lodash@4.17.15");
    }

    #[test]
    fn package_json_fields() {
        let (n, v, l) =
            parse_package_json(br#"{"name":"a","version":"1.0.0","license":{"type":"MIT"}}"#)
                .unwrap()
                .unwrap();
        assert_eq!(
            (n.as_str(), v.as_str(), l),
            ("a", "1.0.0", vec!["MIT".into()])
        );
        assert_eq!(parse_package_json(br#"{"type":"module"}"#).unwrap(), None);
        assert!(parse_package_json(b"\0{").is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_package_json(deep.as_bytes()).is_err());
    }

    #[test]
    fn lock_v1_nested_and_v3_packages() {
        let v1 = br#"{"lockfileVersion":1,"dependencies":{"mkdirp":{"version":"0.5.1","dependencies":{"minimist":{"version":"0.0.8"}}},"x":{"version":"github:a/b#c"}}}"#;
        let mut got = parse_package_lock(v1).unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("minimist".into(), "0.0.8".into()),
                ("mkdirp".into(), "0.5.1".into())
            ]
        );
        let v3 = br#"{"lockfileVersion":3,"packages":{"":{"name":"app","version":"1.0.0"},"node_modules/@s/a":{"version":"1.0.0"},"node_modules/w":{"link":true,"resolved":"packages/w"},"packages/w":{"version":"2.0.0"},"node_modules/al":{"name":"real","version":"3.0.0"},"node_modules/d":{"version":"1.0.0","dev":true}}}"#;
        let mut got = parse_package_lock(v3).unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("@s/a".into(), "1.0.0".into()),
                ("real".into(), "3.0.0".into())
            ]
        );
    }
}
