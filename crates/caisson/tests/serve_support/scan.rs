//! Scanning helpers for tests against `caisson serve --db`: advisory
//! databases from the shared snapshots, tiny Python images pushed over the
//! API, and waiting for scans through the health endpoint.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::Digest as _;

use super::PASSWORD;

pub fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

pub fn tar_with(path: &str, contents: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", contents.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(contents);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

/// Pushes a one-layer image holding one Python distribution; returns its digest.
pub fn push_python(host: &str, repo: &str, tag: &str, name: &str, version: &str) -> String {
    let c = reqwest::blocking::Client::new();
    let layer = tar_with(
        &format!("usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").as_bytes(),
    );
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}
    }))
    .expect("json");
    for b in [&layer, &config] {
        let r = c
            .post(format!(
                "http://{host}/v2/{repo}/blobs/uploads/?digest={}",
                sha256(b)
            ))
            .basic_auth("admin", Some(PASSWORD))
            .body(b.clone())
            .send()
            .expect("blob");
        assert_eq!(r.status(), 201);
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(&layer), "size": layer.len()}]
    }))
    .expect("json");
    let r = c
        .put(format!("http://{host}/v2/{repo}/manifests/{tag}"))
        .basic_auth("admin", Some(PASSWORD))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .expect("manifest");
    assert_eq!(r.status(), 201);
    sha256(&manifest)
}

pub fn import_db(dir: &Path, feeds: &[&str]) {
    let data = caisson_testsupport::advisory_data::data_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["db", "--db"])
        .arg(dir)
        .arg("import")
        .args(feeds.iter().map(|f| data.join(f)))
        .output()
        .expect("caisson db import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn health(host: &str, repo: &str, digest: &str) -> serde_json::Value {
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "http://{host}/api/v1/repositories/{repo}/manifests/{digest}/health"
        ))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .expect("health");
    serde_json::from_slice(&r.bytes().expect("body")).expect("json")
}

pub fn wait_scanned(host: &str, repo: &str, digest: &str, secs: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let h = health(host, repo, digest);
        if h["scanned_at_ms"].is_i64() && h["job"].is_null() {
            return h;
        }
        assert!(Instant::now() < deadline, "not scanned: {h}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn wait_scanned_tag(host: &str, repo: &str, tag: &str) -> String {
    let r = reqwest::blocking::Client::new()
        .get(format!("http://{host}/v2/{repo}/manifests/{tag}"))
        .basic_auth("admin", Some(PASSWORD))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .expect("manifest");
    r.headers()["docker-content-digest"]
        .to_str()
        .expect("digest")
        .to_string()
}
