//! Shared by the scan tests: an advisory database built from the real feed
//! snapshots in `shared/data` by `caisson db import`, once per test binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use caisson_testsupport::advisory_data::data_dir;

/// The OSV ecosystems with a snapshot in `shared/data/osv`.
pub const OSV_ECOSYSTEMS: [&str; 5] = ["PyPI", "Go", "crates.io", "npm", "Maven"];

/// The database every scan test uses: every OSV zip and the Alpine secdb.
pub fn database() -> &'static Path {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let data = data_dir();
        let mut feeds: Vec<PathBuf> = OSV_ECOSYSTEMS
            .iter()
            .map(|eco| data.join("osv").join(eco).join("all.zip"))
            .collect();
        feeds.push(data.join("alpine-secdb"));
        import("shared", &feeds)
    })
}

/// A new database of `feeds`, imported by `caisson db import`.
#[allow(dead_code)] // not every test binary builds its own
pub fn import(label: &str, feeds: &[PathBuf]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("scan-db-{label}-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .arg("db")
        .arg("--db")
        .arg(&dir)
        .arg("import")
        .args(feeds)
        .output()
        .expect("caisson db import runs");
    assert!(
        out.status.success(),
        "caisson db import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}
