//! Real clients against `caisson serve` (the binary): skopeo push and pull of
//! the fixture OCI layouts with and without credentials, robot credentials,
//! byte-identical manifests and indexes; `caisson audit verify` detecting a
//! tampered record; kill -9 during concurrent pushes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::{fixture, have_tool, registry::free_port, run};

const PASSWORD: &str = "admin-password-1";

struct Serve {
    child: Child,
    host: String,
    _data: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, extra: &[&str]) -> Serve {
    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &host, "--gc-interval", "0"])
        .args(extra)
        .env("CAISSON_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start caisson serve");
    let s = Serve {
        child,
        host: host.clone(),
        _data: data.to_path_buf(),
    };
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
    s
}

/// The manifest (or index) bytes a layout's tag points at.
fn layout_manifest(layout: &Path, tag: &str) -> Vec<u8> {
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(layout.join("index.json")).expect("index.json"))
            .expect("json");
    let desc = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .expect("tag in layout");
    let d = desc["digest"].as_str().expect("digest");
    let (alg, hex) = d.split_once(':').expect("alg:hex");
    fs_err::read(layout.join("blobs").join(alg).join(hex)).expect("manifest blob")
}

fn skopeo() -> Command {
    let mut c = Command::new("skopeo");
    c.arg("--insecure-policy");
    c
}

fn admin_api(
    s: &Serve,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = reqwest::blocking::Client::new()
        .request(method, format!("http://{}/api/v1{path}", s.host))
        .basic_auth("admin", Some(PASSWORD))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).expect("json"))
        .send()
        .expect("api call");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    serde_json::from_slice(&r.bytes().expect("body")).unwrap_or(serde_json::Value::Null)
}

fn push_pull_round_trip(name: &str, all: bool) {
    if !have_tool("skopeo") {
        return;
    }
    let Some((root, entry)) = fixture(name) else {
        return;
    };
    let layout = root.join(entry["oci"].as_str().expect("oci"));
    let tag = entry["tag"].as_str().expect("tag");
    let dir = tempfile::tempdir().expect("tempdir");
    let s = serve(&dir.path().join("data"), &[]);
    let creds = format!("admin:{PASSWORD}");
    let dest = format!("docker://{}/fixtures/{name}:{tag}", s.host);
    let mut push = skopeo();
    push.args([
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
    ]);
    if all {
        push.arg("--all");
    }
    run(push
        .arg(format!("oci:{}:{tag}", layout.display()))
        .arg(&dest));
    let raw = run(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", &creds])
        .arg(&dest));
    let expected = layout_manifest(&layout, tag);
    assert_eq!(
        raw, expected,
        "{name}: registry serves the layout's manifest byte for byte"
    );
    // Pull back into a fresh layout: same manifest bytes, same blobs.
    let out = dir.path().join("out");
    let mut pull = skopeo();
    pull.args([
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--src-creds",
        &creds,
    ]);
    if all {
        pull.arg("--all");
    }
    run(pull.arg(&dest).arg(format!("oci:{}:{tag}", out.display())));
    assert_eq!(
        layout_manifest(&out, tag),
        expected,
        "{name}: pulled manifest identical"
    );
    for e in fs_err::read_dir(out.join("blobs/sha256")).expect("blobs") {
        let e = e.expect("entry");
        let original = layout.join("blobs/sha256").join(e.file_name());
        assert!(
            original.exists(),
            "{name}: pulled blob {:?} is from the fixture",
            e.file_name()
        );
        assert_eq!(
            fs_err::read(e.path()).expect("pulled"),
            fs_err::read(&original).expect("orig")
        );
    }
}

#[test]
fn skopeo_push_pull_debian_byte_identical() {
    push_pull_round_trip("debian", false);
}

#[test]
fn skopeo_push_pull_multiarch_index_byte_identical() {
    push_pull_round_trip("multiarch", true);
}

