//! Every version string in the advisory snapshots (`shared/data`: the OSV
//! zips of PyPI, Go, crates.io, npm and Maven, and Alpine's secdb), under the
//! ordering the matcher gives it (`ECOSYSTEM` ranges and listed versions by
//! the package's ecosystem, `SEMVER` ranges by SemVer, secdb fixed versions
//! by apk):
//!
//! - how many the ecosystem's own rules accept, how many only OSV's fallback
//!   orders, and how many nothing orders are asserted exactly;
//! - all of them sort (`Ord` is total on real data), and the sorted list
//!   agrees with the tools on every adjacent pair of strictly valid versions
//!   (packaging, apk-tools 3, node-semver, Cargo's `semver` crate);
//! - PyPI legacy versions: every adjacent pair that involves one agrees with
//!   packaging 21.3, the last release with `LegacyVersion`, which is the
//!   scheme OSV's fallback follows (characters outside `[a-z0-9.-]`, which
//!   OSV's tokeniser drops, are mapped to `.` first);
//! - the Alpine and npm strings only the fallback orders sit exactly where
//!   OSV's rules put them (hand-checked against those rules: no Go
//!   toolchain with the reference package is available here).

mod support;

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::process::Command;

use caisson_testsupport::advisory_data::{data_dir, osv_zip};
use caisson_version::{compare_lenient, Ecosystem, Version};
use serde_json::Value;
use support::*;

/// Distinct version strings of one snapshot, per ordering.
fn osv_versions(ecosystem: &str) -> Vec<(Ecosystem, BTreeSet<String>)> {
    let mut eco_set = BTreeSet::new();
    let mut semver_set = BTreeSet::new();
    let scheme: Ecosystem = ecosystem.parse().expect("known ecosystem");
    for record in osv_zip(ecosystem) {
        for entry in record["affected"].as_array().into_iter().flatten() {
            if entry["package"]["ecosystem"].as_str() != Some(ecosystem) {
                continue;
            }
            for range in entry["ranges"].as_array().into_iter().flatten() {
                let set = match range["type"].as_str() {
                    Some("ECOSYSTEM") => &mut eco_set,
                    Some("SEMVER") => &mut semver_set,
                    _ => continue,
                };
                for event in range["events"].as_array().into_iter().flatten() {
                    for (kind, v) in event.as_object().into_iter().flatten() {
                        let Some(v) = v.as_str() else { continue };
                        // `introduced: "0"` and `limit: "*"` are not versions.
                        if (kind == "introduced" && v == "0") || (kind == "limit" && v == "*") {
                            continue;
                        }
                        set.insert(v.to_string());
                    }
                }
            }
            for v in entry["versions"].as_array().into_iter().flatten() {
                eco_set.extend(v.as_str().map(str::to_string));
            }
        }
    }
    // The matcher drops a `v` before SemVer parsing (Go's versions carry one).
    let semver_set = semver_set
        .into_iter()
        .map(|v| v.strip_prefix('v').map_or(v.clone(), str::to_string))
        .collect();
    vec![(scheme, eco_set), (Ecosystem::SemVer, semver_set)]
}

fn alpine_versions() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let root = data_dir().join("alpine-secdb");
    let mut files: Vec<_> = fs_err::read_dir(&root)
        .expect("secdb dir")
        .flat_map(|d| {
            let d = d.expect("dir entry").path();
            fs_err::read_dir(&d)
                .expect("release dir")
                .map(|f| f.expect("file").path())
                .collect::<Vec<_>>()
        })
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for f in files {
        let doc: Value = serde_json::from_slice(&fs_err::read(&f).expect("read")).expect("JSON");
        for p in doc["packages"].as_array().into_iter().flatten() {
            for v in p["pkg"]["secfixes"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
            {
                out.insert(v.clone());
            }
        }
    }
    out
}

struct Sorted {
    strict: usize,
    fallback: Vec<String>,
    unorderable: Vec<String>,
    /// Every orderable string, ascending.
    sorted: Vec<(String, Version)>,
}

fn classify(eco: Ecosystem, set: &BTreeSet<String>) -> Sorted {
    let mut out = Sorted {
        strict: 0,
        fallback: Vec::new(),
        unorderable: Vec::new(),
        sorted: Vec::new(),
    };
    for s in set {
        match eco.parse_lenient(s) {
            Ok(v) => {
                if v.is_fallback() {
                    assert!(
                        eco.parse(s).is_err(),
                        "{eco}: {s:?} is valid but marked fallback"
                    );
                    out.fallback.push(s.clone());
                } else {
                    assert!(
                        eco.parse(s).is_ok(),
                        "{eco}: {s:?} is invalid but not marked"
                    );
                    out.strict += 1;
                }
                out.sorted.push((s.clone(), v));
            }
            Err(_) => out.unorderable.push(s.clone()),
        }
    }
    out.sorted.sort_by(|a, b| a.1.cmp(&b.1));
    // Sorting did not hide an inconsistency: every adjacent pair is `<=`
    // both ways round, and `compare_lenient` on the strings agrees.
    for w in out.sorted.windows(2) {
        let [(a, va), (b, vb)] = w else { continue };
        assert_ne!(va.cmp(vb), Ordering::Greater, "{eco}: {a:?} {b:?}");
        assert_eq!(vb.cmp(va), va.cmp(vb).reverse(), "{eco}: {a:?} {b:?}");
        assert_eq!(
            compare_lenient(eco, a, b).ok(),
            Some(va.tool_cmp(vb)),
            "{eco}: {a:?} {b:?}"
        );
    }
    out
}

