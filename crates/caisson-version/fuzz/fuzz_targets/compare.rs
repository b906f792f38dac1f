//! Arbitrary bytes never panic, and every scheme's `Ord` stays a total order
//! on the three strings the input is split into (antisymmetric and
//! transitive, Maven included). `compare` is the tool's exact answer
//! (`Version::tool_cmp`), which for Maven may be cyclic, so only its
//! antisymmetry is checked.
#![no_main]

use std::cmp::Ordering;

use caisson_version::{compare, Ecosystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1f}');
    let a = parts.next().unwrap_or_default();
    let b = parts.next().unwrap_or_default();
    let c = parts.next().unwrap_or_default();
    for eco in Ecosystem::ALL {
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
