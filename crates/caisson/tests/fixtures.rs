//! `caisson sbom` over every fixture image (built by `scripts/fixtures`) and
//! every source syntax, compared with syft, trivy and the package managers'
//! own view of the same root filesystems.
//!
//! Differences between tools that are not bugs are listed in `known_differences`
//! with the reason; anything else fails.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use caisson_testsupport::fixtures_root;
use serde_json::Value;

fn manifest(root: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(root.join("manifest.json")).expect("manifest"))
        .expect("manifest json")
}

/// Runs `caisson sbom <source> -f json` and returns the document.
fn sbom(root: &std::path::Path, source: &str, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .current_dir(root)
        .args(["sbom", source, "-f", "json"])
        .args(extra)
        .output()
        .expect("caisson runs");
    assert!(
        out.status.success(),
        "caisson sbom {source} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

type Row = (String, String, String); // type, name, version

/// The OS fixtures this file covers; language fixtures have their own tests.
const OS_FIXTURES: [&str; 6] = [
    "debian",
    "debian-extra",
    "distroless",
    "rpm",
    "alpine",
    "multiarch",
];

fn os_fixtures(m: &Value) -> Vec<(&'static str, &Value)> {
    OS_FIXTURES
        .iter()
        .map(|n| {
            (
                *n,
                m["fixtures"]
                    .get(*n)
                    .unwrap_or_else(|| panic!("fixture {n} missing from manifest")),
            )
        })
        .collect()
}

/// OS packages (deb, apk, rpm) of a `caisson sbom` JSON document.
fn ours(doc: &Value) -> BTreeSet<Row> {
    doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| matches!(p["type"].as_str(), Some("deb" | "apk" | "rpm")))
        .map(|p| {
            let ty = p["type"].as_str().unwrap_or("").to_string();
            let version = match (ty.as_str(), p.get("epoch").and_then(Value::as_u64)) {
                ("rpm", Some(e)) => format!("{e}:{}", p["version"].as_str().unwrap_or("")),
                _ => p["version"].as_str().unwrap_or("").to_string(),
            };
            (ty, p["name"].as_str().unwrap_or("").to_string(), version)
        })
        .collect()
}

/// OS packages from a CycloneDX document written by syft or trivy.
fn cdx_os_packages(path: &std::path::Path) -> (BTreeSet<Row>, Vec<Value>) {
    let doc: Value =
        serde_json::from_slice(&std::fs::read(path).expect("cdx file")).expect("cdx json");
    let mut set = BTreeSet::new();
    let mut comps = Vec::new();
    for c in doc["components"].as_array().into_iter().flatten() {
        let purl = c["purl"].as_str().unwrap_or("");
        let ty = ["deb", "apk", "rpm"]
            .into_iter()
            .find(|t| purl.starts_with(&format!("pkg:{t}/")));
        if let Some(ty) = ty {
            let mut version = c["version"].as_str().unwrap_or("").to_string();
            // syft writes rpm epochs in the version (`1:2.3-4`), trivy as `epoch=` in the purl.
            if ty == "rpm" && !version.contains(':') {
                if let Some(e) = purl
                    .split(['?', '&'])
                    .find_map(|q| q.strip_prefix("epoch="))
                {
                    version = format!("{e}:{version}");
                }
            }
            set.insert((
                ty.to_string(),
                c["name"].as_str().unwrap_or("").to_string(),
                version,
            ));
            comps.push(c.clone());
        }
    }
    (set, comps)
}

fn prop<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    c["properties"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)?["value"]
        .as_str()
}

fn sources(fx: &Value) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(r) = fx["oci_ref"].as_str() {
        v.push(r.to_string());
    }
    if let (Some(a), Some(t)) = (fx["oci_archive"].as_str(), fx["tag"].as_str()) {
        v.push(format!("oci-archive:{a}:{t}"));
    }
    if let Some(a) = fx["docker_archive"].as_str() {
        v.push(format!("docker-archive:{a}"));
    }
    // The same image recompressed with zstd, where the fixture has one.
    let zstd = fx["dirs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|d| d.ends_with("/oci-zstd"));
    if let (Some(dir), Some(t)) = (zstd, fx["tag"].as_str()) {
        v.push(format!("oci:{dir}:{t}"));
    }
    v
}

