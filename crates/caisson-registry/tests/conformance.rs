//! Conformance-style tests following the OCI distribution-spec workflows
//! (pull, push, content discovery, content management), including the error
//! cases, against an in-process server with the embedded stores.

mod common;

use common::{error_code, sha256, sha512, start};
use reqwest::Method;

#[test]
fn ping_requires_authentication_with_a_token_challenge() {
    let s = start();
    let r = s.req(Method::GET, "/v2/", None).send().expect("ping");
    assert_eq!(r.status(), 401);
    let c = r.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(c.starts_with("Bearer realm=\"http://127.0.0.1:"), "{c}");
    assert!(c.contains("/token\",service=\"caisson\""), "{c}");
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    let r = s.admin(Method::GET, "/v2/").send().expect("ping");
    assert_eq!(r.status(), 200);
    let r = s
        .req(Method::GET, "/v2/", Some(("admin", "wrong")))
        .send()
        .expect("ping");
    assert_eq!(r.status(), 401);
}

#[test]
fn push_monolithic_post_put_and_chunked_then_pull_with_ranges() {
    let s = start();
    // Monolithic POST with digest.
    let d1 = s.push_blob("team/app", b"monolithic");
    // POST then PUT.
    let r = s
        .admin(Method::POST, "/v2/team/app/blobs/uploads/")
        .send()
        .expect("post");
    assert_eq!(r.status(), 202);
    assert!(r.headers().contains_key("docker-upload-uuid"));
    let loc = r.headers()["location"].to_str().expect("loc").to_string();
    let d2 = sha256(b"post-then-put");
    let r = s
        .admin(Method::PUT, &format!("{loc}?digest={d2}"))
        .body(&b"post-then-put"[..])
        .send()
        .expect("put");
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], d2.as_str());
    assert_eq!(
        r.headers()["location"],
        format!("/v2/team/app/blobs/{d2}").as_str()
    );
    // Chunked PATCH with Content-Range, status, out-of-order chunk.
    let r = s
        .admin(Method::POST, "/v2/team/app/blobs/uploads/")
        .send()
        .expect("post");
    let loc = r.headers()["location"].to_str().expect("loc").to_string();
    let r = s
        .admin(Method::PATCH, &loc)
        .header("content-range", "0-4")
        .header("content-type", "application/octet-stream")
        .body(&b"chunk"[..])
        .send()
        .expect("patch 1");
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-4");
    let r = s
        .admin(Method::PATCH, &loc)
        .header("content-range", "3-7")
        .body(&b"XXXXX"[..])
        .send()
        .expect("patch out of order");
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["range"], "0-4");
    let r = s
        .admin(Method::PATCH, &loc)
        .header("content-range", "5-10")
        .body(&b"ed-up!"[..])
        .send()
        .expect("patch 2");
    assert_eq!(r.status(), 202);
    let r = s.admin(Method::GET, &loc).send().expect("status");
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-10");
    let d3 = sha256(b"chunked-up!");
    let r = s
        .admin(Method::PUT, &format!("{loc}?digest={d3}"))
        .send()
        .expect("close");
    assert_eq!(r.status(), 201);

    for (d, body) in [
        (&d1, &b"monolithic"[..]),
        (&d2, b"post-then-put"),
        (&d3, b"chunked-up!"),
    ] {
        let r = s
            .admin(Method::GET, &format!("/v2/team/app/blobs/{d}"))
            .send()
            .expect("get");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(r.bytes().expect("body").as_ref(), body);
        let r = s
            .admin(Method::HEAD, &format!("/v2/team/app/blobs/{d}"))
            .send()
            .expect("head");
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-length"],
            body.len().to_string().as_str()
        );
    }
    let r = s
        .admin(Method::GET, &format!("/v2/team/app/blobs/{d1}"))
        .header("range", "bytes=4-6")
        .send()
        .expect("range");
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 4-6/10");
    assert_eq!(r.bytes().expect("body").as_ref(), b"lit");
    let r = s
        .admin(Method::GET, &format!("/v2/team/app/blobs/{d1}"))
        .header("range", "bytes=50-60")
        .send()
        .expect("range");
    assert_eq!(r.status(), 416);
    // Blobs are per repository.
    let r = s
        .admin(Method::GET, &format!("/v2/other/app/blobs/{d1}"))
        .send()
        .expect("get");
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "BLOB_UNKNOWN");
}

