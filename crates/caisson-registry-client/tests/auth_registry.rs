//! Authentication and TLS against the real registry: htpasswd (Basic), token
//! auth with a token server whose JWTs the registry verifies, and a TLS
//! registry whose CA the client is given.

mod support;

use std::path::PathBuf;

use caisson_oci::{Digest, Reference};
use caisson_registry_client::{Client, ClientOptions, RegistryError};
use support::layout::{Layout, GZIP};
use support::registry::{htpasswd, Auth, Registry, Tls};
use support::tokens::{tls_certs, TokenConfig, TokenServer, ISSUER, SERVICE};

const USER: &str = "alice";
const PASS: &str = "correct-horse-battery";
const WRONG: &str = "wrong-password-1234";

fn tools() -> bool {
    support::have_tools(&["docker-registry", "skopeo", "htpasswd", "openssl"])
}

fn client(reg: &Registry, auth_files: Vec<PathBuf>) -> Client {
    Client::new(ClientOptions {
        insecure_registries: vec![reg.host()],
        auth_files: Some(auth_files),
        ..ClientOptions::default()
    })
    .expect("client")
}

/// Pushes a one-layer image as test/img:v1 with credentials; returns the
/// manifest digest skopeo reports.
fn push_image(reg: &Registry, work: &std::path::Path) -> Digest {
    let dir = work.join("layout");
    let layout = Layout::init(&dir);
    let img = layout.image("linux/amd64", &[GZIP]);
    layout.tag("v1", &img);
    let creds = format!("{USER}:{PASS}");
    reg.push(
        &work.join("layout"),
        "v1",
        "test/img:v1",
        &["--dest-creds", &creds],
    );
    Digest::sha256(&reg.inspect_raw("test/img:v1", false, Some(&creds)))
}

fn assert_no_secret(err: &RegistryError) {
    let shown = format!("{err} {err:?}");
    for s in [PASS, WRONG] {
        assert!(!shown.contains(s), "secret in error: {shown}");
    }
}

/// Good, wrong and missing credentials against a registry that needs them.
fn check_credentials(reg: &Registry, work: &std::path::Path, expected: &Digest) {
    let r: Reference = format!("{}/test/img:v1", reg.host()).parse().expect("ref");
    let good = support::write_auth_file(work, &reg.host(), USER, PASS);
    let pulled = client(reg, vec![good])
        .pull_image(&r, None, &work.join("cache"))
        .expect("pull with good credentials");
    assert_eq!(&pulled.manifest_digest, expected);
    assert_eq!(pulled.layers.len(), 1);

    let bad = support::write_auth_file(work, &reg.host(), USER, WRONG);
    let err = client(reg, vec![bad])
        .resolve(&r)
        .expect_err("wrong password");
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("hint:"), "{err}");
    assert_no_secret(&err);

    let err = client(reg, vec![work.join("absent.json")])
        .resolve(&r)
        .expect_err("no credentials");
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("docker login") && msg.contains("REGISTRY_AUTH_FILE"),
        "{msg}"
    );
}

#[test]
fn htpasswd_basic_auth() {
    if !tools() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let htp = htpasswd(work.path(), USER, PASS);
    let reg = Registry::start(Auth::Htpasswd(htp), None);
    let digest = push_image(&reg, work.path());
    check_credentials(&reg, work.path(), &digest);
}

#[test]
fn token_auth_with_real_jwt_verification() {
    if !tools() {
        return;
    }
    for access_token_field in [false, true] {
        let work = tempfile::tempdir().expect("tempdir");
        let ts = TokenServer::start(TokenConfig {
            user: USER.into(),
            pass: PASS.into(),
            access_token_field,
        });
        let reg = Registry::start(
            Auth::Token {
                realm: ts.realm(),
                service: SERVICE.into(),
                issuer: ISSUER.into(),
                root_cert: ts.cert.clone(),
            },
            None,
        );
        let digest = push_image(&reg, work.path());
        let before = ts.server.requests().len();
        check_credentials(&reg, work.path(), &digest);
        let token_requests: Vec<_> = ts.server.requests().into_iter().skip(before).collect();
        assert!(
            !token_requests.is_empty(),
            "the client asked the token server"
        );
        let first = token_requests.first().expect("a token request");
        assert!(
            first.path.contains("scope=repository%3Atest%2Fimg%3Apull")
                && first.path.contains(&format!("service={SERVICE}")),
            "{}",
            first.path
        );
    }
}

#[test]
fn tls_registry_needs_its_ca() {
    if !tools() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = tls_certs(work.path());
    let reg = Registry::start(Auth::None, Some(Tls { cert, key }));
    let dir = work.path().join("layout");
    let layout = Layout::init(&dir);
    let img = layout.image("linux/amd64", &[GZIP]);
    layout.tag("v1", &img);
    reg.push(&work.path().join("layout"), "v1", "test/img:v1", &[]);
    let r: Reference = format!("{}/test/img:v1", reg.host()).parse().expect("ref");

    let with_ca = Client::new(ClientOptions {
        ca_bundle: Some(ca),
        auth_files: Some(Vec::new()),
        ..ClientOptions::default()
    })
    .expect("client with CA");
    let pulled = with_ca
        .pull_image(&r, None, &work.path().join("cache"))
        .expect("pull over TLS");
    assert_eq!(
        pulled.manifest_bytes,
        reg.inspect_raw("test/img:v1", false, None)
    );

    let without = Client::new(ClientOptions {
        auth_files: Some(Vec::new()),
        ..ClientOptions::default()
    })
    .expect("client");
    let err = without.resolve(&r).expect_err("unknown CA");
    assert!(matches!(err, RegistryError::Tls { .. }), "{err:?}");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("TLS") && msg.contains("hint:"), "{msg}");

    let err = Client::new(ClientOptions {
        ca_bundle: Some(work.path().join("missing.pem")),
        ..ClientOptions::default()
    })
    .expect_err("missing CA bundle");
    assert!(matches!(err, RegistryError::CaBundle { .. }), "{err}");
}
