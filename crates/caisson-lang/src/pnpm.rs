//! `pnpm-lock.yaml`: the `packages` map, whose keys changed form across
//! lockfile versions: `/name/1.0.0_peer` (5.x), `/name@1.0.0(peer@1)` (6.x),
//! `name@1.0.0` (9.x).

use caisson_image::Vfs;
use serde_norway::Value;

use crate::common::{self, Collector};
use crate::{npm, MAX_LOCK_BYTES};

fn is_lock(path: &str) -> bool {
    common::basename(path) == "pnpm-lock.yaml" && !path.contains("/node_modules/")
}

pub fn wants(path: &str) -> Option<u64> {
    is_lock(path).then_some(MAX_LOCK_BYTES)
}

/// Name and version from a `packages` key of any lockfile version.
pub fn split_key(key: &str) -> Option<(String, String)> {
    let k = key.strip_prefix('/').unwrap_or(key);
    // Peer-dependency suffixes: `(peer@1)` (6+) or `_peer@1` (5.x).
    let k = k.split('(').next().unwrap_or(k);
    let (scope, rest) = match k.strip_prefix('@') {
        Some(r) => {
            let (s, r) = r.split_once('/')?;
            (Some(s), r)
        }
        None => (None, k),
    };
    // `name/version_peers` (5.x) or `name@version` (6+).
    let (name, version) = match rest.split_once('/') {
        Some((n, v)) => (n, v.split('_').next().unwrap_or(v)),
        None => rest.split_once('@')?,
    };
    if name.is_empty() || version.is_empty() {
        return None;
    }
    let name = match scope {
        Some(s) => format!("@{s}/{name}"),
        None => name.to_string(),
    };
    Some((name, version.to_string()))
}

/// `(name, version)` of every registry package in the lockfile.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let Some(Value::Mapping(pkgs)) = v.get("packages") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (k, e) in pkgs {
        let Some(key) = k.as_str() else { continue };
        // 5.x and 6.x mark development-only packages; syft and trivy skip them.
        if e.get("dev").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        // Entries resolved from a tarball or git carry their own name/version.
        let own = (
            e.get("name").and_then(Value::as_str),
            e.get("version").and_then(Value::as_str),
        );
        let (name, version) = match own {
            (Some(n), Some(v)) => (n.to_string(), v.to_string()),
            _ => match split_key(key) {
                Some(nv) => nv,
                None => continue,
            },
        };
        if !name.is_empty() && npm::registry_version(&version) {
            out.push((name, version));
        }
    }
    Ok(out)
}

pub fn catalog(vfs: &Vfs, c: &mut Collector) {
    for f in common::files(vfs, is_lock) {
        match parse(&common::text(&f)) {
            Ok(entries) => {
                for (name, version) in entries {
                    c.declared(npm::package(&name, &version, &f.path), &f.path);
                }
            }
            Err(e) => c.warn(
                "pnpm-lockfile-malformed",
                format!("{}: {e}; skipped", f.path),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_every_version() {
        let nv = |n: &str, v: &str| Some((n.to_string(), v.to_string()));
        assert_eq!(split_key("/lodash/4.17.21"), nv("lodash", "4.17.21"));
        assert_eq!(
            split_key("/@babel/core/7.0.0_supports-color@5.5.0"),
            nv("@babel/core", "7.0.0")
        );
        assert_eq!(
            split_key("/@babel/core@7.0.0(supports-color@5.5.0)"),
            nv("@babel/core", "7.0.0")
        );
        assert_eq!(split_key("ms@2.1.2"), nv("ms", "2.1.2"));
        assert_eq!(split_key("nothing"), None);
        assert_eq!(split_key(""), None);
    }

    #[test]
    fn v9_lock() {
        let t = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      ms:\n        specifier: 2.1.2\n        version: 2.1.2\npackages:\n  ms@2.1.2:\n    resolution: {integrity: sha512-x}\n  /d/1.0.0:\n    dev: true\n  '@s/a@1.0.0':\n    resolution: {integrity: sha512-y}\n  t@https://x/t.tgz:\n    resolution: {tarball: https://x/t.tgz}\n    name: t\n    version: 0.1.0\n";
        assert_eq!(
            parse(t).unwrap(),
            vec![
                ("ms".into(), "2.1.2".into()),
                ("@s/a".into(), "1.0.0".into()),
                ("t".into(), "0.1.0".into())
            ]
        );
        assert!(parse("packages: [").is_err());
        assert_eq!(parse("packages: 3").unwrap(), vec![]);
    }
}
