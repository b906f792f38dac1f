//! podman and buildah against `caisson serve`, with test-local
//! containers.conf / storage.conf (vfs storage, runc, cgroupfs, explicit
//! default_ulimits) so nothing on the host is touched.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use caisson_testsupport::engine::podman_env;
use caisson_testsupport::{fixture, have_tools, registry::free_port, run};

const PASSWORD: &str = "admin-password-1";

#[test]
fn podman_and_buildah_push_and_pull() {
    if !have_tools(&["skopeo", "podman", "buildah"]) {
        return;
    }
    let Some((root, entry)) = fixture("debian") else {
        return;
    };
    let layout = root.join(entry["oci"].as_str().expect("oci"));
    let tag = entry["tag"].as_str().expect("tag");
    let dir = tempfile::tempdir().expect("tempdir");
    fs_err::create_dir_all(dir.path().join("xdg")).expect("xdg");
    let host = format!("127.0.0.1:{}", free_port());
    let mut server = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--listen", &host, "--gc-interval", "0"])
        .env("CAISSON_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::blocking::get(format!("http://{host}/v2/"))
        .map(|r| r.status() != 401)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let creds = format!("admin:{PASSWORD}");
    let tool = |name: &str| {
        let mut c = Command::new(name);
        podman_env(&mut c, dir.path(), None);
        c
    };
    // skopeo seeds the registry (podman cannot name an image after a
    // layout path under a dot-directory); podman pulls it into vfs storage,
    // re-tags, pushes to a new repository and pulls that back.
    let seeded = format!("{host}/fixtures/seed:{tag}");
    run(Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
        ])
        .arg(format!("oci:{}:{tag}", layout.display()))
        .arg(format!("docker://{seeded}")));
    run(tool("podman").args(["pull", "--tls-verify=false", "--creds", &creds, &seeded]));
    let image = format!("{host}/fixtures/podman:{tag}");
    run(tool("podman").args(["tag", &seeded, &image]));
    run(tool("podman").args(["push", "--tls-verify=false", "--creds", &creds, &image]));
    run(tool("podman").args(["rmi", "-f", &image, &seeded]));
    run(tool("podman").args(["pull", "--tls-verify=false", "--creds", &creds, &image]));
    let inspect = run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds", &creds])
        .arg(format!("docker://{image}")));
    let v: serde_json::Value = serde_json::from_slice(&inspect).expect("json");
    assert_eq!(v["Layers"].as_array().expect("layers").len(), 1);
    // buildah: a working container from the pushed image, committed and pushed.
    let ctr = String::from_utf8(run(tool("buildah").args([
        "from",
        "--tls-verify=false",
        "--creds",
        &creds,
        &image,
    ])))
    .expect("utf8")
    .trim()
    .to_string();
    run(tool("buildah").args(["config", "--label", "built-by=caisson-test", &ctr]));
    let built = format!("{host}/fixtures/buildah:labelled");
    run(tool("buildah").args(["commit", &ctr, &built]));
    run(tool("buildah").args(["push", "--tls-verify=false", "--creds", &creds, &built]));
    let inspect = run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds", &creds])
        .arg(format!("docker://{built}")));
    let v: serde_json::Value = serde_json::from_slice(&inspect).expect("json");
    assert_eq!(v["Labels"]["built-by"], "caisson-test");
    let _ = tool("buildah").args(["rm", &ctr]).output();
    let _ = server.kill();
    let _ = server.wait();
}
