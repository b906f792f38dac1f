//! Test PKI with `openssl`: a token server issuing RS256 JWTs that
//! docker-registry's `auth.token` verifies (x5c chain to `rootcertbundle`),
//! and a CA plus server certificate for a TLS registry.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::json;

use super::http::{Body, Reply, Server};
use super::run;

pub const SERVICE: &str = "caisson-test-registry";
pub const ISSUER: &str = "caisson-test-issuer";

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn sign_rs256(key: &Path, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn openssl dgst");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to openssl");
    let out = child.wait_with_output().expect("openssl dgst");
    assert!(out.status.success(), "openssl dgst failed");
    out.stdout
}

pub struct TokenServer {
    pub server: Server,
    pub cert: PathBuf,
    _dir: tempfile::TempDir,
}

pub struct TokenConfig {
    pub user: String,
    pub pass: String,
    /// Answer `{"access_token": …}` instead of `{"token": …}`.
    pub access_token_field: bool,
}

impl TokenServer {
    pub fn start(cfg: TokenConfig) -> TokenServer {
        let dir = tempfile::tempdir().expect("token tempdir");
        let key = dir.path().join("token.key");
        let cert = dir.path().join("token.pem");
        run(Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=caisson-test-token-signer", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        let der = run(Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert));
        let x5c = base64::engine::general_purpose::STANDARD.encode(der);
        let expected_basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", cfg.user, cfg.pass))
        );
        let user = cfg.user.clone();
        let access_field = cfg.access_token_field;
        let key2 = key.clone();
        let server = Server::start(move |req, _| {
            let url = reqwest::Url::parse(&format!("http://x{}", req.path)).expect("path");
            if !url.path().starts_with("/token") {
                return Reply::new(404, Body::Bytes(Vec::new()));
            }
            let scopes: Vec<String> = url
                .query_pairs()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.into_owned())
                .collect();
            let service = url
                .query_pairs()
                .find(|(k, _)| k == "service")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let (sub, granted) =
                match req.header("authorization") {
                    Some(h) if h == expected_basic => (user.clone(), true),
                    Some(_) => return Reply::new(
                        401,
                        Body::Bytes(
                            br#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#
                                .to_vec(),
                        ),
                    ),
                    None => (String::new(), false),
                };
            let access: Vec<serde_json::Value> = if granted {
                scopes
                    .iter()
                    .filter_map(|s| {
                        let mut p = s.splitn(3, ':');
                        let (t, n, a) = (p.next()?, p.next()?, p.next()?);
                        Some(json!({"type": t, "name": n, "actions": a.split(',').chain(["push"]).collect::<Vec<_>>()}))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
            let claims = json!({
                "iss": ISSUER, "sub": sub, "aud": service,
                "exp": now + 600, "nbf": now - 60, "iat": now - 60,
                "jti": format!("{now}-{}", scopes.len()),
                "access": access,
            });
            let input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            );
            let sig = sign_rs256(&key2, input.as_bytes());
            let token = format!("{input}.{}", b64url(&sig));
            let field = if access_field {
                "access_token"
            } else {
                "token"
            };
            let body = json!({ field: token, "expires_in": 600 });
            Reply::new(200, Body::Bytes(body.to_string().into_bytes()))
                .header("Content-Type", "application/json")
        });
        TokenServer {
            server,
            cert,
            _dir: dir,
        }
    }

    pub fn realm(&self) -> String {
        format!("{}/token", self.server.url())
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, cert, key).
pub fn tls_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = dir.join("ca.key");
    let ca = dir.join("ca.pem");
    let key = dir.join("server.key");
    let csr = dir.join("server.csr");
    let cert = dir.join("server.pem");
    let ext = dir.join("ext.cnf");
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=caisson-test-ca", "-keyout"])
        .arg(&ca_key)
        .arg("-out")
        .arg(&ca));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    fs_err::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
    )
    .expect("ext.cnf");
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-set_serial", "2", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(&ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&cert));
    (ca, cert, key)
}
