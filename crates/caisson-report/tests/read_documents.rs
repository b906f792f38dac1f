//! `read_sbom` on the shared test SBOMs, on hand-written documents in the
//! shapes syft, trivy and other tools write, and on hostile input.

mod common;

use caisson_model::{PackageType, Sbom};
use caisson_report::{read_sbom, Format, ReadError};
use serde_json::{json, Value};

fn read(v: &Value) -> (Sbom, Vec<caisson_model::Warning>) {
    read_sbom(v.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}: {v}"))
}

fn err(bytes: &[u8]) -> String {
    match read_sbom(bytes) {
        Ok((s, _)) => panic!("expected an error, read {s:?}"),
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            msg
        }
    }
}

#[test]
fn shared_sboms_round_trip_through_json_and_cyclonedx() {
    for (name, sbom) in common::all() {
        let json = caisson_report::to_string(Format::Json, &sbom, &common::opts()).expect("json");
        let (back, warnings) = read_sbom(json.as_bytes()).expect("read json");
        assert_eq!(back, sbom, "{name}: JSON is exact");
        assert!(warnings.is_empty());

        let cdx =
            caisson_report::to_string(Format::CycloneDxJson, &sbom, &common::opts()).expect("cdx");
        let (back, _) = read_sbom(cdx.as_bytes()).expect("read cdx");
        let strip = |s: &Sbom| {
            let mut v: Vec<_> = s
                .packages
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    // Not carried by CycloneDX, or carried lossily (licences).
                    p.files.clear();
                    p.licenses.clear();
                    p.supplier = None;
                    // `odd` repeats an id on purpose; the writer and reader make ids unique.
                    p.id.clear();
                    p
                })
                .collect();
            v.sort_by(|a, b| {
                (&a.name, &a.version, &a.arch, &a.purl)
                    .cmp(&(&b.name, &b.version, &b.arch, &b.purl))
            });
            v
        };
        let ids = |s: &Sbom| {
            let mut v: Vec<String> = s.packages.iter().map(|p| p.id.clone()).collect();
            v.sort();
            v.dedup();
            v
        };
        if ids(&sbom).len() == sbom.packages.len() {
            assert_eq!(ids(&back), ids(&sbom), "{name}: ids");
        } else {
            assert_eq!(
                ids(&back).len(),
                back.packages.len(),
                "{name}: ids made unique"
            );
        }
        assert_eq!(strip(&back), strip(&sbom), "{name}: CycloneDX packages");
        assert_eq!(back.os, sbom.os, "{name}: OS");
        assert_eq!(back.source, sbom.source, "{name}: source");
        assert_eq!(back.warnings, sbom.warnings, "{name}: recorded warnings");
    }
}

