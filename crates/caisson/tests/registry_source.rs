//! `caisson sbom registry:…` against a real registry (Debian's docker-registry,
//! CNCF Distribution 2.8) that skopeo pushed a fixture image into.

use std::process::Command;

use caisson_testsupport::fixtures_root;
use caisson_testsupport::{
    have_tools,
    registry::{Auth, Registry},
    run,
};
use serde_json::Value;

fn packages(doc: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").into(),
                p["version"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    v.sort();
    v
}

fn sbom(args: &[&str], cache: &std::path::Path) -> (Option<i32>, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .env("CAISSON_CACHE_DIR", cache)
        .args(["sbom", "-f", "json"])
        .args(args)
        .output()
        .expect("caisson runs");
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn registry_source_matches_the_local_layout() {
    let Some(root) = fixtures_root() else { return };
    if !have_tools(&["docker-registry", "skopeo"]) {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    // Push the multi-arch index with every platform, and the 3-layer image.
    reg.push(
        &root.join("multiarch/oci"),
        "multi",
        "fx/multi:v1",
        &["--all"],
    );
    reg.push(
        &root.join("debian-extra/oci"),
        "bookworm-extra",
        "fx/extra:v1",
        &[],
    );
    let cache = tempfile::tempdir().expect("cache dir");
    let host = reg.host();

    let local = sbom(
        &[&format!(
            "oci:{}:bookworm-extra",
            root.join("debian-extra/oci").display()
        )],
        cache.path(),
    );
    assert_eq!(local.0, Some(0), "{}", local.2);
    let remote = sbom(
        &[
            &format!("registry:{host}/fx/extra:v1"),
            "--insecure-registry",
            &host,
        ],
        cache.path(),
    );
    assert_eq!(remote.0, Some(0), "{}", remote.2);
    let (l, r): (Value, Value) = (
        serde_json::from_slice(&local.1).expect("json"),
        serde_json::from_slice(&remote.1).expect("json"),
    );
    assert_eq!(packages(&l), packages(&r));
    assert_eq!(
        l["source"]["layers"], r["source"]["layers"],
        "same diff ids and layer attribution"
    );
    let digest = String::from_utf8(run(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--format",
        "{{.Digest}}",
        &format!("docker://{host}/fx/extra:v1"),
    ])))
    .expect("utf8");
    assert_eq!(r["source"]["manifest_digest"].as_str(), Some(digest.trim()));

    // Pinned by digest, arm64 from the index.
    let arm = sbom(
        &[
            &format!("registry:{host}/fx/multi:v1"),
            "--insecure-registry",
            &host,
            "--platform",
            "linux/arm64",
        ],
        cache.path(),
    );
    assert_eq!(arm.0, Some(0), "{}", arm.2);
    let arm: Value = serde_json::from_slice(&arm.1).expect("json");
    let arches: std::collections::BTreeSet<&str> = arm["packages"]
        .as_array()
        .expect("pk")
        .iter()
        .filter_map(|p| p["arch"].as_str())
        .collect();
    assert!(
        arches.contains("arm64") && !arches.contains("amd64"),
        "{arches:?}"
    );

    // Without --insecure-registry Caisson insists on HTTPS and says so.
    let https = sbom(&[&format!("registry:{host}/fx/extra:v1")], cache.path());
    assert_eq!(https.0, Some(2));
    assert!(https.2.contains(&host), "{}", https.2);

    // Unknown tag: the registry's MANIFEST_UNKNOWN reaches the user.
    let missing = sbom(
        &[
            &format!("registry:{host}/fx/extra:nope"),
            "--insecure-registry",
            &host,
        ],
        cache.path(),
    );
    assert_eq!(missing.0, Some(2));
    assert!(
        missing.2.to_lowercase().contains("manifest"),
        "{}",
        missing.2
    );
}
