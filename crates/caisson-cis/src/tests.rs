//! Unit tests of the whole run on hand-built facts live in tests/; this
//! module holds the catalog's own invariants.

use crate::catalog::{self, CHECKS};
use crate::model::Benchmark;

#[test]
fn catalog_ids_are_unique_per_benchmark() {
    for b in [Benchmark::V1_7, Benchmark::V1_8] {
        let mut ids: Vec<&str> = CHECKS.iter().filter_map(|c| c.id(b)).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "{b:?}");
    }
    let mut keys: Vec<&str> = CHECKS.iter().map(|c| c.key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), CHECKS.len());
}

#[test]
fn v18_renumbers_section_2() {
    let tls = catalog::by_key("daemon-tls").unwrap();
    assert_eq!((tls.v17, tls.v18), (Some("2.7"), Some("2.8")));
    assert_eq!(
        catalog::by_id(Benchmark::V1_8, "2.7").unwrap().key,
        "daemon-devicemapper"
    );
    assert!(catalog::by_id(Benchmark::V1_7, "2.19").is_none());
    assert_eq!(
        catalog::by_id(Benchmark::V1_8, "2.19").unwrap().key,
        "daemon-experimental"
    );
    assert_eq!(
        catalog::by_id(Benchmark::V1_8, "5.4"),
        catalog::by_id(Benchmark::V1_7, "5.4")
    );
}

#[test]
fn section_selection() {
    assert!(catalog::selected_by("5.4", "5"));
    assert!(catalog::selected_by("1.1.3", "1.1"));
    assert!(!catalog::selected_by("5.14", "5.1"));
    assert!(catalog::selected_by("5.1", "5.1"));
}
