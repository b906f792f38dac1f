//! Second oracle for SPDX: the SPDX project's own validator (`pyspdxtools`, PyPI
//! `spdx-tools`, installed by `scripts/deps.d/report.sh`). It checks what the JSON
//! schema cannot: SPDXID syntax, actor syntax (`Person: …`), licence expressions
//! against the licence list, and that relationships point at existing elements.

mod common;

use std::process::Command;

use caisson_report::{to_string, Format};

fn pyspdxtools() -> Option<&'static str> {
    let found = Command::new("pyspdxtools")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("pyspdxtools");
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "pyspdxtools is missing; scripts/deps.d/report.sh installs it"
    );
    caisson_testsupport::skip("pyspdxtools not installed (run scripts/deps.d/report.sh)");
    None
}

fn validate(tool: &str, json: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("doc.spdx.json");
    fs_err::write(&path, json).expect("write doc");
    let out = Command::new(tool)
        .arg("-i")
        .arg(&path)
        .output()
        .expect("run pyspdxtools");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && !log.contains("invalid"), log)
}

#[test]
fn spdx_tools_accepts_every_fixture() {
    let Some(tool) = pyspdxtools() else { return };
    for (name, sbom) in common::all() {
        let json = to_string(Format::SpdxJson, &sbom, &common::opts()).expect("renders");
        let (ok, log) = validate(tool, &json);
        assert!(ok, "{name}: pyspdxtools rejected the document:\n{log}");
    }
}

#[test]
fn spdx_tools_rejects_a_bad_spdx_id() {
    let Some(tool) = pyspdxtools() else { return };
    let json = to_string(Format::SpdxJson, &common::debian(), &common::opts()).expect("renders");
    let mut doc: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let old = doc["packages"][2]["SPDXID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let bad = "SPDXRef-Package-libstdc++6";
    doc["packages"][2]["SPDXID"] = bad.into();
    for r in doc["relationships"].as_array_mut().into_iter().flatten() {
        if r["relatedSpdxElement"] == old.as_str() {
            r["relatedSpdxElement"] = bad.into();
        }
    }
    let (ok, log) = validate(tool, &doc.to_string());
    assert!(!ok, "pyspdxtools accepted {bad}:\n{log}");
}