#[test]
fn cyclonedx_in_the_shapes_syft_and_trivy_write() {
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "metadata": {
            "component": {
                "type": "container", "name": "example:1", "version": "sha256:abc",
                "properties": [
                    {"name": "aquasecurity:trivy:ImageID", "value": "sha256:cfg"},
                    {"name": "aquasecurity:trivy:RepoDigest", "value": "example@sha256:0123"},
                    {"name": "aquasecurity:trivy:RepoTag", "value": "example:1"}
                ]
            }
        },
        "components": [
            {"type": "library", "name": "bsdutils", "version": "1:2.38.1-5+deb12u3",
             "purl": "pkg:deb/debian/bsdutils@2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12.5&epoch=1",
             "properties": [
                {"name": "aquasecurity:trivy:SrcName", "value": "util-linux"},
                {"name": "aquasecurity:trivy:SrcVersion", "value": "2.38.1"},
                {"name": "aquasecurity:trivy:SrcRelease", "value": "5+deb12u3"}
             ]},
            {"type": "library", "name": "login", "version": "1:4.13+dfsg1-1",
             "purl": "pkg:deb/debian/login@1:4.13%2Bdfsg1-1?arch=amd64&distro=debian-12&upstream=shadow",
             "licenses": [{"license": {"id": "GPL-2.0-only"}}, {"expression": "MIT OR BSD-3-Clause"}],
             "hashes": [{"alg": "SHA-256", "content": "AB12"}]},
            {"type": "application", "name": "app", "components": [
                {"type": "library", "name": "jackson-core",
                 "purl": "pkg:maven/com.fasterxml.jackson.core/jackson-core@2.15.2"},
                {"type": "library", "name": "core", "purl": "pkg:npm/%40angular/core@17.0.0"},
                {"type": "library", "name": "github.com/pkg/errors",
                 "purl": "pkg:golang/github.com/pkg/errors@v0.9.1"},
                {"type": "library", "name": "Django", "purl": "pkg:pypi/django@4.2"},
                {"type": "library", "name": "x", "purl": "pkg:github/a/x@1"},
                {"type": "library", "name": "y", "purl": "pkg:github/a/y@1"},
                {"type": "library", "name": "broken", "purl": "pkg:deb/x@%zz"}
            ]},
            {"type": "file", "name": "/etc/passwd"}
        ]
    });
    let (sbom, warnings) = read(&doc);
    let os = sbom.os.expect("OS from the distro qualifier");
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("debian", Some("12"))
    );
    assert_eq!(sbom.source.reference, "example:1");
    assert_eq!(sbom.source.manifest_digest.as_deref(), Some("sha256:abc"));
    assert_eq!(sbom.source.config_digest.as_deref(), Some("sha256:cfg"));
    assert_eq!(sbom.source.tags, ["example:1"]);

    let find = |n: &str| {
        sbom.packages
            .iter()
            .find(|p| p.name == n)
            .unwrap_or_else(|| panic!("{n} missing from {:?}", sbom.packages))
    };
    let b = find("bsdutils");
    assert_eq!(b.version, "1:2.38.1-5+deb12u3", "trivy's epoch qualifier");
    assert_eq!(b.source_name.as_deref(), Some("util-linux"));
    assert_eq!(b.source_version.as_deref(), Some("2.38.1-5+deb12u3"));
    assert_eq!(b.arch.as_deref(), Some("amd64"));
    let l = find("login");
    assert_eq!(l.version, "1:4.13+dfsg1-1");
    assert_eq!(l.source_name.as_deref(), Some("shadow"));
    assert_eq!(l.source_version.as_deref(), Some("1:4.13+dfsg1-1"));
    assert_eq!(l.licenses, ["GPL-2.0-only", "MIT OR BSD-3-Clause"]);
    assert_eq!(l.digests, ["sha256:ab12"]);
    assert_eq!(
        find("com.fasterxml.jackson.core:jackson-core").package_type,
        PackageType::Maven
    );
    assert_eq!(find("@angular/core").version, "17.0.0");
    assert_eq!(
        find("github.com/pkg/errors").package_type,
        PackageType::Golang
    );
    assert_eq!(find("Django").package_type, PackageType::Python);
    assert_eq!(
        sbom.packages.len(),
        6,
        "two github purls and a broken one skipped"
    );

    let codes: Vec<(&str, &str)> = warnings
        .iter()
        .map(|w| (w.code.as_str(), w.message.as_str()))
        .collect();
    assert!(
        codes.iter().any(|(c, m)| *c == "purl-type-unsupported"
            && m.contains("`github`")
            && m.contains("and 1 more")),
        "{codes:?}"
    );
    assert!(codes.iter().any(|(c, _)| *c == "purl-invalid"), "{codes:?}");
    assert!(
        codes
            .iter()
            .any(|(c, m)| *c == "component-without-purl" && m.contains("app")),
        "{codes:?}"
    );
    assert!(
        !codes.iter().any(|(_, m)| m.contains("/etc/passwd")),
        "files are not packages: {codes:?}"
    );
}