#[test]
fn sha512_blobs_are_verified() {
    let s = start();
    let d = sha512(b"five-twelve");
    let r = s
        .admin(Method::POST, &format!("/v2/a/b/blobs/uploads/?digest={d}"))
        .body(&b"five-twelve"[..])
        .send()
        .expect("post");
    assert_eq!(r.status(), 201);
    let r = s
        .admin(Method::HEAD, &format!("/v2/a/b/blobs/{d}"))
        .send()
        .expect("head");
    assert_eq!(r.status(), 200);
    let wrong = sha512(b"other");
    let r = s
        .admin(
            Method::POST,
            &format!("/v2/a/b/blobs/uploads/?digest={wrong}"),
        )
        .body(&b"five-twelve"[..])
        .send()
        .expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
}

#[test]
fn digest_mismatch_stores_nothing() {
    let s = start();
    let claimed = sha256(b"what the client claims");
    let r = s
        .admin(
            Method::POST,
            &format!("/v2/team/app/blobs/uploads/?digest={claimed}"),
        )
        .body(&b"what it sends"[..])
        .send()
        .expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
    let actual = sha256(b"what it sends");
    for d in [&claimed, &actual] {
        let r = s
            .admin(Method::HEAD, &format!("/v2/team/app/blobs/{d}"))
            .send()
            .expect("head");
        assert_eq!(r.status(), 404, "{d}");
    }
    let blobs = walk(&s.dir.path().join("storage/blobs"));
    assert!(blobs.is_empty(), "nothing stored: {blobs:?}");
    let uploads = walk(&s.dir.path().join("storage/uploads"));
    assert!(uploads.is_empty(), "no upload left: {uploads:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn cancelled_upload_is_gone() {
    let s = start();
    let r = s
        .admin(Method::POST, "/v2/team/app/blobs/uploads/")
        .send()
        .expect("post");
    let loc = r.headers()["location"].to_str().expect("loc").to_string();
    s.admin(Method::PATCH, &loc)
        .body(&b"abc"[..])
        .send()
        .expect("patch");
    let r = s.admin(Method::DELETE, &loc).send().expect("delete");
    assert_eq!(r.status(), 204);
    let r = s.admin(Method::GET, &loc).send().expect("status");
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "BLOB_UPLOAD_UNKNOWN");
    // An upload of one repository cannot be continued through another.
    let r = s
        .admin(Method::POST, "/v2/team/app/blobs/uploads/")
        .send()
        .expect("post");
    let loc = r.headers()["location"].to_str().expect("loc").to_string();
    let other = loc.replace("/team/app/", "/team/other/");
    let r = s
        .admin(Method::PATCH, &other)
        .body(&b"abc"[..])
        .send()
        .expect("patch");
    assert_eq!(r.status(), 404);
}

#[test]
fn manifests_by_tag_and_digest_are_byte_identical() {
    let s = start();
    let (bytes, d) = s.push_image("team/app", "v1", b"layer-one");
    for reference in ["v1", d.as_str()] {
        let r = s
            .admin(Method::GET, &format!("/v2/team/app/manifests/{reference}"))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .expect("get");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(
            r.headers()["content-type"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(r.bytes().expect("body").as_ref(), bytes.as_slice());
        let r = s
            .admin(Method::HEAD, &format!("/v2/team/app/manifests/{reference}"))
            .send()
            .expect("head");
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-length"],
            bytes.len().to_string().as_str()
        );
    }
    let r = s
        .admin(Method::GET, "/v2/team/app/manifests/nope")
        .send()
        .expect("get");
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "MANIFEST_UNKNOWN");
}

