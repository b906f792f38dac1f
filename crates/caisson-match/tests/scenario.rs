//! Matching rules on hand-written OSV records shaped like each feed's:
//! distribution ecosystems, source packages, statuses, `owned_by`, alias
//! merging, severity choice, and the policy (filters, ignore file, VEX).

mod support;

use caisson_match::{
    apply, match_sbom, parse_severities, CvssRating, Date, IgnoreFile, NoCvssScorer,
    OsOwnedMatching, Policy, VexDocument,
};
use caisson_model::{OsRelease, PackageType, Severity};
use serde_json::{json, Value};
use support::{package, sbom, MemorySource};

fn debian() -> OsRelease {
    OsRelease {
        id: "debian".into(),
        version_id: Some("12".into()),
        pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
        ..OsRelease::default()
    }
}

fn range(events: Value) -> Value {
    json!([{"type": "ECOSYSTEM", "events": events}])
}

fn records() -> Vec<Value> {
    vec![
        // Debian tracker shape: by source package, urgency as vendor severity.
        json!({"id": "CVE-2024-0727", "summary": "PKCS12 NULL dereference",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": range(json!([{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}])),
                "ecosystem_specific": {"urgency": "low"}}],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"}]}),
        json!({"id": "CVE-2024-9999", "summary": "unfixed in bookworm",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": range(json!([{"introduced": "0"}])),
                "database_specific": {"status": "unfixed"}}]}),
        json!({"id": "CVE-2024-8888", "summary": "not affecting bookworm",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": range(json!([{"introduced": "0"}])),
                "database_specific": {"status": "not-affected"}}]}),
        json!({"id": "CVE-2024-7777", "summary": "other release only",
            "affected": [{"package": {"ecosystem": "Debian:11", "name": "openssl"},
                "ranges": range(json!([{"introduced": "0"}]))}]}),
        // The same vulnerability from GHSA and PYSEC, merged under the CVE.
        json!({"id": "GHSA-h5c8-rqwp-cp95", "aliases": ["CVE-2024-22195"],
            "summary": "Jinja vulnerable to HTML attribute injection",
            "database_specific": {"severity": "MODERATE"},
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "jinja2"},
                "ranges": range(json!([{"introduced": "0"}, {"fixed": "3.1.3"}]))}]}),
        json!({"id": "PYSEC-2024-1", "aliases": ["CVE-2024-22195"],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "Jinja2"},
                "ranges": range(json!([{"introduced": "0"}, {"fixed": "3.1.3"}]))}]}),
        json!({"id": "PYSEC-2024-2", "aliases": ["CVE-2024-34064"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "jinja2"},
                "ranges": range(json!([{"introduced": "0"}, {"fixed": "3.1.4"}]))}]}),
        json!({"id": "PYSEC-2019-1", "withdrawn": "2020-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "jinja2"},
                "ranges": range(json!([{"introduced": "0"}]))}]}),
        // Alpine by origin; Red Hat by name and epoch:version-release.
        json!({"id": "CVE-2023-5678", "affected": [{"package": {"ecosystem": "Alpine:v3.20", "name": "openssl"},
                "ranges": range(json!([{"introduced": "0"}, {"fixed": "3.3.2-r1"}]))}]}),
        json!({"id": "RHSA-2024:1", "aliases": ["CVE-2024-1"],
            "database_specific": {"severity": "Important"},
            "affected": [{"package": {"ecosystem": "Red Hat", "name": "bash"},
                "ranges": range(json!([{"introduced": "0"}, {"fixed": "0:5.1.8-9.el9"}]))}]}),
    ]
}

/// CVSS scores of the vectors above, as NVD publishes them.
fn nvd(vector: &str) -> Option<CvssRating> {
    let (score, severity) = match vector {
        "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H" => (5.5, Severity::Medium),
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N" => (5.4, Severity::Medium),
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" => (9.8, Severity::Critical),
        _ => return None,
    };
    Some(CvssRating { score, severity })
}

fn debian_sbom() -> caisson_model::Sbom {
    let mut libssl = package(PackageType::Deb, "libssl3", "3.0.11-1~deb12u2+b1");
    libssl.source_name = Some("openssl".into());
    libssl.source_version = Some("3.0.11-1~deb12u2".into());
    libssl.purl = "pkg:deb/debian/libssl3@3.0.11-1~deb12u2%2Bb1?arch=amd64&distro=debian-12".into();
    libssl.locations = vec!["/var/lib/dpkg/status".into()];
    let jinja = package(PackageType::Python, "Jinja2", "3.1.2");
    let mut owned = package(PackageType::Python, "jinja2", "3.0.0");
    owned.id = "python:jinja2-owned".into();
    owned.owned_by = Some(libssl.id.clone());
    sbom(Some(debian()), vec![libssl, jinja, owned])
}

