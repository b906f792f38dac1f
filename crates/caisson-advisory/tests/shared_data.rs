#![allow(clippy::unwrap_used)]
//! Imports every snapshot under /work/shared/data and checks the database
//! against the README's counts and the raw JSON.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::Instant;

use caisson_advisory::{import, Database, Limits, SourceOutcome};
use caisson_model::AdvisorySource;
use serde_json::Value;
use support::*;

fn raw_zip_record(zip: &std::path::Path, name: &str) -> Value {
    let f = fs_err::File::open(zip).expect("open zip");
    let mut z = zip::ZipArchive::new(f).expect("zip");
    let mut s = String::new();
    z.by_name(name)
        .expect("entry")
        .read_to_string(&mut s)
        .expect("read");
    serde_json::from_str(&s).expect("json")
}

#[test]
fn osv_zip_counts_match_readme_minus_withdrawn() {
    // README: records (withdrawn).
    let expected: BTreeMap<&str, (usize, usize)> = [
        ("PyPI", (2661, 10)),
        ("Go", (4291, 17)),
        ("crates.io", (1205, 13)),
        ("npm", (15, 0)),
        ("Maven", (7, 0)),
    ]
    .into_iter()
    .collect();
    for (eco, path) in osv_zips() {
        let bytes = fs_err::read(&path).expect("read zip");
        let out = import::osv_zip(&bytes, &Limits::default()).expect("import");
        let (records, withdrawn) = expected[eco];
        assert_eq!(out.stats.withdrawn, withdrawn, "{eco} withdrawn");
        assert_eq!(out.advisories.len(), records - withdrawn, "{eco} records");
        assert_eq!(
            out.stats.warning_count, 0,
            "{eco}: {:?}",
            out.stats.warnings
        );
        assert!(out.advisories.iter().all(|a| a.withdrawn.is_none()));
    }
}

/// Oracle for the Alpine conversion, computed straight from the raw JSON:
/// distinct (release, package, CVE-ish id) with a fixed version other than `0`.
fn alpine_expected() -> (usize, usize, usize) {
    let mut advisories = 0;
    let mut entries = 0;
    let mut zero = 0;
    for f in alpine_files() {
        let doc: Value = serde_json::from_slice(&fs_err::read(&f).expect("read")).expect("json");
        let Some(pkgs) = doc["packages"].as_array() else {
            continue;
        };
        for p in pkgs {
            let mut ids = BTreeSet::new();
            for (ver, list) in p["pkg"]["secfixes"].as_object().into_iter().flatten() {
                for item in list.as_array().into_iter().flatten() {
                    entries += 1;
                    if ver == "0" {
                        zero += 1;
                        continue;
                    }
                    let text = item.as_str().expect("string");
                    let id = text
                        .split_whitespace()
                        .find_map(|t| {
                            let t = t.to_ascii_uppercase();
                            let rest = t.strip_prefix("CVE-")?;
                            let digits: Vec<&str> = rest.splitn(2, '-').collect();
                            let year = digits.first()?;
                            let num: String = digits
                                .get(1)?
                                .chars()
                                .take_while(|c| c.is_ascii_digit())
                                .collect();
                            (year.len() == 4 && num.len() >= 4).then(|| format!("CVE-{year}-{num}"))
                        })
                        .unwrap_or_else(|| {
                            text.split_whitespace().next().unwrap_or("").to_string()
                        });
                    ids.insert(id);
                }
            }
            advisories += ids.len();
        }
    }
    (advisories, entries, zero)
}

