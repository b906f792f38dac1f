//! `caisson serve --webhooks`: a push, its scan, and the findings a newer
//! advisory database brings to an already-scanned, healthy digest arrive at a
//! real HTTP receiver as signed notifications (signature recomputed with
//! `openssl dgst -hmac`), and every delivery is in the delivery log.
#![allow(clippy::unwrap_used)]

mod serve_support;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caisson_testsupport::advisory_data::data_dir;
use caisson_testsupport::{fixture, have_tools, openssl_hmac_sha256, registry::free_port};
use serde_json::Value as Json;
use serve_support::{serve_with, PASSWORD};

const SECRET: &str = "webhook-secret-for-tests";

/// Received notifications: (headers as lower-case name → value, body).
type Received = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

/// A receiver on its own runtime thread; answers 200 to every POST.
fn receiver() -> (String, Received) {
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

fn import(db: &Path, feeds: &[std::path::PathBuf]) {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .arg("db")
        .arg("--db")
        .arg(db)
        .arg("import")
        .args(feeds)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits for a notification of `event` matching `pred`; returns its body.
fn wait_for(got: &Received, event: &str, pred: impl Fn(&Json) -> bool, dir: &Path) -> Json {
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
                openssl_hmac_sha256(SECRET, &body, dir),
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

#[test]
fn push_scan_and_new_findings_are_notified() {
    if !have_tools(&["skopeo", "openssl"]) {
        return;
    }
    let Some((root, entry)) = fixture("lang-python-node") else {
        assert!(std::env::var_os("CI").is_none(), "fixture missing in CI");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // First only Alpine's data: the Debian/Python image is healthy.
    import(&db, &[data_dir().join("alpine-secdb")]);
    let (url, got) = receiver();
    let hooks = dir.path().join("webhooks.yaml");
    fs_err::write(
        &hooks,
        format!("webhooks:\n  - {{name: sec, url: '{url}', secret_env: TEST_WEBHOOK_SECRET}}\n"),
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = serve_with(
        free_port(),
        &data,
        None,
        &[
            "--db-poll",
            "1",
            "--db",
            db.to_str().unwrap(),
            "--webhooks",
            hooks.to_str().unwrap(),
        ],
        &[("TEST_WEBHOOK_SECRET", SECRET)],
    );
    let host = server.host.clone();
    let layout = root.join(entry["oci"].as_str().unwrap());
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
            entry["tag"].as_str().unwrap()
        ))
        .arg(format!("docker://{host}/team/app:1"))
        .status()
        .unwrap();
    assert!(st.success());

    let push = wait_for(
        &got,
        "push",
        |v| v["data"]["repo"] == "team/app" && v["data"]["tag"] == "1",
        dir.path(),
    );
    let digest = push["data"]["digest"].as_str().unwrap().to_string();
    let scanned = wait_for(
        &got,
        "scan.completed",
        |v| v["data"]["digest"] == digest.as_str(),
        dir.path(),
    );
    assert_eq!(scanned["data"]["health"], "healthy", "{scanned}");

    // Newer advisories: PyPI's bring critical findings to the stored digest.
    import(
        &db,
        &[
            data_dir().join("alpine-secdb"),
            data_dir().join("osv/PyPI/all.zip"),
        ],
    );
    let changed = wait_for(
        &got,
        "findings.changed",
        |v| v["data"]["digest"] == digest.as_str(),
        dir.path(),
    );
    let ids: Vec<&str> = changed["data"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert!(ids.contains(&"CVE-2021-33503"), "urllib3 1.26.4: {changed}");

    // Every delivery is in the log, delivered.
    let log = fs_err::read_to_string(data.join("webhook-deliveries.jsonl")).unwrap();
    let delivered: Vec<Json> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for id in [&push["id"], &changed["id"]] {
        assert!(
            delivered
                .iter()
                .any(|a| &a["delivery"] == id && a["outcome"] == "delivered"),
            "{id} not logged: {log}"
        );
    }
}
