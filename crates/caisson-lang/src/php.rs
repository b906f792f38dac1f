//! PHP: Composer's `vendor/composer/installed.json` (1.x: an array; 2.x:
//! `{"packages": [...]}`) and `composer.lock` (`packages`).

use caisson_image::Vfs;
use caisson_model::{Package, PackageType, Purl};
use serde_json::Value;

use crate::common::{self, Collector};
use crate::MAX_LOCK_BYTES;

fn is_installed(path: &str) -> bool {
    path.ends_with("/vendor/composer/installed.json")
}

fn is_lock(path: &str) -> bool {
    common::basename(path) == "composer.lock" && !path.contains("/vendor/")
}

pub fn wants(path: &str) -> Option<u64> {
    (is_installed(path) || is_lock(path)).then_some(MAX_LOCK_BYTES)
}

/// `pkg:composer/vendor/name@version`.
pub fn package(name: &str, version: &str, location: &str) -> Package {
    let purl = match name.split_once('/') {
        Some((vendor, n)) => Purl::new("composer", n).namespace(vendor),
        None => Purl::new("composer", name),
    };
    let purl = purl.version(version).to_string();
    Package::found(PackageType::Composer, name, version, purl, location)
}

/// One entry: `(name, version, licenses)`.
pub type Entry = (String, String, Vec<String>);

fn entries(list: Option<&Value>, out: &mut Vec<Entry>) {
    for p in list.and_then(Value::as_array).into_iter().flatten() {
        let (Some(name), Some(version)) = (
            p.get("name").and_then(Value::as_str),
            p.get("version").and_then(Value::as_str),
        ) else {
            continue;
        };
        if name.is_empty() || version.is_empty() {
            continue;
        }
        let licenses = p
            .get("license")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .take(16)
            .map(str::to_string)
            .collect();
        out.push((name.to_string(), version.to_string(), licenses));
    }
}

/// Packages of an `installed.json` of either Composer generation.
pub fn parse_installed(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match &v {
        Value::Array(_) => entries(Some(&v), &mut out),
        _ => entries(v.get("packages"), &mut out),
    }
    Ok(out)
}

/// Packages of a `composer.lock`; `packages-dev` are left out, as syft and
/// trivy do (`composer install --no-dev` does not install them).
pub fn parse_lock(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    entries(v.get("packages"), &mut out);
    Ok(out)
}

pub fn catalog(vfs: &Vfs, c: &mut Collector) {
    for f in common::files(vfs, |p| is_installed(p) || is_lock(p)) {
        let installed = is_installed(&f.path);
        let parsed = if installed {
            parse_installed(&f.data)
        } else {
            parse_lock(&f.data)
        };
        let entries = match parsed {
            Ok(e) => e,
            Err(e) => {
                c.warn("composer-malformed", format!("{}: {e}; skipped", f.path));
                continue;
            }
        };
        // The project is the directory holding vendor/.
        let project = f
            .path
            .strip_suffix("/vendor/composer/installed.json")
            .filter(|r| !r.is_empty())
            .unwrap_or("/")
            .to_string();
        for (name, version, licenses) in entries {
            let mut p = package(&name, &version, &f.path);
            p.licenses = licenses;
            if installed {
                c.installed(p, &project);
            } else {
                c.declared(p, &f.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_v1_v2_and_lock() {
        let v1 = br#"[{"name":"a/b","version":"v1.0.0","license":["MIT"]},{"name":"x"}]"#;
        let v2 =
            br#"{"packages":[{"name":"a/b","version":"v1.0.0","license":["MIT"]}],"dev":false}"#;
        let want = vec![(
            "a/b".to_string(),
            "v1.0.0".to_string(),
            vec!["MIT".to_string()],
        )];
        assert_eq!(parse_installed(v1).unwrap(), want);
        assert_eq!(parse_installed(v2).unwrap(), want);
        let lock = br#"{"packages":[{"name":"a/b","version":"1"}],"packages-dev":[{"name":"c/d","version":"2"}]}"#;
        assert_eq!(parse_lock(lock).unwrap().len(), 1);
        assert!(parse_lock(b"\xff").is_err());
        assert_eq!(
            package("guzzlehttp/guzzle", "7.4.0", "/x").purl,
            "pkg:composer/guzzlehttp/guzzle@7.4.0"
        );
    }
}
