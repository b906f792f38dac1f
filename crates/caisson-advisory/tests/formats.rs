#![allow(clippy::unwrap_used)]
//! The hand-made Debian tracker, Ubuntu OSV and Red Hat CSAF VEX fixtures
//! (see tests/fixtures/README.md), converted and stored.

mod support;

use caisson_advisory::import::{self, detect_format};
use caisson_advisory::{Database, Format, Limits};
use caisson_model::{Advisory, AdvisorySource, Affected};
use support::*;

fn read(name: &str) -> Vec<u8> {
    fs_err::read(fixtures().join(name)).expect("fixture")
}

fn entry<'a>(a: &'a Advisory, ecosystem: &str) -> &'a Affected {
    a.affected
        .iter()
        .find(|x| x.package.as_ref().unwrap().ecosystem == ecosystem)
        .unwrap_or_else(|| panic!("{}: no {ecosystem} entry", a.id))
}

fn fixed(a: &Affected) -> Option<&str> {
    a.ranges[0].events.iter().find_map(|e| e.fixed.as_deref())
}

fn ds<'a>(a: &'a Affected, key: &str) -> Option<&'a str> {
    a.database_specific.as_ref()?.get(key)?.as_str()
}

#[test]
fn debian_tracker_statuses() {
    let out = import::debian_tracker(&read("debian-tracker.json"), &Limits::default()).unwrap();
    let ids: Vec<(&str, &str)> = out
        .advisories
        .iter()
        .map(|a| {
            (
                a.affected[0].package.as_ref().unwrap().name.as_str(),
                a.id.as_str(),
            )
        })
        .collect();
    // xz-utils CVE-2024-3094 is not-affected everywhere: no advisory.
    assert_eq!(
        ids,
        vec![
            ("openssl", "CVE-2023-0286"),
            ("openssl", "CVE-2024-0727"),
            ("zlib", "CVE-2023-45853"),
            ("zlib", "TEMP-0000000-1A2B3C")
        ]
    );
    assert_eq!(out.stats.not_affected, 3);
    assert_eq!(out.stats.warning_count, 0);

    let a = &out.advisories[0];
    let bookworm = entry(a, "Debian:12");
    assert_eq!(fixed(bookworm), Some("3.0.8-1"));
    assert_eq!(ds(bookworm, "fix_status"), Some("fixed"));
    assert_eq!(fixed(entry(a, "Debian:11")), Some("1.1.1n-0+deb11u4"));
    let buster = entry(a, "Debian:10");
    assert_eq!(fixed(buster), None);
    assert_eq!(ds(buster, "fix_status"), Some("end-of-life"));
    assert_eq!(ds(buster, "vendor_severity"), Some("end-of-life"));
    assert_eq!(fixed(entry(a, "Debian:sid")), Some("3.0.8-1"));
    assert_eq!(a.database_specific.as_ref().unwrap()["debianbug"], 1031446);
    assert_eq!(a.affected[0].package.as_ref().unwrap().name, "openssl");

    let b = &out.advisories[1];
    let open = entry(b, "Debian:12");
    assert_eq!(fixed(open), None);
    assert_eq!(ds(open, "fix_status"), Some("unfixed"));
    assert_eq!(ds(open, "vendor_severity"), Some("low"));
    assert_eq!(ds(open, "nodsa_reason"), Some("postponed"));
    assert_eq!(
        ds(entry(b, "Debian:13"), "fix_status"),
        Some("undetermined")
    );

    // zlib: bookworm not affected, bullseye open/unimportant.
    let z = &out.advisories[2];
    assert_eq!(z.affected.len(), 1);
    assert_eq!(
        ds(entry(z, "Debian:11"), "vendor_severity"),
        Some("unimportant")
    );
    let t = &out.advisories[3];
    assert_eq!(ds(&t.affected[0], "urgency"), Some("low**"));
    assert_eq!(ds(&t.affected[0], "vendor_severity"), Some("low"));
}

