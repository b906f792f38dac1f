//! Scan on push, re-scan, health and the scan API against a real server,
//! real clients (skopeo, HTTP) and real advisory data.

mod scan_support;

use std::collections::BTreeSet;

use caisson_registry::scan::RegistryEvent;
use reqwest::Method;
use scan_support::*;

fn python_image(name: &str, version: &str) -> (Vec<u8>, Vec<u8>) {
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    let layer = tar_with(
        &format!("usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA"),
        metadata.as_bytes(),
    );
    let config = config_for(&[&layer]);
    (config, layer)
}

fn push_python(s: &Server, repo_tag: &str, name: &str, version: &str) -> String {
    let (config, layer) = python_image(name, version);
    let (repo, tag) = repo_tag.split_once(':').expect("repo:tag");
    s.push_raw_image(repo, tag, &config, &[&layer])
}

fn finding_ids(findings: &serde_json::Value) -> BTreeSet<String> {
    findings["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect()
}

/// The whole story on a real fixture: skopeo push → scan → SBOM referrer
/// equal to `caisson sbom` → healthy with a database that has no data for
/// it → newer advisories imported → re-scan (no layer read) turns it
/// vulnerable with the expected ids and emits FindingsChanged.
#[test]
fn pushed_fixture_is_scanned_and_new_advisories_make_it_vulnerable() {
    let Some((root, _)) = caisson_testsupport::fixture("lang-python-node") else {
        return;
    };
    if !have_skopeo() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("db");
    import_db(&db, &["alpine-secdb"]);
    let s = start(&tmp.path().join("data"), scan_config(2, Some(&db), false));
    let mut events = s.reg.subscribe();

    let layout = root.join("lang-python-node/oci");
    let digest = s.skopeo_push(&layout, "lang", "apps/pynode:lang");
    wait_event(
        &mut events,
        30,
        |e| matches!(e, RegistryEvent::Pushed { repo, digest: d, .. } if repo == "apps/pynode" && d.to_string() == digest),
    );
    let done = wait_event(
        &mut events,
        600,
        |e| matches!(e, RegistryEvent::ScanCompleted { digest: d, .. } if d.to_string() == digest),
    );
    let RegistryEvent::ScanCompleted { health, .. } = done else {
        unreachable!()
    };
    assert_eq!(
        health,
        caisson_registry::scan::HealthState::Healthy,
        "no PyPI/npm data yet"
    );
    let h = s.health("apps/pynode", &digest);
    assert_eq!(h["health"], "healthy", "{h}");
    assert_eq!(h["threshold"], "high");
    assert!(h["packages"].as_u64().expect("packages") > 50, "{h}");
    assert!(h["db"]["built_at"].is_i64(), "{h}");

    // The SBOM is a referrer of the image, discoverable with the referrers API.
    let idx = s.get_json(&format!("/v2/apps/pynode/referrers/{digest}"));
    let sboms: Vec<&serde_json::Value> = idx["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter(|m| m["artifactType"] == "application/vnd.cyclonedx+json")
        .collect();
    assert_eq!(sboms.len(), 1, "{idx}");
    let referrer = sboms[0]["digest"].as_str().expect("digest");
    assert_eq!(Some(referrer), h["sbom_manifest"].as_str());
    let manifest = s.get_json(&format!("/v2/apps/pynode/manifests/{referrer}"));
    assert_eq!(manifest["subject"]["digest"], digest.as_str());
    let sbom_blob = manifest["layers"][0]["digest"].as_str().expect("layer");
    let bytes = s
        .admin(Method::GET, &format!("/v2/apps/pynode/blobs/{sbom_blob}"))
        .send()
        .expect("blob")
        .bytes()
        .expect("bytes");
    let (stored, _) = caisson_report::read_sbom(&bytes).expect("stored SBOM is CycloneDX");
    let direct = caisson_sbom::generate(
        &format!("oci:{}:lang", layout.display()),
        &caisson_sbom::Options::default(),
    )
    .expect("caisson sbom of the fixture");
    let set = |sb: &caisson_model::Sbom| -> BTreeSet<(String, String, String)> {
        sb.packages
            .iter()
            .map(|p| {
                (
                    p.package_type.to_string(),
                    p.name.clone(),
                    p.version.clone(),
                )
            })
            .collect()
    };
    assert_eq!(set(&stored), set(&direct), "referrer SBOM = caisson sbom");
    // The API serves the same document.
    let api_sbom = s
        .admin(
            Method::GET,
            &format!("/api/v1/repositories/apps/pynode/manifests/{digest}/sbom"),
        )
        .send()
        .expect("sbom")
        .bytes()
        .expect("bytes");
    assert_eq!(api_sbom, bytes);

    // Newer advisories: the watcher notices the swapped database and
    // re-matches stored packages.
    import_db(&db, &["osv/PyPI/all.zip", "osv/npm/all.zip"]);
    let changed = wait_event(
        &mut events,
        120,
        |e| matches!(e, RegistryEvent::FindingsChanged { digest: d, .. } if d.to_string() == digest),
    );
    let RegistryEvent::FindingsChanged { added, removed, .. } = changed else {
        unreachable!()
    };
    assert!(removed.is_empty(), "{removed:?}");
    for id in ["CVE-2021-33503", "CVE-2023-32681", "CVE-2020-28493"] {
        assert!(added.contains(&id.to_string()), "{id} not in {added:?}");
    }
    let h = s.health("apps/pynode", &digest);
    assert_eq!(h["health"], "vulnerable", "{h}");
    let findings = s.get_json(&format!(
        "/api/v1/repositories/apps/pynode/manifests/{digest}/findings"
    ));
    let urllib3 = findings["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["id"] == "CVE-2021-33503")
        .expect("urllib3 finding");
    assert_eq!(urllib3["package"], "urllib3");
    assert_eq!(urllib3["installed"], "1.26.4");
    assert_eq!(urllib3["fixed"][0], "1.26.5");
    assert!(
        urllib3["aliases"]
            .as_array()
            .expect("aliases")
            .iter()
            .any(|a| a == "PYSEC-2021-108"),
        "{urllib3}"
    );
    let history = s.get_json(&format!(
        "/api/v1/repositories/apps/pynode/manifests/{digest}/history"
    ));
    let kinds: Vec<&str> = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["scan", "rescan"], "{history}");

    // Search across the registry, by alias and by package.
    let hits = s.get_json("/api/v1/vulnerabilities?id=PYSEC-2021-108");
    let hit = &hits["results"][0];
    assert_eq!(hit["repo"], "apps/pynode");
    assert_eq!(hit["digest"], digest.as_str());
    assert_eq!(hit["vulnerability"], "CVE-2021-33503");
    let hits = s.get_json("/api/v1/vulnerabilities?package=urllib3");
    let versions: BTreeSet<&str> = hits["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|h| h["version"].as_str().expect("version"))
        .collect();
    assert!(versions.contains("1.26.4"), "{hits}");

    // A second re-scan with the same database changes nothing.
    let r = s
        .admin(Method::POST, "/api/v1/scanning/rescan")
        .send()
        .expect("rescan");
    assert_eq!(r.status(), 200);
    let report: serde_json::Value =
        serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(report["changed_digests"], 0, "{report}");
}

/// Jobs queued before a stop are all run after a restart.
#[test]
fn restart_in_the_middle_of_the_queue_loses_no_job() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut s = start(&data, scan_config(2, None, true));
    let digests: Vec<String> = ["2.25.0", "2.26.0", "2.27.0", "2.28.0"]
        .iter()
        .enumerate()
        .map(|(i, v)| push_python(&s, &format!("q/img{i}:v"), "requests", v))
        .collect();
    let status = s.get_json("/api/v1/scanning");
    assert_eq!(status["queue"]["queued"], 4, "{status}");
    for (i, d) in digests.iter().enumerate() {
        let h = s.health(&format!("q/img{i}"), d);
        assert_eq!(h["health"], "unscanned");
        assert_eq!(h["job"], "queued");
    }
    s.stop_now();
    drop(s);

    let s = start(&data, scan_config(2, None, false));
    for (i, d) in digests.iter().enumerate() {
        let h = s.wait_scanned(&format!("q/img{i}"), d, 60);
        // Without a database the SBOM is stored, but the image stays unscanned.
        assert_eq!(h["health"], "unscanned", "{h}");
        assert!(
            h["reason"]
                .as_str()
                .expect("reason")
                .contains("no advisory database"),
            "{h}"
        );
        assert_eq!(h["packages"], 1, "{h}");
        assert!(h["sbom"].is_string(), "{h}");
    }
    let status = s.get_json("/api/v1/scanning");
    assert_eq!(status["queue"]["queued"], 0, "{status}");
    assert_eq!(status["queue"]["running"], 0, "{status}");
}

/// Hostile images fail their own scans; the single worker goes on.
#[test]
fn poisoned_images_mark_scan_failed_and_the_pool_keeps_working() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut garbage = vec![0x1fu8, 0x8b, 0x08, 0x00];
    garbage.extend((0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let s = start(&tmp.path().join("data"), scan_config(1, None, true));
    let bad_layer = s.push_raw_image("p/bad", "layer", &config_for(&[&garbage]), &[&garbage]);
    let not_json = s.push_raw_image("p/bad", "config", b"{not json", &[&tar_with("a", b"x")]);
    let ok = push_python(&s, "p/good:v", "requests", "2.25.0");
    s.reg.pause_scans(false);
    let h = s.wait_scanned("p/good", &ok, 60);
    assert_eq!(h["health"], "unscanned", "no database configured: {h}");
    assert_eq!(h["packages"], 1);
    for (d, needle) in [(&bad_layer, "layer"), (&not_json, "config")] {
        let h = s.wait_scanned("p/bad", d, 60);
        assert_eq!(h["health"], "scan-failed", "{h}");
        let reason = h["reason"].as_str().expect("reason");
        assert!(reason.contains(needle), "{reason}");
        let hist = s.get_json(&format!("/api/v1/repositories/p/bad/manifests/{d}/history"));
        assert_eq!(hist["history"][0]["kind"], "scan-failed", "{hist}");
        assert_eq!(hist["jobs"][0]["state"], "failed", "{hist}");
    }
}

/// On-demand scans need push; a never-scanned digest is scanned when pulled;
/// the namespace threshold decides health; search is filtered by pull rights.
#[test]
fn on_demand_lazy_threshold_and_rbac() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("db");
    import_db(&db, &["osv/PyPI/all.zip"]);
    let data = tmp.path().join("data");
    let s = start(&data, scan_config(1, Some(&db), false));
    // requests 2.25.0: CVE-2023-32681.
    let d = push_python(&s, "team/app:v1", "requests", "2.25.0");
    let h = s.wait_scanned("team/app", &d, 60);
    let counts = &h["counts"];
    let total: u64 = counts
        .as_object()
        .expect("counts")
        .values()
        .map(|v| v.as_u64().expect("count"))
        .sum();
    assert!(total >= 1, "{h}");
    let highest_at_least_high =
        counts["HIGH"].as_u64().unwrap_or(0) + counts["CRITICAL"].as_u64().unwrap_or(0) > 0;
    let expected = if highest_at_least_high {
        "vulnerable"
    } else {
        "healthy"
    };
    assert_eq!(h["health"], expected, "{h}");

    // Namespace and users: a writer may scan; a reader may read but not scan;
    // an outsider sees nothing.
    let put = |path: &str, body: serde_json::Value| {
        let r = s
            .admin(Method::PUT, path)
            .body(body.to_string())
            .send()
            .expect("request");
        assert!(
            r.status().is_success(),
            "{path}: {}",
            r.text().unwrap_or_default()
        );
    };
    let post = |path: &str, body: serde_json::Value| {
        let r = s
            .admin(Method::POST, path)
            .body(body.to_string())
            .send()
            .expect("request");
        assert!(
            r.status().is_success(),
            "{path}: {}",
            r.text().unwrap_or_default()
        );
    };
    put("/api/v1/namespaces/team", serde_json::json!({}));
    for u in ["wri", "rea", "out"] {
        post(
            "/api/v1/users",
            serde_json::json!({"name": u, "password": "password-123456"}),
        );
    }
    put(
        "/api/v1/namespaces/team/members/wri",
        serde_json::json!({"role": "writer"}),
    );
    put(
        "/api/v1/namespaces/team/members/rea",
        serde_json::json!({"role": "reader"}),
    );
    let scan_path = format!("/api/v1/repositories/team/app/manifests/{d}/scan");
    let r = s
        .req(Method::POST, &scan_path, Some(("rea", "password-123456")))
        .send()
        .expect("scan");
    assert_eq!(r.status(), 403);
    let r = s
        .req(Method::POST, &scan_path, Some(("wri", "password-123456")))
        .send()
        .expect("scan");
    assert_eq!(r.status(), 202, "{}", r.text().unwrap_or_default());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let hist = s.get_json(&format!(
            "/api/v1/repositories/team/app/manifests/{d}/history"
        ));
        if hist["jobs"][0]["reason"] == "on-demand" && hist["jobs"][0]["state"] == "done" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{hist}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let r = s
        .req(
            Method::GET,
            &format!("/api/v1/repositories/team/app/manifests/{d}/health"),
            Some(("out", "password-123456")),
        )
        .send()
        .expect("health");
    assert_eq!(r.status(), 403);
    let hits = |who: &str| -> usize {
        let r = s
            .req(
                Method::GET,
                "/api/v1/vulnerabilities?id=CVE-2023-32681",
                Some((who, "password-123456")),
            )
            .send()
            .expect("search");
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
        v["results"].as_array().expect("results").len()
    };
    assert_eq!(hits("rea"), 1);
    assert_eq!(hits("out"), 0);

    // The lowest threshold: any finding makes it vulnerable.
    put(
        "/api/v1/namespaces/team/scanning",
        serde_json::json!({"severity_threshold": "unknown"}),
    );
    let h = s.health("team/app", &d);
    assert_eq!(h["threshold"], "unknown");
    assert_eq!(h["health"], "vulnerable", "{h}");
    let r = s
        .admin(Method::PUT, "/api/v1/namespaces/team/scanning")
        .body(serde_json::json!({"severity_threshold": "severe"}).to_string())
        .send()
        .expect("put");
    assert_eq!(r.status(), 400);

    // Findings are those of the real advisories for requests 2.25.0.
    let f = s.get_json(&format!(
        "/api/v1/repositories/team/app/manifests/{d}/findings"
    ));
    assert!(finding_ids(&f).contains("CVE-2023-32681"), "{f}");

    // Lazy scan: a digest with no scan record (imported before scanning,
    // or its job was lost) is queued by its first pull.
    let d2 = push_python(&s, "team/lazy:v1", "urllib3", "1.26.4");
    s.wait_scanned("team/lazy", &d2, 60);
    drop(s);
    {
        let meta =
            caisson_registry::store::sqlite::SqliteMetaStore::open(&data.join("meta.sqlite"))
                .expect("open metadata");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let digest: caisson_oci::Digest = d2.parse().expect("digest");
        use caisson_registry::store::ScanStore;
        rt.block_on(meta.forget_scan("team/lazy", &digest))
            .expect("forget scan");
    }
    let s = start(&data, scan_config(1, Some(&db), false));
    let h = s.health("team/lazy", &d2);
    assert_eq!(h["health"], "unscanned");
    assert_eq!(h["reason"], "never scanned");
    let r = s
        .admin(Method::GET, &format!("/v2/team/lazy/manifests/{d2}"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .expect("pull");
    assert_eq!(r.status(), 200);
    let h = s.wait_scanned("team/lazy", &d2, 60);
    assert_eq!(h["health"], "vulnerable", "{h}");
    let hist = s.get_json(&format!(
        "/api/v1/repositories/team/lazy/manifests/{d2}/history"
    ));
    assert_eq!(hist["jobs"][0]["reason"], "pull", "{hist}");
}

/// `skopeo copy --all` of an index: each platform manifest is scanned, the
/// index itself is not; an on-demand scan of the index queues its platforms.
#[test]
fn each_platform_of_a_pushed_index_is_scanned() {
    let Some((root, _)) = caisson_testsupport::fixture("multiarch") else {
        return;
    };
    if !have_skopeo() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = start(&tmp.path().join("data"), scan_config(2, None, false));
    let out = std::process::Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            "--preserve-digests",
        ])
        .arg(format!("--dest-creds=admin:{ADMIN_PASSWORD}"))
        .arg(format!(
            "oci:{}:multi",
            root.join("multiarch/oci").display()
        ))
        .arg(format!("docker://{}/multi/app:1", s.host))
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = s.get_json("/v2/multi/app/manifests/1");
    let children: Vec<String> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| m["digest"].as_str().expect("digest").to_string())
        .collect();
    assert_eq!(children.len(), 2, "{index}");
    let mut platforms = BTreeSet::new();
    for d in &children {
        let h = s.wait_scanned("multi/app", d, 300);
        assert_eq!(h["health"], "unscanned", "no database: {h}");
        assert!(h["packages"].as_u64().expect("packages") > 5, "{h}");
        let sbom = s
            .admin(
                Method::GET,
                &format!("/api/v1/repositories/multi/app/manifests/{d}/sbom"),
            )
            .send()
            .expect("sbom")
            .bytes()
            .expect("bytes");
        let (sbom, _) = caisson_report::read_sbom(&sbom).expect("CycloneDX");
        let names: BTreeSet<String> = sbom.packages.iter().map(|p| p.name.clone()).collect();
        platforms.insert(names);
    }
    assert_eq!(platforms.len(), 2, "two different platform images");
    let index_digest = sha256(
        &s.admin(Method::GET, "/v2/multi/app/manifests/1")
            .header("accept", "application/vnd.oci.image.index.v1+json")
            .send()
            .expect("index")
            .bytes()
            .expect("bytes"),
    );
    let h = s.health("multi/app", &index_digest);
    assert_eq!(h["health"], "unscanned");
    assert_eq!(
        h["reason"], "never scanned",
        "an index is not scanned itself"
    );
    let r = s
        .admin(
            Method::POST,
            &format!("/api/v1/repositories/multi/app/manifests/{index_digest}/scan"),
        )
        .send()
        .expect("scan");
    assert_eq!(r.status(), 202);
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    assert_eq!(v["queued"], 2, "{v}");
}