#[test]
fn alpine_secdb_counts_and_conventions() {
    let (expected, entries, zero) = alpine_expected();
    assert_eq!(entries, 12028, "README: 12028 CVE entries");
    let mut total = 0;
    let mut not_affected = 0;
    for f in alpine_files() {
        let out = import::alpine_secdb(&fs_err::read(&f).expect("read"), &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        total += out.advisories.len();
        not_affected += out.stats.not_affected;
        let rel = f.parent().unwrap().file_name().unwrap().to_str().unwrap();
        for a in &out.advisories {
            assert_eq!(a.affected.len(), 1);
            let p = a.affected[0].package.as_ref().unwrap();
            assert_eq!(p.ecosystem, format!("Alpine:{rel}"));
            assert!(!a.affected[0].ranges.is_empty());
            for r in &a.affected[0].ranges {
                assert_eq!(r.kind, "ECOSYSTEM");
                assert_eq!(r.events[0].introduced.as_deref(), Some("0"));
                assert_ne!(r.events[1].fixed.as_deref(), Some("0"));
            }
        }
    }
    assert_eq!(total, expected);
    assert_eq!(not_affected, zero);
    assert!(zero >= 1, "the README mentions one `0` version");

    // Spot check against the raw file: v3.11 main, openssl.
    let raw: Value = serde_json::from_slice(
        &fs_err::read(shared_data().join("alpine-secdb/v3.11/main.json")).unwrap(),
    )
    .unwrap();
    let openssl = raw["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pkg"]["name"] == "openssl")
        .expect("openssl in v3.11 main");
    let (ver, cves) = openssl["pkg"]["secfixes"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let cve = cves[0].as_str().unwrap().split_whitespace().next().unwrap();
    let out = import::alpine_secdb(
        &fs_err::read(shared_data().join("alpine-secdb/v3.11/main.json")).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let adv = out
        .advisories
        .iter()
        .find(|a| a.id == cve && a.affected[0].package.as_ref().unwrap().name == "openssl")
        .expect("advisory for the first openssl CVE");
    assert!(adv.affected[0]
        .ranges
        .iter()
        .any(|r| r.events[1].fixed.as_deref() == Some(ver.as_str())));
}

#[test]
fn full_database_lookups_aliases_status_and_open_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut paths: Vec<_> = osv_zips().into_iter().map(|(_, p)| p).collect();
    paths.push(shared_data().join("alpine-secdb"));
    let t = Instant::now();
    let report = import(&dir, &paths);
    eprintln!("import of all shared data: {:?}", t.elapsed());
    let (alpine_expected, _, _) = alpine_expected();
    let records: Vec<usize> = report
        .sources
        .iter()
        .map(|(_, o)| match o {
            SourceOutcome::Updated { stats, .. } => stats.records,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(records, vec![2651, 4274, 1192, 15, 7, alpine_expected]);

    let t = Instant::now();
    let db = Database::open(&dir).expect("open");
    let open_time = t.elapsed();
    eprintln!("open: {open_time:?}");
    // Sanity bound only; the bench has the real numbers (about 1 ms).
    assert!(open_time.as_millis() < 500, "open took {open_time:?}");

    // PYSEC-2021-66 (jinja2), compared with the raw record.
    let raw = raw_zip_record(
        &shared_data().join("osv/PyPI/all.zip"),
        "PYSEC-2021-66.json",
    );
    let found = db.advisories("PyPI", "Jinja2").expect("lookup");
    let adv = found
        .iter()
        .find(|a| a.id == "PYSEC-2021-66")
        .expect("PYSEC-2021-66 for jinja2");
    // Stored as imported, less the listed versions the ranges already cover.
    let mut expected: caisson_model::Advisory = serde_json::from_value(raw.clone()).unwrap();
    caisson_match::bounds::prune_covered_versions(&mut expected);
    assert_eq!(
        serde_json::to_value(&adv.affected).unwrap(),
        serde_json::to_value(&expected.affected).unwrap()
    );
    assert_eq!(
        adv.aliases,
        serde_json::from_value::<Vec<String>>(raw["aliases"].clone()).unwrap()
    );
    assert_eq!(
        adv.affected[0].ranges[0].events[1].fixed.as_deref(),
        Some("2.11.3")
    );

    // A withdrawn record is not in the database.
    assert!(db.advisories_by_id("PYSEC-2019-144").unwrap().is_empty());

    // Name normalisation per ecosystem.
    assert!(
        !db.advisories("crates.io", "Smallvec").unwrap().is_empty()
            || !db.advisories("crates.io", "smallvec").unwrap().is_empty()
    );
    let a = db.advisories("PyPI", "django").unwrap();
    let b = db.advisories("PyPI", "DJANGO").unwrap();
    assert!(!a.is_empty());
    assert_eq!(a, b);

    // Releases: v3.11 and 3.11 meet; a release matches only itself; no release matches all.
    let v311 = db.advisories("Alpine:v3.11", "openssl").unwrap();
    assert!(!v311.is_empty());
    assert_eq!(v311, db.advisories("Alpine:3.11", "openssl").unwrap());
    assert!(v311.iter().all(|a| a
        .affected
        .iter()
        .any(|x| x.package.as_ref().unwrap().ecosystem == "Alpine:v3.11")));
    let all = db.advisories("Alpine", "openssl").unwrap();
    assert!(all.len() > v311.len());
    assert!(db.advisories("Alpine:v3.99", "openssl").unwrap().is_empty());

    // Alias merging: the CVE is reachable from the GHSA and the PYSEC id.
    let pysec = raw_zip_record(
        &shared_data().join("osv/PyPI/all.zip"),
        "PYSEC-2021-66.json",
    );
    let aliases: Vec<String> = serde_json::from_value(pysec["aliases"].clone()).unwrap();
    let cve = aliases
        .iter()
        .find(|a| a.starts_with("CVE-"))
        .expect("a CVE alias");
    let ghsa = aliases
        .iter()
        .find(|a| a.starts_with("GHSA-"))
        .expect("a GHSA alias");
    for start in [cve.as_str(), ghsa.as_str(), "PYSEC-2021-66"] {
        let ids = db.related_ids(start).unwrap();
        for want in [cve.as_str(), ghsa.as_str(), "PYSEC-2021-66"] {
            assert!(
                ids.contains(want),
                "{want} not reachable from {start}: {ids:?}"
            );
        }
    }
    assert!(db
        .advisories_by_id(cve)
        .unwrap()
        .iter()
        .any(|a| a.id == "PYSEC-2021-66"));
    // GHSA record (npm lodash) found by its CVE.
    let lodash = raw_zip_record(
        &shared_data().join("osv/npm/all.zip"),
        "GHSA-jf85-cpcp-j695.json",
    );
    let lodash_cve = lodash["aliases"][0].as_str().unwrap();
    assert!(db
        .advisories_by_id(lodash_cve)
        .unwrap()
        .iter()
        .any(|a| a.id == "GHSA-jf85-cpcp-j695"));

    // Status.
    let st = db.status().unwrap();
    assert_eq!(st.schema_version, caisson_advisory::SCHEMA_VERSION);
    // Range versions the tools reject (issue 15): every one is ordered by
    // OSV's fallback rules, none is unorderable. Only the PyPI, npm and
    // Alpine sources have any (caisson-version's tests/feeds.rs pins the
    // distinct strings: 2 PyPI event versions, 1 npm, 15 secdb).
    let mut with_fallback: Vec<&str> = st
        .sources
        .iter()
        .inspect(|s| {
            eprintln!(
                "{}: {} fallback-ordered, {} unorderable range versions",
                s.name, s.fallback_versions, s.unorderable_versions
            )
        })
        .filter(|s| s.fallback_versions > 0)
        .map(|s| s.format.as_str())
        .collect();
    with_fallback.sort_unstable();
    assert!(st.sources.iter().all(|s| s.unorderable_versions == 0));
    assert_eq!(
        with_fallback,
        ["alpine-secdb", "osv-zip", "osv-zip"],
        "{:?}",
        st.sources
    );
    assert_eq!(st.sources.len(), 6);
    assert_eq!(st.advisories as usize, records.iter().sum::<usize>());
    let pypi = st
        .ecosystems
        .iter()
        .find(|e| e.ecosystem == "PyPI")
        .unwrap();
    assert!(
        pypi.advisories >= 2600 && pypi.advisories <= 2651,
        "{pypi:?}"
    );
    assert!(st
        .ecosystems
        .iter()
        .any(|e| e.ecosystem == "Alpine" && e.release == "3.11"));
    assert!(st
        .sources
        .iter()
        .all(|s| s.age_seconds() < 3600 && s.fetched_at > 0));
}
