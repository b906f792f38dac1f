//! Identifiers survive rendering: purls unchanged, SPDX ids valid and unique,
//! CycloneDX bom-refs unique, and every reference points at something.

mod common;

use std::collections::HashSet;

use caisson_model::Sbom;
use caisson_report::{to_string, Format};
use serde_json::Value;

fn render(format: Format, sbom: &Sbom) -> Value {
    let text = to_string(format, sbom, &common::opts()).expect("renders");
    serde_json::from_str(&text).expect("JSON")
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn is_valid_spdx_id(id: &str) -> bool {
    id.strip_prefix("SPDXRef-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    })
}

#[test]
fn purls_are_carried_through_unchanged() {
    for (name, sbom) in common::all() {
        let want: Vec<&str> = sbom
            .packages
            .iter()
            .map(|p| p.purl.as_str())
            .filter(|p| !p.is_empty())
            .collect();

        let cdx = render(Format::CycloneDxJson, &sbom);
        let mut got_cdx: Vec<&str> = arr(&cdx, "components")
            .iter()
            .filter_map(|c| c["purl"].as_str())
            .collect();

        let spdx = render(Format::SpdxJson, &sbom);
        let mut got_spdx: Vec<&str> = arr(&spdx, "packages")
            .iter()
            .flat_map(|p| arr(p, "externalRefs"))
            .filter(|r| r["referenceType"] == "purl")
            .filter_map(|r| r["referenceLocator"].as_str())
            .collect();

        let mut want = want.clone();
        want.sort_unstable();
        got_cdx.sort_unstable();
        got_spdx.sort_unstable();
        assert_eq!(got_cdx, want, "{name}: CycloneDX purls");
        assert_eq!(got_spdx, want, "{name}: SPDX purls");
    }
}

#[test]
fn spdx_ids_are_valid_unique_and_resolvable() {
    for (name, sbom) in common::all() {
        let doc = render(Format::SpdxJson, &sbom);
        let ids: Vec<&str> = arr(&doc, "packages")
            .iter()
            .filter_map(|p| p["SPDXID"].as_str())
            .collect();
        assert_eq!(
            ids.len(),
            sbom.packages.len() + 1 + usize::from(sbom.os.is_some())
        );
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{name}: duplicate SPDXIDs in {ids:?}"
        );
        for id in &ids {
            assert!(is_valid_spdx_id(id), "{name}: invalid SPDXID {id:?}");
        }
        let rels = arr(&doc, "relationships");
        let describes: Vec<&Value> = rels
            .iter()
            .filter(|r| r["relationshipType"] == "DESCRIBES")
            .collect();
        assert_eq!(describes.len(), 1, "{name}");
        assert_eq!(describes[0]["spdxElementId"], "SPDXRef-DOCUMENT");
        assert_eq!(describes[0]["relatedSpdxElement"], "SPDXRef-Image");
        let contained: HashSet<&str> = rels
            .iter()
            .filter(|r| r["relationshipType"] == "CONTAINS")
            .inspect(|r| assert_eq!(r["spdxElementId"], "SPDXRef-Image"))
            .filter_map(|r| r["relatedSpdxElement"].as_str())
            .collect();
        let expected: HashSet<&str> = unique
            .iter()
            .copied()
            .filter(|i| *i != "SPDXRef-Image")
            .collect();
        assert_eq!(
            contained, expected,
            "{name}: image CONTAINS every other package"
        );
    }
}

#[test]
fn spdx_ids_for_tricky_names() {
    let doc = render(Format::SpdxJson, &common::debian());
    let ids: Vec<String> = arr(&doc, "packages")
        .iter()
        .filter(|p| p["name"] == "libstdc++6")
        .filter_map(|p| p["SPDXID"].as_str().map(String::from))
        .collect();
    assert_eq!(ids.len(), 2, "amd64 and i386 libstdc++6 are both present");
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        assert!(id.starts_with("SPDXRef-Package-deb-libstdc--6-"), "{id}");
    }
}

/// Two packages with the very same id (a cataloger bug) still get distinct ids.
#[test]
fn duplicate_package_ids_still_give_unique_refs() {
    let mut sbom = common::odd();
    let first = sbom.packages[0].clone();
    sbom.packages.push(first);
    let cdx = render(Format::CycloneDxJson, &sbom);
    let refs: Vec<&str> = arr(&cdx, "components")
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    assert_eq!(
        refs.iter().collect::<HashSet<_>>().len(),
        refs.len(),
        "{refs:?}"
    );
    let spdx = render(Format::SpdxJson, &sbom);
    let ids: Vec<&str> = arr(&spdx, "packages")
        .iter()
        .filter_map(|p| p["SPDXID"].as_str())
        .collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "{ids:?}"
    );
}

#[test]
fn cyclonedx_refs_are_unique_and_dependencies_resolve() {
    for (name, sbom) in common::all() {
        let doc = render(Format::CycloneDxJson, &sbom);
        let mut refs: Vec<&str> = arr(&doc, "components")
            .iter()
            .filter_map(|c| c["bom-ref"].as_str())
            .collect();
        let image = doc["metadata"]["component"]["bom-ref"]
            .as_str()
            .unwrap_or_default();
        refs.push(image);
        let set: HashSet<&str> = refs.iter().copied().collect();
        assert_eq!(set.len(), refs.len(), "{name}: duplicate bom-refs");
        for dep in arr(&doc, "dependencies") {
            assert!(
                set.contains(dep["ref"].as_str().unwrap_or_default()),
                "{name}"
            );
            for d in arr(dep, "dependsOn") {
                assert!(
                    set.contains(d.as_str().unwrap_or_default()),
                    "{name}: dangling {d}"
                );
            }
        }
        // Package ids are used verbatim as bom-refs.
        for p in &sbom.packages {
            assert!(set.contains(p.id.as_str()), "{name}: {} missing", p.id);
        }
    }
}

#[test]
fn rpm_epoch_and_caisson_properties() {
    let doc = render(Format::CycloneDxJson, &common::rocky());
    let ssl = arr(&doc, "components")
        .iter()
        .find(|c| c["name"] == "openssl-libs")
        .expect("openssl-libs present");
    assert_eq!(ssl["version"], "1:3.0.7-24.el9");
    let props: Vec<(String, String)> = arr(ssl, "properties")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (k, v) in [
        ("caisson:package:epoch", "1"),
        ("caisson:package:arch", "x86_64"),
        ("caisson:package:sourceName", "openssl-3.0.7-24.el9.src.rpm"),
        ("caisson:layer:index", "0"),
        ("caisson:location:path", "/var/lib/rpm/rpmdb.sqlite"),
    ] {
        assert!(
            props.contains(&(k.into(), v.into())),
            "{k}={v} missing from {props:?}"
        );
    }
    assert!(props.iter().all(|(k, _)| k.starts_with("caisson:")));
    // Non-SPDX rpm licence strings become names, never ids.
    assert_eq!(ssl["licenses"][0]["license"]["name"], "ASL 2.0");
}
