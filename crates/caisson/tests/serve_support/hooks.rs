//! A webhook receiver on its own runtime thread, and waiting for a signed
//! notification (the signature recomputed with `openssl dgst -hmac`).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caisson_testsupport::openssl_hmac_sha256;
use serde_json::Value as Json;

/// Received notifications: (headers as lower-case name → value, body).
pub type Received = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

/// A receiver on its own runtime thread; answers 200 to every POST.
pub fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let sink = Arc::clone(&got);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(
                    move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                        let sink = Arc::clone(&sink);
                        async move {
                            let h = headers
                                .iter()
                                .map(|(k, v)| {
                                    (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                                })
                                .collect();
                            sink.lock().unwrap().push((h, body.to_vec()));
                            axum::http::StatusCode::OK
                        }
                    },
                ),
            );
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{addr}/hook"), got)
}

/// Waits for a notification of `event` matching `pred`; returns its body.
pub fn wait_for(
    got: &Received,
    event: &str,
    secret: &str,
    pred: impl Fn(&Json) -> bool,
    dir: &Path,
) -> Json {
    let start = Instant::now();
    loop {
        let found = got.lock().unwrap().iter().find_map(|(h, body)| {
            let header = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let v: Json = serde_json::from_slice(body).ok()?;
            (header("x-caisson-event").as_deref() == Some(event) && pred(&v))
                .then(|| (header("x-caisson-signature-256"), body.clone(), v))
        });
        if let Some((sig, body, v)) = found {
            assert_eq!(
                sig.unwrap(),
                openssl_hmac_sha256(secret, &body, dir),
                "signature of {event}"
            );
            return v;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let seen: Vec<String> = got
                .lock()
                .unwrap()
                .iter()
                .map(|(_, b)| String::from_utf8_lossy(b).chars().take(600).collect())
                .collect();
            panic!("no {event} notification; received: {seen:#?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
