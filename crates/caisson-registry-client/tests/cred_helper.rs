//! A Docker credential helper (`credHelpers`) supplies the credentials.
//! Its own test binary: it changes PATH for the process.

mod support;

use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;
use caisson_oci::Digest;
use caisson_registry_client::{Client, ClientOptions};
use support::http::{Body, Reply, Request, Server};

#[test]
fn credential_helper_supplies_basic_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.to_vec();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("helper-user:helper-secret")
    );
    let body = manifest.clone();
    let server = Server::start(move |req: &Request, _| {
        if req.header("authorization") == Some(expected.as_str()) {
            Reply::new(200, Body::Bytes(body.clone()))
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        } else {
            Reply::new(401, Body::Bytes(Vec::new()))
                .header("WWW-Authenticate", r#"Basic realm="r""#)
        }
    });
    let host = server.host();
    // The helper answers only for the server URL it is asked about.
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r url\nif [ \"$url\" = \"{host}\" ]; then\n  printf '%s' '{{\"ServerURL\":\"{host}\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}}'\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n"
    );
    let helper = dir.path().join("docker-credential-caissontest");
    fs_err::write(&helper, script).expect("helper script");
    fs_err::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::env::set_var("PATH", path);

    let config = dir.path().join("config.json");
    fs_err::write(
        &config,
        format!(r#"{{"auths":{{}},"credHelpers":{{"{host}":"caissontest"}}}}"#),
    )
    .expect("config.json");
    let client = Client::new(ClientOptions {
        insecure_registries: vec![host.clone()],
        auth_files: Some(vec![config]),
        ..ClientOptions::default()
    })
    .expect("client");
    let r = client
        .resolve(&format!("{host}/test/img:v1").parse().expect("ref"))
        .expect("resolve with helper credentials");
    assert_eq!(r.digest, Digest::sha256(&manifest));
}
