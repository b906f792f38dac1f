//! The `signed-images` admission policy on live facts: `caisson admission
//! serve --trusted-key` resolves each image of a Pod in a real registry
//! (Debian's `docker-registry`) and verifies its cosign signatures with the
//! real verifier. Unsigned → denied with the verifier's reason; signed with
//! the trusted key → allowed; signed with another key → denied; once
//! verified, the verdict is cached per digest (the registry can go away).
#![allow(clippy::unwrap_used)]

mod serve_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::registry::{free_port, Auth, Registry};
use caisson_testsupport::{fixture, have_tools};
use serde_json::Value as Json;
use serve_support::pod_review;

const PASSWORD: &str = "admission test";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn caisson(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(args)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env("REGISTRY_AUTH_FILE", "/nonexistent/auth.json")
        .output()
        .unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn signed_images_policy_verifies_signatures_in_the_registry() {
    if !have_tools(&["docker-registry", "skopeo"]) {
        return;
    }
    let Some((root, entry)) = fixture("alpine") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "fixture alpine missing in CI"
        );
        return;
    };
    let reg = Registry::start(Auth::None, None);
    let host = reg.host();
    let layout = root.join(entry["oci"].as_str().unwrap());
    let tag = entry["tag"].as_str().unwrap();
    for dest in ["app:1", "other:1"] {
        let st = Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{host}/{dest}"))
            .status()
            .unwrap();
        assert!(st.success(), "skopeo push {dest}");
    }

    let dir = tempfile::tempdir().unwrap();
    for prefix in ["trusted", "stranger"] {
        let out = caisson(&[
            "key",
            "generate",
            "--output-key-prefix",
            p(&dir.path().join(prefix)),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = caisson(&[
        "admission",
        "manifests",
        "--namespace",
        "sec",
        "--service",
        "hook",
        "--cert-dir",
        p(dir.path()),
    ]);
    assert!(out.status.success());

    let port = free_port();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_caisson"))
            .args([
                "admission",
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "-p",
                "signed-images",
            ])
            .args([
                "--tls-cert",
                p(&dir.path().join("tls.crt")),
                "--tls-key",
                p(&dir.path().join("tls.key")),
            ])
            .args([
                "--trusted-key",
                p(&dir.path().join("trusted.pub")),
                "--insecure-registry",
                &host,
            ])
            .args(["--failure-cache-secs", "0"])
            .env("REGISTRY_AUTH_FILE", "/nonexistent/auth.json")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ca = fs_err::read(dir.path().join("ca.crt")).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("hook.sec.svc", ([127, 0, 0, 1], port).into())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = format!("https://hook.sec.svc:{port}");
    let started = Instant::now();
    while !client
        .get(format!("{base}/healthz"))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let decide = |uid: &str, image: &str| -> (bool, String) {
        let text = client
            .post(format!("{base}/admission/validate"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&pod_review(uid, image)).unwrap())
            .send()
            .unwrap()
            .text()
            .unwrap();
        let body: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(body["response"]["uid"], uid);
        (
            body["response"]["allowed"].as_bool().unwrap(),
            body["response"]["status"]["message"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    };
    let app = format!("{host}/app:1");
    let other = format!("{host}/other:1");

    // Unsigned: the verifier found nothing.
    let (allowed, msg) = decide("u1", &app);
    assert!(!allowed);
    assert!(
        msg.contains("signature not verified") && msg.contains("no signatures found"),
        "{msg}"
    );

    // Signed with the trusted key: allowed.
    let out = caisson(&[
        "sign",
        "--key",
        p(&dir.path().join("trusted.key")),
        &app,
        "--insecure-registry",
        &host,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (allowed, msg) = decide("u2", &app);
    assert!(allowed, "{msg}");

    // Signed, but by a key the webhook does not trust: denied, with the reason.
    let out = caisson(&[
        "sign",
        "--key",
        p(&dir.path().join("stranger.key")),
        &other,
        "--insecure-registry",
        &host,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (allowed, msg) = decide("u3", &other);
    assert!(!allowed);
    assert!(msg.contains("no valid signature"), "{msg}");

    // An image that does not exist: denied, naming the resolution failure.
    let (allowed, msg) = decide("u4", &format!("{host}/missing:1"));
    assert!(!allowed);
    assert!(msg.contains("cannot resolve"), "{msg}");

    // The verdict for app:1 is cached per digest: with the registry gone,
    // the warm webhook still admits it, and still denies the unverified one.
    drop(reg);
    let (allowed, msg) = decide("u5", &app);
    assert!(allowed, "{msg}");
}
