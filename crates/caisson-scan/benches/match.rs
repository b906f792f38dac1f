//! The scan's hot path against its targets (issue: match 10,000 packages in
//! < 100 ms; open the database in < 50 ms), on a database imported from the
//! real feed snapshots in `shared/data` and 10,000 packages drawn from those
//! advisories (every affected name at its event versions and their neighbours, so most
//! lookups hit records and evaluate ranges).
//!
//!     cargo bench -p caisson-scan --bench match
//!
//! Prints criterion's timings (also single lookups) and a summary line
//! against the targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use caisson_advisory::{import_paths, Database, UpdateOptions};
use caisson_model::{AdvisorySource, Package, PackageType, Sbom};
use caisson_testsupport::advisory_data::{data_dir, fnv, neighbours, osv_zip};
use caisson_testsupport::package;
use criterion::{criterion_group, criterion_main, Criterion};

/// The allocator the `caisson` binary ships with.
#[global_allocator]
static GLOBAL: regorus_mimalloc::mimalloc::Mimalloc = regorus_mimalloc::mimalloc::Mimalloc;

const PACKAGES: usize = 10_000;

fn database() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = data_dir();
    let mut paths: Vec<PathBuf> = ["PyPI", "Go", "crates.io", "npm", "Maven"]
        .iter()
        .map(|e| data.join("osv").join(e).join("all.zip"))
        .collect();
    paths.push(data.join("alpine-secdb"));
    import_paths(tmp.path(), &paths, &UpdateOptions::default(), &mut |_| {}).expect("import");
    let dir = tmp.path().to_path_buf();
    (tmp, dir)
}

fn packages() -> Vec<Package> {
    let mut out = Vec::new();
    for (eco, ty, prefix) in [
        ("PyPI", PackageType::Python, ""),
        ("Go", PackageType::Golang, "v"),
        ("crates.io", PackageType::Cargo, ""),
        ("npm", PackageType::Npm, ""),
        ("Maven", PackageType::Maven, ""),
    ] {
        for r in osv_zip(eco) {
            for a in r["affected"].as_array().into_iter().flatten() {
                let name = a["package"]["name"].as_str().unwrap_or_default();
                let events = a["ranges"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|r| r["events"].as_array().into_iter().flatten());
                for e in events {
                    for v in e
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter_map(|(_, v)| v.as_str())
                    {
                        if v != "0" {
                            for v in std::iter::once(v.to_string()).chain(neighbours(v)) {
                                out.push(package(ty, name, &format!("{prefix}{v}")));
                            }
                        }
                    }
                }
            }
        }
    }
    out.sort_by_key(|p| fnv(&p.id));
    out.dedup_by(|a, b| a.id == b.id);
    out.truncate(PACKAGES);
    assert_eq!(
        out.len(),
        PACKAGES,
        "enough package versions in the snapshots"
    );
    out
}

/// An image-like set: every package name the snapshots know, once, at a
/// version past its last event (mostly clean, as in a maintained image),
/// padded with names no advisory mentions.
fn typical_packages() -> Vec<Package> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (eco, ty, version) in [
        ("PyPI", PackageType::Python, "9999.0"),
        ("Go", PackageType::Golang, "v9999.0.0"),
        ("crates.io", PackageType::Cargo, "9999.0.0"),
        ("npm", PackageType::Npm, "9999.0.0"),
        ("Maven", PackageType::Maven, "9999.0"),
    ] {
        for r in osv_zip(eco) {
            for a in r["affected"].as_array().into_iter().flatten() {
                let name = a["package"]["name"].as_str().unwrap_or_default();
                if seen.insert((eco, name.to_string())) {
                    out.push(package(ty, name, version));
                }
            }
        }
    }
    out.truncate(PACKAGES);
    let known = out.len();
    out.extend(
        (known..PACKAGES).map(|i| package(PackageType::Npm, &format!("unlisted-{i}"), "1.0.0")),
    );
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let (_tmp, dir) = database();
    let sbom = Sbom {
        packages: packages(),
        ..Sbom::default()
    };

    let typical = Sbom {
        packages: typical_packages(),
        ..Sbom::default()
    };
    // `MATCH_PROFILE=typical|vulnerable`: only loop that match for 10 s,
    // for `perf record` (no criterion, no summary).
    if let Ok(which) = std::env::var("MATCH_PROFILE") {
        let set = if which == "typical" { &typical } else { &sbom };
        let db = Database::open(&dir).expect("open");
        let start = Instant::now();
        let mut runs = 0u32;
        while start.elapsed() < Duration::from_secs(10) {
            black_box(
                caisson_match::match_sbom(set, &db, &caisson_scan::cvss_rating).expect("match"),
            );
            runs += 1;
        }
        println!(
            "PROFILE {which}: {:.1} ms per match",
            start.elapsed().as_secs_f64() * 1e3 / f64::from(runs)
        );
        return;
    }
    c.bench_function("db_open", |b| {
        b.iter(|| Database::open(&dir).expect("open"))
    });
    let db = Database::open(&dir).expect("open");
    for (eco, name) in [
        ("PyPI", "Django"),
        ("Go", "stdlib"),
        ("Alpine:v3.11", "openssl"),
        ("npm", "no-such-package"),
    ] {
        c.bench_function(&format!("lookup {eco} {name}"), |b| {
            b.iter(|| black_box(db.advisories(eco, name).expect("lookup")))
        });
    }
    let mut group = c.benchmark_group("match");
    group.sample_size(20);
    group.bench_function("10k_vulnerable_packages", |b| {
        b.iter(|| caisson_match::match_sbom(&sbom, &db, &caisson_scan::cvss_rating).expect("match"))
    });
    group.bench_function("10k_typical_packages", |b| {
        b.iter(|| {
            caisson_match::match_sbom(&typical, &db, &caisson_scan::cvss_rating).expect("match")
        })
    });
    group.finish();

    // Summary against the targets, cold caches per iteration (a new
    // connection each time, as one `caisson scan` process has).
    let open = median(
        (0..20)
            .map(|_| {
                let t = Instant::now();
                let db = Database::open(&dir).expect("open");
                let d = t.elapsed();
                drop(db);
                d
            })
            .collect(),
    );
    let fresh = |sbom: &Sbom| {
        let mut findings = 0;
        let t = median(
            (0..10)
                .map(|_| {
                    let db = Database::open(&dir).expect("open");
                    let t = Instant::now();
                    let out = caisson_match::match_sbom(sbom, &db, &caisson_scan::cvss_rating)
                        .expect("match");
                    let d = t.elapsed();
                    findings = out.findings.len();
                    d
                })
                .collect(),
        );
        (t.as_secs_f64() * 1e3, findings)
    };
    let (typical_ms, typical_n) = fresh(&typical);
    let (vuln_ms, vuln_n) = fresh(&sbom);
    println!(
        "SUMMARY db_open median {:.2} ms (target < 50 ms); match of {PACKAGES} packages on a \
         fresh connection (target < 100 ms): typical image {typical_ms:.1} ms ({typical_n} \
         findings), every package vulnerable {vuln_ms:.1} ms ({vuln_n} findings)",
        open.as_secs_f64() * 1e3,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
