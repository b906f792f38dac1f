//! Catalogers for compiled artifacts and their lock files:
//!
//! - Go: build info embedded in Go binaries (module path, main module,
//!   dependencies with `=>` replacements, toolchain as `stdlib`) and `go.mod`.
//! - Rust: `cargo auditable` data in ELF binaries (`.dep-v0`) and `Cargo.lock`.
//! - Java: jar/war/ear/… archives, nested ones included (Spring Boot
//!   `BOOT-INF/lib`, `WEB-INF/lib`), from `pom.properties`, else `MANIFEST.MF`,
//!   with each archive's SHA-1.
//!
//! Binaries and archives are read by [`caisson_image::Extractor`]s while the
//! layer streams past; only a small JSON summary is kept in the view. Every
//! reader is bounded (see each module's limits) and never panics on hostile
//! bytes.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
#![cfg_attr(
    test,
    allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

pub mod elf;
pub mod exe;
pub mod go;
pub mod java;
pub mod rust;
pub mod spool;

use caisson_catalog::Cataloger;
pub use caisson_catalog::Found;
use caisson_image::{Extractor, Vfs};
use caisson_model::{OsRelease, Warning};

/// Largest `go.mod` captured.
const MAX_GO_MOD: u64 = 4 << 20;
/// Largest `Cargo.lock` captured.
const MAX_CARGO_LOCK: u64 = 16 << 20;

static EXE: exe::ExeExtractor = exe::ExeExtractor;
static JAR: java::JarExtractor = java::JarExtractor;

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Calls `f` for each captured file (symlinks are not listed, so an archive
/// reached through several names is read once).
fn each_file(vfs: &Vfs, mut f: impl FnMut(&str, &caisson_image::VfsFile)) {
    for path in vfs.files() {
        if let Ok(Some(file)) = vfs.read(path) {
            f(path, &file);
        }
    }
}

fn warn(found: &mut Found, code: &str, message: String) {
    found.warnings.push(Warning {
        code: code.to_string(),
        message,
    });
}

/// Go binaries and `go.mod` files.
pub struct GoCataloger;

impl Cataloger for GoCataloger {
    fn name(&self) -> &'static str {
        "go"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        (base_name(path) == "go.mod").then_some(MAX_GO_MOD)
    }
    fn extractor(&self, _path: &str, mode: u32, size: u64) -> Option<&dyn Extractor> {
        exe::offered(mode, size).then_some(&EXE as &dyn Extractor)
    }
    fn catalog(&self, vfs: &Vfs, _: Option<&OsRelease>, found: &mut Found) {
        each_file(vfs, |path, file| match file.extracted_by {
            Some(exe::NAME) => match exe::decode(&file.data) {
                Some(exe::Extracted::Go(info)) => {
                    go::binary_packages(&info.go_version, &info.modinfo, path, found)
                }
                Some(exe::Extracted::Rust { .. }) => {}
                None => warn(
                    found,
                    "extracted-data-unreadable",
                    format!("{path}: {}", exe::NAME),
                ),
            },
            None if base_name(path) == "go.mod" => {
                go::go_mod_packages(&String::from_utf8_lossy(&file.data), path, found)
            }
            _ => {}
        });
    }
}

/// `cargo auditable` binaries and `Cargo.lock` files.
pub struct RustCataloger;

impl Cataloger for RustCataloger {
    fn name(&self) -> &'static str {
        "rust"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        (base_name(path) == "Cargo.lock").then_some(MAX_CARGO_LOCK)
    }
    fn extractor(&self, _path: &str, mode: u32, size: u64) -> Option<&dyn Extractor> {
        exe::offered(mode, size).then_some(&EXE as &dyn Extractor)
    }
    fn catalog(&self, vfs: &Vfs, _: Option<&OsRelease>, found: &mut Found) {
        each_file(vfs, |path, file| match file.extracted_by {
            Some(exe::NAME) => {
                if let Some(exe::Extracted::Rust { crates }) = exe::decode(&file.data) {
                    rust::binary_packages(&crates, path, found);
                }
            }
            None if base_name(path) == "Cargo.lock" => {
                rust::lock_packages(&String::from_utf8_lossy(&file.data), path, found)
            }
            _ => {}
        });
    }
}

/// Java archives.
pub struct JavaCataloger;

impl Cataloger for JavaCataloger {
    fn name(&self) -> &'static str {
        "java-archive"
    }
    fn wants(&self, _path: &str) -> Option<u64> {
        None
    }
    fn extractor(&self, path: &str, _mode: u32, size: u64) -> Option<&dyn Extractor> {
        java::offered(path, size).then_some(&JAR as &dyn Extractor)
    }
    fn catalog(&self, vfs: &Vfs, _: Option<&OsRelease>, found: &mut Found) {
        each_file(vfs, |path, file| {
            if file.extracted_by != Some(java::NAME) {
                return;
            }
            match serde_json::from_slice::<java::archive::Archives>(&file.data) {
                Ok(tree) => java::archive_packages(&tree, path, found),
                Err(e) => warn(
                    found,
                    "extracted-data-unreadable",
                    format!("{path}: {}: {e}", java::NAME),
                ),
            }
        });
    }
}

/// The Java, Go and Rust catalogers (Java first: an executable `.jar` is an archive).
pub fn binary_catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(JavaCataloger),
        Box::new(GoCataloger),
        Box::new(RustCataloger),
    ]
}