#[test]
fn os_owned_language_package_matches_language_advisories_only_when_asked() {
    let src = MemorySource::new(&records());
    let owned = |out: &caisson_match::MatchOutput| -> Vec<String> {
        out.findings
            .iter()
            .filter(|f| f.package_id == "python:jinja2-owned")
            .map(|f| f.id.clone())
            .collect()
    };
    let default = match_sbom(&debian_sbom(), &src, &nvd).expect("matches");
    assert!(owned(&default).is_empty(), "{:?}", default.findings);
    let explicit = caisson_match::match_sbom_with(
        &debian_sbom(),
        &src,
        &nvd,
        OsOwnedMatching::OsAdvisoriesOnly,
    )
    .expect("matches");
    assert_eq!(explicit, default);
    let both = caisson_match::match_sbom_with(
        &debian_sbom(),
        &src,
        &nvd,
        OsOwnedMatching::OsAndLanguageAdvisories,
    )
    .expect("matches");
    // jinja2 3.0.0 is below both fixes; the OS package's own findings stay.
    assert_eq!(owned(&both), vec!["CVE-2024-22195", "CVE-2024-34064"]);
    assert_eq!(both.findings.len(), default.findings.len() + 2);
    // The policy carries the mode to the results, with the count of owned packages.
    let sbom = debian_sbom();
    let policy = Policy {
        os_owned: OsOwnedMatching::OsAndLanguageAdvisories,
        ..Policy::default()
    };
    let r = apply(both.findings, both.warnings, &sbom, &policy);
    assert_eq!(
        (r.os_owned, r.os_owned_packages),
        (OsOwnedMatching::OsAndLanguageAdvisories, 1)
    );
}

#[test]
fn debian_by_source_package_with_statuses() {
    let src = MemorySource::new(&records());
    let out = match_sbom(&debian_sbom(), &src, &nvd).expect("matches");
    let got: Vec<(&str, &str, &str)> = out
        .findings
        .iter()
        .map(|f| {
            (
                f.package_name.as_str(),
                f.id.as_str(),
                f.installed_version.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("Jinja2", "CVE-2024-22195", "3.1.2"),
            ("Jinja2", "CVE-2024-34064", "3.1.2"),
            ("libssl3", "CVE-2024-0727", "3.0.11-1~deb12u2+b1"),
            ("libssl3", "CVE-2024-9999", "3.0.11-1~deb12u2+b1"),
        ]
    );
    let f = &out.findings[0];
    assert_eq!(f.aliases, vec!["GHSA-h5c8-rqwp-cp95", "PYSEC-2024-1"]);
    assert_eq!(f.severity, Severity::Medium, "GHSA MODERATE");
    assert_eq!(f.severity_source.as_deref(), Some("vendor"));
    assert_eq!(f.cvss_score, Some(5.4));
    assert_eq!(f.fixed_versions, vec!["3.1.3"]);
    assert_eq!(
        f.title.as_deref(),
        Some("Jinja vulnerable to HTML attribute injection")
    );
    let f = &out.findings[1];
    assert_eq!(
        (f.severity, f.severity_source.as_deref()),
        (Severity::Critical, Some("cvss_v3.1"))
    );
    let f = &out.findings[2];
    assert_eq!(
        (f.severity, f.severity_source.as_deref()),
        (Severity::Low, Some("vendor"))
    );
    assert_eq!(f.fixed_versions, vec!["3.0.13-1~deb12u1"]);
    assert_eq!(f.data_source, "osv:Debian:12");
    assert!(out.findings[3].fixed_versions.is_empty(), "unfixed");
    let none = match_sbom(&debian_sbom(), &src, &NoCvssScorer).expect("matches");
    assert_eq!(none.findings[1].severity, Severity::Unknown);
}

#[test]
fn alpine_origin_and_red_hat_epochs() {
    let src = MemorySource::new(&records());
    let mut libcrypto = package(PackageType::Apk, "libcrypto3", "3.3.2-r0");
    libcrypto.source_name = Some("openssl".into());
    let fixed = {
        let mut p = package(PackageType::Apk, "libssl3", "3.3.2-r1");
        p.source_name = Some("openssl".into());
        p
    };
    let out = match_sbom(
        &sbom(Some(support::alpine("3.20.3")), vec![libcrypto, fixed]),
        &src,
        &NoCvssScorer,
    )
    .expect("matches");
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].package_name, "libcrypto3");

    let rocky = OsRelease {
        id: "rocky".into(),
        version_id: Some("9.3".into()),
        id_like: vec!["rhel".into(), "centos".into(), "fedora".into()],
        ..OsRelease::default()
    };
    let mut bash = package(PackageType::Rpm, "bash", "5.1.8-6.el9");
    bash.epoch = Some(0);
    let out = match_sbom(&sbom(Some(rocky), vec![bash]), &src, &NoCvssScorer).expect("matches");
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(
        (f.id.as_str(), f.installed_version.as_str()),
        ("CVE-2024-1", "0:5.1.8-6.el9")
    );
    assert_eq!(f.severity, Severity::High, "Red Hat Important");

    // No data for this distribution: a warning, no findings.
    let wolfi = OsRelease {
        id: "wolfi".into(),
        ..OsRelease::default()
    };
    let out = match_sbom(
        &sbom(
            Some(wolfi),
            vec![package(PackageType::Apk, "openssl", "3.3.2-r0")],
        ),
        &src,
        &NoCvssScorer,
    )
    .expect("matches");
    assert!(out.findings.is_empty());
    assert_eq!(out.warnings[0].code, "no-advisory-data");
}