#[test]
fn every_source_syntax_gives_the_same_packages_as_syft_and_trivy() {
    let Some(root) = fixtures_root() else { return };
    let m = manifest(&root);
    for (name, fx) in os_fixtures(&m) {
        let srcs = sources(fx);
        assert!(!srcs.is_empty(), "{name}: no sources");
        let first = ours(&sbom(&root, &srcs[0], &[]));
        assert!(!first.is_empty(), "{name}: no packages found");
        for s in &srcs[1..] {
            assert_eq!(
                ours(&sbom(&root, s, &[])),
                first,
                "{name}: {s} differs from {}",
                srcs[0]
            );
        }
        if let Some(rootfs) = fx["rootfs"].as_str() {
            // A rootfs has no layers; the package set must still match the image's.
            assert_eq!(
                ours(&sbom(&root, &format!("dir:{rootfs}"), &[])),
                first,
                "{name}: dir source differs"
            );
        }
        for tool in ["syft", "trivy"] {
            let Some(p) = fx[tool].as_str() else { continue };
            let (theirs, _) = cdx_os_packages(&root.join(p));
            let missing: Vec<_> = theirs.difference(&first).collect();
            let extra: Vec<_> = first.difference(&theirs).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{name}: differs from {tool}: {tool} has but caisson lacks {missing:?}; caisson has but {tool} lacks {extra:?}"
            );
        }
    }
}

#[test]
fn debian_packages_match_dpkg_query_including_source_packages() {
    let Some(root) = fixtures_root() else { return };
    let m = manifest(&root);
    for name in ["debian", "debian-extra"] {
        let fx = &m["fixtures"][name];
        let doc = sbom(&root, fx["oci_ref"].as_str().expect("oci ref"), &[]);
        // expected/dpkg.txt: `Package Version Architecture source:Package source:Version`, from dpkg-query.
        let expected: BTreeSet<String> =
            std::fs::read_to_string(root.join(name).join("expected/dpkg.txt"))
                .expect("dpkg.txt")
                .lines()
                .map(str::to_string)
                .collect();
        let got: BTreeSet<String> = doc["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| {
                format!(
                    "{} {} {} {} {}",
                    p["name"].as_str().unwrap_or(""),
                    p["version"].as_str().unwrap_or(""),
                    p["arch"].as_str().unwrap_or(""),
                    p["source_name"].as_str().unwrap_or(""),
                    p["source_version"].as_str().unwrap_or("")
                )
            })
            .collect();
        assert_eq!(got, expected, "{name}: caisson vs dpkg-query");
        assert_eq!(doc["os"]["id"], "debian");
        assert_eq!(doc["os"]["version_id"], "12");
    }
}

#[test]
fn layer_attribution_and_source_packages_agree_with_trivy() {
    let Some(root) = fixtures_root() else { return };
    let m = manifest(&root);
    for (name, fx) in os_fixtures(&m) {
        let (Some(src), Some(trivy)) = (fx["oci_ref"].as_str(), fx["trivy"].as_str()) else {
            continue;
        };
        let doc = sbom(&root, src, &[]);
        let (_, comps) = cdx_os_packages(&root.join(trivy));
        let mut by_name: BTreeMap<(String, String), &Value> = BTreeMap::new();
        for p in doc["packages"].as_array().expect("packages") {
            by_name.insert(
                (
                    p["name"].as_str().unwrap_or("").into(),
                    p["arch"].as_str().unwrap_or("").into(),
                ),
                p,
            );
        }
        let mut checked = 0;
        for c in &comps {
            let purl = c["purl"].as_str().unwrap_or("");
            let arch = purl
                .split(['?', '&'])
                .find_map(|q| q.strip_prefix("arch="))
                .unwrap_or("");
            let key = (
                c["name"].as_str().unwrap_or("").to_string(),
                arch.to_string(),
            );
            let ours = by_name
                .get(&key)
                .unwrap_or_else(|| panic!("{name}: caisson lacks {key:?}"));
            if let Some(diff) = prop(c, "aquasecurity:trivy:LayerDiffID") {
                assert_eq!(
                    ours["layer"]["diff_id"].as_str(),
                    Some(diff),
                    "{name}: layer of {key:?}"
                );
                checked += 1;
            }
            if let Some(src) = prop(c, "aquasecurity:trivy:SrcName") {
                assert_eq!(
                    ours["source_name"].as_str(),
                    Some(src),
                    "{name}: source of {key:?}"
                );
            }
        }
        assert!(
            checked > 0 || comps.is_empty(),
            "{name}: trivy recorded no layers to compare"
        );
    }
}

