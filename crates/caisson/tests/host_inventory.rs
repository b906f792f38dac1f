//! `caisson host inventory` against real engines: the Docker daemon
//! `scripts/dockerd` starts once for the test run (`CAISSON_TEST_DOCKER_HOST`)
//! and a Podman Docker-compatible service. Images come from the fixture
//! builder: pushed to a real `docker-registry` with skopeo and pulled by
//! the engine (so they have repo digests), or imported from a tarball.
//! Every test names its containers `hinv-<pid>-<test>-…` and removes them.
//!
//! The findings oracle is `caisson scan docker-archive:<the same fixture>`:
//! the inventory must report exactly its (id, package, version) set.

mod common;
mod serve_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use caisson_testsupport::engine::{test_docker_host, PodmanService};
use caisson_testsupport::registry::{Auth, Registry};
use caisson_testsupport::{fixture, have_tools, run};
use serde_json::Value;

fn caisson(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("DOCKER_HOST")
        .output()
        .expect("caisson runs")
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "caisson failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// `caisson host inventory --docker-host H --db DB --cache-dir C -f json [extra]`.
fn inventory(host: &str, cache: &Path, extra: &[&str]) -> Output {
    let db = common::database().display().to_string();
    let cache = cache.display().to_string();
    let mut args = vec![
        "host",
        "inventory",
        "--docker-host",
        host,
        "--db",
        &db,
        "--max-db-age-days",
        "100000",
        "--cache-dir",
        &cache,
    ];
    if !extra.contains(&"-f") {
        args.extend(["-f", "json"]);
    }
    args.extend_from_slice(extra);
    caisson(&args)
}

/// (id, package, installed version) of every finding.
fn finding_keys(findings: &Value) -> BTreeSet<(String, String, String)> {
    findings
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("id"), s("package_name"), s("installed_version"))
        })
        .collect()
}

/// What `caisson scan docker-archive:<archive>` reports.
fn scan_oracle(archive: &Path) -> BTreeSet<(String, String, String)> {
    let db = common::database().display().to_string();
    let source = format!("docker-archive:{}", archive.display());
    let v = ok_json(&caisson(&[
        "scan",
        &source,
        "--db",
        &db,
        "--max-db-age-days",
        "100000",
        "--scanners",
        "vuln",
        "-f",
        "json",
    ]));
    finding_keys(&v["findings"])
}

fn container<'a>(inv: &'a Value, name: &str) -> Option<&'a Value> {
    inv["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

fn image<'a>(inv: &'a Value, id: &str) -> &'a Value {
    inv["images"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| panic!("image {id} in the inventory: {inv:#}"))
}

/// A `docker` (or `podman`) command against one engine; removes what the
/// test created when dropped.
struct Engine {
    host: String,
    podman: Option<PodmanService>,
    containers: Vec<String>,
    images: Vec<String>,
}

impl Engine {
    fn docker(host: String) -> Engine {
        Engine {
            host,
            podman: None,
            containers: Vec::new(),
            images: Vec::new(),
        }
    }

    fn cmd(&self) -> Command {
        match &self.podman {
            Some(p) => p.podman(),
            None => {
                let mut c = Command::new("docker");
                c.args(["-H", &self.host]);
                c
            }
        }
    }

    fn run(&self, args: &[&str]) -> String {
        String::from_utf8(run(self.cmd().args(args)))
            .expect("utf8")
            .trim()
            .to_string()
    }

    fn pull(&mut self, reference: &str) {
        let mut args = vec!["pull"];
        if self.podman.is_some() {
            args.push("--tls-verify=false");
        }
        args.push(reference);
        self.run(&args);
        self.images.push(reference.to_string());
    }

    /// `docker create|run -d --name NAME [extra] IMAGE [cmd]`.
    fn container(&mut self, verb: &str, name: &str, extra: &[&str], image: &str, cmd: &[&str]) {
        let mut args = vec![verb];
        if verb == "run" {
            args.push("-d");
        }
        args.extend(["--name", name]);
        args.extend_from_slice(extra);
        args.push(image);
        args.extend_from_slice(cmd);
        self.containers.push(name.to_string());
        self.run(&args);
    }

