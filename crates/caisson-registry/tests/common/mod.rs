//! An in-process `caisson serve` (embedded FS + SQLite stores) on a random
//! loopback port, and a blocking HTTP client for the tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use caisson_registry::{open_embedded, router, Config};
use reqwest::blocking::{Client, RequestBuilder, Response};
use sha2::Digest as _;

pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub struct Server {
    pub base: String,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub client: Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn start() -> Server {
    start_with(Config::default())
}

pub fn start_with(config: Config) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    start_in(dir, config)
}

pub fn start_in(dir: tempfile::TempDir, config: Config) -> Server {
    let path = dir.path().to_path_buf();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let reg = open_embedded(&path, config).expect("open registry");
            reg.bootstrap_admin(Some(ADMIN_PASSWORD.into()))
                .await
                .expect("bootstrap admin");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send addr");
            // The same listener `caisson serve` uses (timeouts, connection limits).
            caisson_http::serve(
                listener,
                None,
                router(Arc::new(reg)),
                caisson_http::Limits::default(),
                async {
                    let _ = stop_rx.await;
                },
            )
            .await;
        });
    });
    let addr = addr_rx.recv().expect("server address");
    Server {
        base: format!("http://{addr}"),
        dir,
        shutdown: Some(stop_tx),
        thread: Some(thread),
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

pub fn sha512(bytes: &[u8]) -> String {
    format!("sha512:{}", hex::encode(sha2::Sha512::digest(bytes)))
}

/// The spec error code of a response body.
pub fn error_code(resp: Response) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&resp.bytes().expect("body")).expect("error body is JSON");
    v["errors"][0]["code"]
        .as_str()
        .expect("errors[0].code")
        .to_string()
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request as `user`/`password` (HTTP Basic).
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

    /// As the bootstrap administrator.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.req(method, path, Some(("admin", ADMIN_PASSWORD)))
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

    /// Pushes an image manifest (config + one layer) as admin; returns (bytes, digest).
    pub fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> (Vec<u8>, String) {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            sha256(layer)
        );
        let cd = self.push_blob(repo, config.as_bytes());
        let ld = self.push_blob(repo, layer);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}]
        });
        let bytes = serde_json::to_vec_pretty(&manifest).expect("json");
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
        let d = sha256(&bytes);
        (bytes, d)
    }
}
