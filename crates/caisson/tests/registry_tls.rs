//! `caisson serve --tls-cert/--tls-key` with a CA generated for the test:
//! skopeo pushes and pulls over https trusting only that CA (`--dest-cert-dir`,
//! `--src-cert-dir`), a client without the CA is refused, and a plain-HTTP
//! client on the TLS port fails cleanly while the server keeps serving.

mod serve_support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use caisson_testsupport::{fixture, have_tool, run};
use serve_support::{generate_pki, serve, PASSWORD};

fn ca_client(ca: &std::path::Path) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&fs_err::read(ca).expect("ca")).expect("ca pem"),
        )
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[test]
fn https_serves_the_api_and_plain_http_on_the_tls_port_fails_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = generate_pki(&dir.path().join("pki"));
    let s = serve(&dir.path().join("data"), Some(&pki), &[]);
    let client = ca_client(&pki.ca);

    // The token challenge names an https realm.
    let r = client
        .get(format!("{}/v2/", s.base))
        .send()
        .expect("https ping");
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(
        challenge.contains(&format!("realm=\"https://{}/token\"", s.host)),
        "{challenge}"
    );
    let r = client
        .get(format!("{}/v2/", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .expect("https ping with credentials");
    assert_eq!(r.status(), 200);

    // Without the CA the certificate is not trusted.
    let untrusting = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let err = untrusting
        .get(format!("{}/v2/", s.base))
        .send()
        .expect_err("an unknown CA must be refused");
    assert!(err.is_connect(), "{err:?}");

    // Plain HTTP to the TLS port: the client gets an error, not a hang or a
    // response that looks like the registry's.
    let plain = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    match plain.get(format!("http://{}/v2/", s.host)).send() {
        Err(e) => assert!(!e.is_timeout(), "plain HTTP must fail fast: {e:?}"),
        Ok(r) => assert_eq!(r.status(), 400, "plain HTTP answered {}", r.status()),
    }
    // Raw: the server closes the connection promptly, answering no HTTP.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    c.write_all(b"GET /v2/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let mut buf = Vec::new();
    let read = c.read_to_end(&mut buf);
    assert!(
        read.is_ok() || buf.is_empty(),
        "connection must be closed, not left hanging: {read:?}"
    );
    assert!(
        !String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"),
        "no plain-HTTP response"
    );

    // And the server is still healthy afterwards.
    let r = client
        .get(format!("{}/v2/", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .expect("https after plain attempts");
    assert_eq!(r.status(), 200);
}

#[test]
fn skopeo_pushes_and_pulls_over_https_with_the_generated_ca() {
    if !have_tool("skopeo") {
        return;
    }
    let Some((root, entry)) = fixture("debian") else {
        return;
    };
    let layout = root.join(entry["oci"].as_str().expect("oci"));
    let tag = entry["tag"].as_str().expect("tag");
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = generate_pki(&dir.path().join("pki"));
    // A cert dir holds only the CA (skopeo reads *.crt there as CAs).
    let certs = dir.path().join("certs.d");
    fs_err::create_dir_all(&certs).expect("certs dir");
    fs_err::copy(&pki.ca, certs.join("ca.crt")).expect("copy ca");
    let s = serve(&dir.path().join("data"), Some(&pki), &[]);
    let creds = format!("admin:{PASSWORD}");
    let dest = format!("docker://{}/tls/debian:{tag}", s.host);
    run(Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--preserve-digests"])
        .arg("--dest-cert-dir")
        .arg(&certs)
        .args(["--dest-creds", &creds])
        .arg(format!("oci:{}:{tag}", layout.display()))
        .arg(&dest));
    let out = dir.path().join("out");
    run(Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--preserve-digests"])
        .arg("--src-cert-dir")
        .arg(&certs)
        .args(["--src-creds", &creds])
        .arg(&dest)
        .arg(format!("oci:{}:{tag}", out.display())));
    // The pulled layout holds the same manifest.
    let index = |p: &std::path::Path| -> String {
        let v: serde_json::Value =
            serde_json::from_slice(&fs_err::read(p.join("index.json")).expect("index"))
                .expect("json");
        v["manifests"][0]["digest"]
            .as_str()
            .expect("digest")
            .to_string()
    };
    let src_index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(layout.join("index.json")).expect("index"))
            .expect("json");
    let src_digest = src_index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .and_then(|m| m["digest"].as_str())
        .expect("tag digest")
        .to_string();
    assert_eq!(index(&out), src_digest, "pulled manifest digest");

    // Without the CA, skopeo refuses the server (TLS verification is on).
    let refused = Command::new("skopeo")
        .args(["--insecure-policy", "inspect", "--raw", "--creds", &creds])
        .arg(&dest)
        .env("HOME", dir.path())
        .output()
        .expect("skopeo");
    assert!(!refused.status.success(), "skopeo trusted an unknown CA");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("certificate") || err.contains("x509"),
        "TLS verification error: {err}"
    );
}