    fn image_id(&self, reference: &str) -> String {
        let id = self.run(&["image", "inspect", "--format", "{{.Id}}", reference]);
        if id.starts_with("sha256:") {
            id
        } else {
            format!("sha256:{id}")
        }
    }

    fn repo_digests(&self, reference: &str) -> Vec<String> {
        let out = self.run(&[
            "image",
            "inspect",
            "--format",
            "{{json .RepoDigests}}",
            reference,
        ]);
        serde_json::from_str(&out).expect("repo digests JSON")
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.cmd().args(["rm", "-f", c]).output();
        }
        for i in &self.images {
            let _ = self.cmd().args(["rmi", "-f", i]).output();
        }
    }
}

/// The vulnerable fixture (old pip and npm packages with known advisories
/// in the test database): its OCI layout and tag, and its docker archive.
const VULNERABLE: &str = "lang-python-node";

/// A fixture's OCI layout and tag, and its docker archive.
fn image_fixture(name: &str) -> Option<(PathBuf, String, PathBuf)> {
    let (root, entry) = fixture(name)?;
    let layout = root.join(entry["oci"].as_str().expect("oci"));
    let tag = entry["tag"].as_str().expect("tag").to_string();
    let archive = root.join(entry["docker_archive"].as_str().expect("docker_archive"));
    Some((layout, tag, archive))
}

fn prefix(test: &str) -> String {
    format!("hinv-{}-{test}", std::process::id())
}

