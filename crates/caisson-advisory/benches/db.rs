//! Open and lookup times of a database holding every snapshot under
//! /work/shared/data (OSV PyPI, Go, crates.io, npm, Maven; Alpine secdb).
//! Run: `cargo bench -p caisson-advisory --bench db`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;

use caisson_advisory::{import_paths, Database, UpdateOptions};
use caisson_model::AdvisorySource;
use criterion::{criterion_group, criterion_main, Criterion};

fn shared() -> PathBuf {
    let p = PathBuf::from("/work/shared/data");
    if p.is_dir() {
        p
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
    }
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut paths: Vec<PathBuf> = ["PyPI", "Go", "crates.io", "npm", "Maven"]
        .iter()
        .map(|e| shared().join("osv").join(e).join("all.zip"))
        .collect();
    paths.push(shared().join("alpine-secdb"));
    let r = import_paths(&dir, &paths, &UpdateOptions::default(), &mut |_| {}).unwrap();
    assert!(r.swapped);

    c.bench_function("open", |b| {
        b.iter(|| black_box(Database::open(&dir).unwrap()))
    });
    let db = Database::open(&dir).unwrap();
    c.bench_function("lookup PyPI django", |b| {
        b.iter(|| black_box(db.advisories("PyPI", "Django").unwrap()))
    });
    c.bench_function("lookup Go stdlib", |b| {
        b.iter(|| black_box(db.advisories("Go", "stdlib").unwrap()))
    });
    c.bench_function("lookup Alpine:v3.11 openssl", |b| {
        b.iter(|| black_box(db.advisories("Alpine:v3.11", "openssl").unwrap()))
    });
    c.bench_function("lookup miss", |b| {
        b.iter(|| black_box(db.advisories("npm", "no-such-package").unwrap()))
    });
    c.bench_function("related_ids CVE", |b| {
        b.iter(|| black_box(db.related_ids("CVE-2020-28493").unwrap()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