#[test]
fn operating_system_components_and_alpine_distro_qualifiers() {
    let syft_os = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6",
        "components": [
            {"type": "operating-system", "name": "rocky", "version": "9.3",
             "description": "Rocky Linux 9.3 (Blue Onyx)",
             "properties": [
                {"name": "syft:distro:idLike:0", "value": "rhel"},
                {"name": "syft:distro:idLike:1", "value": "centos"}
             ]},
            {"type": "library", "name": "caisson-hello", "version": "2:1.4.2-3.el9",
             "purl": "pkg:rpm/rocky/caisson-hello@1.4.2-3.el9?arch=x86_64&distro=rocky-9.3&epoch=2&upstream=caisson-hello-1.4.2-3.el9.src.rpm"}
        ]
    });
    let (sbom, _) = read(&syft_os);
    let os = sbom.os.expect("os");
    assert_eq!(os.id, "rocky");
    assert_eq!(os.version_id.as_deref(), Some("9.3"));
    assert_eq!(os.id_like, ["rhel", "centos"]);
    let p = &sbom.packages[0];
    assert_eq!((p.version.as_str(), p.epoch), ("1.4.2-3.el9", Some(2)));
    assert_eq!(p.source_name.as_deref(), Some("caisson-hello"));

    // trivy writes `distro=3.23.6` without the id.
    let trivy_apk = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "components": [
            {"type": "library", "name": "alpine-baselayout-data", "version": "3.7.2-r0",
             "purl": "pkg:apk/alpine/alpine-baselayout-data@3.7.2-r0?arch=x86_64&distro=3.23.6",
             "properties": [
                {"name": "aquasecurity:trivy:SrcName", "value": "alpine-baselayout"},
                {"name": "aquasecurity:trivy:SrcVersion", "value": "3.7.2-r0"}
             ]}
        ]
    });
    let (sbom, _) = read(&trivy_apk);
    let os = sbom.os.expect("os");
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("alpine", Some("3.23.6"))
    );
    assert_eq!(
        sbom.packages[0].source_name.as_deref(),
        Some("alpine-baselayout")
    );
}

