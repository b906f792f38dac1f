//! `caisson key generate`, `caisson sign` and `caisson verify` against real
//! registries: Debian's `docker-registry` (no auth) and `caisson serve`
//! (token auth; every client gets credentials). [`suite`] takes the registry
//! `host:port` reached over plain HTTP; credentials for the current test
//! thread are set with [`with_credentials`].
//!
//! Independent checks use OpenSSL (signatures) and a plain HTTP client
//! (reqwest) that reads and writes cosign's layout directly.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use caisson_testsupport::registry::{Auth, Registry};
use caisson_testsupport::{fixture, have_tools, run};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const PASSWORD: &str = "test password";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

thread_local! {
    /// (user, password, auth.json) for the registry under test, if it needs them.
    static CREDS: std::cell::RefCell<Option<(String, String, PathBuf)>> =
        const { std::cell::RefCell::new(None) };
}

fn creds() -> Option<(String, String, PathBuf)> {
    CREDS.with(|c| c.borrow().clone())
}

/// Runs `f` with every client (caisson, skopeo, the raw HTTP client) using
/// `user`/`pass` for `host`.
fn with_credentials(host: &str, user: &str, pass: &str, dir: &Path, f: impl FnOnce()) {
    let file = caisson_testsupport::write_auth_file(dir, host, user, pass);
    CREDS.with(|c| *c.borrow_mut() = Some((user.into(), pass.into(), file)));
    f();
    CREDS.with(|c| *c.borrow_mut() = None);
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn caisson(args: &[&str], host: &str) -> Out {
    let registry_flags: &[&str] = if args.first() == Some(&"key") {
        &[]
    } else {
        &["--insecure-registry", host]
    };
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(args)
        .args(registry_flags)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env(
            "REGISTRY_AUTH_FILE",
            creds().map_or_else(|| PathBuf::from("/nonexistent/auth.json"), |c| c.2),
        )
        .output()
        .expect("caisson runs");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// A plain HTTP client for the distribution API: no Caisson code involved.
struct Raw {
    base: String,
    http: reqwest::blocking::Client,
    auth: Option<(String, String)>,
}

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json";

impl Raw {
    fn new(host: &str) -> Raw {
        Raw {
            base: format!("http://{host}"),
            http: reqwest::blocking::Client::new(),
            auth: creds().map(|(u, p, _)| (u, p)),
        }
    }

    /// A request with HTTP Basic credentials when the registry needs them.
    fn req(&self, method: reqwest::Method, url: String) -> reqwest::blocking::RequestBuilder {
        let r = self.http.request(method, url);
        match &self.auth {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }

    fn manifest(&self, repo: &str, reference: &str) -> Option<Vec<u8>> {
        let r = self
            .req(
                reqwest::Method::GET,
                format!("{}/v2/{repo}/manifests/{reference}", self.base),
            )
            .header("Accept", ACCEPT)
            .send()
            .expect("GET manifest");
        if r.status() == 404 {
            return None;
        }
        assert!(
            r.status().is_success(),
            "GET manifest {reference}: {}",
            r.status()
        );
        Some(r.bytes().expect("body").to_vec())
    }

    /// `GET /v2/<repo>/referrers/<digest>`; `None` when the registry has no
    /// referrers API (404).
    fn referrers(&self, repo: &str, digest: &str) -> Option<Vec<u8>> {
        let r = self
            .req(
                reqwest::Method::GET,
                format!("{}/v2/{repo}/referrers/{digest}", self.base),
            )
            .send()
            .expect("GET referrers");
        if r.status() == 404 {
            return None;
        }
        assert!(r.status().is_success(), "GET referrers: {}", r.status());
        Some(r.bytes().expect("body").to_vec())
    }

    fn put_manifest(&self, repo: &str, reference: &str, bytes: &[u8]) {
        let mt = serde_json::from_slice::<Value>(bytes).expect("json")["mediaType"]
            .as_str()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .to_string();
        let r = self
            .req(
                reqwest::Method::PUT,
                format!("{}/v2/{repo}/manifests/{reference}", self.base),
            )
            .header("Content-Type", mt)
            .body(bytes.to_vec())
            .send()
            .expect("PUT manifest");
        assert_eq!(r.status(), 201, "PUT manifest {reference}: {:?}", r.text());
    }

    fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let r = self
            .req(
                reqwest::Method::GET,
                format!("{}/v2/{repo}/blobs/{digest}", self.base),
            )
            .send()
            .expect("GET blob");
        assert!(r.status().is_success(), "GET blob {digest}: {}", r.status());
        r.bytes().expect("body").to_vec()
    }

    /// Monolithic upload: POST a session, PUT the bytes with their digest.
    fn put_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let r = self
            .req(
                reqwest::Method::POST,
                format!("{}/v2/{repo}/blobs/uploads/", self.base),
            )
            .send()
            .expect("POST upload");
        assert_eq!(r.status(), 202);
        let loc = r.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let url = if loc.starts_with("http") {
            loc
        } else {
            format!("{}{loc}", self.base)
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let r = self
            .req(reqwest::Method::PUT, format!("{url}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .expect("PUT blob");
        assert_eq!(r.status(), 201, "PUT blob: {:?}", r.text());
        digest
    }
}

fn skopeo_push(host: &str, fixture_name: &str, dest: &str) -> bool {
    let Some((root, entry)) = fixture(fixture_name) else {
        return false;
    };
    let layout = root.join(entry["oci"].as_str().expect("oci path"));
    let tag = entry["tag"].as_str().expect("tag");
    let mut cmd = Command::new("skopeo");
    cmd.args([
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "--preserve-digests",
    ]);
    if let Some((user, pass, _)) = creds() {
        cmd.arg(format!("--dest-creds={user}:{pass}"));
    }
    run(cmd.args([
        &format!("oci:{}:{tag}", layout.display()),
        &format!("docker://{host}/{dest}"),
    ]));
    true
}

fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

fn openssl_verify(pubkey: &Path, sig: &[u8], data: &[u8], dir: &Path) -> String {
    let sig_path = dir.join("check.sig");
    let data_path = dir.join("check.data");
    fs_err::write(&sig_path, sig).expect("sig");
    fs_err::write(&data_path, data).expect("data");
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", p(pubkey), "-signature"])
        .args([p(&sig_path), p(&data_path)])
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn generate_keys(dir: &Path, prefix: &str, host: &str) -> (PathBuf, PathBuf) {
    let pre = dir.join(prefix);
    let out = caisson(&["key", "generate", "--output-key-prefix", p(&pre)], host);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let key = dir.join(format!("{prefix}.key"));
    let public = dir.join(format!("{prefix}.pub"));
    let text = fs_err::read_to_string(&key).expect("key file");
    assert!(text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    (key, public)
}

/// Everything, against the registry at `host`.
fn suite(host: &str) {
    if !skopeo_push(host, "distroless", "sign/app:v1")
        || !skopeo_push(host, "rpm", "sign/app:other")
    {
        return;
    }
    let raw = Raw::new(host);
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = generate_keys(dir.path(), "cosign", host);
    let image = format!("{host}/sign/app:v1");
    let manifest_a = raw.manifest("sign/app", "v1").expect("image A");
    let digest_a = sha256(&manifest_a);
    let digest_b = sha256(&raw.manifest("sign/app", "other").expect("image B"));

    // Sign (tag layout and referrer), verify.
    let out = caisson(
        &[
            "sign",
            "--key",
            p(&key),
            &image,
            "-a",
            "env=prod",
            "--referrers",
        ],
        host,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = caisson(&["verify", "--key", p(&public), &image], host);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let verified: Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    let kinds: Vec<&str> = verified
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        ["simple-signing", "sigstore-bundle"],
        "{}",
        out.stdout
    );
    assert_eq!(
        verified[0]["payload"]["critical"]["image"]["docker-manifest-digest"],
        digest_a.as_str()
    );
    assert_eq!(verified[0]["payload"]["optional"]["env"], "prod");
    let out = caisson(
        &["verify", "--key", p(&public), &image, "-a", "env=prod"],
        host,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = caisson(
        &["verify", "--key", p(&public), &image, "-a", "env=dev"],
        host,
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("annotation \"env\": required \"dev\""),
        "{}",
        out.stderr
    );

    // OpenSSL verifies the stored signature over the stored payload bytes.
    let sig_manifest: Value = serde_json::from_slice(
        &raw.manifest("sign/app", &sig_tag(&digest_a))
            .expect("sig tag"),
    )
    .expect("json");
    let layer = &sig_manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let payload = raw.blob("sign/app", layer["digest"].as_str().expect("digest"));
    let sig = B64
        .decode(
            layer["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .expect("signature annotation"),
        )
        .expect("base64");
    assert_eq!(
        openssl_verify(&public, &sig, &payload, dir.path()).trim(),
        "Verified OK"
    );
    // And the bundle's signature over the image manifest (cosign verify-blob's view).
    // The referrers API where the registry has it (caisson serve), else the
    // fallback tag (docker-registry 2.8 has no referrers API).
    let index_bytes = raw.referrers("sign/app", &digest_a).unwrap_or_else(|| {
        raw.manifest("sign/app", &digest_a.replace(':', "-"))
            .expect("without a referrers API the fallback tag exists")
    });
    let index: Value = serde_json::from_slice(&index_bytes).expect("index");
    // caisson serve also attaches its scan's SBOM as a referrer: pick the bundle.
    let bundle = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json")
        .expect("a Sigstore bundle among the referrers");
    let referrer = bundle["digest"].as_str().expect("referrer");
    let rm: Value = serde_json::from_slice(
        &raw.manifest("sign/app", referrer)
            .expect("referrer manifest"),
    )
    .expect("json");
    assert_eq!(rm["subject"]["digest"], digest_a.as_str());
    let bundle: Value = serde_json::from_slice(&raw.blob(
        "sign/app",
        rm["layers"][0]["digest"].as_str().expect("bundle digest"),
    ))
    .expect("bundle json");
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let bsig = B64
        .decode(
            bundle["messageSignature"]["signature"]
                .as_str()
                .expect("sig"),
        )
        .expect("b64");
    assert_eq!(
        openssl_verify(&public, &bsig, &manifest_a, dir.path()).trim(),
        "Verified OK"
    );

    tamper(host, &raw, dir.path(), &digest_a, &digest_b);
    openssl_signed(host, &raw, dir.path(), &public);
}

fn expect_failure(out: &Out, why: &str) {
    assert_eq!(
        out.code,
        Some(1),
        "stdout {} stderr {}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains(why),
        "expected {why:?} in:\n{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

/// Tampering, each failure saying why. Signatures without a referrer bundle,
/// so the `.sig` tag is the only evidence.
fn tamper(host: &str, raw: &Raw, dir: &Path, digest_a: &str, digest_b: &str) {
    let repo = "tamper/app";
    assert!(skopeo_push(host, "distroless", &format!("{repo}:v1")));
    assert!(skopeo_push(host, "rpm", &format!("{repo}:other")));
    let (key, public) = generate_keys(dir, "tamper", host);
    let image = format!("{host}/{repo}:v1");
    let verify = |img: &str, extra: &[&str]| {
        let mut args = vec!["verify", "--key", p(&public), img];
        args.extend_from_slice(extra);
        caisson(&args, host)
    };
    let out = caisson(&["sign", "--key", p(&key), &image], host);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(verify(&image, &[]).code, Some(0));
    let tag_a = sig_tag(digest_a);
    let original = raw.manifest(repo, &tag_a).expect("sig manifest");
    let mut m: Value = serde_json::from_slice(&original).expect("json");

    // 1. Change the payload (keep the signature): bad signature.
    let payload = raw.blob(repo, m["layers"][0]["digest"].as_str().expect("d"));
    let changed = String::from_utf8(payload)
        .expect("utf8")
        .replace("\"optional\":null", "\"optional\":{\"x\":\"y\"}");
    let d = raw.put_blob(repo, changed.as_bytes());
    let mut t = m.clone();
    t["layers"][0]["digest"] = d.into();
    t["layers"][0]["size"] = changed.len().into();
    raw.put_manifest(repo, &tag_a, &serde_json::to_vec(&t).expect("json"));
    expect_failure(&verify(&image, &[]), "bad signature");
    raw.put_manifest(repo, &tag_a, &original);

    // 2. Truncate the signature: bad signature (not a DER signature).
    let ann = "dev.cosignproject.cosign/signature";
    let sig = B64
        .decode(m["layers"][0]["annotations"][ann].as_str().expect("sig"))
        .expect("b64");
    m["layers"][0]["annotations"][ann] = B64.encode(&sig[..sig.len() - 7]).into();
    raw.put_manifest(repo, &tag_a, &serde_json::to_vec(&m).expect("json"));
    let out = verify(&image, &[]);
    expect_failure(&out, "bad signature");
    assert!(
        out.stderr
            .contains("not a DER-encoded ECDSA P-256 signature"),
        "{}",
        out.stderr
    );
    raw.put_manifest(repo, &tag_a, &original);

    // 3. Wrong key.
    let (_, other_pub) = generate_keys(dir, "other", host);
    let out = caisson(&["verify", "--key", p(&other_pub), &image], host);
    expect_failure(&out, "bad signature: does not verify with the key");

    // 4. Re-tag the image to another digest: the signatures are for the old one.
    assert!(skopeo_push(host, "rpm", &format!("{repo}:v1")));
    let out = verify(&image, &[]);
    expect_failure(&out, &format!("no signatures found for {digest_b}"));

    // 5. Swap digest: A's valid signature put at B's tag names A, not B.
    raw.put_manifest(repo, &sig_tag(digest_b), &original);
    let out = verify(&image, &[]);
    expect_failure(
        &out,
        &format!("digest mismatch: the payload names {digest_a}, the image is {digest_b}"),
    );

    // 6. The signature copied to another repository names the first one.
    let other = "copied/app";
    assert!(skopeo_push(host, "distroless", &format!("{other}:v1")));
    for l in m["layers"].as_array().expect("layers") {
        let d = l["digest"].as_str().expect("d");
        raw.put_blob(other, &raw.blob(repo, d));
    }
    raw.put_blob(
        other,
        &raw.blob(repo, m["config"]["digest"].as_str().expect("c")),
    );
    raw.put_manifest(other, &tag_a, &original);
    let copied = format!("{host}/{other}:v1");
    expect_failure(&verify(&copied, &[]), "wrong reference");
    assert_eq!(verify(&copied, &["--allow-any-reference"]).code, Some(0));

    // 7. Usage and I/O errors exit 2.
    let out = caisson(&["verify", "--key", "/nonexistent.pub", &image], host);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args([
            "key",
            "generate",
            "--output-key-prefix",
            p(&dir.join("nopass")),
        ])
        .env_remove("COSIGN_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("caisson");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COSIGN_PASSWORD"));
}

/// A key and a signature made by OpenSSL over a hand-written payload, stored
/// in cosign's layout by the plain HTTP client, verify in Caisson.
fn openssl_signed(host: &str, raw: &Raw, dir: &Path, cosign_pub: &Path) {
    let repo = "openssl/app";
    assert!(skopeo_push(host, "distroless", &format!("{repo}:v1")));
    let digest = sha256(&raw.manifest(repo, "v1").expect("image"));
    let key = dir.join("ossl.pem");
    let public = dir.join("keys/ossl.pub");
    fs_err::create_dir_all(dir.join("keys")).expect("keys dir");
    run(Command::new("openssl").args([
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        p(&key),
    ]));
    run(Command::new("openssl").args(["ec", "-in", p(&key), "-pubout", "-out", p(&public)]));
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{host}/{repo}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"signed-by":"openssl"}}}}"#
    );
    let payload_path = dir.join("ossl-payload.json");
    let sig_path = dir.join("ossl.sig");
    fs_err::write(&payload_path, &payload).expect("payload");
    run(Command::new("openssl").args([
        "dgst",
        "-sha256",
        "-sign",
        p(&key),
        "-out",
        p(&sig_path),
        p(&payload_path),
    ]));
    let sig = fs_err::read(&sig_path).expect("sig");
    let payload_digest = raw.put_blob(repo, payload.as_bytes());
    let config = br#"{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = raw.put_blob(repo, config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": payload_digest,
            "size": payload.len(),
            "annotations": {"dev.cosignproject.cosign/signature": B64.encode(&sig)},
        }],
    });
    raw.put_manifest(
        repo,
        &sig_tag(&digest),
        &serde_json::to_vec(&manifest).expect("json"),
    );
    let image = format!("{host}/{repo}:v1");
    let out = caisson(
        &[
            "verify",
            "--key",
            p(&public),
            &image,
            "-a",
            "signed-by=openssl",
        ],
        host,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v[0]["payload"]["optional"]["signed-by"], "openssl");
    // A key directory holding both keys accepts it; cosign.pub alone does not.
    fs_err::copy(cosign_pub, dir.join("keys/cosign.pub")).expect("copy");
    let out = caisson(&["verify", "--key", p(&dir.join("keys")), &image], host);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = caisson(&["verify", "--key", p(cosign_pub), &image], host);
    expect_failure(&out, "bad signature");
}

#[test]
fn sign_verify_tamper_against_docker_registry() {
    if !have_tools(&["docker-registry", "skopeo", "openssl"]) {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    suite(&reg.host());
}

/// The same suite against Caisson's own registry, with token auth: the admin
/// from `CAISSON_ADMIN_PASSWORD` pushes, signs and verifies.
#[test]
fn sign_verify_tamper_against_caisson_serve() {
    if !have_tools(&["skopeo", "openssl"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let host = format!("127.0.0.1:{}", caisson_testsupport::registry::free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--listen", &host, "--gc-interval", "0"])
        .env("CAISSON_ADMIN_PASSWORD", "sign-admin-password")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("caisson serve starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while reqwest::blocking::get(format!("http://{host}/v2/"))
        .map(|r| r.status().as_u16())
        .ok()
        != Some(401)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "caisson serve did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let result = std::panic::catch_unwind(|| {
        with_credentials(&host, "admin", "sign-admin-password", dir.path(), || {
            suite(&host)
        });
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
