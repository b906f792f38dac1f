//! Scan state does not outlive or outgrow what it describes: deleting an
//! image deletes the SBOM referrer the registry attached to it (and only
//! that referrer), and finished jobs and old history lines are pruned by the
//! retention task started with the workers.

mod scan_support;

use std::time::{Duration, Instant};

use caisson_audit::AuditRecord;
use caisson_registry::scan::ScanConfig;
use caisson_registry::Config;
use reqwest::Method;
use scan_support::*;
use serde_json::Value;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const CYCLONEDX: &str = "application/vnd.cyclonedx+json";

fn status(s: &Server, path: &str) -> u16 {
    s.admin(Method::GET, path)
        .header("accept", OCI_MANIFEST)
        .send()
        .expect("request")
        .status()
        .as_u16()
}

fn referrers(s: &Server, repo: &str, digest: &str) -> Vec<Value> {
    s.get_json(&format!("/v2/{repo}/referrers/{digest}"))["manifests"]
        .as_array()
        .expect("manifests")
        .clone()
}

/// A one-package Python image pushed as raw blobs; returns its digest.
fn push_python(s: &Server, repo: &str, tag: &str, version: &str) -> String {
    let metadata = format!("Metadata-Version: 2.1\nName: requests\nVersion: {version}\n");
    let layer = tar_with(
        &format!("usr/lib/python3/site-packages/requests-{version}.dist-info/METADATA"),
        metadata.as_bytes(),
    );
    s.push_raw_image(repo, tag, &config_for(&[&layer]), &[&layer])
}

/// A client's own CycloneDX referrer of `subject` (no Caisson generator
/// annotation), pushed by digest; returns its digest.
fn push_client_sbom(s: &Server, repo: &str, subject: &str) -> String {
    let subject_size = s
        .admin(Method::GET, &format!("/v2/{repo}/manifests/{subject}"))
        .header("accept", OCI_MANIFEST)
        .send()
        .expect("subject")
        .bytes()
        .expect("subject bytes")
        .len();
    let empty = s.push_blob(repo, b"{}");
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#;
    let layer = s.push_blob(repo, doc);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": CYCLONEDX,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": CYCLONEDX, "digest": layer, "size": doc.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
        "annotations": {"org.example.pushed-by": "a client"},
    });
    let bytes = serde_json::to_vec(&manifest).expect("json");
    let d = sha256(&bytes);
    let r = s
        .admin(Method::PUT, &format!("/v2/{repo}/manifests/{d}"))
        .header("content-type", OCI_MANIFEST)
        .body(bytes)
        .send()
        .expect("push referrer");
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    d
}

fn delete_manifest(s: &Server, repo: &str, digest: &str) {
    let r = s
        .admin(Method::DELETE, &format!("/v2/{repo}/manifests/{digest}"))
        .send()
        .expect("delete");
    assert_eq!(r.status(), 202, "{}", r.text().unwrap_or_default());
}

fn audit(s: &Server) -> Vec<AuditRecord> {
    serde_json::from_slice(
        &s.admin(Method::GET, "/api/v1/audit?limit=10000")
            .send()
            .expect("audit")
            .bytes()
            .expect("body"),
    )
    .expect("audit records")
}

