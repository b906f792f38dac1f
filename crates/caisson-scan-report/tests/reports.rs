//! Every scan format on one scan of a small Debian + Python image: schemas
//! (SARIF 2.1.0, CycloneDX 1.6) checked with the official JSON schemas,
//! table and JSON pinned with snapshots.

use std::collections::HashMap;

use caisson_match::{
    apply, match_sbom, CvssRating, Date, IgnoreFile, Policy, ScanResults, VexDocument,
};
use caisson_model::{
    Advisory, AdvisorySource, LayerRef, OsRelease, Package, PackageType, Sbom, Severity, SourceInfo,
};
use caisson_scan_report::{to_string, RenderOptions, ScanFormat};
use serde_json::{json, Value};

struct Memory(HashMap<(String, String), Vec<Advisory>>);

impl AdvisorySource for Memory {
    fn advisories(
        &self,
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<Advisory>, Box<dyn std::error::Error + Send + Sync>> {
        let key = (
            ecosystem.to_string(),
            caisson_model::normalize_package_name(ecosystem, name),
        );
        Ok(self.0.get(&key).cloned().unwrap_or_default())
    }
}

fn source() -> Memory {
    let recs = vec![
        json!({"id": "CVE-2024-0727", "summary": "PKCS12 NULL dereference",
            "references": [{"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/CVE-2024-0727"}],
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}]}],
                "ecosystem_specific": {"urgency": "low"}}],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"}]}),
        json!({"id": "CVE-2024-9999", "summary": "Unfixed <script> issue",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "database_specific": {"status": "unfixed"}}]}),
        json!({"id": "GHSA-h5c8-rqwp-cp95", "aliases": ["CVE-2024-22195"],
            "summary": "Jinja vulnerable to HTML attribute injection",
            "references": [{"type": "WEB", "url": "https://github.com/pallets/jinja/security/advisories/GHSA-h5c8-rqwp-cp95"}],
            "database_specific": {"severity": "MODERATE"},
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "jinja2"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.3"}]}]}]}),
        json!({"id": "PYSEC-2024-2", "aliases": ["CVE-2024-34064"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "jinja2"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.4"}]}]}]}),
    ];
    let mut m: HashMap<(String, String), Vec<Advisory>> = HashMap::new();
    for r in recs {
        let a: Advisory = serde_json::from_value(r).expect("OSV");
        let p = a.affected[0].package.clone().expect("package");
        m.entry((
            p.ecosystem.clone(),
            caisson_model::normalize_package_name(&p.ecosystem, &p.name),
        ))
        .or_default()
        .push(a);
    }
    Memory(m)
}

fn nvd(vector: &str) -> Option<CvssRating> {
    let (score, severity) = match vector {
        "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H" => (5.5, Severity::Medium),
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N" => (5.4, Severity::Medium),
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" => (9.8, Severity::Critical),
        _ => return None,
    };
    Some(CvssRating { score, severity })
}

fn pkg(id: &str, ty: PackageType, name: &str, version: &str, purl: &str, loc: &str) -> Package {
    Package {
        id: id.into(),
        package_type: ty,
        name: name.into(),
        version: version.into(),
        epoch: None,
        arch: None,
        source_name: None,
        source_version: None,
        licenses: vec![],
        supplier: None,
        purl: purl.into(),
        layer: Some(LayerRef {
            index: 0,
            diff_id: format!("sha256:{}", "ab".repeat(32)),
        }),
        locations: vec![loc.into()],
        files: vec![],
        owned_by: None,
        digests: Vec::new(),
    }
}

fn scanned() -> (Sbom, ScanResults) {
    let mut libssl = pkg(
        "deb:libssl3@3.0.11-1~deb12u2",
        PackageType::Deb,
        "libssl3",
        "3.0.11-1~deb12u2",
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
        "/var/lib/dpkg/status",
    );
    libssl.source_name = Some("openssl".into());
    let jinja = pkg(
        "pypi:jinja2@3.1.2",
        PackageType::Python,
        "Jinja2",
        "3.1.2",
        "pkg:pypi/jinja2@3.1.2",
        "/usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/METADATA",
    );
    let sbom = Sbom {
        source: SourceInfo {
            reference: "oci:./app:1.0".into(),
            kind: "oci".into(),
            ..SourceInfo::default()
        },
        os: Some(OsRelease {
            id: "debian".into(),
            version_id: Some("12".into()),
            pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
            ..OsRelease::default()
        }),
        packages: vec![libssl, jinja],
        warnings: vec![],
    };
    let out = match_sbom(&sbom, &source(), &nvd).expect("matches");
    let ignore = IgnoreFile::parse(
        ".caissonignore",
        b"- id: CVE-2024-9999\n  package: libssl3\n  reason: not reachable from our service\n  expires: 2030-01-01\n",
    )
    .expect("ignore file");
    let vex = VexDocument::parse(
        "app.vex.json",
        json!({"@context": "https://openvex.dev/ns/v0.2.0", "statements": [
            {"vulnerability": {"name": "CVE-2024-22195"}, "products": [{"@id": "pkg:pypi/jinja2@3.1.2"}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
             "impact_statement": "xmlattr filter unused"}]})
        .to_string()
        .as_bytes(),
    )
    .expect("vex");
    let results = apply(
        out.findings,
        out.warnings,
        &sbom,
        &Policy {
            ignore: Some(ignore),
            vex: vec![vex],
            today: Date::parse("2025-01-01"),
            ..Policy::default()
        },
    );
    (sbom, results)
}

fn opts(sbom: &Sbom) -> RenderOptions {
    RenderOptions::new(sbom, "2025-01-01T00:00:00Z", "0.1.0")
}

fn render(format: ScanFormat) -> String {
    let (sbom, results) = scanned();
    to_string(format, &sbom, &results, &opts(&sbom)).expect("renders")
}

#[test]
fn table_snapshot() {
    insta::assert_snapshot!(render(ScanFormat::Table));
}

#[test]
fn table_colours_by_severity_only_when_asked() {
    let (sbom, results) = scanned();
    let mut o = opts(&sbom);
    o.color = true;
    let coloured = to_string(ScanFormat::Table, &sbom, &results, &o).expect("renders");
    assert!(coloured.contains("\x1b[1;31mCRITICAL"), "{coloured}");
    assert!(!render(ScanFormat::Table).contains('\x1b'));
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!(render(ScanFormat::Json));
}

#[test]
fn sarif_is_valid_sarif_2_1_0() {
    let doc: Value = serde_json::from_str(&render(ScanFormat::Sarif)).expect("JSON");
    let validator = caisson_testsupport::schema::sarif();
    let errors = caisson_testsupport::schema::errors(&validator, &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    // The validator does reject what SARIF forbids.
    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["level"] = json!("fatal");
    assert!(!caisson_testsupport::schema::errors(&validator, &bad).is_empty());
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "CVE-2024-0727",
            "CVE-2024-22195",
            "CVE-2024-34064",
            "CVE-2024-9999"
        ]
    );
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    let critical = results
        .iter()
        .find(|r| r["ruleId"] == "CVE-2024-34064")
        .expect("result");
    assert_eq!(critical["level"], "error");
    assert_eq!(critical["properties"]["purl"], "pkg:pypi/jinja2@3.1.2");
    assert_eq!(
        critical["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/METADATA"
    );
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 2);
    for r in &rules[..] {
        let sev: f64 = r["properties"]["security-severity"]
            .as_str()
            .expect("string")
            .parse()
            .expect("number");
        assert!((0.0..=10.0).contains(&sev));
    }
}

#[test]
fn cyclonedx_with_vulnerabilities_is_valid_cyclonedx_1_6() {
    let doc: Value = serde_json::from_str(&render(ScanFormat::CycloneDxJson)).expect("JSON");
    let errors =
        caisson_testsupport::schema::errors(&caisson_testsupport::schema::cyclonedx(), &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    let refs: Vec<&str> = doc["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    let vulns = doc["vulnerabilities"].as_array().expect("vulnerabilities");
    assert_eq!(vulns.len(), 4);
    for v in vulns {
        for a in v["affects"].as_array().expect("affects") {
            assert!(refs.contains(&a["ref"].as_str().expect("ref")), "{a}");
        }
    }
    let v = vulns
        .iter()
        .find(|v| v["id"] == "CVE-2024-0727")
        .expect("vuln");
    assert_eq!(v["ratings"][1]["method"], "CVSSv31");
    assert_eq!(v["ratings"][1]["score"], 5.5);
    assert!(v["recommendation"]
        .as_str()
        .expect("text")
        .contains("3.0.13-1~deb12u1"));
    let s = vulns
        .iter()
        .find(|v| v["id"] == "CVE-2024-22195")
        .expect("suppressed");
    assert_eq!(s["analysis"]["state"], "not_affected");
    assert_eq!(s["analysis"]["justification"], "code_not_reachable");
}

#[test]
fn format_names_round_trip() {
    for f in ScanFormat::ALL {
        assert_eq!(f.name().parse::<ScanFormat>(), Ok(f));
    }
    assert!("cyclonedx".parse::<ScanFormat>().is_err());
}

/// `tensorflow` and `tensorflow-cpu` 1.15.0 from the real PyPI snapshot:
/// both have CVE-2020-15190, through their own PYSEC records
/// (PYSEC-2020-113 and PYSEC-2020-270). The outputs that describe a
/// vulnerability once for all its packages (SARIF rules, CycloneDX
/// vulnerabilities) name both records; the table names each finding's own.
fn tensorflow_scan() -> (Sbom, ScanResults) {
    let mut m: HashMap<(String, String), Vec<Advisory>> = HashMap::new();
    for r in caisson_testsupport::advisory_data::osv_zip("PyPI") {
        let a: Advisory = serde_json::from_value(r).expect("OSV");
        for name in ["tensorflow", "tensorflow-cpu"] {
            if a.affected
                .iter()
                .any(|e| e.package.as_ref().is_some_and(|p| p.name == name))
            {
                m.entry(("PyPI".into(), name.into()))
                    .or_default()
                    .push(a.clone());
            }
        }
    }
    let sbom = Sbom {
        packages: vec![
            caisson_testsupport::package(PackageType::Python, "tensorflow", "1.15.0"),
            caisson_testsupport::package(PackageType::Python, "tensorflow-cpu", "1.15.0"),
        ],
        ..Sbom::default()
    };
    let out = match_sbom(&sbom, &Memory(m), &nvd).expect("matches");
    let results = apply(out.findings, out.warnings, &sbom, &Policy::default());
    (sbom, results)
}

#[test]
fn every_matching_record_is_named_in_sarif_cyclonedx_and_table() {
    let (sbom, results) = tensorflow_scan();
    let both = ["PYSEC-2020-113", "PYSEC-2020-270"];

    let sarif: Value = serde_json::from_str(
        &to_string(ScanFormat::Sarif, &sbom, &results, &opts(&sbom)).expect("renders"),
    )
    .expect("JSON");
    let rule = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == "CVE-2020-15190")
        .expect("a rule for CVE-2020-15190");
    let help = rule["help"]["text"].as_str().expect("help");
    for id in both {
        assert!(help.contains(id), "rule help lacks {id}: {help}");
        assert!(
            rule["properties"]["aliases"]
                .as_array()
                .expect("aliases")
                .iter()
                .any(|a| a == id),
            "rule aliases lack {id}"
        );
    }
    let cpu_result = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| {
            r["ruleId"] == "CVE-2020-15190" && r["properties"]["packageName"] == "tensorflow-cpu"
        })
        .expect("tensorflow-cpu result");
    assert_eq!(
        cpu_result["properties"]["records"],
        json!(["PYSEC-2020-270"])
    );

    let cdx: Value = serde_json::from_str(
        &to_string(ScanFormat::CycloneDxJson, &sbom, &results, &opts(&sbom)).expect("renders"),
    )
    .expect("JSON");
    let vuln = cdx["vulnerabilities"]
        .as_array()
        .expect("vulnerabilities")
        .iter()
        .find(|v| v["id"] == "CVE-2020-15190")
        .expect("CVE-2020-15190");
    assert_eq!(vuln["affects"].as_array().map(Vec::len), Some(2));
    let refs: Vec<&str> = vuln["references"]
        .as_array()
        .expect("references")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for id in both {
        assert!(
            refs.contains(&id),
            "CycloneDX references lack {id}: {refs:?}"
        );
    }

    let table = to_string(ScanFormat::Table, &sbom, &results, &opts(&sbom)).expect("renders");
    assert!(table.contains("CVE-2020-15190 (PYSEC-2020-270)"), "{table}");
    assert!(table.contains("CVE-2020-15190 (PYSEC-2020-113)"), "{table}");
    let json: Value = serde_json::from_str(
        &to_string(ScanFormat::Json, &sbom, &results, &opts(&sbom)).expect("renders"),
    )
    .expect("JSON");
    let cpu = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["id"] == "CVE-2020-15190" && f["package_name"] == "tensorflow-cpu")
        .expect("finding");
    assert_eq!(cpu["records"], json!(["PYSEC-2020-270"]));
}
