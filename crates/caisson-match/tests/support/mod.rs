//! Test helpers: an in-memory `AdvisorySource` over raw OSV JSON, the real
//! advisory data in `/work/shared/data` (or `$CAISSON_ADVISORY_DATA`), and
//! SBOM builders.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use caisson_model::{
    normalize_package_name, Advisory, AdvisorySource, OsRelease, Package, PackageType, Sbom,
};
use serde_json::Value;

/// Where the shared advisory data lives.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CAISSON_ADVISORY_DATA") {
        return PathBuf::from(d);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // crates/caisson-match → workspace → its parent holds shared/ (CI), or /work/shared.
    for cand in [
        here.join("../../../shared/data"),
        PathBuf::from("/work/shared/data"),
    ] {
        if cand.join("README.md").exists() {
            return cand;
        }
    }
    panic!("advisory data not found: set CAISSON_ADVISORY_DATA to shared/data");
}

/// Every record of `osv/<ecosystem>/all.zip`, raw.
pub fn osv_zip(ecosystem: &str) -> Vec<Value> {
    let path = data_dir().join("osv").join(ecosystem).join("all.zip");
    let file = fs_err::File::open(&path).expect("OSV zip opens");
    let mut zip = zip::ZipArchive::new(file).expect("OSV zip reads");
    let mut out = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("zip entry");
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("zip entry is UTF-8");
        out.push(serde_json::from_str(&text).expect("record is JSON"));
    }
    out
}

/// An `AdvisorySource` over records held in memory, indexed as the trait
/// documents: by exact ecosystem and normalised name.
#[derive(Default)]
pub struct MemorySource {
    by_key: HashMap<(String, String), Vec<Advisory>>,
}

impl MemorySource {
    pub fn new(records: &[Value]) -> Self {
        let mut s = MemorySource::default();
        for r in records {
            let adv: Advisory = serde_json::from_value(r.clone()).expect("record is OSV");
            let mut keys: Vec<(String, String)> = adv
                .affected
                .iter()
                .filter_map(|a| a.package.as_ref())
                .map(|p| {
                    (
                        p.ecosystem.clone(),
                        normalize_package_name(&p.ecosystem, &p.name),
                    )
                })
                .collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                s.by_key.entry(k).or_default().push(adv.clone());
            }
        }
        s
    }
}

impl AdvisorySource for MemorySource {
    fn advisories(
        &self,
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<Advisory>, Box<dyn std::error::Error + Send + Sync>> {
        let key = (
            ecosystem.to_string(),
            normalize_package_name(ecosystem, name),
        );
        Ok(self.by_key.get(&key).cloned().unwrap_or_default())
    }
}

/// A package for an SBOM under test.
pub fn package(ty: PackageType, name: &str, version: &str) -> Package {
    Package {
        id: format!("{}:{name}@{version}", ty.purl_type()),
        package_type: ty,
        name: name.to_string(),
        version: version.to_string(),
        epoch: None,
        arch: None,
        source_name: None,
        source_version: None,
        licenses: vec![],
        supplier: None,
        purl: format!("pkg:{}/{name}@{version}", ty.purl_type()),
        layer: None,
        locations: vec![],
        files: vec![],
        owned_by: None,
        digests: Vec::new(),
    }
}

pub fn sbom(os: Option<OsRelease>, packages: Vec<Package>) -> Sbom {
    Sbom {
        os,
        packages,
        ..Sbom::default()
    }
}

pub fn alpine(version_id: &str) -> OsRelease {
    OsRelease {
        id: "alpine".into(),
        version_id: Some(version_id.into()),
        pretty_name: Some(format!("Alpine Linux v{version_id}")),
        ..OsRelease::default()
    }
}

/// Versions just below and just above `v`: its last number minus and plus one.
pub fn neighbours(v: &str) -> Vec<String> {
    let bytes = v.as_bytes();
    let Some(end) = bytes.iter().rposition(u8::is_ascii_digit) else {
        return vec![];
    };
    let start = bytes[..end]
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let Ok(n) = v[start..=end].parse::<u64>() else {
        return vec![];
    };
    let mut out = vec![format!("{}{}{}", &v[..start], n + 1, &v[end + 1..])];
    if n > 0 {
        out.push(format!("{}{}{}", &v[..start], n - 1, &v[end + 1..]));
    }
    out
}

/// A cheap stable hash for deterministic sampling.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}
