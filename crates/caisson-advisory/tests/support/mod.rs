#![allow(clippy::unwrap_used)]
#![allow(dead_code)]
//! Helpers shared by the integration tests.

pub mod https;

use std::path::{Path, PathBuf};

use caisson_advisory::{import_paths, ImportReport, UpdateOptions};

/// The shared advisory snapshots (see its README.md).
pub fn shared_data() -> PathBuf {
    let p = PathBuf::from("/work/shared/data");
    if p.is_dir() {
        return p;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn import(dir: &Path, paths: &[PathBuf]) -> ImportReport {
    let report =
        import_paths(dir, paths, &UpdateOptions::default(), &mut |_| {}).expect("import runs");
    assert!(report.swapped, "import failed: {report:?}");
    report
}

/// Every OSV zip of the shared data, by ecosystem.
pub fn osv_zips() -> Vec<(&'static str, PathBuf)> {
    ["PyPI", "Go", "crates.io", "npm", "Maven"]
        .into_iter()
        .map(|e| (e, shared_data().join("osv").join(e).join("all.zip")))
        .collect()
}

pub fn alpine_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for rel in [
        "v3.3", "v3.4", "v3.5", "v3.6", "v3.7", "v3.8", "v3.9", "v3.10", "v3.11",
    ] {
        for repo in ["main", "community"] {
            out.push(
                shared_data()
                    .join("alpine-secdb")
                    .join(rel)
                    .join(format!("{repo}.json")),
            );
        }
    }
    out
}
