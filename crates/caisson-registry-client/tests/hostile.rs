//! Hostile and odd registries, played by a small local HTTP server: each
//! misbehaviour gives its specific error and leaves no file behind.

mod support;

use std::path::Path;
use std::sync::Arc;

use caisson_oci::{Descriptor, Digest, Reference, MAX_MANIFEST_BYTES};
use caisson_registry_client::{BlobCache, Client, ClientOptions, RegistryError};
use serde_json::json;
use support::http::{Body, Reply, Request, Server};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn manifest_bytes() -> Vec<u8> {
    let cfg = Digest::sha256(b"{}");
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg.to_string(), "size": 2},
        "layers": []
    })
    .to_string()
    .into_bytes()
}

fn client_for(server: &Server) -> Client {
    client_with_auth(server, Vec::new())
}

fn client_with_auth(server: &Server, auth_files: Vec<std::path::PathBuf>) -> Client {
    Client::new(ClientOptions {
        insecure_registries: vec![server.host()],
        auth_files: Some(auth_files),
        timeout: std::time::Duration::from_secs(20),
        ..ClientOptions::default()
    })
    .expect("client")
}

fn reference(server: &Server, rest: &str) -> Reference {
    format!("{}/{rest}", server.host())
        .parse()
        .expect("reference")
}

fn descriptor(bytes: &[u8]) -> Descriptor {
    serde_json::from_value(json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": Digest::sha256(bytes).to_string(),
        "size": bytes.len(),
    }))
    .expect("descriptor")
}

fn manifest_reply(body: Body) -> Reply {
    Reply::new(200, body).header("Content-Type", OCI_MANIFEST)
}

/// Fetches `desc` from a server answering every blob request with `reply`,
/// into a fresh cache; returns the error and checks nothing was left behind.
fn blob_error(
    desc: &Descriptor,
    reply: impl Fn() -> Reply + Send + Sync + 'static,
) -> RegistryError {
    let server = Server::start(move |_, _| reply());
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = BlobCache::new(cache_dir.path());
    let err = client_for(&server)
        .fetch_blob_cached(&server.host(), "test/img", desc, &cache)
        .expect_err("hostile blob must fail");
    assert_dir_has_no_files(cache_dir.path());
    err
}

fn assert_dir_has_no_files(dir: &Path) {
    fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(rd) = fs_err::read_dir(p) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    walk(&e.path(), out);
                } else {
                    out.push(e.path());
                }
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    assert!(files.is_empty(), "files left behind: {files:?}");
}

#[test]
fn manifest_digest_mismatch_by_digest_and_by_tag() {
    let served = manifest_bytes();
    let other = Digest::sha256(b"something else");
    let header = other.to_string();
    let body = served.clone();
    let server = Server::start(move |_, _| {
        manifest_reply(Body::Bytes(body.clone())).header("Docker-Content-Digest", &header)
    });
    let c = client_for(&server);
    let err = c
        .resolve(&reference(&server, &format!("test/img@{other}")))
        .expect_err("by digest");
    assert!(
        matches!(&err, RegistryError::DigestMismatch { expected, actual, .. } if *expected == other && *actual == Digest::sha256(&served)),
        "{err}"
    );
    let err = c
        .resolve(&reference(&server, "test/img:v1"))
        .expect_err("by tag, lying Docker-Content-Digest");
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("digest mismatch"), "{err}");
}

#[test]
fn oversized_manifest_is_refused_with_or_without_content_length() {
    let big = {
        let mut b = manifest_bytes();
        b.resize(MAX_MANIFEST_BYTES + 10, b' ');
        b
    };
    for framed in [false, true] {
        let body = big.clone();
        let server = Server::start(move |_, _| {
            manifest_reply(if framed {
                Body::Bytes(body.clone())
            } else {
                Body::Unframed(body.clone())
            })
        });
        let err = client_for(&server)
            .resolve(&reference(&server, "test/img:v1"))
            .expect_err("oversized");
        assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
    }
    let server = Server::start(|_, _| manifest_reply(Body::Endless));
    let err = client_for(&server)
        .resolve(&reference(&server, "test/img:v1"))
        .expect_err("endless manifest");
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
}

#[test]
fn blob_longer_shorter_wrong_or_endless() {
    let content = b"the real layer bytes".repeat(1000);
    let desc = descriptor(&content);

    let longer = [content.clone(), b"extra".to_vec()].concat();
    let l2 = longer.clone();
    let err = blob_error(&desc, move || Reply::new(200, Body::Bytes(l2.clone())));
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
    let err = blob_error(&desc, move || {
        Reply::new(200, Body::Unframed(longer.clone()))
    });
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");

    let shorter = content.get(..content.len() - 7).expect("slice").to_vec();
    let err = blob_error(&desc, move || Reply::new(200, Body::Bytes(shorter.clone())));
    assert!(
        matches!(err, RegistryError::Truncated { expected, received, .. } if expected == 20_000 && received == 19_993),
        "{err}"
    );

    let mut wrong = content.clone();
    if let Some(b) = wrong.last_mut() {
        *b ^= 1;
    }
    let err = blob_error(&desc, move || Reply::new(200, Body::Bytes(wrong.clone())));
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");

    let err = blob_error(&desc, || Reply::new(200, Body::Endless));
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
}

