//! The listener's bounds against real sockets: slowloris headers and
//! stalled bodies are cut off, connections beyond the per-address limit are
//! closed at once, and the peer address reaches handlers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::Router;
use caisson_http::{serve, Limits};

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(limits: Limits) -> Server {
    let app = Router::new()
        .route(
            "/peer",
            get(|ConnectInfo(p): ConnectInfo<SocketAddr>| async move { p.ip().to_string() }),
        )
        .route(
            "/echo",
            post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        );
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send");
            serve(listener, None, app, limits, async {
                let _ = stop_rx.await;
            })
            .await;
        });
    });
    Server {
        addr: addr_rx.recv().expect("address"),
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// Reads until the server closes the connection or `within` passes;
/// returns what was read and whether it was closed.
fn read_until_closed(s: &mut TcpStream, within: Duration) -> (String, bool) {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while start.elapsed() < within {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into_owned(), true)
            }
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), false)
}

fn quick() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(500),
        body_idle_timeout: Duration::from_millis(500),
        ..Limits::default()
    }
}

#[test]
fn partial_headers_are_cut_off_after_the_header_timeout() {
    let s = start(quick());
    let mut c = TcpStream::connect(s.addr).expect("connect");
    c.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .expect("write");
    let (_, closed) = read_until_closed(&mut c, Duration::from_secs(5));
    assert!(closed, "a slowloris connection must be closed");
}

#[test]
fn a_stalled_body_fails_after_the_idle_timeout() {
    let s = start(quick());
    let mut c = TcpStream::connect(s.addr).expect("connect");
    c.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .expect("write");
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut c, Duration::from_secs(5));
    assert!(
        closed || !answer.is_empty(),
        "a stalled body must not hold the connection open"
    );
    assert!(!answer.contains("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn connections_beyond_the_per_address_limit_are_closed_at_once() {
    let s = start(Limits {
        max_connections_per_address: 3,
        ..Limits::default()
    });
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(s.addr).expect("connect"))
        .collect();
    // Let the server account for them.
    for h in &mut held {
        h.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut buf = [0u8; 256];
        h.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
        let n = h.read(&mut buf).expect("answer");
        assert!(String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).contains("200"));
    }
    let mut extra = TcpStream::connect(s.addr).expect("connect");
    let _ = extra.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n");
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(3));
    assert!(closed && answer.is_empty(), "fourth connection: {answer:?}");
    // Closing one frees its slot.
    drop(held.pop());
    let ok = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        let Ok(mut c) = TcpStream::connect(s.addr) else {
            return false;
        };
        let _ = c.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        read_until_closed(&mut c, Duration::from_secs(2))
            .0
            .contains("127.0.0.1")
    });
    assert!(ok, "a freed slot is usable again");
}

#[test]
fn handlers_see_the_peer_address() {
    let s = start(Limits::default());
    let body = reqwest::blocking::get(format!("http://{}/peer", s.addr))
        .expect("get")
        .text()
        .expect("text");
    assert_eq!(body, "127.0.0.1");
}