#[test]
fn docker_schema2_manifest_and_manifest_list() {
    let s = start();
    let cfg = br#"{"architecture":"arm64","os":"linux"}"#;
    let cd = s.push_blob("lib/img", cfg);
    let ld = s.push_blob("lib/img", b"docker-layer");
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd, "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": ld, "size": 12}]
    });
    let mb = serde_json::to_vec(&m).expect("json");
    let md = sha256(&mb);
    let r = s
        .admin(Method::PUT, &format!("/v2/lib/img/manifests/{md}"))
        .header(
            "content-type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .body(mb.clone())
        .send()
        .expect("put");
    assert_eq!(r.status(), 201);
    let list = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": md, "size": mb.len(),
                       "platform": {"architecture": "arm64", "os": "linux"}}]
    });
    let lb = serde_json::to_vec(&list).expect("json");
    let r = s
        .admin(Method::PUT, "/v2/lib/img/manifests/latest")
        .header(
            "content-type",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .body(lb.clone())
        .send()
        .expect("put list");
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    let r = s
        .admin(Method::GET, "/v2/lib/img/manifests/latest")
        .send()
        .expect("get");
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    assert_eq!(r.bytes().expect("body").as_ref(), lb.as_slice());
    // An index whose child is missing is refused.
    let missing = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(b"nope"), "size": 4}]
    });
    let r = s
        .admin(Method::PUT, "/v2/lib/img/manifests/broken")
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(serde_json::to_vec(&missing).expect("json"))
        .send()
        .expect("put");
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "MANIFEST_BLOB_UNKNOWN");
}

#[test]
fn manifest_error_cases() {
    let s = start();
    let put = |path: &str, body: Vec<u8>| {
        s.admin(Method::PUT, path)
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body)
            .send()
            .expect("put")
    };
    // Malformed JSON.
    let r = put("/v2/team/app/manifests/bad", b"{not json".to_vec());
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "MANIFEST_INVALID");
    // Over the 4 MiB limit.
    let r = put(
        "/v2/team/app/manifests/big",
        vec![b' '; 4 * 1024 * 1024 + 1],
    );
    assert_eq!(r.status(), 413);
    // References a blob the repository does not have.
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"absent"), "size": 6},
        "layers": []
    });
    let r = put(
        "/v2/team/app/manifests/dangling",
        serde_json::to_vec(&m).expect("json"),
    );
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "MANIFEST_BLOB_UNKNOWN");
    // Wrong size in a descriptor.
    let cd = s.push_blob("team/app", b"{}");
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": 999},
        "layers": []
    });
    let r = put(
        "/v2/team/app/manifests/liar",
        serde_json::to_vec(&m).expect("json"),
    );
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "MANIFEST_INVALID");
    // Digest reference that does not match the body.
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": 2},
        "layers": []
    });
    let r = put(
        &format!("/v2/team/app/manifests/{}", sha256(b"x")),
        serde_json::to_vec(&m).expect("json"),
    );
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
    // Nothing became visible.
    let r = s
        .admin(Method::GET, "/v2/team/app/tags/list")
        .send()
        .expect("tags");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(v["tags"], serde_json::json!([]));
}

#[test]
fn bad_repository_names_are_rejected_clearly() {
    let s = start();
    for (name, needle) in [
        ("Team/app", "uppercase"),
        ("team/../etc", "\"..\""),
        (&"a".repeat(256)[..], "limit"),
        ("team/app-", "path component \"app-\""),
    ] {
        let (status, body) = raw_get(&s, &format!("/v2/{name}/tags/list"));
        assert_eq!(status, 400, "{name}");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["errors"][0]["code"], "NAME_INVALID");
        let msg = v["errors"][0]["message"].as_str().expect("message");
        assert!(msg.contains(needle), "{name}: {msg}");
    }
}

/// A GET sent as raw bytes: HTTP clients normalise `..` away before sending.
fn raw_get(s: &common::Server, path: &str) -> (u16, Vec<u8>) {
    use base64::Engine as _;
    use std::io::{Read, Write};
    let host = s.base.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(host).expect("connect");
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("admin:{}", common::ADMIN_PASSWORD));
    write!(c, "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n").expect("write");
    let mut resp = Vec::new();
    c.read_to_end(&mut resp).expect("read");
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let (_, body) = text.split_once("\r\n\r\n").expect("head/body");
    (status, body.as_bytes().to_vec())
}

