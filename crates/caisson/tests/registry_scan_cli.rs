//! `caisson serve --db` scanning with the real binary: `caisson registry
//! status|scan` with credentials from an auth file, and kill -9 of the
//! server while a scan runs (the queue survives).

mod serve_support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use caisson_testsupport::{fixture, have_tool, registry::free_port, write_auth_file};
use serve_support::scan::{import_db, push_python, wait_scanned, wait_scanned_tag};
use serve_support::{serve_with, Serve, PASSWORD};

/// `caisson serve` polling the advisory database every second.
fn serve(data: &Path, port: u16, extra: &[&str]) -> Serve {
    let mut args = vec!["--db-poll", "1"];
    args.extend_from_slice(extra);
    serve_with(port, data, None, &args, &[])
}

fn caisson(args: &[&str], auth_file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(args)
        .env("REGISTRY_AUTH_FILE", auth_file)
        .env_remove("CAISSON_USER")
        .env_remove("CAISSON_PASSWORD")
        .output()
        .expect("caisson runs")
}

#[test]
fn registry_status_and_scan_commands() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = tmp.path().join("db");
    import_db(&db, &["osv/PyPI/all.zip"]);
    let port = free_port();
    let s = serve(
        &tmp.path().join("data"),
        port,
        &["--db", db.to_str().expect("utf-8")],
    );
    let digest = push_python(&s.host, "team/app", "v1", "urllib3", "1.26.4");
    wait_scanned(&s.host, "team/app", &digest, 120);
    let auth = write_auth_file(tmp.path(), &s.host, "admin", PASSWORD);
    let reference = format!("{}/team/app:v1", s.host);
    let insecure = format!("--insecure-registry={}", s.host);

    let out = caisson(&["registry", "status", &reference, &insecure], &auth);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("image:      team/app@{digest}")),
        "{text}"
    );
    assert!(text.contains("health:     vulnerable"), "{text}");
    assert!(text.contains("threshold:  high"), "{text}");
    assert!(text.contains("packages:   1"), "{text}");
    assert!(text.contains("db age:     0 min"), "{text}");
    assert!(!text.contains("scanned at: never"), "{text}");

    let out = caisson(
        &[
            "registry",
            "status",
            &reference,
            &insecure,
            "--json",
            "--exit-code",
        ],
        &auth,
    );
    assert_eq!(out.status.code(), Some(1), "not healthy → exit 1");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["health"], "vulnerable");
    assert!(v["counts"].as_object().expect("counts").values().count() > 0);

    let by_digest = format!("{}/team/app@{digest}", s.host);
    let out = caisson(&["registry", "scan", &by_digest, &insecure], &auth);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["queued"], 1, "{v}");

    // Wrong credentials: the API's 401 is the error.
    let bad = write_auth_file(tmp.path(), &s.host, "admin", "wrong");
    let out = caisson(&["registry", "status", &reference, &insecure], &bad);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// kill -9 while a scan runs: after a restart every queued and running job completes.
#[test]
fn kill_9_during_a_scan_loses_no_job() {
    if !have_tool("skopeo") {
        return;
    }
    let Some((root, _)) = fixture("lang-python-node") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    let mut s = serve(&data, port, &["--scan-workers", "1"]);
    let out = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--preserve-digests",
        ])
        .arg(format!("--dest-creds=admin:{PASSWORD}"))
        .arg(format!(
            "oci:{}:lang",
            root.join("lang-python-node/oci").display()
        ))
        .arg(format!("docker://{}/big/app:1", s.host))
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let small: Vec<String> = (0..3)
        .map(|i| push_python(&s.host, &format!("small/app{i}"), "1", "idna", "3.4"))
        .collect();
    // Kill as soon as a scan is running (the big image takes a while).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = reqwest::blocking::Client::new()
            .get(format!("http://{}/api/v1/scanning", s.host))
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .expect("status");
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
        if v["queue"]["running"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no scan started: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.kill_9();
    drop(s);

    let s = serve(&data, port, &["--scan-workers", "1"]);
    let big = wait_scanned_tag(&s.host, "big/app", "1");
    let h = wait_scanned(&s.host, "big/app", &big, 300);
    assert!(h["packages"].as_u64().expect("packages") > 50, "{h}");
    for (i, d) in small.iter().enumerate() {
        let h = wait_scanned(&s.host, &format!("small/app{i}"), d, 120);
        assert_eq!(h["packages"], 1, "{h}");
    }
}
