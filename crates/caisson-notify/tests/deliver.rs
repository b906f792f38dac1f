//! Webhook deliveries against a real HTTP receiver: signatures checked with
//! `openssl dgst -hmac`, retries with backoff on 503, no retry on 400,
//! attempts exhausted on an unreachable endpoint, event filters, and every
//! attempt in the JSON-lines delivery log.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use caisson_notify::{
    events, load_endpoints, signature, AttemptOutcome, DeliveryAttempt, JsonLinesLog, Notification,
    Notifier, Options,
};
use caisson_testsupport::{have_tools, openssl_hmac_sha256};

const SECRET: &str = "a-webhook-secret-of-some-length";

/// What the receiver saw: (path, headers, body).
type Seen = Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>;

/// A receiver: `/flaky` answers 503 twice then 200, `/bad` 400, `/ok` 200.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let flaky_calls = Arc::new(Mutex::new(0u32));
    let app = axum::Router::new().route(
        "/{which}",
        post({
            let seen = Arc::clone(&seen);
            move |axum::extract::Path(which): axum::extract::Path<String>,
                  headers: HeaderMap,
                  body: Bytes| {
                let seen = Arc::clone(&seen);
                let flaky_calls = Arc::clone(&flaky_calls);
                async move {
                    seen.lock().unwrap().push((which.clone(), headers, body));
                    match which.as_str() {
                        "flaky" => {
                            let mut n = flaky_calls.lock().unwrap();
                            *n += 1;
                            if *n <= 2 {
                                StatusCode::SERVICE_UNAVAILABLE
                            } else {
                                StatusCode::OK
                            }
                        }
                        "bad" => StatusCode::BAD_REQUEST,
                        _ => StatusCode::OK,
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn read_log(path: &std::path::Path) -> Vec<DeliveryAttempt> {
    fs_err::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn wait_for(
    path: &std::path::Path,
    what: impl Fn(&[DeliveryAttempt]) -> bool,
) -> Vec<DeliveryAttempt> {
    let start = Instant::now();
    loop {
        let log = read_log(path);
        if what(&log) {
            return log;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "log never matched: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deliveries_are_signed_retried_filtered_and_logged() {
    if !have_tools(&["openssl"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (base, seen) = receiver().await;
    let dead = format!(
        "http://127.0.0.1:{}",
        caisson_testsupport::registry::free_port()
    );
    let config = dir.path().join("webhooks.yaml");
    fs_err::write(
        &config,
        format!(
            "webhooks:\n\
             - {{name: flaky, url: {base}/flaky, secret: {SECRET}}}\n\
             - {{name: bad, url: {base}/bad, secret: {SECRET}, events: [push]}}\n\
             - {{name: scans-only, url: {base}/ok, secret: {SECRET}, events: [scan.completed]}}\n\
             - {{name: dead, url: {dead}/x, secret: {SECRET}, events: [push]}}\n"
        ),
    )
    .unwrap();
    let endpoints = load_endpoints(&config).unwrap();
    let log_path = dir.path().join("deliveries.jsonl");
    let options = Options {
        max_attempts: 4,
        backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        timeout: Duration::from_secs(2),
        ..Options::default()
    };
    let notifier = Notifier::start(
        endpoints,
        options,
        Arc::new(JsonLinesLog::open(&log_path).unwrap()),
    )
    .unwrap();
    let n = Notification::new(
        events::PUSH,
        serde_json::json!({"repository": "team/app", "digest": "sha256:00"}),
    );
    assert!(notifier.send(n.clone()));

    let log = wait_for(&log_path, |l| {
        l.iter()
            .filter(|a| a.outcome != AttemptOutcome::Retrying)
            .count()
            == 3
    })
    .await;
    let of = |ep: &str| -> Vec<(u32, Option<u16>, AttemptOutcome)> {
        log.iter()
            .filter(|a| a.endpoint == ep && a.delivery == n.id)
            .map(|a| (a.attempt, a.status, a.outcome))
            .collect()
    };
    // 503, 503, then 200: three attempts.
    assert_eq!(
        of("flaky"),
        [
            (1, Some(503), AttemptOutcome::Retrying),
            (2, Some(503), AttemptOutcome::Retrying),
            (3, Some(200), AttemptOutcome::Delivered)
        ]
    );
    // 400 means the receiver rejects it: not retried.
    assert_eq!(of("bad"), [(1, Some(400), AttemptOutcome::Failed)]);
    // Nobody listening: every attempt, then failed.
    let dead_attempts = of("dead");
    assert_eq!(dead_attempts.len(), 4, "{dead_attempts:?}");
    assert_eq!(dead_attempts.last().unwrap().2, AttemptOutcome::Failed);
    // Backoff: attempts of one delivery are spaced 50, 100, 200 ms at least.
    let times: Vec<i64> = log
        .iter()
        .filter(|a| a.endpoint == "dead")
        .map(|a| a.at_ms)
        .collect();
    assert!(times[3] - times[0] >= 350, "{times:?}");
    // The push does not go to the endpoint that only wants scans.
    assert!(of("scans-only").is_empty());

    let seen = seen.lock().unwrap().clone();
    let flaky: Vec<_> = seen.iter().filter(|(p, _, _)| p == "flaky").collect();
    assert_eq!(flaky.len(), 3);
    for (_, headers, body) in &flaky {
        assert_eq!(headers["x-caisson-event"], "push");
        assert_eq!(headers["x-caisson-delivery"], n.id.as_str());
        assert_eq!(headers["content-type"], "application/json");
        // The signature, recomputed by openssl over the received bytes.
        assert_eq!(
            headers["x-caisson-signature-256"],
            openssl_hmac_sha256(SECRET, body, dir.path()).as_str()
        );
        let got: Notification = serde_json::from_slice(body).unwrap();
        assert_eq!(got, n);
    }
    assert_eq!(
        signature(SECRET.as_bytes(), &flaky[0].2),
        openssl_hmac_sha256(SECRET, &flaky[0].2, dir.path())
    );

    // A scan event reaches the scans-only endpoint (and the catch-all).
    let s = Notification::new(
        events::SCAN_COMPLETED,
        serde_json::json!({"health": "vulnerable"}),
    );
    assert!(notifier.send(s.clone()));
    let log = wait_for(&log_path, |l| {
        l.iter().any(|a| {
            a.delivery == s.id
                && a.endpoint == "scans-only"
                && a.outcome == AttemptOutcome::Delivered
        })
    })
    .await;
    assert!(!log
        .iter()
        .any(|a| a.delivery == s.id && (a.endpoint == "bad" || a.endpoint == "dead")));
}

#[test]
fn bad_configurations_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let check = |yaml: &str, want: &str| {
        let f = dir.path().join("w.yaml");
        fs_err::write(&f, yaml).unwrap();
        let err = load_endpoints(&f).unwrap_err();
        let msg = format!("{err}");
        assert!(msg.contains(want), "{msg} (wanted {want})");
    };
    check(
        "webhooks: [{name: a, url: 'http://x/', secret: 0123456789abcdef, events: [pushed]}]",
        "unknown event \"pushed\"",
    );
    check(
        "webhooks: [{name: a, url: 'http://x/', secret: short}]",
        "shorter than 16 bytes",
    );
    check(
        "webhooks: [{name: a, url: 'ftp://x/', secret: 0123456789abcdef}]",
        "is not http(s)",
    );
    check(
        "webhooks: [{name: a, url: 'http://x/', secret_env: CAISSON_TEST_NO_SUCH_VAR}]",
        "CAISSON_TEST_NO_SUCH_VAR is not set",
    );
    check("webhooks: [{name: a, url: 'http://x/'}]", "needs one of");
    check(
        "webhooks: [{name: a, url: 'http://x/', secret: 0123456789abcdef}, {name: a, url: 'http://y/', secret: 0123456789abcdef}]",
        "defined twice",
    );
    check(
        "webhooks: [{name: a, url: 'http://x/', secret: 0123456789abcdef, colour: red}]",
        "not valid YAML",
    );
}
