//! `caisson sbom` over the `lang-binaries` fixture (built by `scripts/fixtures`,
//! see `scripts/fixtures.d/lang-binaries.fixture.sh`): Go, Rust and Java
//! packages compared with syft, trivy and the ecosystems' own tools
//! (`go version -m`, `rust-audit-info`, `sha1sum`/`unzip` on the jars).
//!
//! Every difference from syft or trivy is either normalised away in
//! [`normalise`] or listed there as a named exception with its reason.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture() -> Option<(PathBuf, Value)> {
    caisson_testsupport::fixture("lang-binaries")
}

fn sbom(root: &Path, source: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .current_dir(root)
        .args(["sbom", source, "-f", "json"])
        .output()
        .expect("caisson runs");
    assert!(
        out.status.success(),
        "caisson sbom {source} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

/// `pkg:type/namespace/name@version` with qualifiers and subpath dropped and
/// `%2F`-style escapes decoded, so both tools' spellings compare.
fn purl_key(purl: &str) -> Option<String> {
    let p = purl.split(['?', '#']).next()?;
    let mut out = String::new();
    let mut bytes = p.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let h: String = bytes.by_ref().take(2).map(char::from).collect();
            out.push(u8::from_str_radix(&h, 16).ok()? as char);
        } else {
            out.push(b as char);
        }
    }
    Some(out)
}

const TYPES: [&str; 3] = ["pkg:golang/", "pkg:cargo/", "pkg:maven/"];

/// Named normalisations of the reference tools' spellings.
fn normalise(tool: &str, key: String) -> String {
    // trivy writes the Go toolchain as `stdlib@v1.19.8`; syft, govulncheck and
    // the Go vulnerability database's OSV entries use `1.19.8`, as we do.
    if tool == "trivy" {
        if let Some(v) = key.strip_prefix("pkg:golang/stdlib@v") {
            return format!("pkg:golang/stdlib@{v}");
        }
        // trivy drops the `(devel)` version of a main module built from a
        // checkout; syft and `go version -m` keep it, as we do.
        if key.starts_with("pkg:golang/") && !key.contains('@') {
            return format!("{key}@(devel)");
        }
    }
    key
}

fn cdx_keys(path: &Path, tool: &str) -> BTreeSet<String> {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).expect("cdx")).expect("json");
    doc["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["purl"].as_str())
        .filter(|p| TYPES.iter().any(|t| p.starts_with(t)))
        // Exception `syft-gopath-main-module`: for a binary built in GOPATH
        // mode (Debian's skopeo and umoci: build info has `path` but no `mod`
        // line) syft invents a main module from the package path, as
        // `pkg:golang/github.com/containers/skopeo@(devel)#cmd/skopeo`. There
        // is no module to name; `go version -m` lists none and trivy agrees.
        .filter(|p| !(tool == "syft" && p.contains("@(devel)#")))
        .filter_map(purl_key)
        .map(|k| normalise(tool, k))
        .collect()
}

fn our_keys(doc: &Value) -> BTreeSet<String> {
    doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["purl"].as_str())
        .filter(|p| TYPES.iter().any(|t| p.starts_with(t)))
        .filter_map(purl_key)
        .collect()
}

fn only(set: &BTreeSet<String>, prefix: &str) -> BTreeSet<String> {
    set.iter()
        .filter(|k| k.starts_with(prefix))
        .cloned()
        .collect()
}

/// Modules per `go version -m`: main modules, deps after `=>`, and stdlib.
fn go_version_m(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if let Some((_, v)) = line.split_once(": go") {
            if !line.starts_with('\t') {
                out.insert(format!("pkg:golang/stdlib@{v}"));
                continue;
            }
        }
        let f: Vec<&str> = line.trim_start_matches('\t').split('\t').collect();
        match f.as_slice() {
            ["mod" | "dep", path, version, ..] => {
                if let Some(l) = last.take() {
                    out.insert(l);
                }
                last = Some(format!("pkg:golang/{path}@{version}"));
            }
            ["=>", path, version, ..] if !version.is_empty() => {
                last = Some(format!("pkg:golang/{path}@{version}"));
            }
            _ => {
                if let Some(l) = last.take() {
                    out.insert(l);
                }
            }
        }
    }
    out.extend(last);
    out
}

