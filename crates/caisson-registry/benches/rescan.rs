//! Re-scan of stored SBOMs after an advisory update (issue: 10,000 stored
//! SBOMs of ~500 packages re-matched in under 10 s on the 2-core machine).
//!
//!     cargo bench -p caisson-registry --bench rescan
//!     RESCAN_IMAGES=2000 RESCAN_PACKAGES=300 cargo bench -p caisson-registry --bench rescan
//!
//! Setup: an advisory database imported from the real feed snapshots in
//! `shared/data` (PyPI, Go, crates.io, Maven, Alpine secdb; npm is held back
//! for the "update" step); a registry on a temp dir whose metadata store is
//! filled with the packages of N images. Each image = the packages of one
//! fixture image's SBOM (`~/.cache/caisson/fixtures/*/syft.cdx.json`, OS and
//! language packages) plus language packages drawn from the advisory
//! records (affected names at their event versions and neighbours): a
//! popular set most images share, and a long tail, up to ~500 packages.
//!
//! Measured, through `Registry::rescan` (the code `caisson serve` runs):
//! 1. full: nothing matched yet: every distinct lookup matched, every image's
//!    findings computed and recorded (history line + event per image);
//! 2. no-op: same database again (every lookup re-matched, nothing changed);
//! 3. update: npm advisories imported (the database file swaps), re-scan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use caisson_advisory::{import_paths, UpdateOptions};
use caisson_model::{OsRelease, Package, PackageType, Sbom};
use caisson_oci::Digest;
use caisson_registry::scan::{scanned_packages, ScanConfig};
use caisson_registry::store::{HistoryEntry, ScanRecord, ScanState, ScanStore};
use caisson_registry::{open_embedded, Config};
use caisson_testsupport::advisory_data::{data_dir, fnv, neighbours, osv_zip};

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// Language packages from the advisory records.
fn advisory_packages() -> Vec<Package> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (eco, ty, purl_ty) in [
        ("PyPI", PackageType::Python, "pypi"),
        ("npm", PackageType::Npm, "npm"),
        ("Go", PackageType::Golang, "golang"),
        ("crates.io", PackageType::Cargo, "cargo"),
        ("Maven", PackageType::Maven, "maven"),
    ] {
        for r in osv_zip(eco) {
            for a in r["affected"].as_array().into_iter().flatten() {
                let name = a["package"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let versions: Vec<String> = a["ranges"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|r| r["events"].as_array().into_iter().flatten())
                    .flat_map(|e| {
                        e.as_object()
                            .into_iter()
                            .flatten()
                            .filter_map(|(_, v)| v.as_str().map(str::to_string))
                    })
                    .filter(|v| v != "0")
                    .flat_map(|v| {
                        let mut n = neighbours(&v);
                        n.push(v);
                        n
                    })
                    .collect();
                for v in versions {
                    if seen.insert((ty, name.clone(), v.clone())) {
                        out.push(Package::found(
                            ty,
                            &name,
                            &v,
                            format!("pkg:{purl_ty}/{name}@{v}"),
                            "/bench",
                        ));
                    }
                }
            }
        }
    }
    // Deterministic order, independent of the zip's.
    out.sort_by_key(|p| fnv(&format!("{}{}", p.name, p.version)));
    out
}

