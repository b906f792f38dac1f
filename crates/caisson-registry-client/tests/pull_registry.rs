//! Pulls from a real CNCF Distribution registry (Debian's docker-registry)
//! into which skopeo pushed images; skopeo's view of the image is the oracle.

mod support;

use std::path::Path;

use caisson_oci::{Digest, ManifestDocument, Platform, Reference};
use caisson_registry_client::{select_platform, Client, ClientOptions, RegistryError};
use serde_json::Value;
use support::layout::{Layout, GZIP, TAR, ZSTD};
use support::registry::{Auth, Registry};

fn tools() -> bool {
    support::have_tools(&["docker-registry", "skopeo"])
}

fn client_for(reg: &Registry) -> Client {
    Client::new(ClientOptions {
        insecure_registries: vec![reg.host()],
        auth_files: Some(Vec::new()),
        ..ClientOptions::default()
    })
    .expect("client")
}

fn reference(reg: &Registry, rest: &str) -> Reference {
    format!("{}/{rest}", reg.host()).parse().expect("reference")
}

fn digest_strs(manifest: &Value) -> (String, Vec<String>) {
    let config = manifest["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_string();
    let layers = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("layer digest").to_string())
        .collect();
    (config, layers)
}

/// Checks a pulled image against skopeo's raw manifest and config.
fn check_against_skopeo(
    reg: &Registry,
    repo_ref: &str,
    pulled: &caisson_registry_client::PulledImage,
) {
    let raw = reg.inspect_raw(repo_ref, false, None);
    let raw_config = reg.inspect_raw(repo_ref, true, None);
    assert_eq!(pulled.manifest_bytes, raw, "manifest bytes equal skopeo's");
    assert_eq!(pulled.manifest_digest, Digest::sha256(&raw));
    assert_eq!(
        pulled.config_bytes, raw_config,
        "config bytes equal skopeo's"
    );
    let m: Value = serde_json::from_slice(&raw).expect("raw manifest json");
    let (config, layers) = digest_strs(&m);
    assert_eq!(pulled.config_digest.to_string(), config);
    assert_eq!(Digest::sha256(&pulled.config_bytes).to_string(), config);
    let got: Vec<String> = pulled
        .layers
        .iter()
        .map(|(d, _)| d.digest.to_string())
        .collect();
    assert_eq!(got, layers);
    for (desc, path) in &pulled.layers {
        let bytes = fs_err::read(path).expect("layer file");
        assert_eq!(Digest::sha256(&bytes), desc.digest, "{}", path.display());
        assert_eq!(bytes.len() as u64, desc.size);
    }
}