#[test]
fn docker_inventory_lists_every_container_with_scan_findings_and_caches_the_sbom() {
    let Some(host) = test_docker_host() else {
        return;
    };
    if !have_tools(&["docker", "skopeo", "docker-registry"]) {
        return;
    }
    let Some((layout, tag, archive)) = image_fixture(VULNERABLE) else {
        return;
    };
    let p = prefix("docker");
    let registry = Registry::start(Auth::None, None);
    let repo_tag = format!("{p}/vulnerable:{tag}");
    registry.push(&layout, &tag, &repo_tag, &[]);
    let reference = format!("{}/{repo_tag}", registry.host());
    let mut engine = Engine::docker(host.clone());
    engine.pull(&reference);
    let running = format!("{p}-running");
    let stopped = format!("{p}-stopped");
    engine.container(
        "run",
        &running,
        &[
            "-p",
            "127.0.0.1::80",
            "--label",
            "io.kubernetes.pod.name=web-1",
            "--label",
            "io.kubernetes.pod.namespace=shop",
        ],
        &reference,
        &["sleep", "600"],
    );
    engine.container("create", &stopped, &[], &reference, &["true"]);
    let image_id = engine.image_id(&reference);
    let digests = engine.repo_digests(&reference);
    assert!(
        digests
            .iter()
            .any(|d| d.starts_with(&format!("{}/", registry.host()))),
        "{digests:?}"
    );

    let cache = tempfile::tempdir().expect("cache dir");
    let inv = ok_json(&inventory(&host, cache.path(), &[]));
    assert_eq!(inv["format"], "caisson-host-inventory");
    assert_eq!(inv["engine"]["kind"], "docker");
    assert!(
        inv["engine"]["api_version"].is_string(),
        "{:#}",
        inv["engine"]
    );
    assert!(inv["engine"]["storage_driver"].is_string());
    let run_c = container(&inv, &running).expect("running container listed");
    let stop_c = container(&inv, &stopped).expect("stopped container listed");
    for c in [run_c, stop_c] {
        assert_eq!(c["image_id"], image_id.as_str());
        assert_eq!(c["image"], reference.as_str());
        // Other tests may pull the same image id from their own registry.
        for d in &digests {
            assert!(
                c["repo_digests"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == d.as_str())),
                "{d} in {c:#}"
            );
        }
        assert_eq!(c["scan_status"], "scanned");
    }
    assert_eq!(run_c["state"], "running");
    assert!(run_c["started_at"].is_string());
    assert_eq!(stop_c["state"], "created");
    assert!(stop_c["started_at"].is_null());
    assert_eq!(run_c["kubernetes"]["pod"], "web-1");
    assert_eq!(run_c["kubernetes"]["namespace"], "shop");
    assert_eq!(run_c["ports"][0]["container_port"], 80);
    assert_eq!(run_c["ports"][0]["host_ip"], "127.0.0.1");
    assert!(run_c["ports"][0]["host_port"].as_u64().unwrap_or(0) > 0);

    // Exactly the findings `caisson scan` reports for the same image.
    let img = image(&inv, &image_id);
    assert_eq!(img["source"], "scan");
    let expected = scan_oracle(&archive);
    assert!(
        !expected.is_empty(),
        "the {VULNERABLE} fixture has known findings"
    );
    assert_eq!(finding_keys(&img["findings"]), expected);
    let total = run_c["vulnerabilities"]["total"].as_u64().unwrap_or(0);
    assert_eq!(total, u64::try_from(expected.len()).unwrap_or(0));
    let sum: u64 = ["critical", "high", "medium", "low", "negligible", "unknown"]
        .iter()
        .map(|k| run_c["vulnerabilities"][*k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(sum, total);

    // The SBOM was cached under the image id; a second run reads the cache
    // (the entry is not rewritten) and reports the same findings.
    let hex = image_id.trim_start_matches("sha256:");
    let entry = cache.path().join(format!("images/sha256/{hex}.json"));
    let written = fs_err::metadata(&entry)
        .expect("cache entry")
        .modified()
        .expect("mtime");
    let again = ok_json(&inventory(&host, cache.path(), &[]));
    let img2 = image(&again, &image_id);
    assert_eq!(img2["source"], "cache");
    assert_eq!(finding_keys(&img2["findings"]), expected);
    let after = fs_err::metadata(&entry)
        .expect("cache entry")
        .modified()
        .expect("mtime");
    assert_eq!(written, after, "a cache hit does not rewrite the entry");

    // --running leaves the stopped container out.
    let running_only = ok_json(&inventory(&host, cache.path(), &["--running"]));
    assert_eq!(running_only["running_only"], true);
    assert!(container(&running_only, &running).is_some());
    assert!(container(&running_only, &stopped).is_none());

    // --severity filters and --exit-code gates.
    let gated = inventory(&host, cache.path(), &["--exit-code", "3"]);
    assert_eq!(
        gated.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&gated.stderr)
    );

    // SARIF: one run per image, valid against the official schema.
    let sarif = ok_json(&inventory(&host, cache.path(), &["-f", "sarif"]));
    let errors = caisson_testsupport::schema::errors(&caisson_testsupport::schema::sarif(), &sarif);
    assert!(errors.is_empty(), "SARIF schema errors: {errors:?}");
    let run = sarif["runs"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| r["properties"]["imageId"] == image_id.as_str())
        })
        .expect("a run for the image");
    assert_eq!(
        run["results"].as_array().map(Vec::len),
        Some(expected.len())
    );

    // CycloneDX: valid, the image a component holding its packages.
    let cdx = ok_json(&inventory(&host, cache.path(), &["-f", "cyclonedx-json"]));
    let errors =
        caisson_testsupport::schema::errors(&caisson_testsupport::schema::cyclonedx(), &cdx);
    assert!(errors.is_empty(), "CycloneDX schema errors: {errors:?}");

    // The table names the containers.
    let table = inventory(&host, cache.path(), &["-f", "table"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains(&running) && text.contains(&stopped), "{text}");
}

