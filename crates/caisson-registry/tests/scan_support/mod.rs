//! An in-process `caisson serve` with scanning (kept apart from
//! `tests/common` so the two harnesses evolve independently): the server
//! runs on its own runtime thread and hands back the `Registry` so tests can
//! subscribe to its events; it can be stopped and started again on the same
//! data directory. Also: advisory databases imported from the real feed
//! snapshots, skopeo pushes, and polling helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use caisson_registry::scan::{RegistryEvent, ScanConfig};
use caisson_registry::store::fs::FsBlobStore;
use caisson_registry::store::sqlite::SqliteMetaStore;
use caisson_registry::{open_embedded, router, Config, Registry};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub type Reg = Registry<FsBlobStore, SqliteMetaStore>;

pub struct Server {
    pub base: String,
    pub host: String,
    pub data: PathBuf,
    pub reg: Arc<Reg>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub client: Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Scanning settings for a test: `workers`, optional database, paused or not,
/// a fast database poll.
pub fn scan_config(workers: usize, db: Option<&Path>, paused: bool) -> ScanConfig {
    ScanConfig {
        workers,
        db_dir: db.map(Path::to_path_buf),
        start_paused: paused,
        db_poll: Duration::from_millis(200),
        ..ScanConfig::default()
    }
}

/// Starts a server on `data` (created if needed) with `scan` settings.
pub fn start(data: &Path, scan: ScanConfig) -> Server {
    start_with(
        data,
        Config {
            scan,
            ..Config::default()
        },
    )
}

/// Starts a server on `data` (created if needed) with a whole `config`.
pub fn start_with(data: &Path, config: Config) -> Server {
    let path = data.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel::<(SocketAddr, Arc<Reg>)>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let reg = Arc::new(open_embedded(&path, config).expect("open registry"));
            reg.bootstrap_admin(Some(ADMIN_PASSWORD.into()))
                .await
                .expect("bootstrap admin");
            reg.start_scanning().await.expect("start scanning");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send((listener.local_addr().expect("addr"), reg.clone()))
                .expect("send addr");
            axum::serve(
                listener,
                router(reg).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
            .expect("serve");
        });
        // Dropping the runtime here cancels the scan workers mid-job, as a
        // killed process would.
    });
    let (addr, reg) = rx.recv().expect("server address");
    Server {
        base: format!("http://{addr}"),
        host: addr.to_string(),
        data: data.to_path_buf(),
        reg,
        shutdown: Some(stop_tx),
        thread: Some(thread),
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client"),
    }
}

impl Server {
    /// Stops the server abruptly (workers are cancelled wherever they are).
    pub fn stop_now(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Option<(&str, &str)>,
    ) -> RequestBuilder {
        let r = self.client.request(method, self.url(path));
        match auth {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.req(method, path, Some(("admin", ADMIN_PASSWORD)))
    }

    /// GET as admin, expecting 200 and JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let r = self
            .admin(reqwest::Method::GET, path)
            .send()
            .expect("request");
        let status = r.status();
        let text = r.text().expect("body");
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).expect("JSON")
    }

    pub fn health(&self, repo: &str, digest: &str) -> Value {
        self.get_json(&format!(
            "/api/v1/repositories/{repo}/manifests/{digest}/health"
        ))
    }

    /// Polls until the digest's health is no longer `unscanned` with a job
    /// pending (or `want` is reached), at most `secs`.
    pub fn wait_scanned(&self, repo: &str, digest: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let h = self.health(repo, digest);
            if h["scanned_at_ms"].is_i64() && h["job"].is_null() {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "{repo}@{digest} not scanned within {secs}s: {h}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `skopeo copy` of an OCI layout tag into `repo:tag` as admin; returns
    /// the pushed manifest's digest.
    pub fn skopeo_push(&self, layout: &Path, tag: &str, repo_tag: &str) -> String {
        let digest_file = tempfile::NamedTempFile::new().expect("temp file");
        let out = Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--dest-tls-verify=false",
                "--preserve-digests",
            ])
            .arg(format!("--dest-creds=admin:{ADMIN_PASSWORD}"))
            .arg(format!("--digestfile={}", digest_file.path().display()))
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.host))
            .output()
            .expect("skopeo runs");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs_err::read_to_string(digest_file.path())
            .expect("digest file")
            .trim()
            .to_string()
    }

    /// Pushes a blob monolithically as admin; returns its digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let d = sha256(bytes);
        let r = self
            .admin(
                reqwest::Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            )
            .body(bytes.to_vec())
            .send()
            .expect("push blob");
        assert_eq!(
            r.status(),
            201,
            "push blob: {}",
            r.text().unwrap_or_default()
        );
        d
    }

    /// Pushes an image (raw config bytes, raw layers) as admin; returns the
    /// manifest digest.
    pub fn push_raw_image(&self, repo: &str, tag: &str, config: &[u8], layers: &[&[u8]]) -> String {
        let cd = self.push_blob(repo, config);
        let layer_descs: Vec<Value> = layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": self.push_blob(repo, l),
                    "size": l.len(),
                })
            })
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": layer_descs,
        });
        let bytes = serde_json::to_vec(&manifest).expect("json");
        let r = self
            .admin(reqwest::Method::PUT, &format!("/v2/{repo}/manifests/{tag}"))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(bytes.clone())
            .send()
            .expect("push manifest");
        assert_eq!(
            r.status(),
            201,
            "push manifest: {}",
            r.text().unwrap_or_default()
        );
        sha256(&bytes)
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A config for `layers` (diff ids = digests of the uncompressed tars).
pub fn config_for(layers: &[&[u8]]) -> Vec<u8> {
    let ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ids}
    }))
    .expect("json")
}

/// A tar with one file.
pub fn tar_with(path: &str, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut header = [0u8; 512];
    let name = path.as_bytes();
    header[..name.len()].copy_from_slice(name);
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    let size = format!("{:011o}\0", contents.len());
    header[124..136].copy_from_slice(size.as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    let cks = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(cks.as_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(contents);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Imports `feeds` (paths under the shared advisory data) into the database
/// in `dir` (adding to what is there, as `caisson db import` does).
pub fn import_db(dir: &Path, feeds: &[&str]) {
    let data = caisson_testsupport::advisory_data::data_dir();
    let paths: Vec<PathBuf> = feeds.iter().map(|f| data.join(f)).collect();
    let report = caisson_advisory::import_paths(
        dir,
        &paths,
        &caisson_advisory::UpdateOptions::default(),
        &mut |_| {},
    )
    .expect("import advisories");
    assert!(report.swapped, "import did not swap the database in");
}

/// Waits for an event matching `pred`, at most `secs`.
pub fn wait_event(
    rx: &mut tokio::sync::broadcast::Receiver<RegistryEvent>,
    secs: u64,
    pred: impl Fn(&RegistryEvent) -> bool,
) -> RegistryEvent {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match rx.try_recv() {
            Ok(ev) if pred(&ev) => return ev,
            Ok(_) => continue,
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                assert!(
                    Instant::now() < deadline,
                    "no matching event within {secs}s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("event channel: {e}"),
        }
    }
}

/// Skips (locally) or fails (CI) without skopeo.
pub fn have_skopeo() -> bool {
    caisson_testsupport::have_tools(&["skopeo"])
}