/// Adjacent pairs of the sorted list, keeping those `keep` selects.
fn adjacent(
    sorted: &[(String, Version)],
    keep: impl Fn(&Version, &Version) -> bool,
) -> Vec<(String, String)> {
    sorted
        .windows(2)
        .filter_map(|w| match w {
            [(a, va), (b, vb)] if keep(va, vb) => Some((a.clone(), b.clone())),
            _ => None,
        })
        .collect()
}

fn both_strict(a: &Version, b: &Version) -> bool {
    !a.is_fallback() && !b.is_fallback()
}

fn ours(eco: Ecosystem, pairs: &[(String, String)]) -> Vec<&'static str> {
    pairs
        .iter()
        .map(|(a, b)| support::ours(compare_lenient(eco, a, b)))
        .collect()
}

fn position(eco: Ecosystem, v: &str, above: &str, below: &str) {
    let lt = |a: &str, b: &str| compare_lenient(eco, a, b) == Ok(Ordering::Less);
    assert!(lt(above, v), "{eco}: expected {above:?} < {v:?}");
    assert!(lt(v, below), "{eco}: expected {v:?} < {below:?}");
}

#[test]
fn pypi_snapshot_versions_all_order() {
    let sets = osv_versions("PyPI");
    let [(eco, set), (_, semver)] = sets.as_slice() else {
        panic!("two sets");
    };
    let eco = *eco;
    assert!(semver.is_empty());
    let s = classify(eco, set);
    assert_eq!(
        (set.len(), s.strict, s.fallback.len()),
        (13_064, 12_987, 77),
        "{:?}",
        s.fallback
    );
    assert!(s.unorderable.is_empty(), "{:?}", s.unorderable);

    // Legacy versions sort below every PEP 440 version.
    let first_valid = s
        .sorted
        .iter()
        .position(|(_, v)| !v.is_fallback())
        .expect("valid");
    assert_eq!(first_valid, 77);

    let ok = Command::new("python3")
        .args(["-c", "import packaging.version"])
        .status()
        .is_ok_and(|st| st.success());
    if require("python3 packaging", ok) {
        let pairs = adjacent(&s.sorted, both_strict);
        let mut cmd = Command::new("python3");
        cmd.arg(oracle_script("pypi_oracle.py"));
        assert_agree(
            "PyPI (strict)",
            &pairs,
            &run_oracle(cmd, &pairs),
            &ours(eco, &pairs),
        );
    }
    let legacy = cache_dir().join("packaging21");
    if require(
        "packaging 21.3 (pip install --target $CAISSON_CACHE/oracles/packaging21 packaging==21.3)",
        legacy.join("packaging/version.py").exists(),
    ) {
        let pairs = adjacent(&s.sorted, |a, b| a.is_fallback() || b.is_fallback());
        assert_eq!(pairs.len(), 77);
        let mut cmd = Command::new("python3");
        cmd.arg(oracle_script("pypi_legacy_oracle.py"))
            .env("PYTHONPATH", &legacy);
        assert_agree(
            "PyPI (legacy)",
            &pairs,
            &run_oracle(cmd, &pairs),
            &ours(eco, &pairs),
        );
    }
    position(eco, "0.3m1", "0.3m", "0.0.1.dev0");
    position(eco, "2.0.0-final", "1.0-final", "0");
    assert_eq!(
        compare_lenient(eco, "5.0-final", "5.0-FINAL"),
        Ok(Ordering::Equal)
    );
}

