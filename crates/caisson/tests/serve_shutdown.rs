//! `caisson serve` on SIGTERM: it stops accepting connections, lets the
//! request in flight finish (a blob upload whose body is still arriving),
//! stops the scan workers, signs a last audit checkpoint and exits 0; after a
//! restart the upload is there and the audit chain verifies against its
//! checkpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serve_support::{serve, PASSWORD};
use sha2::{Digest as _, Sha256};

#[test]
fn sigterm_drains_an_upload_in_flight_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = serve(&data, None, &[]);
    let body: Vec<u8> = (0..256 * 1024u32).map(|i| (i % 251) as u8).collect();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    let mut conn = TcpStream::connect(&s.host).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        conn,
        "POST /v2/ops/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {auth}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        s.host,
        body.len()
    )
    .unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    conn.write_all(first).unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    s.signal_term();
    std::thread::sleep(Duration::from_millis(500));
    // No new connections once shutdown has begun ...
    let late = TcpStream::connect(&s.host);
    assert!(
        late.is_err(),
        "a connection was accepted after SIGTERM: the listener should be closed"
    );
    // ... but the request in flight completes.
    conn.write_all(rest).unwrap();
    conn.flush().unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the upload in flight was cut: {answer}"
    );
    let status = s
        .wait(Duration::from_secs(30))
        .expect("caisson serve did not exit within 30 s of SIGTERM");
    assert!(status.success(), "caisson serve exited with {status}");

    // Restarted: the upload is stored, the audit chain verifies against the
    // checkpoint signed at shutdown.
    let s = serve(&data, None, &[]);
    let client = reqwest::blocking::Client::new();
    let head = client
        .head(format!("{}/v2/ops/app/blobs/{digest}", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .unwrap();
    assert_eq!(head.status(), 200);
    drop(s);
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "audit verify failed: {text}");
}