#[test]
fn spdx_2_2_with_package_manager_underscore_and_a_described_root() {
    let doc = json!({
        "spdxVersion": "SPDX-2.2",
        "SPDXID": "SPDXRef-DOCUMENT",
        "documentDescribes": ["SPDXRef-root"],
        "packages": [
            {"SPDXID": "SPDXRef-root", "name": "myimage", "versionInfo": "sha256:feed",
             "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl",
                               "referenceLocator": "pkg:oci/myimage@sha256:feed"}]},
            {"SPDXID": "SPDXRef-a", "name": "libc6", "versionInfo": "2.36-9",
             "supplier": "Organization: GNU Libc Maintainers (x@y.org)",
             "licenseDeclared": "NOASSERTION", "licenseConcluded": "LGPL-2.1-or-later",
             "externalRefs": [
                {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a:x"},
                {"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl",
                 "referenceLocator": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc"}]},
            {"SPDXID": "SPDXRef-b", "name": "no-purl"}
        ]
    });
    let (sbom, warnings) = read(&doc);
    assert_eq!(sbom.source.reference, "myimage");
    assert_eq!(
        sbom.packages.len(),
        1,
        "the described root is not a package"
    );
    let p = &sbom.packages[0];
    assert_eq!(p.source_name.as_deref(), Some("glibc"));
    assert_eq!(p.source_version.as_deref(), Some("2.36-9"));
    assert_eq!(p.licenses, ["LGPL-2.1-or-later"]);
    assert_eq!(
        p.supplier.as_deref(),
        Some("GNU Libc Maintainers (x@y.org)")
    );
    assert_eq!(sbom.os.expect("os").version_id.as_deref(), Some("12"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].code, "package-without-purl");
}

#[test]
fn errors_say_what_is_wrong() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{}".to_vec(), "not an SBOM: no bomFormat/spdxVersion/schema_version"),
        (b"".to_vec(), "not an SBOM: the document is empty"),
        (b"[1]".to_vec(), "not an SBOM: the top level is not a JSON object"),
        (b"<bom/>".to_vec(), "XML"),
        (b"SPDXVersion: SPDX-2.3\n".to_vec(), "tag-value"),
        (
            br#"{"bomFormat":"CycloneDX","specVersion":"1.1"}"#.to_vec(),
            "CycloneDX specVersion 1.1 is not supported",
        ),
        (
            br#"{"bomFormat":"SWID","specVersion":"1.6"}"#.to_vec(),
            "bomFormat is \"SWID\"",
        ),
        (
            br#"{"spdxVersion":"SPDX-3.0"}"#.to_vec(),
            "SPDX version SPDX-3.0 is not supported",
        ),
        (
            br#"{"schema_version":2,"source":{},"packages":[]}"#.to_vec(),
            "Caisson JSON schema_version 2 is not supported",
        ),
        (
            br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":"x"}"#.to_vec(),
            "CycloneDX: components should be an array, but is a string",
        ),
        (
            br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"purl":5}]}"#.to_vec(),
            "CycloneDX: components[0].purl should be a string, but is a number",
        ),
        (
            br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"components":[{"properties":[{"name":1}]}]}]}"#.to_vec(),
            "components[0].components[0].properties[0].name should be a string",
        ),
        (
            br#"{"spdxVersion":"SPDX-2.3","packages":[{"externalRefs":{}}]}"#.to_vec(),
            "SPDX: packages[0].externalRefs should be an array, but is an object",
        ),
        (
            br#"{"schema_version":1,"source":{"reference":"x","kind":"oci"},"packages":[{"id":"a","type":"deb","name":"a","version":7,"purl":"","locations":[]}]}"#.to_vec(),
            "Caisson JSON: packages[0].version: invalid type: integer `7`",
        ),
        (
            br#"{"schema_version":1,"source":{"reference":"x","kind":"oci"},"packages":[{"id":"a","type":"snap","name":"a","version":"1","purl":"","locations":[]}]}"#.to_vec(),
            "packages[0].type: unknown variant `snap`",
        ),
    ];
    for (bytes, want) in cases {
        let got = err(&bytes);
        assert!(
            got.contains(want),
            "{}: got `{got}`, expected it to contain `{want}`",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn truncated_documents_are_errors_at_every_length() {
    let cdx = caisson_report::to_string(Format::CycloneDxJson, &common::debian(), &common::opts())
        .expect("cdx");
    let spdx = caisson_report::to_string(Format::SpdxJson, &common::debian(), &common::opts())
        .expect("spdx");
    let native =
        caisson_report::to_string(Format::Json, &common::debian(), &common::opts()).expect("json");
    for doc in [cdx, spdx, native] {
        let bytes = doc.trim_end().as_bytes();
        for n in 0..bytes.len() {
            let cut = bytes.get(..n).expect("prefix");
            assert!(read_sbom(cut).is_err(), "prefix of {n} bytes was accepted");
        }
        assert!(read_sbom(bytes).is_ok());
    }
}

fn nested(depth: usize) -> String {
    let mut s = String::from(r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":"#);
    for i in 0..depth {
        s.push_str(&format!(
            r#"[{{"type":"library","name":"p{i}","purl":"pkg:npm/p{i}@1","components":"#
        ));
    }
    s.push_str("[]");
    for _ in 0..depth {
        s.push_str("}]");
    }
    s.push('}');
    s
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let (sbom, _) = read_sbom(nested(60).as_bytes()).expect("60 levels are fine");
    assert_eq!(sbom.packages.len(), 60);
    for depth in [65, 100, 10_000] {
        let msg = err(nested(depth).as_bytes());
        assert!(
            msg.contains("nested more than 64 deep") || msg.contains("recursion limit"),
            "{depth}: {msg}"
        );
    }
    // Any deep JSON, not only components.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(err(deep.as_bytes()).contains("recursion limit"));
}

#[test]
fn huge_documents_and_arrays_are_bounded() {
    let mut doc = String::from(r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":["#);
    doc.push_str(&"{},".repeat(1_000_000));
    doc.push_str("{}]}");
    let msg = err(doc.as_bytes());
    assert!(msg.contains("more than 1000000 components"), "{msg}");

    let mut spdx = String::from(r#"{"spdxVersion":"SPDX-2.3","packages":["#);
    spdx.push_str(&"{},".repeat(1_000_000));
    spdx.push_str("{}]}");
    assert!(err(spdx.as_bytes()).contains("more than 1000000 packages"));

    let big = vec![b' '; caisson_report::read::MAX_BYTES + 1];
    assert!(matches!(read_sbom(&big), Err(ReadError::TooLarge { .. })));
}