#[test]
fn docker_inventory_marks_an_over_limit_export_scan_failed_and_keeps_the_rest() {
    let Some(host) = test_docker_host() else {
        return;
    };
    let Some((_, _, archive)) = image_fixture("alpine") else {
        return;
    };
    let p = prefix("limit");
    let mut engine = Engine::docker(host.clone());
    // A tiny image (one small file) imported from a tarball, and the alpine
    // fixture loaded under a test-local name.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    fs_err::create_dir_all(root.join("etc")).expect("root");
    fs_err::write(root.join("etc/hello"), b"hello\n").expect("file");
    let tarball = dir.path().join("tiny.tar");
    run(Command::new("tar")
        .arg("-cf")
        .arg(&tarball)
        .arg("-C")
        .arg(&root)
        .arg("."));
    let tiny = format!("{p}-tiny:1");
    engine.run(&["import", &tarball.display().to_string(), &tiny]);
    engine.images.push(tiny.clone());
    let loaded = engine.run(&["load", "-q", "-i", &archive.display().to_string()]);
    let loaded_ref = loaded
        .lines()
        .find_map(|l| l.strip_prefix("Loaded image: "))
        .expect("docker load names the image")
        .to_string();
    let big = format!("{p}-big:1");
    engine.run(&["tag", &loaded_ref, &big]);
    engine.images.push(big.clone());
    engine.container("create", &format!("{p}-small"), &[], &tiny, &["/nothing"]);
    engine.container("create", &format!("{p}-large"), &[], &big, &["true"]);

    let cache = tempfile::tempdir().expect("cache dir");
    let out = inventory(&host, cache.path(), &["--spool-limit", "1048576"]);
    let inv = ok_json(&out);
    let small = container(&inv, &format!("{p}-small")).expect("small listed");
    let large = container(&inv, &format!("{p}-large")).expect("large listed");
    assert_eq!(small["scan_status"], "scanned");
    assert_eq!(large["scan_status"], "scan-failed");
    let failed = image(&inv, large["image_id"].as_str().expect("id"));
    assert_eq!(failed["status"], "scan-failed");
    let reason = failed["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("spool limit") && reason.contains("1048576"),
        "{reason}"
    );
    // Nothing is left in the spool, and nothing was cached for the failure.
    let spool = cache.path().join("spool");
    let left = fs_err::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "spool files left behind");
    let hex = large["image_id"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("sha256:");
    assert!(!cache
        .path()
        .join(format!("images/sha256/{hex}.json"))
        .exists());
}