/// The fixture images' SBOMs (syft's, read by caisson's CycloneDX reader).
fn fixture_bases() -> Vec<Sbom> {
    let root = caisson_testsupport::fixtures_root().expect("fixtures (scripts/fixtures)");
    let mut out = Vec::new();
    for name in [
        "debian",
        "debian-extra",
        "alpine",
        "distroless",
        "rpm",
        "lang-python-node",
        "lang-binaries",
    ] {
        let path = root.join(name).join("syft.cdx.json");
        let Ok(bytes) = fs_err::read(&path) else {
            continue;
        };
        let (mut sbom, _) = caisson_report::read_sbom(&bytes).expect("fixture SBOM");
        if sbom.os.is_none() {
            sbom.os = Some(OsRelease {
                id: "debian".into(),
                version_id: Some("12".into()),
                ..OsRelease::default()
            });
        }
        out.push(sbom);
    }
    assert!(!out.is_empty(), "no fixture SBOMs");
    out
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn main() {
    let images = env_usize("RESCAN_IMAGES", 10_000);
    let per_image = env_usize("RESCAN_PACKAGES", 500);
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("db");
    let data = data_dir();
    let feeds: Vec<PathBuf> = vec![
        data.join("osv/PyPI/all.zip"),
        data.join("osv/Go/all.zip"),
        data.join("osv/crates.io/all.zip"),
        data.join("osv/Maven/all.zip"),
        data.join("alpine-secdb"),
    ];
    import_paths(&db, &feeds, &UpdateOptions::default(), &mut |_| {}).expect("import");

    let pool = advisory_packages();
    let popular = pool.len().min(4000);
    let bases = fixture_bases();
    println!(
        "pool: {} advisory packages ({} popular), {} fixture bases ({} packages)",
        pool.len(),
        popular,
        bases.len(),
        bases.iter().map(|b| b.packages.len()).sum::<usize>()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config {
        scan: ScanConfig {
            workers: 0,
            db_dir: Some(db.clone()),
            ..ScanConfig::default()
        },
        ..Config::default()
    };
    let reg = Arc::new(open_embedded(&tmp.path().join("data"), config).expect("registry"));

    // Fill the store as scans would.
    let t = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut total_packages = 0usize;
    let mut distinct = BTreeSet::new();
    rt.block_on(async {
        for i in 0..images {
            let base = &bases[i % bases.len()];
            let mut sbom = Sbom {
                os: base.os.clone(),
                packages: base.packages.iter().take(per_image).cloned().collect(),
                ..Sbom::default()
            };
            while sbom.packages.len() < per_image {
                // 90 % from the popular head, 10 % from the long tail.
                let p = if rng.below(10) < 9 {
                    &pool[rng.below(popular)]
                } else {
                    &pool[rng.below(pool.len())]
                };
                sbom.packages.push(p.clone());
            }
            let pkgs = scanned_packages(&sbom);
            total_packages += pkgs.len();
            for p in &pkgs {
                distinct.insert(p.query.clone());
            }
            let digest = Digest::sha256(format!("image-{i}").as_bytes());
            reg.meta()
                .record_scan(
                    ScanRecord {
                        repo: format!("bench/app{}", i % 100),
                        digest,
                        state: ScanState::Scanned,
                        reason: None,
                        sbom_digest: None,
                        sbom_manifest: None,
                        scanned_ms: 0,
                        packages: pkgs.len() as u64,
                    },
                    pkgs,
                    HistoryEntry {
                        time_ms: 0,
                        kind: "scan".into(),
                        detail: serde_json::json!({}),
                    },
                )
                .await
                .expect("record scan");
        }
    });
    println!(
        "stored {images} images, {total_packages} package rows ({:.0} per image), {} distinct lookups in {:.1} s",
        total_packages as f64 / images as f64,
        distinct.len(),
        t.elapsed().as_secs_f64()
    );

    let mut events = reg.subscribe();
    let mut run = |label: &str| {
        let t = Instant::now();
        let r = rt.block_on(reg.rescan()).expect("rescan");
        let secs = t.elapsed().as_secs_f64();
        let mut n = 0u64;
        loop {
            match events.try_recv() {
                Ok(_) => n += 1,
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(k)) => n += k,
                Err(_) => break,
            }
        }
        println!(
            "{label:>8}: {secs:6.2} s  lookups {} changed {} | images affected {} changed {} | events {n} | match {} ms, load {} ms, diff {} ms, store {} ms",
            r.lookups, r.changed_lookups, r.affected_digests, r.changed_digests,
            r.match_ms, r.load_ms, r.diff_ms, r.store_ms
        );
        secs
    };
    let full = run("full");
    let noop = run("no-op");
    import_paths(
        &db,
        &[data.join("osv/npm/all.zip")],
        &UpdateOptions::default(),
        &mut |_| {},
    )
    .expect("import npm");
    let update = run("update");
    println!(
        "summary: {images} images x ~{per_image} packages: full re-match {full:.2} s, no-op {noop:.2} s, npm update {update:.2} s (target < 10 s: {})",
        if full < 10.0 { "met" } else { "NOT met" }
    );
}