#[test]
fn tags_list_paginates_with_n_and_last() {
    let s = start();
    let (bytes, _) = s.push_image("team/app", "a", b"l");
    for t in ["b", "c", "d", "e"] {
        let r = s
            .admin(Method::PUT, &format!("/v2/team/app/manifests/{t}"))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(bytes.clone())
            .send()
            .expect("tag");
        assert_eq!(r.status(), 201);
    }
    let r = s
        .admin(Method::GET, "/v2/team/app/tags/list?n=2")
        .send()
        .expect("tags");
    let link = r.headers()["link"].to_str().expect("link").to_string();
    assert_eq!(link, "</v2/team/app/tags/list?n=2&last=b>; rel=\"next\"");
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(v["tags"], serde_json::json!(["a", "b"]));
    let r = s
        .admin(Method::GET, "/v2/team/app/tags/list?n=2&last=b")
        .send()
        .expect("tags");
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(v["tags"], serde_json::json!(["c", "d"]));
    let r = s
        .admin(Method::GET, "/v2/team/app/tags/list?last=d")
        .send()
        .expect("tags");
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(v["tags"], serde_json::json!(["e"]));
    let r = s
        .admin(Method::GET, "/v2/team/nothing/tags/list")
        .send()
        .expect("tags");
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "NAME_UNKNOWN");
}

#[test]
fn referrers_with_subject_and_artifact_type_filter() {
    let s = start();
    let (subject_bytes, subject) = s.push_image("team/app", "v1", b"base");
    let empty = s.push_blob("team/app", b"{}");
    let mut digests = Vec::new();
    for (at, tag) in [
        ("application/vnd.example.sbom", "s"),
        ("application/vnd.example.sig", "g"),
    ] {
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": at,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": subject_bytes.len()},
            "annotations": {"org.example.kind": tag}
        });
        let b = serde_json::to_vec(&m).expect("json");
        let d = sha256(&b);
        let r = s
            .admin(Method::PUT, &format!("/v2/team/app/manifests/{d}"))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(b)
            .send()
            .expect("put");
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["oci-subject"], subject.as_str());
        digests.push(d);
    }
    let r = s
        .admin(Method::GET, &format!("/v2/team/app/referrers/{subject}"))
        .send()
        .expect("referrers");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.oci.image.index.v1+json"
    );
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(v["mediaType"], "application/vnd.oci.image.index.v1+json");
    let got: Vec<&str> = v["manifests"]
        .as_array()
        .expect("arr")
        .iter()
        .map(|m| m["digest"].as_str().expect("d"))
        .collect();
    let mut want = digests.clone();
    want.sort();
    assert_eq!(got, want);
    let r = s
        .admin(
            Method::GET,
            &format!("/v2/team/app/referrers/{subject}?artifactType=application/vnd.example.sig"),
        )
        .send()
        .expect("filtered");
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(v["manifests"].as_array().expect("arr").len(), 1);
    assert_eq!(
        v["manifests"][0]["artifactType"],
        "application/vnd.example.sig"
    );
    assert_eq!(v["manifests"][0]["annotations"]["org.example.kind"], "g");
    // No referrers: an empty index, not a 404.
    let r = s
        .admin(
            Method::GET,
            &format!("/v2/team/app/referrers/{}", sha256(b"none")),
        )
        .send()
        .expect("empty");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(v["manifests"], serde_json::json!([]));
}

#[test]
fn content_management_deletes() {
    let s = start();
    let (_, d) = s.push_image("team/app", "v1", b"to-delete");
    s.push_image("team/app", "v2", b"keep");
    let r = s
        .admin(Method::DELETE, "/v2/team/app/manifests/v2")
        .send()
        .expect("delete tag");
    assert_eq!(r.status(), 202);
    let r = s
        .admin(Method::GET, "/v2/team/app/manifests/v2")
        .send()
        .expect("get");
    assert_eq!(r.status(), 404);
    let r = s
        .admin(Method::DELETE, &format!("/v2/team/app/manifests/{d}"))
        .send()
        .expect("delete manifest");
    assert_eq!(r.status(), 202);
    for reference in ["v1", d.as_str()] {
        let r = s
            .admin(Method::GET, &format!("/v2/team/app/manifests/{reference}"))
            .send()
            .expect("get");
        assert_eq!(r.status(), 404, "{reference}");
    }
    let r = s
        .admin(Method::DELETE, &format!("/v2/team/app/manifests/{d}"))
        .send()
        .expect("again");
    assert_eq!(r.status(), 404);
    let bd = s.push_blob("team/app", b"blob-to-delete");
    let r = s
        .admin(Method::DELETE, &format!("/v2/team/app/blobs/{bd}"))
        .send()
        .expect("delete blob");
    assert_eq!(r.status(), 202);
    let r = s
        .admin(Method::HEAD, &format!("/v2/team/app/blobs/{bd}"))
        .send()
        .expect("head");
    assert_eq!(r.status(), 404);
}

