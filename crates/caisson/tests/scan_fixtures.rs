//! `caisson scan` end to end over the fixture images with known-vulnerable
//! old packages (pip-installed urllib3/requests/jinja2/pyyaml/django, npm
//! lodash/minimist, Go binaries built by Debian's Go 1.19), against a
//! database imported from the real feed snapshots in `shared/data`.
//!
//! The expected findings below are facts of those advisories (ids, aliases,
//! fixed versions); `scan_oracle.rs` checks the matching itself exhaustively.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn caisson(root: &Path, args: &[&str]) -> Output {
    caisson_with(root, common::database(), args)
}

fn caisson_with(root: &Path, db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caisson"))
        .current_dir(root)
        .args(args)
        .arg("--db")
        .arg(db)
        .args(["--max-db-age-days", "100000"])
        // Vulnerabilities only: secrets and misconfigurations have their own tests.
        .args(["--scanners", "vuln"])
        .env("NO_COLOR", "1")
        .output()
        .expect("caisson runs")
}

fn scan(root: &Path, source: &str, extra: &[&str]) -> Value {
    let mut args = vec!["scan", source, "-f", "json"];
    args.extend_from_slice(extra);
    let out = caisson(root, &args);
    assert!(
        out.status.success(),
        "caisson scan {source} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("scan JSON")
}

fn findings(report: &Value) -> &[Value] {
    report["findings"]
        .as_array()
        .map(Vec::as_slice)
        .expect("findings array")
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// (package, version, id) of every finding.
fn keys(report: &Value) -> BTreeSet<(String, String, String)> {
    findings(report)
        .iter()
        .map(|f| {
            (
                s(f, "package_name").to_string(),
                s(f, "installed_version").to_string(),
                s(f, "id").to_string(),
            )
        })
        .collect()
}

fn python_node() -> Option<PathBuf> {
    caisson_testsupport::fixture("lang-python-node").map(|(root, _)| root)
}

const PY_NODE: &str = "oci:lang-python-node/oci:lang";

#[test]
fn vulnerable_python_and_node_packages_are_reported_with_fixes_and_layers() {
    let Some(root) = python_node() else { return };
    let report = scan(&root, PY_NODE, &[]);
    let found = findings(&report);

    // (package, installed, id, one alias, fixed versions) from the real advisories.
    let expected: [(&str, &str, &str, &str, &[&str]); 9] = [
        (
            "urllib3",
            "1.26.4",
            "CVE-2021-33503",
            "PYSEC-2021-108",
            &["1.26.5"],
        ),
        (
            "urllib3",
            "1.26.4",
            "CVE-2023-43804",
            "PYSEC-2023-192",
            &["1.26.17", "2.0.6"],
        ),
        (
            "requests",
            "2.25.0",
            "CVE-2023-32681",
            "PYSEC-2023-74",
            &["2.31.0"],
        ),
        (
            "Jinja2",
            "2.11.2",
            "CVE-2020-28493",
            "PYSEC-2021-66",
            &["2.11.3"],
        ),
        (
            "PyYAML",
            "5.3.1",
            "CVE-2020-14343",
            "PYSEC-2021-142",
            &["5.4"],
        ),
        (
            "Django",
            "3.2",
            "CVE-2021-31542",
            "PYSEC-2021-7",
            &["3.2.1"],
        ),
        (
            "lodash",
            "4.17.15",
            "CVE-2020-8203",
            "GHSA-p6mc-m468-83gw",
            &["4.17.20"],
        ),
        (
            "minimist",
            "1.2.0",
            "CVE-2021-44906",
            "GHSA-xvch-5gv4-984h",
            &["1.2.6"],
        ),
        (
            "minimist",
            "0.0.8",
            "CVE-2021-44906",
            "GHSA-xvch-5gv4-984h",
            &["0.2.4"],
        ),
    ];
    for (name, version, id, alias, fixed) in expected {
        let f = found
            .iter()
            .find(|f| {
                s(f, "package_name") == name
                    && s(f, "installed_version") == version
                    && s(f, "id") == id
            })
            .unwrap_or_else(|| panic!("no finding {id} for {name} {version}"));
        assert!(
            strs(&f["aliases"]).contains(&alias),
            "{id}: alias {alias} not merged: {:?}",
            f["aliases"]
        );
        assert_eq!(strs(&f["fixed_versions"]), fixed, "{id} on {name}");
        assert!(f["layer"]["diff_id"].as_str().is_some(), "{id}: no layer");
        assert!(!strs(&f["locations"]).is_empty(), "{id}: no location");
        assert!(!s(f, "title").is_empty(), "{id}: no title");
    }
    // Vendor severity (GHSA `database_specific.severity`) comes first.
    let minimist = found
        .iter()
        .find(|f| s(f, "package_name") == "minimist")
        .expect("minimist finding");
    assert_eq!(s(minimist, "severity"), "CRITICAL");
    assert_eq!(
        report["summary"]["total"].as_u64(),
        Some(found.len() as u64)
    );

    // The layer of each finding is the layer of its package in the SBOM.
    let sbom: Value = {
        let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
            .current_dir(&root)
            .args(["sbom", PY_NODE, "-f", "json"])
            .output()
            .expect("caisson sbom runs");
        serde_json::from_slice(&out.stdout).expect("sbom JSON")
    };
    let packages = sbom["packages"].as_array().expect("packages");
    for f in found {
        let p = packages
            .iter()
            .find(|p| p["id"] == f["package_id"])
            .expect("finding's package is in the SBOM");
        assert_eq!(p["layer"]["diff_id"], f["layer"]["diff_id"], "{f}");
        // Packages owned by a Debian package (python3-jinja2, python3-yaml,
        // ruby-rack) are matched through Debian's data, never as PyPI/gem.
        assert!(p["owned_by"].is_null(), "OS-owned package reported: {f}");
    }
    let owned = packages.iter().filter(|p| !p["owned_by"].is_null()).count();
    assert!(owned > 0, "the fixture has OS-owned language packages");
}

#[test]
fn old_go_toolchain_is_reported_through_stdlib() {
    let Some((root, fx)) = caisson_testsupport::fixture("lang-binaries") else {
        return;
    };
    let source = fx["oci_ref"].as_str().expect("oci_ref");
    let report = scan(&root, source, &[]);
    let stdlib: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| s(f, "package_name") == "stdlib")
        .collect();
    assert!(stdlib.len() > 50, "{} stdlib findings", stdlib.len());
    // html/template in Go 1.19.8, fixed in 1.19.9 and 1.20.4 (GO-2023-1753).
    let f = stdlib
        .iter()
        .find(|f| s(f, "id") == "CVE-2023-29400")
        .expect("CVE-2023-29400 on stdlib");
    assert!(strs(&f["aliases"]).contains(&"GO-2023-1753"), "{f}");
    assert!(strs(&f["fixed_versions"]).contains(&"1.19.9"), "{f}");
    assert!(stdlib.iter().all(|f| s(f, "package_type") == "golang"));
}

#[test]
fn sbom_file_scans_like_the_image() {
    let Some(root) = python_node() else { return };
    let image = keys(&scan(&root, PY_NODE, &[]));
    let tmp = tempfile::tempdir().expect("tempdir");
    for (format, file) in [
        ("cyclonedx-json", "bom.cdx.json"),
        ("spdx-json", "bom.spdx.json"),
        ("json", "bom.caisson.json"),
    ] {
        let path = tmp.path().join(file);
        let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
            .current_dir(&root)
            .args(["sbom", PY_NODE, "-f", format, "-o"])
            .arg(&path)
            .output()
            .expect("caisson sbom runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let from_file = keys(&scan(&root, &format!("sbom:{}", path.display()), &[]));
        let missing: Vec<_> = image.difference(&from_file).collect();
        let extra: Vec<_> = from_file.difference(&image).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{format}: missing {missing:?}, extra {extra:?}"
        );
    }
}

#[test]
fn exit_code_severity_filter_ignore_file_and_unfixed() {
    let Some(root) = python_node() else { return };
    let code = |args: &[&str]| caisson(&root, args).status.code();
    assert_eq!(code(&["scan", PY_NODE, "-f", "json"]), Some(0));
    assert_eq!(
        code(&["scan", PY_NODE, "-f", "json", "--exit-code", "3"]),
        Some(3)
    );

    let critical = scan(&root, PY_NODE, &["--severity", "CRITICAL"]);
    let ids: BTreeSet<&str> = findings(&critical).iter().map(|f| s(f, "id")).collect();
    assert_eq!(ids, BTreeSet::from(["CVE-2021-44906"]));
    assert!(critical["summary"]["hidden_by_severity"].as_u64() > Some(0));
    // No LOW findings in this image: the gate stays open.
    let low = caisson(
        &root,
        &[
            "scan",
            PY_NODE,
            "-f",
            "json",
            "--severity",
            "LOW",
            "--exit-code",
            "3",
        ],
    );
    assert_eq!(low.status.code(), Some(0));

    // Ignoring the only CRITICAL opens the gate and says why.
    let tmp = tempfile::tempdir().expect("tempdir");
    let ignore = tmp.path().join("ignore.yaml");
    fs_err::write(
        &ignore,
        "- id: GHSA-xvch-5gv4-984h\n  package: minimist\n  reason: CLI argument parsing of trusted input only\n",
    )
    .expect("write ignore file");
    let ignore_arg = ignore.to_str().expect("utf-8 path");
    let args = [
        "scan",
        PY_NODE,
        "-f",
        "json",
        "--severity",
        "CRITICAL",
        "--exit-code",
        "3",
        "--ignorefile",
        ignore_arg,
    ];
    let out = caisson(&root, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let suppressed = report["suppressed"].as_array().expect("suppressed");
    assert_eq!(
        suppressed.len(),
        2,
        "both minimist versions: {suppressed:?}"
    );
    assert!(
        suppressed
            .iter()
            .all(|f| f["suppression"].to_string().contains("trusted input only")),
        "{suppressed:?}"
    );

    // Every finding in this image has a fix: --ignore-unfixed hides nothing.
    let all = scan(&root, PY_NODE, &[]);
    let fixed_only = scan(&root, PY_NODE, &["--ignore-unfixed"]);
    assert_eq!(keys(&all), keys(&fixed_only));
    assert_eq!(fixed_only["summary"]["hidden_unfixed"].as_u64(), Some(0));
}

#[test]
fn sarif_and_cyclonedx_reports_validate_and_link_components() {
    let Some(root) = python_node() else { return };
    let total = findings(&scan(&root, PY_NODE, &[])).len();

    let out = caisson(&root, &["scan", PY_NODE, "-f", "sarif"]);
    assert!(out.status.success());
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("SARIF JSON");
    let errors = caisson_testsupport::schema::errors(&caisson_testsupport::schema::sarif(), &sarif);
    assert!(errors.is_empty(), "SARIF invalid: {errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), total);

    let out = caisson(&root, &["scan", PY_NODE, "-f", "cyclonedx-json"]);
    assert!(out.status.success());
    let cdx: Value = serde_json::from_slice(&out.stdout).expect("CycloneDX JSON");
    let errors =
        caisson_testsupport::schema::errors(&caisson_testsupport::schema::cyclonedx(), &cdx);
    assert!(errors.is_empty(), "CycloneDX invalid: {errors:#?}");
    let refs: BTreeSet<&str> = cdx["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    let vulns = cdx["vulnerabilities"].as_array().expect("vulnerabilities");
    assert!(!vulns.is_empty());
    let mut affects = 0;
    for v in vulns {
        for a in v["affects"].as_array().expect("affects") {
            let r = a["ref"].as_str().expect("affects ref");
            assert!(
                refs.contains(r),
                "affects[].ref {r} is not a component bom-ref"
            );
            affects += 1;
        }
    }
    assert_eq!(affects, total, "one affects entry per finding");
}

#[test]
fn table_is_grouped_by_package_and_plain_under_no_color() {
    let Some(root) = python_node() else { return };
    let out = caisson(&root, &["scan", PY_NODE, "-f", "table"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(!text.contains('\u{1b}'), "escape codes despite NO_COLOR");
    assert!(text.contains("urllib3 1.26.4 (pypi)"), "{text}");
    assert!(text.contains("CVE-2021-33503"), "{text}");
}

/// Debian packages through the security tracker's data (a small file written
/// by hand in the tracker's JSON format, `tests/data/debian-tracker-bookworm.json`,
/// with versions around the fixture's): by source package and release, fixed
/// versions compared in dpkg order, `open` as unfixed, `fixed_version: 0` and
/// other releases ignored, the urgency as the severity; and Debian's
/// python3-jinja2 matched as Debian's `jinja2`, never as PyPI's Jinja2.
#[test]
fn debian_packages_match_through_the_security_tracker() {
    let Some(root) = python_node() else { return };
    let tracker =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/debian-tracker-bookworm.json");
    let pypi = caisson_testsupport::advisory_data::data_dir().join("osv/PyPI/all.zip");
    let db = common::import("debian", &[tracker, pypi]);
    let run = |extra: &[&str]| -> Value {
        let mut args = vec!["scan", PY_NODE, "-f", "json"];
        args.extend_from_slice(extra);
        let out = caisson_with(&root, &db, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("scan JSON")
    };
    let report = run(&[]);
    let deb: BTreeSet<(String, String, String, String)> = findings(&report)
        .iter()
        .filter(|f| s(f, "package_type") == "deb")
        .map(|f| {
            (
                s(f, "package_name").to_string(),
                s(f, "id").to_string(),
                s(f, "severity").to_string(),
                strs(&f["fixed_versions"]).join(","),
            )
        })
        .collect();
    let row = |p: &str, id: &str, sev: &str, fix: &str| {
        (
            p.to_string(),
            id.to_string(),
            sev.to_string(),
            fix.to_string(),
        )
    };
    let want = BTreeSet::from([
        row(
            "python3-jinja2",
            "CVE-2099-1001",
            "MEDIUM",
            "3.1.2-1+deb12u4",
        ),
        // binNMU bash 5.2.15-2+b13 is source 5.2.15-2: before 5.2.15-3, not before 5.2.15-2.
        row("bash", "CVE-2099-5001", "HIGH", "5.2.15-3"),
        row("libc6", "CVE-2099-2001", "LOW", ""),
        row("libc-bin", "CVE-2099-2001", "LOW", ""),
        row("tar", "CVE-2005-2541", "NEGLIGIBLE", ""),
    ]);
    assert_eq!(deb, want);
    assert!(findings(&report)
        .iter()
        .all(|f| s(f, "data_source") == "debian-tracker" || s(f, "package_type") != "deb"));
    // PyPI's Jinja2 2.11.2 under /opt is still matched as PyPI.
    assert!(keys(&report).contains(&(
        "Jinja2".to_string(),
        "2.11.2".to_string(),
        "CVE-2020-28493".to_string()
    )));
    // --ignore-unfixed keeps only the findings with a fix.
    let fixed_only = run(&["--ignore-unfixed"]);
    let deb_fixed: BTreeSet<&str> = findings(&fixed_only)
        .iter()
        .filter(|f| s(f, "package_type") == "deb")
        .map(|f| s(f, "package_name"))
        .collect();
    assert_eq!(deb_fixed, BTreeSet::from(["bash", "python3-jinja2"]));
    assert_eq!(fixed_only["summary"]["hidden_unfixed"].as_u64(), Some(3));
}
