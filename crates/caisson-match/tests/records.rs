//! Findings name every record that matched, and ignore entries and VEX
//! statements work by any of those ids. Records from the real PyPI snapshot
//! (`shared/data/osv/PyPI`): `tensorflow` and `tensorflow-cpu` each have
//! their own PYSEC record for CVE-2020-15190 (PYSEC-2020-113 and
//! PYSEC-2020-270), and many more like it.

mod support;

use caisson_match::{
    apply, match_sbom, IgnoreFile, NoCvssScorer, Policy, ScanResults, VexDocument,
};
use caisson_model::{Finding, PackageType, Sbom};
use caisson_testsupport::advisory_data::osv_zip;
use serde_json::{json, Value};
use support::{package, sbom, MemorySource};

fn tensorflow_records() -> Vec<Value> {
    osv_zip("PyPI")
        .into_iter()
        .filter(|r| {
            r["affected"].as_array().into_iter().flatten().any(|a| {
                matches!(
                    a["package"]["name"].as_str(),
                    Some("tensorflow" | "tensorflow-cpu")
                )
            })
        })
        .collect()
}

fn tensorflow_sbom(both: bool) -> Sbom {
    let mut pkgs = vec![package(PackageType::Python, "tensorflow-cpu", "1.15.0")];
    if both {
        pkgs.insert(0, package(PackageType::Python, "tensorflow", "1.15.0"));
    }
    sbom(None, pkgs)
}

fn scan(both: bool, policy: &Policy) -> ScanResults {
    let s = tensorflow_sbom(both);
    let out =
        match_sbom(&s, &MemorySource::new(&tensorflow_records()), &NoCvssScorer).expect("matches");
    apply(out.findings, out.warnings, &s, policy)
}

fn cve_2020_15190<'a>(findings: impl IntoIterator<Item = &'a Finding>, pkg: &str) -> &'a Finding {
    findings
        .into_iter()
        .find(|f| f.id == "CVE-2020-15190" && f.package_name == pkg)
        .unwrap_or_else(|| panic!("{pkg} has CVE-2020-15190"))
}

#[test]
fn tensorflow_cpu_finding_names_its_own_pysec_record() {
    let r = scan(true, &Policy::default());
    let cpu = cve_2020_15190(&r.findings, "tensorflow-cpu");
    assert_eq!(cpu.records, ["PYSEC-2020-270"]);
    assert!(
        cpu.aliases.iter().any(|a| a == "PYSEC-2020-270"),
        "{:?}",
        cpu.aliases
    );
    assert!(
        !cpu.aliases.iter().any(|a| a == "PYSEC-2020-113"),
        "{:?}",
        cpu.aliases
    );
    let tf = cve_2020_15190(&r.findings, "tensorflow");
    assert_eq!(tf.records, ["PYSEC-2020-113"]);
    // Every finding names each record it came from among its ids.
    for f in &r.findings {
        assert!(!f.records.is_empty(), "{}", f.id);
        for rec in &f.records {
            assert!(
                *rec == f.id || f.aliases.contains(rec),
                "{} lacks {rec}",
                f.id
            );
        }
    }
}

#[test]
fn ignore_entry_by_a_secondary_id_suppresses_that_package_only() {
    let yaml = b"- id: PYSEC-2020-270\n  reason: the op is never called\n";
    let r = scan(
        true,
        &Policy {
            ignore: Some(IgnoreFile::parse(".caissonignore", yaml).expect("parses")),
            ..Policy::default()
        },
    );
    let suppressed: Vec<(&str, &str)> = r
        .suppressed
        .iter()
        .map(|s| (s.finding.id.as_str(), s.finding.package_name.as_str()))
        .collect();
    assert_eq!(suppressed, [("CVE-2020-15190", "tensorflow-cpu")]);
    cve_2020_15190(&r.findings, "tensorflow");
}

#[test]
fn vex_statement_by_a_secondary_id_suppresses_that_package_only() {
    let doc = json!({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/tf",
        "author": "ml team", "timestamp": "2024-05-01T00:00:00Z", "version": 1,
        "statements": [
            {"vulnerability": {"name": "PYSEC-2020-270"},
             "products": [{"@id": "pkg:pypi/tensorflow-cpu@1.15.0"}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}
        ]
    });
    let vex = VexDocument::parse("tf.vex.json", doc.to_string().as_bytes()).expect("parses");
    let r = scan(
        true,
        &Policy {
            vex: vec![vex],
            ..Policy::default()
        },
    );
    let suppressed: Vec<(&str, &str)> = r
        .suppressed
        .iter()
        .map(|s| (s.finding.id.as_str(), s.finding.package_name.as_str()))
        .collect();
    assert_eq!(suppressed, [("CVE-2020-15190", "tensorflow-cpu")]);
    cve_2020_15190(&r.findings, "tensorflow");
    // Alone in an image, the tensorflow-cpu finding is suppressed as well.
    let vex = VexDocument::parse("tf.vex.json", doc.to_string().as_bytes()).expect("parses");
    let alone = scan(
        false,
        &Policy {
            vex: vec![vex],
            ..Policy::default()
        },
    );
    assert!(alone.findings.iter().all(|f| f.id != "CVE-2020-15190"));
}
