//! Catalogers: turn the files captured from an image into packages.
//!
//! A [`Cataloger`] names the files it reads (or extracts from) and lists
//! packages from a view. This crate holds OS identification and the OS
//! catalogers ([`os_catalogers`]: dpkg, apk, rpm); language catalogers live in
//! their own crates and plug in through the same trait. [`Catalogers`] is the
//! union the image reader is given as its `Interest`; [`catalog`] runs every
//! cataloger over the final view and attributes each package to the layer
//! that introduced it (the earliest layer from which the package, with the
//! same version, stays present in every later layer).

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

use caisson_image::{Extractor, Squashed, Vfs};
use caisson_model::{OsRelease, Package, PackageType, Sbom, SourceInfo, Warning};

pub use os::{identify_os, parse_os_release};

/// Largest package database captured (rpmdb of a large RHEL image is ~100 MiB).
const MAX_DB_BYTES: u64 = 512 << 20;
/// Largest small metadata file (os-release, .list, copyright).
const MAX_SMALL_BYTES: u64 = 8 << 20;

/// Output of catalogers over one view.
#[derive(Debug, Default)]
pub struct Found {
    pub packages: Vec<Package>,
    pub warnings: Vec<Warning>,
}

/// One kind of package database or metadata.
pub trait Cataloger: Sync {
    /// Stable name, e.g. `dpkg`, `python-dist-info`.
    fn name(&self) -> &'static str;
    /// Largest size of `path` to capture, or `None` when not needed.
    fn wants(&self, path: &str) -> Option<u64>;
    /// An extractor for files not captured whole (binaries, archives).
    fn extractor(&self, _path: &str, _mode: u32, _size: u64) -> Option<&dyn Extractor> {
        None
    }
    /// Lists the packages found in `vfs`. Leaves `Package::id` and `layer` empty.
    fn catalog(&self, vfs: &Vfs, os: Option<&OsRelease>, found: &mut Found);
}

struct Os;
struct Dpkg;
struct Apk;
struct Rpm;

impl Cataloger for Os {
    fn name(&self) -> &'static str {
        "os-release"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        os::wants(path).then_some(MAX_SMALL_BYTES)
    }
    fn catalog(&self, _: &Vfs, _: Option<&OsRelease>, _: &mut Found) {}
}

impl Cataloger for Dpkg {
    fn name(&self) -> &'static str {
        "dpkg"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        if dpkg::wants_small(path) {
            Some(MAX_SMALL_BYTES)
        } else {
            dpkg::wants_db(path).then_some(MAX_DB_BYTES)
        }
    }
    fn catalog(&self, vfs: &Vfs, os: Option<&OsRelease>, found: &mut Found) {
        dpkg::catalog(vfs, os, found);
    }
}

impl Cataloger for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        apk::wants(path).then_some(MAX_DB_BYTES)
    }
    fn catalog(&self, vfs: &Vfs, os: Option<&OsRelease>, found: &mut Found) {
        apk::catalog(vfs, os, found);
    }
}

impl Cataloger for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }
    fn wants(&self, path: &str) -> Option<u64> {
        rpm::wants(path).then_some(MAX_DB_BYTES)
    }
    fn catalog(&self, vfs: &Vfs, os: Option<&OsRelease>, found: &mut Found) {
        rpm::catalog(vfs, os, found);
    }
}

/// OS identification and the OS package catalogers.
pub fn os_catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![Box::new(Os), Box::new(Dpkg), Box::new(Apk), Box::new(Rpm)]
}

/// A set of catalogers, also the image reader's `Interest` (the union of theirs;
/// the largest capture limit wins, the first extractor offered wins).
pub struct Catalogers(pub Vec<Box<dyn Cataloger>>);

impl Catalogers {
    /// Only the OS catalogers.
    pub fn os() -> Catalogers {
        Catalogers(os_catalogers())
    }

    fn run(&self, vfs: &Vfs, os: Option<&OsRelease>) -> Found {
        let mut found = Found::default();
        for c in &self.0 {
            c.catalog(vfs, os, &mut found);
        }
        found
    }
}

impl caisson_image::Interest for Catalogers {
    fn wants(&self, path: &str) -> Option<u64> {
        self.0.iter().filter_map(|c| c.wants(path)).max()
    }
    fn extractor(&self, path: &str, mode: u32, size: u64) -> Option<&dyn Extractor> {
        self.0.iter().find_map(|c| c.extractor(path, mode, size))
    }
}

type Key = (PackageType, String, String, Option<String>, Option<String>);

/// A package's identity across layers. Language packages also carry their
/// first evidence path: two projects may hold the same name and version,
/// added by different layers.
fn key(p: &Package) -> Key {
    let at = if p.package_type.is_os() {
        None
    } else {
        p.locations.first().cloned()
    };
    (
        p.package_type,
        p.name.clone(),
        p.version.clone(),
        p.arch.clone(),
        at,
    )
}

/// Catalogs the squashed image and builds its SBOM.
pub fn catalog(catalogers: &Catalogers, squashed: &Squashed, source: SourceInfo) -> Sbom {
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
    let mut found = catalogers.run(last, os.as_ref());
    warnings.append(&mut found.warnings);

    // Layer attribution: key sets per snapshot, reusing the previous set when
    // no captured file changed in that layer.
    let mut sets: Vec<std::rc::Rc<HashSet<Key>>> = Vec::with_capacity(squashed.snapshots.len());
    let mut prev: Option<&Vfs> = None;
    for snap in &squashed.snapshots {
        let set = match (prev, sets.last()) {
            (Some(p), Some(s)) if p.same_files(snap) => s.clone(),
            _ => {
                let f = catalogers.run(snap, os.as_ref());
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
    mark_os_owned(&mut found.packages, last);
    Sbom {
        source,
        os,
        packages: found.packages,
        warnings,
    }
}

/// Sets `owned_by` on each language package whose evidence (a location, or
/// a file it lists) an OS package installed, to that OS package's id: Debian's
/// `python3-jinja2` owns `/usr/lib/python3/dist-packages/Jinja2-….egg-info`.
fn mark_os_owned(packages: &mut [Package], view: &Vfs) {
    let mut owner: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        if !p.package_type.is_os() {
            continue;
        }
        for f in &p.files {
            owner.entry(f.clone()).or_insert(i);
            // Merged /usr: a package may list /lib/x that the view holds at /usr/lib/x.
            if let Ok(real) = view.resolve(f) {
                if real != *f {
                    owner.entry(real).or_insert(i);
                }
            }
        }
    }
    if owner.is_empty() {
        return;
    }
    let owners: Vec<Option<String>> = packages
        .iter()
        .map(|p| {
            if p.package_type.is_os() {
                return None;
            }
            let i = p
                .locations
                .iter()
                .chain(&p.files)
                .find_map(|f| owner.get(f))?;
            packages.get(*i).map(|o| o.id.clone())
        })
        .collect();
    for (p, o) in packages.iter_mut().zip(owners) {
        if o.is_some() {
            p.owned_by = o;
        }
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