#[test]
fn ubuntu_osv_with_releases() {
    let out = import::osv_json(&read("ubuntu-osv.json"), &Limits::default()).unwrap();
    assert_eq!(out.advisories.len(), 2);
    assert_eq!(out.stats.withdrawn, 1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    import(&dir, &[fixtures().join("ubuntu-osv.json")]);
    let db = Database::open(&dir).unwrap();
    let jammy = db.advisories("Ubuntu:22.04:LTS", "openssl").unwrap();
    assert_eq!(
        jammy.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        vec!["UBUNTU-CVE-2023-0286"]
    );
    assert_eq!(db.advisories("Ubuntu:22.04", "openssl").unwrap(), jammy);
    let noble = db.advisories("Ubuntu:24.04:LTS", "openssl").unwrap();
    assert_eq!(noble.len(), 1);
    assert_eq!(noble[0].id, "UBUNTU-CVE-2024-0727");
    assert_eq!(
        db.advisories("Ubuntu:Pro:18.04:LTS", "openssl1.0")
            .unwrap()
            .len(),
        1
    );
    assert_eq!(db.advisories("Ubuntu", "openssl").unwrap().len(), 2);
    // upstream ids are aliases for lookup.
    assert_eq!(
        db.advisories_by_id("CVE-2023-0286").unwrap()[0].id,
        "UBUNTU-CVE-2023-0286"
    );
}

#[test]
fn redhat_csaf_vex() {
    let out = import::csaf_vex(&read("redhat-vex.json"), &Limits::default()).unwrap();
    assert_eq!(out.advisories.len(), 1);
    let a = &out.advisories[0];
    assert_eq!(a.id, "CVE-2023-44487");
    assert_eq!(a.related, vec!["RHSA-2023:5711", "RHSA-2023:5838"]);
    assert_eq!(a.severity[0].kind, "CVSS_V3");
    assert_eq!(
        a.database_specific.as_ref().unwrap()["vendor_severity"],
        "Important"
    );
    assert_eq!(out.stats.not_affected, 2);
    assert_eq!(out.stats.skipped, 1, "the container image is not an RPM");
    let by_name = |n: &str| -> Vec<&Affected> {
        a.affected
            .iter()
            .filter(|x| x.package.as_ref().unwrap().name == n)
            .collect()
    };
    // x86_64 and aarch64 builds collapse into one entry.
    let nginx = by_name("nginx");
    assert_eq!(nginx.len(), 1);
    assert_eq!(nginx[0].package.as_ref().unwrap().ecosystem, "Red Hat");
    assert_eq!(fixed(nginx[0]), Some("1:1.20.1-14.el9_2.1"));
    assert_eq!(
        ds(nginx[0], "cpe"),
        Some("cpe:/a:redhat:rhel_eus:9.2::appstream")
    );
    assert_eq!(ds(nginx[0], "product"), Some("AppStream-9.2.0.Z.EUS"));
    // No relationship, no purl: NEVRA parsed from the product id.
    let py = by_name("python3-libs");
    assert_eq!(fixed(py[0]), Some("0:3.6.8-51.el8_8.2"));
    assert_eq!(
        ds(py[0], "cpe"),
        Some("cpe:/o:redhat:enterprise_linux:8::baseos")
    );
    let httpd = by_name("httpd");
    assert_eq!(fixed(httpd[0]), None);
    assert_eq!(ds(httpd[0], "fix_status"), Some("wont-fix"));
    let node = by_name("nodejs");
    assert_eq!(ds(node[0], "fix_status"), Some("unfixed"));
    assert_eq!(ds(node[0], "cpe"), Some("cpe:/o:redhat:enterprise_linux:8"));
    assert!(by_name("tomcat").is_empty());

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    import(&dir, &[fixtures().join("redhat-vex.json")]);
    let db = Database::open(&dir).unwrap();
    assert_eq!(db.advisories("Red Hat", "nginx").unwrap().len(), 1);
    assert_eq!(db.advisories("Red Hat", "httpd").unwrap().len(), 1);
    assert!(db.advisories("Red Hat", "tomcat").unwrap().is_empty());
}

#[test]
fn csaf_archive_tar_zst() {
    let mut tar = tar::Builder::new(Vec::new());
    let doc = read("redhat-vex.json");
    for name in ["2023/cve-2023-44487.json", "index.txt"] {
        let mut h = tar::Header::new_gnu();
        h.set_size(doc.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, doc.as_slice()).unwrap();
    }
    let bytes = zstd::encode_all(tar.into_inner().unwrap().as_slice(), 3).unwrap();
    assert_eq!(
        detect_format("csaf_vex_2024-06-01.tar.zst", &bytes),
        Some(Format::CsafVexArchive)
    );
    let out = import::import_bytes(Format::CsafVexArchive, &bytes, &Limits::default()).unwrap();
    assert_eq!(out.advisories.len(), 1);
    assert_eq!(out.stats.skipped, 2, "index.txt and the container");
}

#[test]
fn formats_are_detected() {
    assert_eq!(
        detect_format("x.json", &read("debian-tracker.json")),
        Some(Format::DebianTracker)
    );
    assert_eq!(
        detect_format("x.json", &read("ubuntu-osv.json")),
        Some(Format::OsvJson)
    );
    assert_eq!(
        detect_format("x.json", &read("redhat-vex.json")),
        Some(Format::CsafVex)
    );
    let alpine = fs_err::read(shared_data().join("alpine-secdb/v3.11/main.json")).unwrap();
    assert_eq!(
        detect_format("main.json", &alpine),
        Some(Format::AlpineSecdb)
    );
    let zip = fs_err::read(shared_data().join("osv/npm/all.zip")).unwrap();
    assert_eq!(detect_format("all.zip", &zip), Some(Format::OsvZip));
    assert_eq!(detect_format("x.txt", b"hello"), None);
    assert_eq!(
        "debian-tracker".parse::<Format>(),
        Ok(Format::DebianTracker)
    );
}

#[test]
fn import_directory_of_mixed_feeds_keeps_other_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    import(&dir, &[fixtures()]);
    let db = Database::open(&dir).unwrap();
    assert_eq!(db.advisories("Debian:12", "openssl").unwrap().len(), 2);
    assert_eq!(db.advisories("Red Hat", "nginx").unwrap().len(), 1);
    let st = db.status().unwrap();
    assert_eq!(st.sources.len(), 1);
    assert!(st.sources[0].format.contains("debian-tracker"));
    assert_eq!(
        st.sources[0].warning_count, 1,
        "README.md is not a feed: {st:?}"
    );
    drop(db);
    // A second import of another path keeps the first source.
    import(&dir, &[shared_data().join("osv/npm/all.zip")]);
    let db = Database::open(&dir).unwrap();
    assert_eq!(db.status().unwrap().sources.len(), 2);
    assert_eq!(db.advisories("Debian:12", "openssl").unwrap().len(), 2);
    assert!(!db.advisories("npm", "lodash").unwrap().is_empty());
    // Re-importing the same path replaces it rather than duplicating.
    import(&dir, &[shared_data().join("osv/npm/all.zip")]);
    let db2 = Database::open(&dir).unwrap();
    assert_eq!(
        db2.advisories("npm", "lodash").unwrap(),
        db.advisories("npm", "lodash").unwrap()
    );
    assert_eq!(db2.advisories("Debian:12", "openssl").unwrap().len(), 2);
}