#[test]
fn inventory_with_no_engine_names_the_address_and_docker_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("missing.sock");
    let host = format!("unix://{}", sock.display());
    let out = caisson(&["host", "inventory", "--docker-host", &host, "-f", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&sock.display().to_string()), "{err}");
    assert!(err.contains("DOCKER_HOST"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "one error: {err}");
    // Nothing listens on this TCP port either.
    let port = caisson_testsupport::registry::free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let out = caisson(&["host", "inventory", "--docker-host", &host, "-f", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("DOCKER_HOST"),
        "{err}"
    );
}

#[test]
fn podman_service_inventory_matches_caisson_scan() {
    if !have_tools(&["podman", "skopeo", "docker-registry"]) {
        return;
    }
    let Some((layout, tag, archive)) = image_fixture(VULNERABLE) else {
        return;
    };
    let p = prefix("podman");
    let registry = Registry::start(Auth::None, None);
    let repo_tag = format!("{p}/vulnerable:{tag}");
    registry.push(&layout, &tag, &repo_tag, &[]);
    let reference = format!("{}/{repo_tag}", registry.host());
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = PodmanService::start(dir.path(), Some(&registry.host()));
    let host = svc.host();
    let mut engine = Engine {
        host: host.clone(),
        podman: Some(svc),
        containers: Vec::new(),
        images: Vec::new(),
    };
    engine.pull(&reference);
    let name = format!("{p}-created");
    engine.container(
        "create",
        &name,
        &["--label", "team=a"],
        &reference,
        &["true"],
    );
    let image_id = engine.image_id(&reference);

    let cache = tempfile::tempdir().expect("cache dir");
    let inv = ok_json(&inventory(&host, cache.path(), &[]));
    assert_eq!(inv["engine"]["kind"], "podman", "{:#}", inv["engine"]);
    let c = container(&inv, &name).expect("podman container listed");
    assert_eq!(c["image_id"], image_id.as_str());
    assert_eq!(c["labels"]["team"], "a");
    assert!(
        c["repo_digests"].as_array().is_some_and(|d| d
            .iter()
            .any(|d| d.as_str().is_some_and(|d| d.contains("@sha256:")))),
        "{c:#}"
    );
    let img = image(&inv, &image_id);
    assert_eq!(img["status"], "scanned", "{img:#}");
    assert_eq!(finding_keys(&img["findings"]), scan_oracle(&archive));
}

#[test]
fn docker_inventory_takes_a_caisson_registrys_stored_findings() {
    let Some(host) = test_docker_host() else {
        return;
    };
    if !have_tools(&["docker", "skopeo"]) {
        return;
    }
    let Some((root, entry)) = fixture(VULNERABLE) else {
        return;
    };
    let tag = entry["tag"].as_str().expect("tag").to_string();
    let p = prefix("registry");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = common::database().display().to_string();
    let s = serve_support::serve(&dir.path().join("data"), None, &["--db", &db]);
    let repo = format!("{p}/vulnerable");
    serve_support::push_fixture(&s.host, &root, &entry, &format!("{repo}:{tag}"));
    let digest = serve_support::scan::wait_scanned_tag(&s.host, &repo, &tag);
    serve_support::scan::wait_scanned(&s.host, &repo, &digest, 120);
    let stored = reqwest::blocking::Client::new()
        .get(format!(
            "{}/api/v1/repositories/{repo}/manifests/{digest}/findings",
            s.base
        ))
        .basic_auth("admin", Some(serve_support::PASSWORD))
        .send()
        .and_then(|r| r.bytes())
        .expect("stored findings");
    let stored: Value = serde_json::from_slice(&stored).expect("findings JSON");
    let stored_keys: BTreeSet<(String, String, String)> = stored["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("id"), s("package"), s("installed"))
        })
        .collect();
    assert!(!stored_keys.is_empty());

    // The engine pulls it from the registry (loopback is plain HTTP for Docker).
    let config = dir.path().join("docker-config");
    fs_err::create_dir_all(&config).expect("docker config");
    let docker = || {
        let mut c = Command::new("docker");
        c.args(["-H", &host]).env("DOCKER_CONFIG", &config);
        c
    };
    run(docker().args([
        "login",
        "-u",
        "admin",
        "-p",
        serve_support::PASSWORD,
        &s.host,
    ]));
    let reference = format!("{}/{repo}:{tag}", s.host);
    run(docker().args(["pull", &reference]));
    let mut engine = Engine::docker(host.clone());
    engine.images.push(reference.clone());
    let name = format!("{p}-c");
    engine.container("create", &name, &[], &reference, &["true"]);

    let cache = tempfile::tempdir().expect("cache dir");
    let base = s.base.clone();
    let out = inventory(
        &host,
        cache.path(),
        &[
            "--registry",
            &base,
            "--user",
            "admin",
            "--password",
            serve_support::PASSWORD,
        ],
    );
    let inv = ok_json(&out);
    let c = container(&inv, &name).expect("container listed");
    let img = image(&inv, c["image_id"].as_str().expect("image id"));
    assert_eq!(img["source"], "registry", "{img:#}");
    let got: BTreeSet<(String, String, String)> = finding_keys(&img["findings"]);
    assert_eq!(got, stored_keys);
    let hex = img["id"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("sha256:");
    assert!(
        !cache
            .path()
            .join(format!("images/sha256/{hex}.json"))
            .exists(),
        "the image was not exported nor cached"
    );
}
