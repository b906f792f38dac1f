//! Malformed package databases: warnings that name the file and line, the
//! good entries still listed, never a panic.

use caisson_catalog::{catalog, Catalogers};
use caisson_image::Squashed;
use caisson_model::{PackageType, SourceInfo};

fn run(files: &[(&str, &[u8])]) -> caisson_model::Sbom {
    catalog(
        &Catalogers::os(),
        &Squashed::from_files(files),
        SourceInfo::default(),
    )
}

#[test]
fn dpkg_status_with_broken_stanzas_keeps_the_good_ones() {
    let status = b"Package: good\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\nSource: goodsrc (1.0-0.1)\n\n\
Package: noversion\nStatus: install ok installed\n\n\
this line has no colon\n\n\
Package: removed\nStatus: deinstall ok config-files\nVersion: 2\n\n\
\x20orphan continuation\n\
Package: second\nVersion: 3\n";
    let sbom = run(&[
        ("/etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n"),
        ("/var/lib/dpkg/status", status),
    ]);
    let names: Vec<&str> = sbom.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["good", "second"]);
    let good = &sbom.packages[0];
    assert_eq!(good.source_name.as_deref(), Some("goodsrc"));
    assert_eq!(good.source_version.as_deref(), Some("1.0-0.1"));
    assert_eq!(
        good.purl,
        "pkg:deb/debian/good@1.0-1?arch=amd64&distro=debian-12&upstream=goodsrc%401.0-0.1"
    );
    let msgs: Vec<&str> = sbom.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("/var/lib/dpkg/status") && m.contains("no Package or Version")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("expected `Field: value`")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("continuation line with no field")),
        "{msgs:?}"
    );
}

#[test]
fn distroless_status_d_with_md5sums_gives_files() {
    let sbom = run(&[
        (
            "/var/lib/dpkg/status.d/tzdata",
            b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
        ),
        (
            "/var/lib/dpkg/status.d/tzdata.md5sums",
            b"0123  usr/share/zoneinfo/UTC\n4567  usr/share/zoneinfo/Europe/Paris\n",
        ),
        ("/usr/lib/os-release", b"ID=debian\nVERSION_ID=12\n"),
    ]);
    assert_eq!(sbom.packages.len(), 1);
    let p = &sbom.packages[0];
    assert_eq!(p.package_type, PackageType::Deb);
    assert_eq!(
        p.files,
        vec![
            "/usr/share/zoneinfo/UTC",
            "/usr/share/zoneinfo/Europe/Paris"
        ]
    );
    assert_eq!(p.locations, vec!["/var/lib/dpkg/status.d/tzdata"]);
    assert_eq!(sbom.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
}

#[test]
fn apk_database_with_garbage_lines() {
    let db = b"C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\nnot a field line\nP:nover\n\nP:busybox\nV:1.36.1-r29\no:busybox\nF:bin\nR:busybox\n";
    let sbom = run(&[
        ("/lib/apk/db/installed", db),
        ("/etc/alpine-release", b"3.20.3\n"),
    ]);
    let got: Vec<(&str, &str)> = sbom
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(got, vec![("busybox", "1.36.1-r29"), ("musl", "1.2.5-r0")]);
    assert_eq!(sbom.packages[1].files, vec!["/lib/ld-musl-x86_64.so.1"]);
    assert_eq!(
        sbom.packages[1].purl,
        "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"
    );
    assert_eq!(sbom.warnings.len(), 2, "{:?}", sbom.warnings);
}

#[test]
fn garbage_rpmdb_is_a_warning_not_a_failure() {
    let sbom = run(&[
        (
            "/var/lib/rpm/Packages",
            b"\x00\x01garbage that is no database",
        ),
        (
            "/etc/redhat-release",
            b"Red Hat Enterprise Linux release 8.4 (Ootpa)\n",
        ),
    ]);
    assert!(sbom.packages.is_empty());
    assert!(sbom
        .warnings
        .iter()
        .any(|w| w.code == "rpmdb-unrecognised" && w.message.contains("/var/lib/rpm/Packages")));
    assert_eq!(
        sbom.os.as_ref().and_then(|o| o.version_id.as_deref()),
        Some("8.4")
    );
}

#[test]
fn binary_garbage_in_every_database_never_panics() {
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for path in [
        "/var/lib/dpkg/status",
        "/lib/apk/db/installed",
        "/etc/os-release",
        "/var/lib/rpm/rpmdb.sqlite",
    ] {
        let _ = run(&[(path, &junk)]);
    }
}
