//! `read_sbom` over real documents: Caisson's own JSON, CycloneDX and SPDX for
//! every OS fixture image (built by `scripts/fixtures`), generated in-process
//! with `caisson_sbom::generate` and `caisson_report::write`, and the CycloneDX
//! that syft and trivy wrote for the same images.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use caisson_model::{Package, PackageType, Sbom};
use caisson_report::{read_sbom, Format, RenderOptions};
use serde_json::Value;

const OS_FIXTURES: [&str; 6] = [
    "debian",
    "debian-extra",
    "distroless",
    "rpm",
    "alpine",
    "multiarch",
];

struct Fixture {
    name: &'static str,
    sbom: Sbom,
    syft: Option<PathBuf>,
    trivy: Option<PathBuf>,
}

fn fixtures(root: &Path) -> Vec<Fixture> {
    let m: Value = serde_json::from_slice(&fs_err::read(root.join("manifest.json")).expect("read"))
        .expect("manifest json");
    OS_FIXTURES
        .iter()
        .map(|name| {
            let fx = &m["fixtures"][*name];
            let oci = fx["oci"].as_str().expect("oci dir");
            let tag = fx["tag"].as_str().expect("tag");
            let source = format!("oci:{}:{tag}", root.join(oci).display());
            let sbom = caisson_sbom::generate(&source, &caisson_sbom::Options::default())
                .unwrap_or_else(|e| panic!("{name}: generating the SBOM: {e}"));
            assert!(!sbom.packages.is_empty(), "{name}: no packages");
            let path = |k: &str| fx[k].as_str().map(|p| root.join(p));
            Fixture {
                name,
                sbom,
                syft: path("syft"),
                trivy: path("trivy"),
            }
        })
        .collect()
}

fn render(format: Format, sbom: &Sbom) -> Vec<u8> {
    let opts = RenderOptions::new(sbom, "2024-05-01T12:00:00Z", "0.0.0-test");
    let mut out = Vec::new();
    caisson_report::write(format, sbom, &opts, &mut out).expect("render");
    out
}

type Identity = (
    PackageType,
    String,
    String,
    Option<u64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Everything the matcher uses, per package, as a sorted list (duplicates kept).
fn identities(s: &Sbom) -> Vec<Identity> {
    let mut v: Vec<Identity> = s
        .packages
        .iter()
        .map(|p| {
            (
                p.package_type,
                p.name.clone(),
                p.version.clone(),
                p.epoch,
                p.arch.clone(),
                p.source_name.clone(),
                p.source_version.clone(),
            )
        })
        .collect();
    v.sort();
    v
}

/// (name, arch, layer index and diff id) per package.
type LayerRow = (String, String, Option<(usize, String)>);

fn layers(s: &Sbom) -> Vec<LayerRow> {
    let mut v: Vec<_> = s
        .packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.arch.clone().unwrap_or_default(),
                p.layer.as_ref().map(|l| (l.index, l.diff_id.clone())),
            )
        })
        .collect();
    v.sort();
    v
}

fn os_of(s: &Sbom) -> (String, Option<String>) {
    let os = s.os.as_ref().expect("an OS");
    (os.id.clone(), os.version_id.clone())
}

#[test]
fn caisson_documents_read_back_to_the_same_packages() {
    let Some(root) = caisson_testsupport::fixtures_root() else {
        return;
    };
    for fx in fixtures(&root) {
        let name = fx.name;
        let original = &fx.sbom;

        let (json, warnings) = read_sbom(&render(Format::Json, original)).expect("read json");
        assert_eq!(&json, original, "{name}: Caisson JSON round trip is exact");
        assert!(warnings.is_empty(), "{name}: {warnings:?}");

        for format in [Format::CycloneDxJson, Format::SpdxJson] {
            let (read, warnings) = read_sbom(&render(format, original))
                .unwrap_or_else(|e| panic!("{name} {format}: {e}"));
            assert!(warnings.is_empty(), "{name} {format}: {warnings:?}");
            assert_eq!(
                identities(&read),
                identities(original),
                "{name} {format}: packages"
            );
            assert_eq!(os_of(&read), os_of(original), "{name} {format}: OS");
            // Both formats carry layers: CycloneDX in properties, SPDX in sourceInfo.
            assert_eq!(layers(&read), layers(original), "{name} {format}: layers");
            assert_eq!(
                read.source.layers, original.source.layers,
                "{name} {format}: image layers"
            );
            assert_eq!(read.source.reference, original.source.reference);
            assert_eq!(read.source.manifest_digest, original.source.manifest_digest);
            let ids: BTreeSet<&str> = read.packages.iter().map(|p| p.id.as_str()).collect();
            assert_eq!(
                ids.len(),
                read.packages.len(),
                "{name} {format}: ids unique"
            );
            if format == Format::CycloneDxJson {
                assert_eq!(read.os, original.os, "{name}: CycloneDX keeps the whole OS");
                let locs = |s: &Sbom| -> BTreeMap<String, Vec<String>> {
                    s.packages
                        .iter()
                        .map(|p| (p.id.clone(), p.locations.clone()))
                        .collect()
                };
                assert_eq!(locs(&read), locs(original), "{name}: locations and ids");
            }
        }
    }
}

/// (type, name, version with an rpm epoch) of the OS packages.
fn os_rows(s: &Sbom) -> BTreeSet<(PackageType, String, String)> {
    s.packages
        .iter()
        .filter(|p| p.package_type.is_os())
        .map(|p| {
            (
                p.package_type,
                p.name.clone(),
                caisson_report::display_version(p),
            )
        })
        .collect()
}

fn by_name_arch(s: &Sbom) -> BTreeMap<(String, String), &Package> {
    s.packages
        .iter()
        .filter(|p| p.package_type.is_os())
        .map(|p| ((p.name.clone(), p.arch.clone().unwrap_or_default()), p))
        .collect()
}

#[test]
fn syft_and_trivy_cyclonedx_read_to_the_same_os_packages_and_sources() {
    let Some(root) = caisson_testsupport::fixtures_root() else {
        return;
    };
    for fx in fixtures(&root) {
        let name = fx.name;
        let ours = &fx.sbom;
        for (tool, path) in [("syft", &fx.syft), ("trivy", &fx.trivy)] {
            let Some(path) = path else { continue };
            let (theirs, warnings) = read_sbom(&fs_err::read(path).expect("read"))
                .unwrap_or_else(|e| panic!("{name} {tool}: {e}"));
            eprintln!("{name} {tool}: warnings {warnings:?}");
            assert_eq!(os_rows(&theirs), os_rows(ours), "{name} {tool}: packages");
            assert_eq!(os_of(&theirs), os_of(ours), "{name} {tool}: OS");
            // Source packages: both tools record them (trivy in properties,
            // syft in the purl's `upstream` qualifier and its metadata).
            let mine = by_name_arch(ours);
            let mut checked = 0;
            for (key, p) in by_name_arch(&theirs) {
                let o = mine
                    .get(&key)
                    .unwrap_or_else(|| panic!("{name} {tool}: we lack {key:?}"));
                assert_eq!(
                    (&p.source_name, &p.source_version, p.epoch),
                    (&o.source_name, &o.source_version, o.epoch),
                    "{name} {tool}: source package of {key:?}"
                );
                checked += 1;
            }
            assert!(checked > 0, "{name} {tool}: nothing compared");
        }
    }
}