#[test]
fn skopeo_anonymous_pull_of_public_namespace_and_robot_push() {
    if !have_tool("skopeo") {
        return;
    }
    let Some((root, entry)) = fixture("alpine") else {
        return;
    };
    let layout = root.join(entry["oci"].as_str().expect("oci"));
    let tag = entry["tag"].as_str().expect("tag");
    let dir = tempfile::tempdir().expect("tempdir");
    let s = serve(&dir.path().join("data"), &[]);
    admin_api(
        &s,
        reqwest::Method::PUT,
        "/namespaces/pub",
        serde_json::json!({"public": true}),
    );
    let robot = admin_api(
        &s,
        reqwest::Method::POST,
        "/robots",
        serde_json::json!({"name": "ci", "scopes": [{"namespace": "pub", "actions": ["pull", "push"]}]}),
    );
    let secret = robot["secret"].as_str().expect("secret shown once");
    let dest = format!("docker://{}/pub/alpine:{tag}", s.host);
    let src = format!("oci:{}:{tag}", layout.display());
    // Anonymous push is refused.
    let out = skopeo()
        .args(["copy", "--dest-tls-verify=false", "--dest-no-creds"])
        .arg(&src)
        .arg(&dest)
        .output()
        .expect("skopeo");
    assert!(!out.status.success(), "anonymous push must fail");
    // The robot may push to its namespace only.
    let creds = format!("robot$ci:{secret}");
    run(skopeo()
        .args([
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
        ])
        .arg(&src)
        .arg(&dest));
    let out = skopeo()
        .args(["copy", "--dest-tls-verify=false", "--dest-creds", &creds])
        .arg(&src)
        .arg(format!("docker://{}/private/alpine:{tag}", s.host))
        .output()
        .expect("skopeo");
    assert!(
        !out.status.success(),
        "robot push outside its scope must fail"
    );
    // Anyone may pull from the public namespace.
    let raw = run(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false", "--no-creds"])
        .arg(&dest));
    assert_eq!(raw, layout_manifest(&layout, tag));
    drop(s);
    // The denials and the robot's work are in the audit log, and it verifies.
    let export = run(Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["audit", "export", "--data-dir"])
        .arg(dir.path().join("data")));
    let text = String::from_utf8(export).expect("utf8");
    assert!(
        text.lines()
            .any(|l| l.contains("\"actor\":\"robot:robot$ci\"") && l.contains("push-manifest")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("\"outcome\":\"denied\"") && l.contains("private/alpine")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("\"action\":\"create-robot\"")),
        "{text}"
    );
    let v = run(Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["audit", "verify", "--data-dir"])
        .arg(dir.path().join("data")));
    assert!(String::from_utf8_lossy(&v).contains("intact"));
}

#[test]
fn audit_verify_detects_an_edited_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    {
        let s = serve(&data, &[]);
        admin_api(
            &s,
            reqwest::Method::PUT,
            "/namespaces/team",
            serde_json::json!({}),
        );
        admin_api(
            &s,
            reqwest::Method::POST,
            "/users",
            serde_json::json!({"name": "bob", "password": "bob-password"}),
        );
        admin_api(
            &s,
            reqwest::Method::PUT,
            "/namespaces/team/members/bob",
            serde_json::json!({"role": "writer"}),
        );
    }
    let verify = |data: &Path| {
        Command::new(env!("CARGO_BIN_EXE_caisson"))
            .args(["audit", "verify", "--data-dir"])
            .arg(data)
            .output()
            .expect("audit verify")
    };
    let ok = verify(&data);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let conn = rusqlite::Connection::open(data.join("meta.sqlite")).expect("open db");
    let seq: i64 = conn
        .query_row(
            "SELECT seq FROM audit WHERE action = 'set-member'",
            [],
            |r| r.get(0),
        )
        .expect("membership change audited");
    conn.execute("UPDATE audit SET detail = 'admin' WHERE seq = ?1", [seq])
        .expect("tamper");
    drop(conn);
    let bad = verify(&data);
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(out.contains(&format!("BROKEN at record {seq}")), "{out}");
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing plain HTTP"));
}

/// Pushes images over HTTP (chunked uploads) until the server dies.
fn hammer(host: String, thread: usize, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use sha2::Digest as _;
    let client = reqwest::blocking::Client::new();
    let auth = |r: reqwest::blocking::RequestBuilder| r.basic_auth("admin", Some(PASSWORD));
    let mut i = 0usize;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        i += 1;
        let layer: Vec<u8> = (0..(200_000 + i * 7919))
            .map(|b| (b * 31 + thread + i) as u8)
            .collect();
        let d = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&layer)));
        let repo = format!("crash/t{thread}");
        let Ok(r) = auth(client.post(format!("http://{host}/v2/{repo}/blobs/uploads/"))).send()
        else {
            return;
        };
        let Some(loc) = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string)
        else {
            return;
        };
        for (n, chunk) in layer.chunks(65536).enumerate() {
            let start = n * 65536;
            let range = format!("{start}-{}", start + chunk.len() - 1);
            if auth(client.patch(format!("http://{host}{loc}")))
                .header("content-range", range)
                .body(chunk.to_vec())
                .send()
                .is_err()
            {
                return;
            }
        }
        if auth(client.put(format!("http://{host}{loc}?digest={d}")))
            .send()
            .is_err()
        {
            return;
        }
        let cfg = format!(r#"{{"os":"linux","n":{i}}}"#);
        let cd = format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(cfg.as_bytes()))
        );
        if auth(client.post(format!(
            "http://{host}/v2/{repo}/blobs/uploads/?digest={cd}"
        )))
        .body(cfg.clone())
        .send()
        .is_err()
        {
            return;
        }
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cfg.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": layer.len()}]});
        if auth(client.put(format!("http://{host}/v2/{repo}/manifests/v{i}")))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(m.to_string())
            .send()
            .is_err()
        {
            return;
        }
    }
}