/// Regression: the SBOM referrer (and its blob, for GC) stayed behind when
/// its image was deleted, still listed by the referrers API.
#[test]
fn deleting_an_image_deletes_its_sbom_referrer_and_keeps_client_referrers() {
    let Some((root, _)) = caisson_testsupport::fixture("distroless") else {
        return;
    };
    if !have_skopeo() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = start_with(
        &tmp.path().join("data"),
        Config {
            scan: scan_config(1, None, false),
            // GC may collect what nothing references right away.
            gc_grace: Duration::ZERO,
            ..Config::default()
        },
    );

    // A fixture image pushed with skopeo, scanned, its SBOM attached.
    let image = s.skopeo_push(&root.join("distroless/oci"), "debian12", "apps/dl:v1");
    let h = s.wait_scanned("apps/dl", &image, 300);
    let sbom_manifest = h["sbom_manifest"]
        .as_str()
        .expect("sbom_manifest")
        .to_string();
    let sbom_blob = h["sbom"].as_str().expect("sbom").to_string();
    let listed = referrers(&s, "apps/dl", &image);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["digest"], sbom_manifest.as_str());
    assert_eq!(listed[0]["artifactType"], CYCLONEDX);
    let sbom_blob_path = format!("/v2/apps/dl/blobs/{sbom_blob}");
    assert_eq!(status(&s, &sbom_blob_path), 200);

    delete_manifest(&s, "apps/dl", &image);
    assert_eq!(
        referrers(&s, "apps/dl", &image),
        Vec::<Value>::new(),
        "no referrer of the deleted image is listed"
    );
    assert_eq!(
        status(&s, &format!("/v2/apps/dl/manifests/{sbom_manifest}")),
        404,
        "the SBOM referrer manifest is gone"
    );
    let recs = audit(&s);
    let system_delete = recs
        .iter()
        .find(|r| {
            r.event.action == "delete-manifest"
                && r.event.target == format!("apps/dl:{sbom_manifest}")
        })
        .expect("the referrer's deletion is audited");
    assert_eq!(system_delete.event.actor, "system");
    assert_eq!(
        system_delete.event.detail,
        format!("SBOM referrer of deleted {image}")
    );
    // Nothing references the SBOM blob any more: GC collects it.
    let r = s.admin(Method::POST, "/api/v1/gc").send().expect("gc");
    assert_eq!(r.status(), 200);
    assert_eq!(
        status(&s, &sbom_blob_path),
        404,
        "GC collected the SBOM blob"
    );

    // A client's own SBOM referrer of an image survives the image's deletion;
    // only the registry's generated one goes.
    let py = push_python(&s, "apps/py", "v1", "2.19.0");
    let h = s.wait_scanned("apps/py", &py, 120);
    let generated = h["sbom_manifest"]
        .as_str()
        .expect("sbom_manifest")
        .to_string();
    let client = push_client_sbom(&s, "apps/py", &py);
    let mut both: Vec<String> = referrers(&s, "apps/py", &py)
        .iter()
        .map(|m| m["digest"].as_str().expect("digest").to_string())
        .collect();
    both.sort();
    let mut expected = vec![generated.clone(), client.clone()];
    expected.sort();
    assert_eq!(both, expected);

    delete_manifest(&s, "apps/py", &py);
    let left: Vec<String> = referrers(&s, "apps/py", &py)
        .iter()
        .map(|m| m["digest"].as_str().expect("digest").to_string())
        .collect();
    assert_eq!(
        left.as_slice(),
        std::slice::from_ref(&client),
        "the client's referrer stays"
    );
    assert_eq!(status(&s, &format!("/v2/apps/py/manifests/{client}")), 200);
    assert_eq!(
        status(&s, &format!("/v2/apps/py/manifests/{generated}")),
        404
    );
    assert!(
        !audit(&s)
            .iter()
            .any(|r| r.event.actor == "system" && r.event.target == format!("apps/py:{client}")),
        "no system deletion of the client's referrer"
    );
}

/// The retention task started with the workers prunes finished jobs (here:
/// kept for no time at all) and history beyond one line per digest, while a
/// queued job stays queued through many passes.
#[test]
fn retention_task_prunes_finished_jobs_and_old_history_not_queued_jobs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = start(
        &tmp.path().join("data"),
        ScanConfig {
            job_retention: Duration::ZERO,
            history_per_digest: 1,
            prune_every: Duration::from_millis(100),
            ..scan_config(1, None, true)
        },
    );
    let d = push_python(&s, "apps/py", "v1", "2.19.0");
    // Paused workers: the job stays queued through ten retention passes.
    std::thread::sleep(Duration::from_millis(1000));
    let h = s.health("apps/py", &d);
    assert_eq!(h["job"], "queued", "{h}");
    s.reg.pause_scans(false);
    s.wait_scanned("apps/py", &d, 120);

    // A second scan adds a second history line and a second finished job.
    let r = s
        .admin(
            Method::POST,
            &format!("/api/v1/repositories/apps/py/manifests/{d}/scan"),
        )
        .send()
        .expect("scan");
    assert_eq!(r.status(), 202, "{}", r.text().unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let hist = s.get_json(&format!(
            "/api/v1/repositories/apps/py/manifests/{d}/history"
        ));
        let lines = hist["history"].as_array().expect("history");
        let pruned = lines.len() == 1
            && lines[0]["detail"]["reason"] == "on-demand"
            && hist["jobs"].as_array().expect("jobs").is_empty();
        if pruned {
            break;
        }
        assert!(Instant::now() < deadline, "not pruned: {hist}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The digest's scan itself is untouched.
    let h = s.health("apps/py", &d);
    assert!(h["sbom_manifest"].is_string(), "{h}");
}