#[test]
fn lang_binaries_match_syft_trivy_and_native_tools() {
    let Some((root, fx)) = fixture() else { return };
    let dir = root.join("lang-binaries");
    let oci_ref = fx["oci_ref"].as_str().expect("oci_ref");
    let doc = sbom(&root, oci_ref);
    let ours = our_keys(&doc);

    // syft: the same set for all three ecosystems.
    let syft = cdx_keys(&dir.join("syft.cdx.json"), "syft");
    assert_eq!(ours, syft, "ours vs syft (left: ours)");

    // trivy: Go and Rust. Java is absent by construction: the fixture runs trivy
    // with --skip-files '**/*.jar' because its jar analyzer needs the Java DB,
    // which cannot be downloaded offline.
    let trivy = cdx_keys(&dir.join("trivy.cdx.json"), "trivy");
    for prefix in ["pkg:golang/", "pkg:cargo/"] {
        assert_eq!(
            only(&ours, prefix),
            only(&trivy, prefix),
            "{prefix} ours vs trivy"
        );
    }
    assert!(only(&trivy, "pkg:maven/").is_empty());

    // go version -m: binaries only (the go.mod beside demo-go adds nothing new:
    // its requires, after its replace, are the binary's deps).
    let go = go_version_m(
        &std::fs::read_to_string(dir.join("expected/go-version-m.txt"))
            .expect("read go version -m output"),
    );
    assert_eq!(only(&ours, "pkg:golang/"), go, "ours vs go version -m");

    // rust-audit-info: every crate in the binary (none is a build dependency here).
    let audit: Value = serde_json::from_slice(
        &std::fs::read(dir.join("expected/rust-audit-info.json"))
            .expect("read rust-audit-info output"),
    )
    .expect("parse rust-audit-info JSON");
    let crates: BTreeSet<String> = audit["packages"]
        .as_array()
        .expect("audit packages array")
        .iter()
        .filter(|p| p["kind"].as_str() != Some("build"))
        .map(|p| {
            format!(
                "pkg:cargo/{}@{}",
                p["name"].as_str().expect("audit package name"),
                p["version"].as_str().expect("audit package version")
            )
        })
        .collect();
    assert_eq!(only(&ours, "pkg:cargo/"), crates, "ours vs rust-audit-info");

    // Jars: each outer jar's SHA-1 as sha1sum computes it, on the package named
    // by its pom.properties.
    let sums =
        std::fs::read_to_string(dir.join("expected/jar-sha1.txt")).expect("read jar sha1 list");
    for line in sums.lines() {
        let (sum, path) = line.split_once("  ").expect("sha1sum line");
        let digest = format!("sha1:{sum}");
        let hit = doc["packages"]
            .as_array()
            .expect("sbom packages array")
            .iter()
            .any(|p| {
                p["locations"]
                    .as_array()
                    .expect("package locations array")
                    .iter()
                    .any(|l| l == path)
                    && p["digests"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|d| *d == digest)
            });
        assert!(hit, "no package from {path} carries {digest}");
    }
    // The fat jar's nested libraries are found, with their own digests.
    let nested: Vec<&Value> = doc["packages"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|p| {
            p["locations"][0]
                .as_str()
                .is_some_and(|l| l.starts_with("/opt/boot/demo-boot.jar!/BOOT-INF/lib/"))
        })
        .collect();
    assert_eq!(nested.len(), 3, "{nested:?}");
    assert!(nested
        .iter()
        .all(|p| p["digests"][0].as_str().is_some_and(|d| d.len() == 45)));
}

#[test]
fn docker_archive_gives_the_same_packages() {
    let Some((root, fx)) = fixture() else { return };
    let a = our_keys(&sbom(
        &root,
        fx["oci_ref"].as_str().expect("oci_ref in manifest"),
    ));
    let b = our_keys(&sbom(
        &root,
        &format!(
            "docker-archive:{}",
            fx["docker_archive"]
                .as_str()
                .expect("docker_archive in manifest")
        ),
    ));
    assert_eq!(a, b);
    assert!(a.len() > 30, "{a:?}");
}
