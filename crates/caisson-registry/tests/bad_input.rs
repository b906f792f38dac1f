//! Bad input against a running registry: blob uploads whose declared size
//! lies, concurrent pushes of one tag, and clients that disconnect in the
//! middle of an upload. Nothing half-written may become visible, nothing may
//! leak, and no request may end in a 500.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use base64::Engine as _;
use caisson_registry::Config;
use common::{error_code, sha256, ADMIN_PASSWORD};
use reqwest::Method;

fn basic() -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
    format!("Basic {b64}")
}

/// `host:port` of the server.
fn addr(s: &common::Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Sends `head` (request line + headers, without the blank line) and `body`
/// over a raw connection, half-closes it, and returns the status code of the
/// response (None when the server closed without answering).
fn raw_request(s: &common::Server, head: &str, body: &[u8]) -> Option<u16> {
    let mut c = TcpStream::connect(addr(s)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let req = format!(
        "{head}\r\nHost: {}\r\nAuthorization: {}\r\n\r\n",
        addr(s),
        basic()
    );
    c.write_all(req.as_bytes()).expect("write head");
    c.write_all(body).expect("write body");
    c.shutdown(std::net::Shutdown::Write).expect("half-close");
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok())
}

/// Sends headers and part of the body, then drops the connection.
fn disconnect_mid_body(s: &common::Server, head: &str, partial: &[u8]) {
    let mut c = TcpStream::connect(addr(s)).expect("connect");
    let req = format!(
        "{head}\r\nHost: {}\r\nAuthorization: {}\r\n\r\n",
        addr(s),
        basic()
    );
    c.write_all(req.as_bytes()).expect("write head");
    c.write_all(partial).expect("write partial body");
    c.flush().expect("flush");
    // Give the server time to start streaming the body to disk.
    std::thread::sleep(Duration::from_millis(300));
    drop(c);
}

fn blob_status(s: &common::Server, repo: &str, d: &str) -> u16 {
    s.admin(Method::HEAD, &format!("/v2/{repo}/blobs/{d}"))
        .send()
        .expect("head blob")
        .status()
        .as_u16()
}

fn start_session(s: &common::Server, repo: &str) -> String {
    let r = s
        .admin(Method::POST, &format!("/v2/{repo}/blobs/uploads/"))
        .send()
        .expect("start upload");
    assert_eq!(r.status(), 202);
    r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

/// Files under the store's upload directory.
fn upload_files(s: &common::Server) -> Vec<String> {
    let dir = s.dir.path().join("storage").join("uploads");
    fs_err::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn blob(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn chunk_whose_content_range_disagrees_with_its_length_is_refused() {
    let s = common::start();
    let data = blob(100, 1);
    let d = sha256(&data);
    let loc = start_session(&s, "lies/range");
    // Content-Range claims 100 bytes, Content-Length (and the body) say 50.
    let r = s
        .admin(Method::PATCH, &loc)
        .header("content-range", "0-99")
        .header("content-type", "application/octet-stream")
        .body(data[..50].to_vec())
        .send()
        .expect("patch");
    assert_eq!(r.status(), 416, "declared range vs length");
    assert_eq!(error_code(r), "RANGE_INVALID");
    // Nothing was written: the session is still at 0 bytes and usable.
    let st = s.admin(Method::GET, &loc).send().expect("status");
    assert_eq!(st.status(), 204);
    assert_eq!(st.headers()["range"], "0-0");
    let r = s
        .admin(Method::PATCH, &loc)
        .header("content-range", "0-99")
        .body(data.clone())
        .send()
        .expect("patch");
    assert_eq!(r.status(), 202);
    let r = s
        .admin(Method::PUT, &format!("{loc}?digest={d}"))
        .send()
        .expect("put");
    assert_eq!(r.status(), 201);
    assert_eq!(blob_status(&s, "lies/range", &d), 200);
}

#[test]
fn chunked_body_longer_or_shorter_than_its_content_range_cancels_the_upload() {
    let s = common::start();
    let data = blob(4096, 2);
    let d = sha256(&data);
    for (declared_end, what) in [(1023u64, "longer"), (8191, "shorter")] {
        let loc = start_session(&s, "lies/chunked");
        // A chunked body carries no Content-Length; only the range declares a size.
        let body = reqwest::blocking::Body::new(std::io::Cursor::new(data.clone()));
        let r = s
            .admin(Method::PATCH, &loc)
            .header("content-range", format!("0-{declared_end}"))
            .body(body)
            .send()
            .expect("patch");
        assert_eq!(r.status(), 416, "body {what} than Content-Range");
        assert_eq!(error_code(r), "RANGE_INVALID");
        // The session is gone, its data removed, the blob never visible.
        let st = s.admin(Method::GET, &loc).send().expect("status");
        assert_eq!(st.status(), 404, "session after a lying chunk ({what})");
        assert_eq!(blob_status(&s, "lies/chunked", &d), 404);
    }
    assert_eq!(upload_files(&s), Vec::<String>::new());
}

#[test]
fn final_put_of_a_short_body_stores_nothing() {
    let s = common::start();
    let data = blob(10_000, 3);
    let d = sha256(&data);
    // POST+PUT: the digest is of the whole blob, the body is half of it.
    let loc = start_session(&s, "lies/short");
    let r = s
        .admin(Method::PUT, &format!("{loc}?digest={d}"))
        .body(data[..5000].to_vec())
        .send()
        .expect("put");
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
    assert_eq!(blob_status(&s, "lies/short", &d), 404);
    // Monolithic POST with a short body.
    let r = s
        .admin(
            Method::POST,
            &format!("/v2/lies/short/blobs/uploads/?digest={d}"),
        )
        .body(data[..9999].to_vec())
        .send()
        .expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
    assert_eq!(blob_status(&s, "lies/short", &d), 404);
    // Content-Length larger than what arrives before the client half-closes.
    let status = raw_request(
        &s,
        &format!(
            "POST /v2/lies/short/blobs/uploads/?digest={d} HTTP/1.1\r\nContent-Length: {}",
            data.len()
        ),
        &data[..4000],
    );
    assert!(
        matches!(status, None | Some(400..=499)),
        "a body shorter than Content-Length: {status:?}"
    );
    assert_eq!(blob_status(&s, "lies/short", &d), 404);
    assert_eq!(upload_files(&s), Vec::<String>::new(), "nothing leaks");
    // The same blob uploads fine afterwards.
    assert_eq!(s.push_blob("lies/short", &data), d);
    let got = s
        .admin(Method::GET, &format!("/v2/lies/short/blobs/{d}"))
        .send()
        .expect("get")
        .bytes()
        .expect("bytes");
    assert_eq!(&got[..], &data[..]);
}

#[test]
fn concurrent_pushes_of_one_tag_end_on_exactly_one_manifest() {
    const N: usize = 8;
    let s = Arc::new(common::start());
    // Blobs first, so the race is only on the tag.
    let mut manifests = Vec::new();
    for i in 0..N {
        let layer = blob(2000 + i, i as u8);
        let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{i}}}"#);
        let cd = s.push_blob("race/app", config.as_bytes());
        let ld = s.push_blob("race/app", &layer);
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}]
        });
        manifests.push(serde_json::to_vec(&m).expect("json"));
    }
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = manifests
        .iter()
        .cloned()
        .map(|bytes| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let r = s
                    .admin(Method::PUT, "/v2/race/app/manifests/latest")
                    .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                    .body(bytes)
                    .send()
                    .expect("put manifest");
                (r.status().as_u16(), r.text().unwrap_or_default())
            })
        })
        .collect();
    for h in handles {
        let (status, body) = h.join().expect("pusher");
        assert_eq!(status, 201, "concurrent push: {body}");
    }
    let digests: Vec<String> = manifests.iter().map(|m| sha256(m)).collect();
    let r = s
        .admin(Method::GET, "/v2/race/app/manifests/latest")
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .expect("get tag");
    assert_eq!(r.status(), 200);
    let tagged = r.headers()["docker-content-digest"]
        .to_str()
        .expect("digest")
        .to_string();
    let body = r.bytes().expect("body");
    assert_eq!(
        digests.iter().filter(|d| **d == tagged).count(),
        1,
        "the tag points at one of the pushed manifests"
    );
    assert_eq!(sha256(&body), tagged, "tag body matches its digest");
    for (m, d) in manifests.iter().zip(&digests) {
        let r = s
            .admin(Method::GET, &format!("/v2/race/app/manifests/{d}"))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .expect("get by digest");
        assert_eq!(r.status(), 200, "{d} retrievable");
        assert_eq!(&r.bytes().expect("body")[..], &m[..], "{d} byte-identical");
    }
    let tags: serde_json::Value = serde_json::from_slice(
        &s.admin(Method::GET, "/v2/race/app/tags/list")
            .send()
            .expect("tags")
            .bytes()
            .expect("body"),
    )
    .expect("json");
    assert_eq!(tags["tags"], serde_json::json!(["latest"]));
}