#[test]
fn cross_repository_mount() {
    let s = start();
    let d = s.push_blob("team/src", b"shared layer");
    let r = s
        .admin(
            Method::POST,
            &format!("/v2/team/dst/blobs/uploads/?mount={d}&from=team/src"),
        )
        .send()
        .expect("mount");
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/team/dst/blobs/{d}").as_str()
    );
    let r = s
        .admin(Method::GET, &format!("/v2/team/dst/blobs/{d}"))
        .send()
        .expect("get");
    assert_eq!(r.bytes().expect("body").as_ref(), b"shared layer");
    // Mounting something the source does not have starts a normal upload.
    let r = s
        .admin(
            Method::POST,
            &format!(
                "/v2/team/dst/blobs/uploads/?mount={}&from=team/src",
                sha256(b"nope")
            ),
        )
        .send()
        .expect("mount");
    assert_eq!(r.status(), 202);
}

#[test]
fn catalog_lists_repositories() {
    let s = start();
    s.push_image("b/one", "v", b"1");
    s.push_image("a/two", "v", b"2");
    let r = s
        .admin(Method::GET, "/v2/_catalog")
        .send()
        .expect("catalog");
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(v["repositories"], serde_json::json!(["a/two", "b/one"]));
    let r = s
        .admin(Method::GET, "/v2/_catalog?n=1")
        .send()
        .expect("catalog");
    assert!(r.headers()["link"]
        .to_str()
        .expect("link")
        .contains("last=a/two"));
}

#[test]
fn token_flow_grants_only_what_roles_allow() {
    let s = start();
    s.push_image("team/app", "v1", b"tok");
    let r = s
        .req(
            Method::GET,
            "/token?service=caisson&scope=repository:team/app:pull,push",
            Some(("admin", common::ADMIN_PASSWORD)),
        )
        .send()
        .expect("token");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    let token = v["token"].as_str().expect("token").to_string();
    let r = s
        .client
        .get(s.url("/v2/team/app/manifests/v1"))
        .bearer_auth(&token)
        .send()
        .expect("get");
    assert_eq!(r.status(), 200);
    // The token is scoped: another repository needs another token.
    let r = s
        .client
        .get(s.url("/v2/team/other/tags/list"))
        .bearer_auth(&token)
        .send()
        .expect("get");
    assert_eq!(r.status(), 401);
    let c = r.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(c.contains("scope=\"repository:team/other:pull\""), "{c}");
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    // Anonymous tokens carry no access to private namespaces.
    let r = s
        .req(
            Method::GET,
            "/token?service=caisson&scope=repository:team/app:pull",
            None,
        )
        .send()
        .expect("anon token");
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    let anon = v["token"].as_str().expect("token").to_string();
    let r = s
        .client
        .get(s.url("/v2/team/app/manifests/v1"))
        .bearer_auth(&anon)
        .send()
        .expect("get");
    assert_eq!(r.status(), 401);
    // A forged token is refused. (A character well inside the signature: the
    // last one of an ES256 signature carries only 2 bits, and replacing it
    // may not change the decoded bytes at all.)
    let mut chars: Vec<char> = token.chars().collect();
    let at = chars.len() - 10;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    let forged: String = chars.into_iter().collect();
    let r = s
        .client
        .get(s.url("/v2/team/app/manifests/v1"))
        .bearer_auth(&forged)
        .send()
        .expect("get");
    assert_eq!(r.status(), 401);
    // Bad credentials at /token.
    let r = s
        .req(
            Method::GET,
            "/token?service=caisson&scope=repository:team/app:pull",
            Some(("admin", "nope")),
        )
        .send()
        .expect("token");
    assert_eq!(r.status(), 401);
}