#[test]
fn kill_9_during_concurrent_pushes_leaves_a_consistent_store() {
    use sha2::Digest as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut s = serve(&data, &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (host, stop) = (s.host.clone(), stop.clone());
            std::thread::spawn(move || hammer(host, t, stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    // SIGKILL: no destructors, no flush.
    s.child.kill().expect("kill -9");
    let _ = s.child.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    drop(s);
    // Restart with upload TTL 0: interrupted uploads are removed at start.
    let s = serve(&data, &["--upload-ttl", "0"]);
    let storage = data.join("storage");
    let mut blobs = 0;
    for prefix in fs_err::read_dir(storage.join("blobs/sha256")).expect("blobs") {
        for f in fs_err::read_dir(prefix.expect("prefix").path()).expect("prefix dir") {
            let f = f.expect("blob");
            let bytes = fs_err::read(f.path()).expect("read blob");
            assert_eq!(
                hex::encode(sha2::Sha256::digest(&bytes)),
                f.file_name().to_string_lossy(),
                "blob re-hashes to its name"
            );
            blobs += 1;
        }
    }
    assert!(blobs > 0, "some pushes completed before the kill");
    let conn = rusqlite::Connection::open(data.join("meta.sqlite")).expect("db");
    let mut stmt = conn
        .prepare("SELECT child FROM manifest_refs UNION SELECT digest FROM manifests")
        .expect("query");
    let refs: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("refs");
    for d in &refs {
        let hex = d.strip_prefix("sha256:").expect("sha256");
        assert!(
            storage
                .join("blobs/sha256")
                .join(&hex[..2])
                .join(hex)
                .exists(),
            "{d} referenced but missing"
        );
    }
    let sessions: i64 = conn
        .query_row("SELECT COUNT(*) FROM uploads", [], |r| r.get(0))
        .expect("count");
    assert_eq!(sessions, 0, "interrupted upload sessions cleaned");
    let leftovers: Vec<_> = fs_err::read_dir(storage.join("uploads"))
        .expect("uploads")
        .flatten()
        .filter(|e| {
            // Files without a session younger than a minute are kept by design.
            e.metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(60))
        })
        .collect();
    assert!(leftovers.is_empty());
    assert_eq!(
        fs_err::read_dir(storage.join("tmp")).expect("tmp").count(),
        0
    );
    drop(s);
}

/// `caisson serve --admission`: the webhook answers beside the registry and
/// each decision lands in the registry's hash-chained audit log.
#[test]
fn admission_webhook_beside_the_registry_audits_decisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let review = |uid: &str, host_pid: bool| {
        serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "namespace": "default", "name": uid, "operation": "CREATE",
                "userInfo": {"username": "deployer"},
                "object": {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": uid, "namespace": "default"},
                    "spec": {"hostPID": host_pid,
                        "containers": [{"name": "c", "image": "registry.example/app:1.0"}]}}}})
    };
    {
        let s = serve(&data, &["--admission-policy", "pss-baseline"]);
        for (uid, host_pid, allowed) in [("bad", true, false), ("good", false, true)] {
            let r = reqwest::blocking::Client::new()
                .post(format!("http://{}/admission/validate", s.host))
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&review(uid, host_pid)).expect("json"))
                .send()
                .expect("POST review");
            assert_eq!(r.status(), 200);
            let body: serde_json::Value =
                serde_json::from_slice(&r.bytes().expect("body")).expect("review JSON");
            assert_eq!(body["response"]["uid"], uid);
            assert_eq!(body["response"]["allowed"], allowed, "{body}");
        }
        // The registry still answers next to the webhook.
        let r = reqwest::blocking::get(format!("http://{}/v2/", s.host)).expect("ping");
        assert_eq!(r.status(), 401);
        // Decisions are appended asynchronously; give the writer a moment.
        std::thread::sleep(Duration::from_millis(500));
    }
    let export = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["audit", "export", "--data-dir"])
        .arg(&data)
        .output()
        .expect("audit export");
    assert!(export.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|r: &serde_json::Value| r.to_string().contains("admission.review"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let text = serde_json::Value::Array(lines).to_string();
    assert!(
        text.contains("v1/Pod default/bad") && text.contains("denied"),
        "{text}"
    );
    assert!(
        text.contains("v1/Pod default/good") && text.contains("deployer"),
        "{text}"
    );
    let verify = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .expect("audit verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
