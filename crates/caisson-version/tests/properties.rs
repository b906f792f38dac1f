//! Property tests: for every ecosystem, on random and adversarial strings,
//! `Ord` on parsed `Version`s is a total order (reflexive, antisymmetric,
//! transitive — Maven included), `compare` agrees with `Version::tool_cmp`,
//! which is `Ord` for every ecosystem but Maven (whose own
//! `ComparableVersion` has cycles; `src/maven.rs` checks where they differ),
//! and nothing panics.

use std::cmp::Ordering;

use caisson_version::{compare, compare_lenient, Ecosystem, Version};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "0",
    "1",
    "2",
    "9",
    "10",
    "01",
    "00",
    "007",
    "123456789012345678901234",
    ".",
    "-",
    "_",
    "+",
    "~",
    "^",
    ":",
    "!",
    "v",
    "a",
    "b",
    "c",
    "p",
    "r",
    "x",
    "z",
    "A",
    "rc",
    "RC",
    "alpha",
    "beta",
    "pre",
    "post",
    "dev",
    "snapshot",
    "SNAPSHOT",
    "sp",
    "ga",
    "final",
    "pl",
    "patch",
    "stable",
    "git",
    "-r1",
    "_p1",
    "_rc1",
    "1:",
    "+incompatible",
    "é",
    " ",
];

fn version_str() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(TOKENS), 1..8).prop_map(|v| v.concat()),
        1 => "[0-9a-zA-Z.+~^:_!-]{0,12}",
        1 => any::<String>(),
    ]
}

fn triple() -> impl Strategy<Value = (String, String, String)> {
    (version_str(), version_str(), version_str(), version_str()).prop_map(|(base, x, y, z)| {
        (
            format!("{base}{x}"),
            format!("{base}{y}"),
            format!("{base}{z}"),
        )
    })
}

fn check_total(eco: Ecosystem, a: &str, b: &str, c: &str) -> Result<(), TestCaseError> {
    let parsed: Vec<Option<Version>> = [a, b, c].iter().map(|s| eco.parse(s).ok()).collect();
    for (s, p) in [a, b, c].iter().zip(&parsed) {
        for (t, q) in [a, b, c].iter().zip(&parsed) {
            let direct = compare(eco, s, t);
            match (p, q) {
                (Some(p), Some(q)) => {
                    prop_assert_eq!(
                        direct.as_ref().ok(),
                        Some(&p.tool_cmp(q)),
                        "{} {:?} vs {:?}",
                        eco,
                        s,
                        t
                    );
                    if eco != Ecosystem::Maven {
                        prop_assert_eq!(p.tool_cmp(q), p.cmp(q), "{} {:?} vs {:?}", eco, s, t);
                    }
                    prop_assert_eq!(
                        q.tool_cmp(p),
                        p.tool_cmp(q).reverse(),
                        "{} tool antisymmetry {:?} {:?}",
                        eco,
                        s,
                        t
                    );
                    prop_assert_eq!(
                        q.cmp(p),
                        p.cmp(q).reverse(),
                        "{} antisymmetry {:?} {:?}",
                        eco,
                        s,
                        t
                    );
                    prop_assert_eq!(p == q, p.cmp(q) == Ordering::Equal);
                }
                _ => prop_assert!(
                    direct.is_err(),
                    "{} {:?} vs {:?} should fail to parse",
                    eco,
                    s,
                    t
                ),
            }
        }
        if let Some(p) = p {
            prop_assert_eq!(p.cmp(p), Ordering::Equal, "{} reflexive {:?}", eco, s);
        }
    }
    let mut valid: Vec<&Version> = parsed.iter().flatten().collect();
    valid.sort();
    for w in valid.windows(3) {
        if let [x, y, z] = w {
            prop_assert!(x <= y && y <= z && x <= z, "{} transitivity", eco);
        }
    }
    for x in &valid {
        for y in &valid {
            for z in &valid {
                if x <= y && y <= z {
                    prop_assert!(x <= z, "{} transitivity {:?} {:?} {:?}", eco, a, b, c);
                }
            }
        }
    }
    Ok(())
}

/// The lenient order (the tool's, plus OSV's fallback rules for what the
/// tool rejects) is total too, leaves valid versions as `parse` reads them,
/// and `compare_lenient` agrees with it.
fn check_lenient_total(eco: Ecosystem, a: &str, b: &str, c: &str) -> Result<(), TestCaseError> {
    let with_str: Vec<(&str, Version)> = [a, b, c]
        .into_iter()
        .filter_map(|s| {
            let l = eco.parse_lenient(s).ok()?;
            if let Ok(strict) = eco.parse(s) {
                assert!(!l.is_fallback(), "{eco}: valid {s:?} marked fallback");
                assert_eq!(strict.cmp(&l), Ordering::Equal, "{eco}: {s:?}");
            }
            Some((s, l))
        })
        .collect();
    let parsed: Vec<&Version> = with_str.iter().map(|(_, v)| v).collect();
    for (s, p) in &with_str {
        for (t, q) in &with_str {
            if p.is_fallback() || q.is_fallback() {
                prop_assert_eq!(
                    compare_lenient(eco, s, t).ok(),
                    Some(p.tool_cmp(q)),
                    "{} {:?} vs {:?}",
                    eco,
                    s,
                    t
                );
            }
            prop_assert_eq!(q.cmp(p), p.cmp(q).reverse(), "{} lenient antisymmetry", eco);
        }
    }
    for x in &parsed {
        for y in &parsed {
            for z in &parsed {
                if x <= y && y <= z {
                    prop_assert!(
                        x <= z,
                        "{} lenient transitivity {:?} {:?} {:?}",
                        eco,
                        a,
                        b,
                        c
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn every_scheme_is_a_total_order((a, b, c) in triple()) {
        for eco in Ecosystem::ALL {
            check_total(eco, &a, &b, &c)?;
            check_lenient_total(eco, &a, &b, &c)?;
        }
    }
}

#[test]
fn versions_of_different_ecosystems_still_order() {
    let a = Ecosystem::PyPI.parse("1.0").expect("valid");
    let b = Ecosystem::Npm.parse("1.0.0").expect("valid");
    assert_ne!(a, b);
    assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
}