#[test]
fn purged_packages_and_whiteouts_disappear_from_the_final_view() {
    let Some(root) = fixtures_root() else { return };
    let m = manifest(&root);
    let fx = &m["fixtures"]["debian-extra"];
    let doc = sbom(&root, fx["oci_ref"].as_str().expect("oci ref"), &[]);
    let names: BTreeSet<&str> = doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    let purged =
        std::fs::read_to_string(root.join("debian-extra/expected/purged.txt")).expect("purged.txt");
    let mut n = 0;
    for p in purged.split_whitespace() {
        assert!(!names.contains(p), "purged package {p} still listed");
        n += 1;
    }
    assert!(n >= 2, "fixture purges at least two packages");
    // Packages added by layer 2 are attributed to layer 1 (0-based), the base to layer 0.
    let layers: BTreeSet<u64> = doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["layer"]["index"].as_u64())
        .collect();
    assert!(layers.contains(&0) && layers.contains(&1), "{layers:?}");
}

#[test]
fn multiarch_index_picks_the_requested_platform() {
    let Some(root) = fixtures_root() else { return };
    let m = manifest(&root);
    let fx = &m["fixtures"]["multiarch"];
    let src = fx["oci_ref"].as_str().expect("oci ref");
    let amd = sbom(&root, src, &["--platform", "linux/amd64"]);
    let arm = sbom(&root, src, &["--platform", "linux/arm64"]);
    let arch_of = |d: &Value| -> BTreeSet<String> {
        d["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .filter_map(|p| p["arch"].as_str())
            .filter(|a| *a != "all")
            .map(str::to_string)
            .collect()
    };
    assert_eq!(arch_of(&amd), BTreeSet::from(["amd64".to_string()]));
    assert_eq!(arch_of(&arm), BTreeSet::from(["arm64".to_string()]));
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .current_dir(&root)
        .args(["sbom", src, "--platform", "linux/s390x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no manifest for platform linux/s390x") && err.contains("linux/arm64"),
        "{err}"
    );
}

#[test]
fn cyclonedx_and_spdx_of_every_fixture_validate_against_the_official_schemas() {
    let Some(root) = fixtures_root() else { return };
    let m = manifest(&root);
    let (cdx, spdx) = (
        caisson_testsupport::schema::cyclonedx(),
        caisson_testsupport::schema::spdx(),
    );
    for (name, fx) in os_fixtures(&m) {
        let src = fx["oci_ref"].as_str().expect("oci ref");
        for (format, validator) in [("cyclonedx-json", &cdx), ("spdx-json", &spdx)] {
            let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
                .current_dir(&root)
                .args(["sbom", src, "-f", format])
                .output()
                .expect("caisson runs");
            assert!(
                out.status.success(),
                "{name} {format}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
            let errs = caisson_testsupport::schema::errors(validator, &doc);
            assert!(errs.is_empty(), "{name} {format}: {errs:#?}");
            let n = if format == "spdx-json" {
                doc["packages"].as_array().map_or(0, Vec::len)
            } else {
                doc["components"].as_array().map_or(0, Vec::len)
            };
            assert!(n > 1, "{name} {format}: document lists packages");
        }
    }
}

#[test]
fn output_file_and_table_format() {
    let Some(root) = fixtures_root() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let out_path = dir.path().join("sbom.cdx.json");
    let st = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .current_dir(&root)
        .args(["sbom", "oci:alpine/oci", "-f", "cyclonedx-json", "-o"])
        .arg(&out_path)
        .status()
        .expect("runs");
    assert!(st.success());
    let doc: Value =
        serde_json::from_slice(&std::fs::read(&out_path).expect("written")).expect("json");
    assert_eq!(doc["specVersion"], "1.6");
    let table = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .current_dir(&root)
        .env("NO_COLOR", "1")
        .args(["sbom", "oci:alpine/oci", "-f", "table"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("musl") && text.contains("apk") && !text.contains('\u{1b}'),
        "{text}"
    );
    // Bad input names what was wrong.
    let bad = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["sbom", "oci:/nonexistent/layout"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent/layout"));
}