#[test]
fn client_disconnecting_mid_upload_leaves_nothing_visible_and_expiry_cleans_up() {
    // Uploads idle for a second expire at the next GC.
    let s = common::start_with(Config {
        upload_ttl: Duration::from_secs(1),
        ..Config::default()
    });
    let data = blob(1 << 20, 4);
    let d = sha256(&data);
    let half = &data[..data.len() / 2];
    let host_path = |loc: &str| loc.to_string();

    // 1. Chunked PATCH: headers and half the body, then the client vanishes.
    let loc = start_session(&s, "drop/app");
    disconnect_mid_body(
        &s,
        &format!(
            "PATCH {} HTTP/1.1\r\nContent-Type: application/octet-stream\r\nContent-Range: 0-{}\r\nContent-Length: {}",
            host_path(&loc),
            data.len() - 1,
            data.len()
        ),
        half,
    );
    // 2. Monolithic POST, same.
    disconnect_mid_body(
        &s,
        &format!(
            "POST /v2/drop/app/blobs/uploads/?digest={d} HTTP/1.1\r\nContent-Length: {}",
            data.len()
        ),
        half,
    );
    // 3. Final PUT with the body, same.
    let loc3 = start_session(&s, "drop/app");
    disconnect_mid_body(
        &s,
        &format!(
            "PUT {loc3}?digest={d} HTTP/1.1\r\nContent-Length: {}",
            data.len()
        ),
        half,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(blob_status(&s, "drop/app", &d), 404, "nothing visible");
    let r = s
        .admin(Method::GET, "/v2/drop/app/tags/list")
        .send()
        .expect("tags");
    assert!(r.status() == 404 || r.status() == 200, "{}", r.status());

    // A later upload of the same blob succeeds and is intact.
    assert_eq!(s.push_blob("drop/app", &data), d);
    let got = s
        .admin(Method::GET, &format!("/v2/drop/app/blobs/{d}"))
        .send()
        .expect("get")
        .bytes()
        .expect("bytes");
    assert_eq!(sha256(&got), d);

    // The abandoned sessions' files are removed by the expiry path (GC).
    std::thread::sleep(Duration::from_millis(1200));
    let r = s.admin(Method::POST, "/api/v1/gc").send().expect("gc");
    assert_eq!(r.status(), 200);
    let report: serde_json::Value =
        serde_json::from_slice(&r.bytes().expect("body")).expect("report");
    assert!(
        report["uploads_removed"].as_u64().unwrap_or(0) >= 1,
        "{report}"
    );
    assert_eq!(
        upload_files(&s),
        Vec::<String>::new(),
        "upload files cleaned"
    );
    for l in [&loc, &loc3] {
        let st = s.admin(Method::GET, l).send().expect("status");
        assert_eq!(st.status(), 404, "expired session {l}");
    }
    // The stored blob survived all of it.
    assert_eq!(blob_status(&s, "drop/app", &d), 200);
}
