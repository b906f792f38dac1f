//! .NET: `*.deps.json` written by the SDK next to an application; its
//! `libraries` of type `package` are NuGet packages (`Name/Version`).

use caisson_image::Vfs;
use caisson_model::{Package, PackageType, Purl};
use serde_json::Value;

use crate::common::{self, Collector};
use crate::MAX_LOCK_BYTES;

fn is_deps(path: &str) -> bool {
    let b = common::basename(path);
    b.len() > ".deps.json".len() && b.ends_with(".deps.json")
}

pub fn wants(path: &str) -> Option<u64> {
    is_deps(path).then_some(MAX_LOCK_BYTES)
}

/// `(name, version)` of each `package` library.
pub fn parse_deps_json(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (key, lib) in v
        .get("libraries")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if lib.get("type").and_then(Value::as_str) != Some("package") {
            continue;
        }
        if let Some((name, version)) = key.split_once('/') {
            if !name.is_empty() && !version.is_empty() {
                out.push((name.to_string(), version.to_string()));
            }
        }
    }
    Ok(out)
}

pub fn catalog(vfs: &Vfs, c: &mut Collector) {
    for f in common::files(vfs, is_deps) {
        match parse_deps_json(&f.data) {
            Ok(entries) => {
                for (name, version) in entries {
                    let purl = Purl::new("nuget", &name).version(&version).to_string();
                    let p = Package::found(PackageType::Nuget, &name, &version, purl, &f.path);
                    c.installed(p, common::parent(&f.path));
                }
            }
            Err(e) => c.warn("dotnet-deps-malformed", format!("{}: {e}; skipped", f.path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_libraries_only() {
        let t = br#"{"libraries":{"App/1.0.0":{"type":"project"},"Newtonsoft.Json/12.0.1":{"type":"package"},"bad":{"type":"package"},"Ref/1":{"type":"reference"}}}"#;
        assert_eq!(
            parse_deps_json(t).unwrap(),
            vec![("Newtonsoft.Json".into(), "12.0.1".into())]
        );
        assert!(parse_deps_json(b"{").is_err());
        assert_eq!(parse_deps_json(b"[]").unwrap(), vec![]);
        assert!(!is_deps("/x/.deps.json"));
        assert!(is_deps("/app/MyApp.deps.json"));
    }
}