#[test]
fn redirect_to_another_host_drops_authorization() {
    let content = b"blob stored elsewhere".repeat(50);
    let desc = descriptor(&content);
    let storage = {
        let c = content.clone();
        Server::start(move |_, _| Reply::new(200, Body::Bytes(c.clone())))
    };
    let storage_url = format!("{}/bucket/blob?X-Signature=secret-ish", storage.url());
    let registry = Server::start(move |req: &Request, _| match req.header("authorization") {
        None => Reply::new(
            401,
            Body::Bytes(
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                    .to_vec(),
            ),
        )
        .header("WWW-Authenticate", r#"Basic realm="hostile, with comma""#),
        Some(_) => Reply::new(307, Body::Bytes(Vec::new())).header("Location", &storage_url),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = support::write_auth_file(dir.path(), &registry.host(), "u", "p4ss");
    let dest = dir.path().join("out/blob");
    client_with_auth(&registry, vec![auth])
        .fetch_blob(&registry.host(), "test/img", &desc, &dest)
        .expect("fetch through redirect");
    assert_eq!(fs_err::read(&dest).expect("dest"), content);
    let reg_reqs = registry.requests();
    assert!(reg_reqs.iter().any(|r| r.header("authorization").is_some()));
    let store_reqs = storage.requests();
    assert_eq!(store_reqs.len(), 1);
    assert!(
        store_reqs
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "Authorization leaked to another host: {store_reqs:?}"
    );
}

#[test]
fn bearer_challenge_with_quoted_commas_and_several_schemes() {
    let served = manifest_bytes();
    let registry = Server::start(move |req: &Request, me: &Server| {
        if req.path.starts_with("/tok") {
            // The realm's own query must survive; answer with `access_token`.
            assert!(
                req.path.contains("x=a%2Cb") || req.path.contains("x=a,b"),
                "{}",
                req.path
            );
            return Reply::new(
                200,
                Body::Bytes(br#"{"access_token":"t0k3n","expires_in":60}"#.to_vec()),
            );
        }
        if req.header("authorization") == Some("Bearer t0k3n") {
            return manifest_reply(Body::Bytes(served.clone()));
        }
        let challenge = format!(
            r#"Basic realm="Registry, Realm", Bearer realm="{}/tok?x=a,b",service="svc, quoted",scope="repository:test/img:pull""#,
            me.url()
        );
        Reply::new(401, Body::Bytes(Vec::new())).header("WWW-Authenticate", &challenge)
    });
    let c = client_for(&registry);
    let r = c
        .resolve(&reference(&registry, "test/img:v1"))
        .expect("bearer flow");
    assert_eq!(r.digest, Digest::sha256(&manifest_bytes()));
    let token_req = registry
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/tok"))
        .expect("token requested");
    assert!(
        token_req.path.contains("service=svc%2C+quoted")
            && token_req
                .path
                .contains("scope=repository%3Atest%2Fimg%3Apull"),
        "{}",
        token_req.path
    );
    // The token is reused for the next request to the same repository.
    let before = registry.requests().len();
    c.resolve(&reference(&registry, "test/img:v1"))
        .expect("again");
    assert_eq!(registry.requests().len(), before + 1);
}

#[test]
fn denied_and_server_errors_carry_registry_messages() {
    let server = Server::start(|req: &Request, _| {
        if req.path.contains("/denied/") {
            Reply::new(403, Body::Bytes(br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#.to_vec()))
        } else {
            Reply::new(503, Body::Bytes(b"<html>busy</html>".to_vec()))
        }
    });
    let c = client_for(&server);
    let err = c
        .resolve(&reference(&server, "denied/img:v1"))
        .expect_err("403");
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::Denied { .. }), "{msg}");
    assert!(
        msg.contains("DENIED: requested access") && msg.contains("hint:"),
        "{msg}"
    );
    let err = c
        .resolve(&reference(&server, "busy/img:v1"))
        .expect_err("503");
    assert!(
        matches!(err, RegistryError::Status { status: 503, .. }),
        "{err}"
    );
}

#[test]
fn failed_layer_leaves_no_partial_file_in_pull_cache() {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let layer = b"layer".repeat(100);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256(&config).to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": Digest::sha256(&layer).to_string(), "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    let cfg_path = format!("/blobs/{}", Digest::sha256(&config));
    let state = Arc::new((manifest, config));
    let server = Server::start(move |req: &Request, _| {
        if req.path.contains("/manifests/") {
            manifest_reply(Body::Bytes(state.0.clone()))
        } else if req.path.ends_with(&cfg_path) {
            Reply::new(200, Body::Bytes(state.1.clone()))
        } else {
            Reply::new(
                200,
                Body::Bytes(b"tampered!".repeat(100).into_iter().take(500).collect()),
            )
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let err = client_for(&server)
        .pull_image(&reference(&server, "test/img:v1"), None, dir.path())
        .expect_err("tampered layer");
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    // Only the verified config blob is in the cache.
    let entries: Vec<_> = fs_err::read_dir(dir.path().join("blobs/sha256"))
        .expect("cache dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
}