fn scan(policy: &Policy) -> caisson_match::ScanResults {
    let s = debian_sbom();
    let out = match_sbom(&s, &MemorySource::new(&records()), &nvd).expect("matches");
    apply(out.findings, out.warnings, &s, policy)
}

#[test]
fn severity_and_unfixed_filters() {
    let r = scan(&Policy {
        severities: Some(parse_severities("HIGH,CRITICAL").expect("list")),
        ..Policy::default()
    });
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.hidden_by_severity, 3);
    let r = scan(&Policy {
        ignore_unfixed: true,
        ..Policy::default()
    });
    assert_eq!((r.findings.len(), r.hidden_unfixed), (3, 1));
}

#[test]
fn ignore_file_suppresses_until_it_expires() {
    let yaml = b"- id: GHSA-h5c8-rqwp-cp95\n  package: Jinja2\n  reason: templates are trusted\n  expires: 2030-01-01\n\
- id: CVE-2024-0727\n  purl: pkg:deb/debian/libssl3\n  reason: no PKCS12 files parsed\n  expires: 2024-06-30\n\
- id: CVE-2024-34064\n  package: other-package\n  reason: does not apply\n";
    let ign = IgnoreFile::parse(".caissonignore", yaml).expect("parses");
    let r = scan(&Policy {
        ignore: Some(ign),
        today: Date::parse("2025-01-01"),
        ..Policy::default()
    });
    let suppressed: Vec<&str> = r.suppressed.iter().map(|s| s.finding.id.as_str()).collect();
    assert_eq!(
        suppressed,
        vec!["CVE-2024-22195"],
        "by alias; expired and other-package entries do not apply"
    );
    assert_eq!(
        r.suppressed[0].suppression.justification,
        "templates are trusted"
    );
    assert_eq!(r.suppressed[0].suppression.origin, ".caissonignore entry 1");
    assert_eq!(r.findings.len(), 3);
    let w: Vec<&str> = r.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(w, vec!["ignore-entry-expired"]);
    assert!(r.warnings[0].message.contains("2024-06-30"));
}

#[test]
fn vex_not_affected_and_fixed_suppress_with_justification() {
    let doc = json!({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1",
        "author": "sec team", "timestamp": "2024-05-01T00:00:00Z", "version": 1,
        "statements": [
            {"vulnerability": {"name": "CVE-2024-0727"},
             "products": [{"@id": "pkg:oci/app", "subcomponents": [{"@id": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2%2Bb1"}]}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
            {"vulnerability": {"name": "CVE-2024-34064"}, "products": [{"@id": "pkg:pypi/jinja2"}],
             "status": "fixed"},
            {"vulnerability": {"name": "CVE-2024-9999"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
             "status": "under_investigation"},
            {"vulnerability": {"name": "PYSEC-2024-1"}, "products": [{"@id": "pkg:pypi/jinja2@9.9"}],
             "status": "not_affected", "justification": "component_not_present"}
        ]
    });
    let vex = VexDocument::parse("app.vex.json", doc.to_string().as_bytes()).expect("parses");
    let r = scan(&Policy {
        vex: vec![vex],
        ..Policy::default()
    });
    let got: Vec<(&str, Option<&str>, &str)> = r
        .suppressed
        .iter()
        .map(|s| {
            (
                s.finding.id.as_str(),
                s.suppression.status.as_deref(),
                s.suppression.justification.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("CVE-2024-34064", Some("fixed"), "fixed"),
            (
                "CVE-2024-0727",
                Some("not_affected"),
                "vulnerable_code_not_in_execute_path"
            ),
        ]
    );
    assert_eq!(r.findings.len(), 2);
}
