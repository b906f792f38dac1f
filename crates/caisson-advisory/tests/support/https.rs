#![allow(clippy::unwrap_used)]
#![allow(dead_code)]
//! A small HTTPS/1.1 file server on 127.0.0.1 for the update tests: a CA and
//! a server certificate are generated with rcgen, TLS is rustls. Routes can
//! be changed while it runs; it honours If-None-Match, and can fail on
//! purpose (status codes, a body cut short).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Clone, Debug)]
pub enum Behaviour {
    Normal,
    /// Answer with this status and a short text body.
    Status(u16),
    /// Declare the full Content-Length, send only this many bytes, close.
    CutAfter(usize),
}

#[derive(Clone, Debug)]
pub struct Route {
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub behaviour: Behaviour,
}

impl Route {
    pub fn new(body: Vec<u8>, etag: &str) -> Route {
        Route {
            body,
            etag: Some(format!("\"{etag}\"")),
            last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".to_string()),
            behaviour: Behaviour::Normal,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Logged {
    pub path: String,
    pub if_none_match: Option<String>,
    pub status: u16,
    pub body_bytes: usize,
}

pub struct HttpsServer {
    pub port: u16,
    pub ca_pem: PathBuf,
    pub routes: Arc<Mutex<HashMap<String, Route>>>,
    pub log: Arc<Mutex<Vec<Logged>>>,
    stop: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl HttpsServer {
    pub fn start() -> HttpsServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "caisson advisory test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let mut leaf =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
        leaf.subject_alt_names
            .push(rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let leaf = leaf.signed_by(&leaf_key, &ca, &ca_key).expect("leaf cert");
        let ca_pem = dir.path().join("ca.pem");
        fs_err::write(&ca_pem, ca.pem()).expect("write ca");

        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .expect("server config");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let log: Arc<Mutex<Vec<Logged>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (routes, log, stop) = (routes.clone(), log.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (config, routes, log) = (config.clone(), routes.clone(), log.clone());
                    std::thread::spawn(move || serve(conn, config, &routes, &log));
                }
            });
        }
        HttpsServer {
            port,
            ca_pem,
            routes,
            log,
            stop,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    pub fn behave(&self, path: &str, b: Behaviour) {
        self.routes
            .lock()
            .unwrap()
            .get_mut(path)
            .expect("route")
            .behaviour = b;
    }

    pub fn take_log(&self) -> Vec<Logged> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    pub fn ca(&self) -> &Path {
        &self.ca_pem
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    routes: &Mutex<HashMap<String, Route>>,
    log: &Mutex<Vec<Logged>>,
) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut reader = BufReader::new(&mut tls);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    drop(reader);
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let if_none_match = header("if-none-match");
    let route = routes.lock().unwrap().get(&path).cloned();
    let (status, extra, body, cut): (u16, Vec<String>, Vec<u8>, Option<usize>) = match route {
        None => (404, vec![], b"not found".to_vec(), None),
        Some(r) => match r.behaviour {
            Behaviour::Status(s) => (s, vec![], b"failing on purpose".to_vec(), None),
            _ if if_none_match.is_some() && if_none_match == r.etag => {
                (304, etag_headers(&r), vec![], None)
            }
            Behaviour::CutAfter(n) => (200, etag_headers(&r), r.body.clone(), Some(n)),
            Behaviour::Normal => (200, etag_headers(&r), r.body.clone(), None),
        },
    };
    let sent = cut.unwrap_or(body.len()).min(body.len());
    log.lock().unwrap().push(Logged {
        path,
        if_none_match,
        status,
        body_bytes: sent,
    });
    let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    if status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for e in extra {
        head.push_str(&e);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = tls.write_all(head.as_bytes());
    let _ = tls.write_all(&body[..sent]);
    let _ = tls.flush();
    if cut.is_some() {
        // Drop the TCP connection without a TLS close_notify: a cut transfer.
        let _ = tls.sock.shutdown(std::net::Shutdown::Both);
        return;
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest);
}

fn etag_headers(r: &Route) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(e) = &r.etag {
        v.push(format!("ETag: {e}"));
    }
    if let Some(m) = &r.last_modified {
        v.push(format!("Last-Modified: {m}"));
    }
    v
}
