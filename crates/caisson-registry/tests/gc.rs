//! Online garbage collection: concurrent pushes while GC runs lose no
//! referenced blob; unreferenced blobs past the grace period are collected.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use caisson_registry::Config;
use common::{sha256, start_with};
use reqwest::Method;

#[test]
fn concurrent_pushes_while_gc_runs_lose_nothing() {
    let s = Arc::new(start_with(Config {
        gc_grace: Duration::from_secs(2),
        ..Config::default()
    }));
    let orphans: Vec<String> = (0..3)
        .map(|i| s.push_blob("team/app", format!("orphan-{i}").as_bytes()))
        .collect();
    std::thread::sleep(Duration::from_millis(2500));

    let stop = Arc::new(AtomicBool::new(false));
    let gc = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = s.admin(Method::POST, "/api/v1/gc").send().expect("gc");
                assert_eq!(r.status(), 200);
                runs += 1;
            }
            runs
        })
    };
    let pushers: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| {
                        let layer = format!("thread {t} image {i} {}", "x".repeat(1000 * i));
                        let (_, d) =
                            s.push_image(&format!("team/t{t}"), &format!("v{i}"), layer.as_bytes());
                        (format!("team/t{t}"), d, sha256(layer.as_bytes()))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let pushed: Vec<_> = pushers
        .into_iter()
        .flat_map(|p| p.join().expect("pusher"))
        .collect();
    stop.store(true, Ordering::Relaxed);
    let runs = gc.join().expect("gc thread");
    assert!(runs > 0, "GC ran during the pushes");
    let r = s
        .admin(Method::POST, "/api/v1/gc")
        .send()
        .expect("final gc");
    let report: serde_json::Value =
        serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert!(report["scanned"].as_u64().expect("scanned") >= 80);

    for (repo, manifest, layer) in &pushed {
        let r = s
            .admin(Method::GET, &format!("/v2/{repo}/manifests/{manifest}"))
            .send()
            .expect("manifest");
        assert_eq!(r.status(), 200);
        let r = s
            .admin(Method::GET, &format!("/v2/{repo}/blobs/{layer}"))
            .send()
            .expect("layer");
        assert_eq!(r.status(), 200, "{repo} {layer}");
        assert_eq!(sha256(&r.bytes().expect("body")), *layer);
    }
    for d in &orphans {
        let r = s
            .admin(Method::HEAD, &format!("/v2/team/app/blobs/{d}"))
            .send()
            .expect("head");
        assert_eq!(r.status(), 404, "orphan {d} collected");
        let hex = d.strip_prefix("sha256:").expect("sha256");
        assert!(!s
            .dir
            .path()
            .join("storage/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .exists());
    }
}

#[test]
fn young_unreferenced_blobs_survive_gc() {
    let s = start_with(Config {
        gc_grace: Duration::from_secs(3600),
        ..Config::default()
    });
    let d = s.push_blob("team/app", b"in flight");
    let r = s.admin(Method::POST, "/api/v1/gc").send().expect("gc");
    let report: serde_json::Value =
        serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(report["deleted"], 0);
    assert_eq!(report["kept_young"], 1);
    let r = s
        .admin(Method::HEAD, &format!("/v2/team/app/blobs/{d}"))
        .send()
        .expect("head");
    assert_eq!(r.status(), 200);
}
