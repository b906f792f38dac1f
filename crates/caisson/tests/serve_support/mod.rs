//! `caisson serve` (the binary) on a free loopback port, plain or with TLS
//! from a freshly generated CA, for the TLS, `caisson admin`, admission and
//! webhook tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::registry::free_port;

pub mod hooks;
pub mod scan;

pub const PASSWORD: &str = "admin-password-1";

pub struct Serve {
    child: Child,
    /// `host:port` clients use (`localhost:<port>` with TLS).
    pub host: String,
    pub port: u16,
    pub data: PathBuf,
    /// `https://…` or `http://…`.
    pub base: String,
}

impl Serve {
    /// Kills the server without warning (SIGKILL) and reaps it.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }

    /// Sends SIGTERM and returns at once (see [`Serve::wait`]).
    pub fn signal_term(&self) {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(st.success(), "kill -TERM failed");
    }

    /// Waits for the server to exit, at most `limit`; `None` if it did not.
    pub fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(st.success(), "kill -TERM failed");
        self.child.wait().expect("wait")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a server certificate for `localhost` / `127.0.0.1`, as PEM files
/// in `dir`: `ca.crt`, `server.crt`, `server.key`.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn generate_pki(dir: &Path) -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "caisson registry test CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let key = rcgen::KeyPair::generate().expect("server key");
    let mut leaf =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("server params");
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server cert");
    fs_err::create_dir_all(dir).expect("pki dir");
    let pki = Pki {
        ca: dir.join("ca.crt"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    };
    fs_err::write(&pki.ca, ca_cert.pem()).expect("write ca");
    fs_err::write(&pki.cert, cert.pem()).expect("write cert");
    fs_err::write(&pki.key, key.serialize_pem()).expect("write key");
    pki
}

/// Starts `caisson serve` on a free port; with `tls`, over https with that
/// certificate. Waits until `/v2/` answers 401.
pub fn serve(data: &Path, tls: Option<&Pki>, extra: &[&str]) -> Serve {
    serve_with(free_port(), data, tls, extra, &[])
}

/// [`serve`] on `port` (for flags that name the server's own address), with
/// extra environment variables.
pub fn serve_with(
    port: u16,
    data: &Path,
    tls: Option<&Pki>,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Serve {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caisson"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(["serve", "--data-dir"])
        .arg(data)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--gc-interval",
            "0",
        ])
        .args(extra)
        .env("CAISSON_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5));
    let (host, base) = match tls {
        Some(p) => {
            cmd.arg("--tls-cert")
                .arg(&p.cert)
                .arg("--tls-key")
                .arg(&p.key);
            client = client.add_root_certificate(
                reqwest::Certificate::from_pem(&fs_err::read(&p.ca).expect("ca")).expect("ca pem"),
            );
            let host = format!("localhost:{port}");
            (host.clone(), format!("https://{host}"))
        }
        None => {
            let host = format!("127.0.0.1:{port}");
            (host.clone(), format!("http://{host}"))
        }
    };
    let child = cmd.spawn().expect("start caisson serve");
    let s = Serve {
        child,
        host,
        port,
        data: data.to_path_buf(),
        base,
    };
    let client = client.build().expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/v2/", s.base)).send() {
            if r.status() == 401 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "caisson serve did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

/// An AdmissionReview (CREATE) of a one-container Pod running `image`.
pub fn pod_review(uid: &str, image: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default", "name": "p", "operation": "CREATE",
            "userInfo": {"username": "ci"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                       "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

/// Runs `caisson admin --url <server> <args>` as `user`/`password`;
/// returns (success, stdout, stderr).
pub fn admin(s: &Serve, auth: (&str, &str), args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .arg("admin")
        .args(["--url", &s.base, "--user", auth.0])
        .args(args)
        .env("CAISSON_PASSWORD", auth.1)
        .env_remove("CAISSON_URL")
        .env_remove("CAISSON_USER")
        .env_remove("CAISSON_NEW_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("run caisson admin");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Pushes the fixture image (`root`, its `manifest.json` `entry`) to
/// `host/<repo_tag>` as admin with skopeo.
pub fn push_fixture(host: &str, root: &Path, entry: &serde_json::Value, repo_tag: &str) {
    let layout = root.join(entry["oci"].as_str().expect("oci layout"));
    let st = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            &format!("--dest-creds=admin:{PASSWORD}"),
        ])
        .arg(format!(
            "oci:{}:{}",
            layout.display(),
            entry["tag"].as_str().expect("fixture tag")
        ))
        .arg(format!("docker://{host}/{repo_tag}"))
        .status()
        .expect("skopeo runs");
    assert!(st.success(), "skopeo push of {repo_tag}");
}
