//! `caisson serve --db` scanning with the real binary: `caisson registry
//! status|scan` with credentials from an auth file, and kill -9 of the
//! server while a scan runs (the queue survives).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::{fixture, have_tool, registry::free_port, write_auth_file};
use sha2::Digest as _;

const PASSWORD: &str = "admin-password-1";

struct Serve {
    child: Child,
    host: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, port: u16, extra: &[&str]) -> Serve {
    let host = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &host, "--gc-interval", "0", "--db-poll", "1"])
        .args(extra)
        .env("CAISSON_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start caisson serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::blocking::get(format!("http://{host}/v2/")) {
            if r.status() == 401 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "caisson serve did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    Serve { child, host }
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn tar_with(path: &str, contents: &[u8]) -> Vec<u8> {
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
fn push_python(host: &str, repo: &str, tag: &str, name: &str, version: &str) -> String {
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

fn caisson(args: &[&str], auth_file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(args)
        .env("REGISTRY_AUTH_FILE", auth_file)
        .env_remove("CAISSON_USER")
        .env_remove("CAISSON_PASSWORD")
        .output()
        .expect("caisson runs")
}

fn import_db(dir: &Path, feeds: &[&str]) {
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

fn health(host: &str, repo: &str, digest: &str) -> serde_json::Value {
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "http://{host}/api/v1/repositories/{repo}/manifests/{digest}/health"
        ))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .expect("health");
    serde_json::from_slice(&r.bytes().expect("body")).expect("json")
}

fn wait_scanned(host: &str, repo: &str, digest: &str, secs: u64) -> serde_json::Value {
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

#[test]
fn registry_status_and_scan_commands() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("db");
    import_db(&db, &["osv/PyPI/all.zip"]);
    let port = free_port();
    let s = serve(
        &tmp.path().join("data"),
        port,
        &["--db", db.to_str().expect("utf-8")],
    );
    let digest = push_python(&s.host, "team/app", "v1", "urllib3", "1.26.4");
    wait_scanned(&s.host, "team/app", &digest, 120);
    let auth = write_auth_file(tmp.path(), &s.host, "admin", PASSWORD);
    let reference = format!("{}/team/app:v1", s.host);
    let insecure = format!("--insecure-registry={}", s.host);

    let out = caisson(&["registry", "status", &reference, &insecure], &auth);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("image:      team/app@{digest}")),
        "{text}"
    );
    assert!(text.contains("health:     vulnerable"), "{text}");
    assert!(text.contains("threshold:  high"), "{text}");
    assert!(text.contains("packages:   1"), "{text}");
    assert!(text.contains("db age:     0 min"), "{text}");
    assert!(!text.contains("scanned at: never"), "{text}");

    let out = caisson(
        &[
            "registry",
            "status",
            &reference,
            &insecure,
            "--json",
            "--exit-code",
        ],
        &auth,
    );
    assert_eq!(out.status.code(), Some(1), "not healthy → exit 1");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["health"], "vulnerable");
    assert!(v["counts"].as_object().expect("counts").values().count() > 0);

    let by_digest = format!("{}/team/app@{digest}", s.host);
    let out = caisson(&["registry", "scan", &by_digest, &insecure], &auth);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["queued"], 1, "{v}");

    // Wrong credentials: the API's 401 is the error.
    let bad = write_auth_file(tmp.path(), &s.host, "admin", "wrong");
    let out = caisson(&["registry", "status", &reference, &insecure], &bad);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// kill -9 while a scan runs: after a restart every queued and running job completes.
#[test]
fn kill_9_during_a_scan_loses_no_job() {
    if !have_tool("skopeo") {
        return;
    }
    let Some((root, _)) = fixture("lang-python-node") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    let mut s = serve(&data, port, &["--scan-workers", "1"]);
    let out = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--preserve-digests",
        ])
        .arg(format!("--dest-creds=admin:{PASSWORD}"))
        .arg(format!(
            "oci:{}:lang",
            root.join("lang-python-node/oci").display()
        ))
        .arg(format!("docker://{}/big/app:1", s.host))
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let small: Vec<String> = (0..3)
        .map(|i| push_python(&s.host, &format!("small/app{i}"), "1", "idna", "3.4"))
        .collect();
    // Kill as soon as a scan is running (the big image takes a while).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = reqwest::blocking::Client::new()
            .get(format!("http://{}/api/v1/scanning", s.host))
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .expect("status");
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
        if v["queue"]["running"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no scan started: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.child.kill().expect("kill -9");
    s.child.wait().expect("wait");
    drop(s);

    let s = serve(&data, port, &["--scan-workers", "1"]);
    let big = wait_scanned_tag(&s.host, "big/app", "1");
    let h = wait_scanned(&s.host, "big/app", &big, 300);
    assert!(h["packages"].as_u64().expect("packages") > 50, "{h}");
    for (i, d) in small.iter().enumerate() {
        let h = wait_scanned(&s.host, &format!("small/app{i}"), d, 120);
        assert_eq!(h["packages"], 1, "{h}");
    }
}

fn wait_scanned_tag(host: &str, repo: &str, tag: &str) -> String {
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