#[test]
fn alpine_secdb_fixed_versions_all_order() {
    let eco = Ecosystem::Alpine;
    let set = alpine_versions();
    let s = classify(eco, &set);
    assert_eq!((set.len(), s.strict), (1_411, 1_396));
    assert_eq!(
        s.fallback,
        [
            "0.12.5.-r0",
            "0.8.21.r2",
            "1.0.4.-r0",
            "1.11-20-r0",
            "1.18.-r2",
            "1.7.5.-r1",
            "10.2.22.r0",
            "10.2.24.r0",
            "10.2.26.r0",
            "2.15.r-r1",
            "2.7.16-33",
            "4.10-1-r1",
            "4.8.0.-r1",
            "57-1-r2",
            "6.6.2p1-r0",
        ]
    );
    assert!(s.unorderable.is_empty(), "{:?}", s.unorderable);

    // Where OSV's rules put each one. A trailing dot is ignored: the same
    // version as without it.
    let eq =
        |a: &str, b: &str| assert_eq!(compare_lenient(eco, a, b), Ok(Ordering::Equal), "{a} {b}");
    eq("1.18.-r2", "1.18-r2");
    eq("0.12.5.-r0", "0.12.5-r0");
    eq("1.0.4.-r0", "1.0.4-r0");
    eq("1.7.5.-r1", "1.7.5-r1");
    eq("4.8.0.-r1", "4.8.0-r1");
    // `.r2` reads as the letter `r` and a remainder `2`: just below `0.8.21r`,
    // so above every `0.8.21-rN` and `0.8.21_pN`.
    position(eco, "0.8.21.r2", "0.8.21_p9-r9", "0.8.21r");
    position(eco, "10.2.22.r0", "10.2.22-r99", "10.2.22r");
    // `r-r1`: the letter `r`, then a valid `-r1`.
    eq("2.15.r-r1", "2.15r-r1");
    // A remainder that is not `-rN`: just below the version read so far.
    position(eco, "2.7.16-33", "2.7.15-r9", "2.7.16");
    position(eco, "2.7.16-33", "2.7.16_rc1", "2.7.16");
    position(eco, "1.11-20-r0", "1.10-r9", "1.11");
    position(eco, "4.10-1-r1", "4.9.9", "4.10");
    position(eco, "57-1-r2", "56-r9", "57");
    position(eco, "6.6.2p1-r0", "6.6.2_p1-r0", "6.6.2p");
    // Two remainders of the same version order by their strings.
    position(eco, "10.2.24.r0", "10.2.22.r0", "10.2.26.r0");

    let fixture = fixtures_dir().join("alpine/rootfs");
    let ok = fixture.join("sbin/apk").exists() && fixtures_dir().join("alpine/.stamp").exists();
    if require_from(
        "apk-tools 3 (Alpine fixture rootfs)",
        ok,
        "scripts/fixtures --only alpine",
    ) {
        let pairs = adjacent(&s.sorted, both_strict);
        let mut cmd = Command::new("sh");
        cmd.arg(oracle_script("apk_oracle.sh")).arg(&fixture);
        assert_agree(
            "Alpine (strict)",
            &pairs,
            &run_oracle(cmd, &pairs),
            &ours(eco, &pairs),
        );
    }
}

#[test]
fn npm_snapshot_versions_all_order() {
    let sets = osv_versions("npm");
    let mut checked = 0;
    for (eco, set) in &sets {
        let s = classify(*eco, set);
        assert!(s.unorderable.is_empty(), "{eco}: {:?}", s.unorderable);
        if *eco == Ecosystem::Npm {
            assert_eq!(
                (set.len(), s.fallback.as_slice()),
                (37, ["1.0".to_string()].as_slice())
            );
            // Short versions read as zero-padded.
            assert_eq!(compare_lenient(*eco, "1.0", "1.0.0"), Ok(Ordering::Equal));
            position(*eco, "1.0", "1.0.0-rc.1", "1.0.1");
        } else {
            assert!(s.fallback.is_empty(), "{eco}: {:?}", s.fallback);
        }
        if !s.sorted.is_empty()
            && require(
                "node + semver",
                cache_dir()
                    .join("node/node_modules/semver/package.json")
                    .exists(),
            )
        {
            let pairs = adjacent(&s.sorted, both_strict);
            let mut cmd = Command::new("node");
            cmd.arg(oracle_script("npm_oracle.js"))
                .env("CAISSON_NODE_ORACLE", cache_dir().join("node"));
            assert_agree(
                eco.name(),
                &pairs,
                &run_oracle(cmd, &pairs),
                &ours(*eco, &pairs),
            );
            checked += pairs.len();
        }
    }
    eprintln!("npm: {checked} adjacent pairs checked");
}

/// Go and crates.io ranges are all `SEMVER`; every string is strict SemVer,
/// and the sorted list agrees with Cargo's `semver` crate.
#[test]
fn go_crates_and_maven_snapshot_versions_all_strict() {
    for (name, expected) in [("Go", 2_485), ("crates.io", 614), ("Maven", 20)] {
        let mut total = 0;
        for (eco, set) in osv_versions(name) {
            let s = classify(eco, &set);
            assert!(
                s.fallback.is_empty() && s.unorderable.is_empty(),
                "{name} {eco}: {:?} {:?}",
                s.fallback,
                s.unorderable
            );
            total += set.len();
            if eco == Ecosystem::SemVer {
                for (a, b) in adjacent(&s.sorted, both_strict) {
                    let p = |x: &str| semver::Version::parse(x).expect("cargo semver parses");
                    assert_eq!(
                        compare_lenient(eco, &a, &b).ok(),
                        Some(p(&a).cmp_precedence(&p(&b))),
                        "{name}: {a} {b}"
                    );
                }
            }
        }
        assert_eq!(total, expected, "{name}");
    }
}
