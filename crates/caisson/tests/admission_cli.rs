//! `caisson admission manifests` and `caisson admission serve`: the generated
//! certificates serve the webhook over HTTPS, decisions reach the decision log.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::registry::free_port;
use serde_json::{json, Value as Json};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn manifests_flags_and_cert_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args([
            "admission",
            "manifests",
            "--namespace",
            "sec",
            "--service",
            "hook",
        ])
        .args([
            "--failure-policy",
            "Ignore",
            "--timeout-seconds",
            "7",
            "--image",
            "registry.example.com/caisson:1.0",
        ])
        .args(["-p", "pss-restricted", "--cert-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "failurePolicy: Ignore",
        "timeoutSeconds: 7",
        "image: registry.example.com/caisson:1.0",
        "- pss-restricted",
        "name: hook.sec.caisson.dev",
    ] {
        assert!(yaml.contains(expected), "{expected:?} missing:\n{yaml}");
    }
    for f in ["ca.crt", "tls.crt", "tls.key"] {
        assert!(fs_err::read_to_string(dir.path().join(f))
            .unwrap()
            .contains("-----BEGIN"));
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args([
            "admission",
            "manifests",
            "--namespace",
            "sec",
            "--service",
            "hook",
            "--timeout-seconds",
            "31",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let bad = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args([
            "admission",
            "manifests",
            "--namespace",
            "Sec",
            "--service",
            "hook",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a DNS label"));
}

#[test]
fn serve_answers_over_https_and_logs_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args([
            "admission",
            "manifests",
            "--namespace",
            "sec",
            "--service",
            "hook",
            "--cert-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap()
        .status;
    assert!(st.success());
    let port = free_port();
    let log = dir.path().join("decisions.jsonl");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_caisson"))
            .args([
                "admission",
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "-p",
                "pss-baseline",
            ])
            .arg("--tls-cert")
            .arg(dir.path().join("tls.crt"))
            .arg("--tls-key")
            .arg(dir.path().join("tls.key"))
            .arg("--decision-log")
            .arg(&log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ca = fs_err::read(dir.path().join("ca.crt")).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("hook.sec.svc", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let base = format!("https://hook.sec.svc:{port}");
    let started = Instant::now();
    loop {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "cli-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default", "name": "p", "operation": "CREATE",
            "userInfo": {"username": "bob"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                       "spec": {"hostPID": true, "containers": [{"name": "c", "image": "nginx:1.27"}]}}}});
    let resp = client
        .post(format!("{base}/admission/validate"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&review).unwrap())
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Json = serde_json::from_str(&resp.text().unwrap()).unwrap();
    assert_eq!(body["response"]["uid"], "cli-1");
    assert_eq!(body["response"]["allowed"], false);
    assert!(body["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("spec.hostPID=true"));
    let line = fs_err::read_to_string(&log).unwrap();
    let rec: Json = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(rec["user"], "bob");
    assert_eq!(rec["denied_by"], json!(["pss-baseline"]));
}