fn no_partials(dir: &Path) {
    for e in walk(dir) {
        let name = e
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        assert!(
            !name.starts_with(".partial-"),
            "partial file left: {}",
            e.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs_err::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn pulls_oci_image_with_gzip_zstd_and_plain_layers() {
    if !tools() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let work = tempfile::tempdir().expect("tempdir");
    let layout = Layout::init(work.path());
    let img = layout.image("linux/amd64", &[GZIP, ZSTD, TAR]);
    layout.tag("v1", &img);
    reg.push(work.path(), "v1", "test/img:v1", &[]);

    let client = client_for(&reg);
    let cache = work.path().join("cache");
    let r = reference(&reg, "test/img:v1");
    let pulled = client
        .pull_image(&r, Some(&"linux/amd64".parse().expect("platform")), &cache)
        .expect("pull");
    check_against_skopeo(&reg, "test/img:v1", &pulled);
    assert_eq!(pulled.index_digest, None);
    assert_eq!(pulled.config.architecture, "amd64");
    assert_eq!(pulled.config.rootfs.diff_ids.len(), 3);
    let media: Vec<&str> = pulled
        .layers
        .iter()
        .map(|(d, _)| d.media_type.as_str())
        .collect();
    assert_eq!(media, [GZIP, ZSTD, TAR]);
    for (d, p) in &pulled.layers {
        assert_eq!(p, &cache.join("blobs/sha256").join(d.digest.hex()));
    }

    // By digest: same result; resolve() reports the digest and media type.
    let resolved = client.resolve(&r).expect("resolve");
    assert_eq!(resolved.digest, pulled.manifest_digest);
    assert_eq!(
        resolved.media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
    let by_digest = reference(&reg, &format!("test/img@{}", pulled.manifest_digest));
    let again = client
        .pull_image(&by_digest, None, &cache)
        .expect("pull by digest");
    assert_eq!(again.manifest_bytes, pulled.manifest_bytes);

    // A corrupted cached blob is detected and fetched again.
    let (first, path) = pulled.layers.first().expect("a layer").clone();
    fs_err::write(&path, b"corrupt").expect("corrupt cache");
    let third = client
        .pull_image(&r, None, &cache)
        .expect("pull repairs cache");
    let bytes = fs_err::read(&third.layers[0].1).expect("layer");
    assert_eq!(Digest::sha256(&bytes), first.digest);
    no_partials(&cache);
}

#[test]
fn pulls_docker_schema2_image() {
    if !tools() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let work = tempfile::tempdir().expect("tempdir");
    let layout = Layout::init(work.path());
    let img = layout.image("linux/arm64/v8", &[GZIP, GZIP]);
    layout.tag("d", &img);
    reg.push(work.path(), "d", "test/docker:d", &["--format", "v2s2"]);
    let client = client_for(&reg);
    let pulled = client
        .pull_image(
            &reference(&reg, "test/docker:d"),
            Some(&"linux/arm64".parse().expect("platform")),
            &work.path().join("cache"),
        )
        .expect("pull");
    assert_eq!(
        pulled.manifest_media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    check_against_skopeo(&reg, "test/docker:d", &pulled);
}

#[test]
fn multi_arch_index_selects_platform() {
    if !tools() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let work = tempfile::tempdir().expect("tempdir");
    let layout = Layout::init(work.path());
    let amd = layout.image("linux/amd64", &[GZIP]);
    let arm = layout.image("linux/arm64/v8", &[GZIP, ZSTD]);
    let armv7 = layout.image("linux/arm/v7", &[TAR]);
    let index = layout.index(vec![amd.clone(), arm.clone(), armv7.clone()]);
    layout.tag("multi", &index);
    reg.push(work.path(), "multi", "test/multi:latest", &["--all"]);

    let client = client_for(&reg);
    let r = reference(&reg, "test/multi:latest");
    let resolved = client.resolve(&r).expect("resolve index");
    assert_eq!(
        resolved.media_type,
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        resolved.bytes,
        reg.inspect_raw("test/multi:latest", false, None)
    );
    let ManifestDocument::Index(idx) = &resolved.document else {
        panic!("expected an index");
    };
    let arm_digest = arm["digest"].as_str().expect("digest");
    let picked = select_platform(idx, &"linux/arm64/v8".parse().expect("p")).expect("arm64");
    assert_eq!(picked.digest.to_string(), arm_digest);
    let host = Platform::host();
    assert!(
        select_platform(idx, &host).is_some(),
        "host platform {host} is in the index"
    );

    let cache = work.path().join("cache");
    for (platform, desc, n) in [
        ("linux/amd64", &amd, 1),
        ("linux/arm64", &arm, 2),
        ("linux/arm/v7", &armv7, 1),
    ] {
        let p: Platform = platform.parse().expect("platform");
        let pulled = client
            .pull_image(&r, Some(&p), &cache)
            .expect("pull platform");
        assert_eq!(pulled.index_digest.as_ref(), Some(&resolved.digest));
        assert_eq!(
            pulled.manifest_digest.to_string(),
            desc["digest"].as_str().expect("d")
        );
        assert_eq!(pulled.layers.len(), n);
        assert!(p.matches(&pulled.config.platform()));
        let by_digest = format!("test/multi@{}", pulled.manifest_digest);
        check_against_skopeo(&reg, &by_digest, &pulled);
    }
    let err = client
        .pull_image(&r, Some(&"linux/s390x".parse().expect("p")), &cache)
        .expect_err("no s390x");
    assert!(
        matches!(err, RegistryError::NoMatchingPlatform { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("linux/s390x") && msg.contains("linux/arm/v7"),
        "{msg}"
    );
}

#[test]
fn missing_tag_and_repository_are_not_found_with_registry_detail() {
    if !tools() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let work = tempfile::tempdir().expect("tempdir");
    let layout = Layout::init(work.path());
    let img = layout.image("linux/amd64", &[GZIP]);
    layout.tag("v1", &img);
    reg.push(work.path(), "v1", "test/img:v1", &[]);
    let client = client_for(&reg);
    let err = client
        .resolve(&reference(&reg, "test/img:nope"))
        .expect_err("unknown tag");
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{msg}");
    assert!(msg.contains("MANIFEST_UNKNOWN"), "{msg}");
    assert!(msg.contains(&format!("{}/test/img", reg.host())), "{msg}");
    let err = client
        .resolve(&reference(&reg, "test/absent:v1"))
        .expect_err("unknown repo");
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err}");

    // HTTPS is the default: a plain-HTTP registry not named insecure fails.
    let strict = Client::new(ClientOptions {
        auth_files: Some(Vec::new()),
        ..ClientOptions::default()
    })
    .expect("client");
    let err = strict
        .resolve(&reference(&reg, "test/img:v1"))
        .expect_err("https to an http server");
    assert!(
        matches!(err, RegistryError::Tls { .. } | RegistryError::Http { .. }),
        "{err}"
    );
}
