//! Arbitrary bytes never panic, and every scheme's `Ord` stays a total order
//! on the three strings the input is split into (antisymmetric and
//! transitive, Maven included). `compare` is the tool's exact answer
//! (`Version::tool_cmp`), which for Maven may be cyclic, so only its
//! antisymmetry is checked. The lenient order (`parse_lenient`: OSV's
//! fallback rules for what the tool rejects) is total as well, leaves every
//! valid version as `parse` reads it, and `compare_lenient` agrees with it.
#![no_main]

use std::cmp::Ordering;

use caisson_version::{compare, compare_lenient, Ecosystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1f}');
    let a = parts.next().unwrap_or_default();
    let b = parts.next().unwrap_or_default();
    let c = parts.next().unwrap_or_default();
    for eco in Ecosystem::ALL {
        lenient(eco, a, b, c);
        let ab = compare(eco, a, b);
        let ba = compare(eco, b, a);
        match (&ab, &ba) {
            (Ok(x), Ok(y)) => assert_eq!(*x, y.reverse(), "{eco}: antisymmetry {a:?} {b:?}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{eco}: {a:?} vs {b:?} parses one way only"),
        }
        if let Ok(v) = eco.parse(a) {
            assert_eq!(v.cmp(&v), Ordering::Equal);
        }
        let (Ok(pa), Ok(pb), Ok(pc)) = (eco.parse(a), eco.parse(b), eco.parse(c)) else {
            continue;
        };
        assert_eq!(compare(eco, a, c).ok(), Some(pa.tool_cmp(&pc)));
        if eco != Ecosystem::Maven {
            assert_eq!(pa.tool_cmp(&pc), pa.cmp(&pc), "{eco}: {a:?} vs {c:?}");
        }
        let v = [&pa, &pb, &pc];
        for x in v {
            for y in v {
                assert_eq!(x.cmp(y), y.cmp(x).reverse(), "{eco}: antisymmetry");
                for z in v {
                    if x <= y && y <= z {
                        assert!(x <= z, "{eco}: transitivity {a:?} {b:?} {c:?}");
                    }
                }
            }
        }
    }
});

fn lenient(eco: Ecosystem, a: &str, b: &str, c: &str) {
    for s in [a, b, c] {
        if let (Ok(strict), Ok(l)) = (eco.parse(s), eco.parse_lenient(s)) {
            assert!(!l.is_fallback(), "{eco}: valid {s:?} marked as fallback");
            assert_eq!(strict.cmp(&l), Ordering::Equal, "{eco}: {s:?}");
        }
    }
    let (Ok(pa), Ok(pb), Ok(pc)) = (
        eco.parse_lenient(a),
        eco.parse_lenient(b),
        eco.parse_lenient(c),
    ) else {
        return;
    };
    assert_eq!(
        compare_lenient(eco, a, b).ok(),
        Some(pa.tool_cmp(&pb)),
        "{eco}: {a:?} {b:?}"
    );
    let v = [&pa, &pb, &pc];
    for x in v {
        for y in v {
            assert_eq!(x.cmp(y), y.cmp(x).reverse(), "{eco}: lenient antisymmetry");
            for z in v {
                if x <= y && y <= z {
                    assert!(x <= z, "{eco}: lenient transitivity {a:?} {b:?} {c:?}");
                }
            }
        }
    }
}
