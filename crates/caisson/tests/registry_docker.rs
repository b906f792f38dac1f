//! The `docker` CLI against `caisson serve`, through the Docker-compatible
//! API of `podman system service` (no Docker daemon needed): login, pull,
//! tag, push, and a push without credentials refused. Test-local podman
//! configuration (vfs storage, runc, cgroupfs, explicit ulimits, the
//! registry marked insecure because it is plain HTTP on loopback).

mod serve_support;

use std::path::Path;
use std::process::{Command, Stdio};

use caisson_testsupport::engine::PodmanService;
use caisson_testsupport::{fixture, have_tools, run};
use serve_support::{serve, PASSWORD};

#[test]
fn docker_cli_through_podman_service_pushes_and_pulls() {
    if !have_tools(&["docker", "podman", "skopeo"]) {
        return;
    }
    let Some((root, entry)) = fixture("debian") else {
        return;
    };
    let layout = root.join(entry["oci"].as_str().expect("oci"));
    let tag = entry["tag"].as_str().expect("tag");
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("podman");
    fs_err::create_dir_all(&work).expect("podman dir");
    let s = serve(&dir.path().join("data"), None, &[]);
    let creds = format!("admin:{PASSWORD}");
    // podman's Docker-compatible login only falls back to plain HTTP for
    // `localhost[:port]` (its stand-in for `docker login` of an insecure
    // registry); registries.conf marks the same name insecure for pulls and
    // pushes.
    let host = format!("localhost:{}", s.port);

    // The podman service, on a socket of its own.
    let svc = PodmanService::start(&work, Some(&host));
    let sock = svc.socket.clone();
    let docker_config = dir.path().join("docker-config");
    fs_err::create_dir_all(&docker_config).expect("docker config");
    let docker = |config: &Path| {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", sock.display()))
            .env("DOCKER_CONFIG", config);
        c
    };

    // Seed the registry with skopeo.
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

    // docker login stores the credentials; pull, tag, push use them.
    let mut login = docker(&docker_config);
    login
        .args(["login", "--username", "admin", "--password-stdin", &host])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = login.spawn().expect("docker login");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(PASSWORD.as_bytes())
            .expect("password");
    }
    let out = child.wait_with_output().expect("docker login");
    assert!(
        out.status.success(),
        "docker login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    run(docker(&docker_config).args(["pull", &seeded]));
    let pushed = format!("{host}/fixtures/docker:{tag}");
    run(docker(&docker_config).args(["tag", &seeded, &pushed]));
    run(docker(&docker_config).args(["push", &pushed]));
    // The registry holds it, with the layers the seed had.
    let seed_inspect: serde_json::Value = serde_json::from_slice(&run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds", &creds])
        .arg(format!("docker://{seeded}"))))
    .expect("json");
    let pushed_inspect: serde_json::Value = serde_json::from_slice(&run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds", &creds])
        .arg(format!("docker://{pushed}"))))
    .expect("json");
    assert_eq!(
        pushed_inspect["Layers"].as_array().map(Vec::len),
        seed_inspect["Layers"].as_array().map(Vec::len)
    );
    // Pull it back after removing the local copies.
    run(docker(&docker_config).args(["rmi", "-f", &pushed, &seeded]));
    run(docker(&docker_config).args(["pull", &pushed]));
    let images = String::from_utf8(run(docker(&docker_config).args([
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ])))
    .expect("utf8");
    assert!(images.lines().any(|l| l == pushed), "{images}");

    // Without credentials the push is refused.
    let anonymous = dir.path().join("anonymous");
    fs_err::create_dir_all(&anonymous).expect("dir");
    let denied = format!("{host}/fixtures/anonymous:{tag}");
    run(docker(&anonymous).args(["tag", &pushed, &denied]));
    let out = docker(&anonymous)
        .args(["push", &denied])
        .output()
        .expect("docker push");
    assert!(!out.status.success(), "anonymous push must fail");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase()
        + &String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        err.contains("unauthorized")
            || err.contains("authentication required")
            || err.contains("denied"),
        "{err}"
    );
}
