//! Catalogers (dpkg, apk, rpm, OS identification): turn the files captured from an image into packages.
//!
//! [`OsInterest`] tells the image reader which files to keep; [`catalog`] runs
//! every cataloger over the final view and attributes each package to the
//! layer that introduced it (the earliest layer from which the package, with
//! the same version, stays present in every later layer).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
#![cfg_attr(
    test,
    allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod apk;
mod control;
mod dpkg;
mod os;
mod rpm;

use std::collections::HashSet;

use caisson_image::{Squashed, Vfs};
use caisson_model::{OsRelease, Package, PackageType, Sbom, SourceInfo, Warning};

pub use os::{identify_os, parse_os_release};

/// Largest package database captured (rpmdb of a large RHEL image is ~100 MiB).
const MAX_DB_BYTES: u64 = 512 << 20;
/// Largest small metadata file (os-release, .list, copyright).
const MAX_SMALL_BYTES: u64 = 8 << 20;

/// The files the OS catalogers read.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsInterest;

impl caisson_image::Interest for OsInterest {
    fn wants(&self, path: &str) -> Option<u64> {
        if os::wants(path) || dpkg::wants_small(path) {
            return Some(MAX_SMALL_BYTES);
        }
        if dpkg::wants_db(path) || apk::wants(path) || rpm::wants(path) {
            return Some(MAX_DB_BYTES);
        }
        None
    }
}

/// Output of one cataloger over one view.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub packages: Vec<Package>,
    pub warnings: Vec<Warning>,
}

fn catalog_view(vfs: &Vfs, os: Option<&OsRelease>) -> Found {
    let mut found = Found::default();
    dpkg::catalog(vfs, os, &mut found);
    apk::catalog(vfs, os, &mut found);
    rpm::catalog(vfs, os, &mut found);
    found
}

type Key = (PackageType, String, String, Option<String>);

fn key(p: &Package) -> Key {
    (
        p.package_type,
        p.name.clone(),
        p.version.clone(),
        p.arch.clone(),
    )
}

/// Catalogs the squashed image and builds its SBOM.
pub fn catalog(squashed: &Squashed, source: SourceInfo) -> Sbom {
    let mut warnings = squashed.warnings.clone();
    let empty = Vfs::default();
    let last = squashed.final_view().unwrap_or(&empty);
    let os = match identify_os(last) {
        Ok(os) => os,
        Err(w) => {
            warnings.push(w);
            None
        }
    };
    let mut found = catalog_view(last, os.as_ref());
    warnings.append(&mut found.warnings);

    // Layer attribution: key sets per snapshot, reusing the previous set when
    // no captured file changed in that layer.
    let mut sets: Vec<std::rc::Rc<HashSet<Key>>> = Vec::with_capacity(squashed.snapshots.len());
    let mut prev: Option<&Vfs> = None;
    for snap in &squashed.snapshots {
        let set = match (prev, sets.last()) {
            (Some(p), Some(s)) if p.same_files(snap) => s.clone(),
            _ => {
                let f = catalog_view(snap, os.as_ref());
                std::rc::Rc::new(f.packages.iter().map(key).collect())
            }
        };
        sets.push(set);
        prev = Some(snap);
    }
    for p in &mut found.packages {
        let k = key(p);
        let mut first = None;
        for (i, s) in sets.iter().enumerate().rev() {
            if s.contains(&k) {
                first = Some(i);
            } else {
                break;
            }
        }
        // Sources without layers (a root filesystem) have no layer to name.
        p.layer = first.and_then(|i| source.layers.get(i).cloned());
    }
    found.packages.sort_by(|a, b| {
        (a.package_type, &a.name, &a.version, &a.arch).cmp(&(
            b.package_type,
            &b.name,
            &b.version,
            &b.arch,
        ))
    });
    assign_ids(&mut found.packages);
    Sbom {
        source,
        os,
        packages: found.packages,
        warnings,
    }
}

/// Gives each package a stable, unique id: its purl, suffixed when two
/// packages share one (the same package recorded in two databases).
fn assign_ids(packages: &mut [Package]) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for p in packages {
        let n = seen.entry(p.purl.clone()).or_insert(0);
        *n += 1;
        p.id = if *n == 1 {
            p.purl.clone()
        } else {
            format!("{}#{}", p.purl, n)
        };
    }
}
