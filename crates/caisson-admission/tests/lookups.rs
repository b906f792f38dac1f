//! Issue 15: registry lookups (tag resolution, signature verification) run
//! off the evaluation pool with their own timeout and concurrency limit, so
//! a registry that accepts connections and never answers cannot take the
//! evaluation threads: requests that need it are denied in time, naming the
//! lookup, and every other request is still decided.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caisson_admission::resolve::SignatureFacts;
use caisson_admission::ServerLimits;
use caisson_registry_client::signatures::Requirements;
use caisson_registry_client::{Client, ClientOptions};
use caisson_sign::SigningKey;
use serde_json::{json, Value as Json};
use support::{good_container, good_pod_spec, pod, policies, review, Webhook};

/// Accepts connections and holds them open without reading or answering;
/// closes them all when dropped.
struct StalledRegistry {
    addr: String,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StalledRegistry {
    fn start() -> StalledRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, held) = (stop.clone(), held.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((s, _)) => held.lock().unwrap().push(s),
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        StalledRegistry {
            addr,
            stop,
            held,
            thread: Some(thread),
        }
    }

    fn connections(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}

impl Drop for StalledRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Closing the sockets ends the client's waits at once.
        self.held.lock().unwrap().clear();
    }
}

fn pod_with_image(name: &str, image: &str) -> Json {
    let mut c = good_container("app");
    c["image"] = json!(image);
    let mut spec = good_pod_spec();
    spec["containers"] = json!([c]);
    pod(name, "shop", spec)
}

#[test]
fn a_stalled_registry_cannot_take_the_evaluation_threads() {
    let registry = StalledRegistry::start();
    let client = Client::new(ClientOptions {
        insecure_registries: vec![registry.addr.clone()],
        ..ClientOptions::default()
    })
    .unwrap();
    let key = SigningKey::generate_p256();
    let source = SignatureFacts::new(client, vec![key.public_key()], Requirements::default());
    let limits = ServerLimits {
        workers: 2,
        lookups: 2,
        lookup_timeout: Duration::from_millis(500),
        deadline: Duration::from_secs(3),
        ..ServerLimits::default()
    };
    let hook = Arc::new(Webhook::start_with(
        policies(&["signed-images"], ""),
        limits,
        Some(Arc::new(source)),
        None,
    ));
    // More requests for the stalled registry's images than there are
    // evaluation threads or lookup slots, at once.
    let image = format!("{}/team/app:1.0", registry.addr);
    let answers: Vec<(Json, Duration)> = (0..6)
        .map(|i| {
            let hook = hook.clone();
            let r = review(
                &format!("stalled-{i}"),
                "CREATE",
                "Pod",
                "Pod",
                None,
                pod_with_image(&format!("p{i}"), &image),
                Json::Null,
            );
            std::thread::spawn(move || {
                let t = Instant::now();
                let resp = hook.review(&r);
                (resp, t.elapsed())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    for (resp, took) in &answers {
        assert_eq!(resp["allowed"], false, "{resp}");
        let msg = resp["status"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("did not finish within 500 ms") || msg.contains("already in flight"),
            "a stalled lookup must be named: {msg}"
        );
        assert!(
            *took < Duration::from_secs(3),
            "answered after the deadline ({took:?}): {resp}"
        );
    }
    assert!(
        registry.connections() >= 1,
        "the lookups never reached the stalled registry"
    );
    // The stalled lookups still hold their connections (the client's own
    // timeout is a minute), yet the evaluation threads are free: a request
    // that needs no lookup is decided, and allowed.
    let mut spec = good_pod_spec();
    spec["containers"] = json!([]);
    let resp = hook.review(&review(
        "no-images",
        "CREATE",
        "Pod",
        "Pod",
        None,
        pod("free", "shop", spec),
        Json::Null,
    ));
    assert_eq!(resp["allowed"], true, "{resp}");
    drop(registry);
}
