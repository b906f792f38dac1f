//! Test helpers: an in-memory `AdvisorySource` over raw OSV JSON and SBOM
//! builders.
#![allow(dead_code)]

use std::collections::HashMap;

use caisson_model::{normalize_package_name, Advisory, AdvisorySource, OsRelease, Package, Sbom};
pub use caisson_testsupport::package;
use serde_json::Value;

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
