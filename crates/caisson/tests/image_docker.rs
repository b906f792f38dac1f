//! Caisson's own image (`scripts/image`) on the real Docker Engine: built
//! twice to the same digest, labelled with the commit, loaded with `docker
//! load`, `--version` run in it, `caisson serve` run in it answering
//! `/v2/`, the image pushed to that containerised registry with its SBOM as
//! a referrer and a signature that `caisson verify` accepts; and the sensor
//! run in it with exactly the documented privileges (docs/deploy.md),
//! alerting on another container's exec with full attribution.
//!
//! Needs root (mmdebstrap --mode=root), mmdebstrap, umoci, skopeo, docker
//! and the test daemon (`CAISSON_TEST_DOCKER_HOST`); the Debian base is
//! cached under `$CAISSON_CACHE/image-base`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod sensor_support;

use caisson_testsupport::engine::test_docker_host;
use caisson_testsupport::registry::free_port;
use caisson_testsupport::{have_tools, run, write_auth_file};
use sensor_support::{docker, ok, Container};

const BIN: &str = env!("CARGO_BIN_EXE_caisson");
const PASSWORD: &str = "image-test-admin-1";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build_image(out: &Path) -> serde_json::Value {
    run(Command::new(repo_root().join("scripts/image"))
        .env("CAISSON_BIN", BIN)
        .args(["--out"])
        .arg(out)
        .stdin(Stdio::null()));
    serde_json::from_slice(&fs_err::read(out.join("image.json")).expect("image.json"))
        .expect("image.json is JSON")
}

fn git(args: &[&str]) -> String {
    String::from_utf8(run(Command::new("git").current_dir(repo_root()).args(args)))
        .expect("utf8")
        .trim()
        .to_string()
}

fn is_root() -> bool {
    let uid = run(Command::new("id").arg("-u"));
    String::from_utf8_lossy(&uid).trim() == "0"
}

/// The image built once for the tests of this file (and loaded into the
/// test daemon); `None` skips them.
struct Built {
    out: PathBuf,
    info: serde_json::Value,
    host: String,
}

fn built() -> Option<&'static Built> {
    static BUILT: std::sync::OnceLock<Option<Built>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            if !have_tools(&["mmdebstrap", "umoci", "skopeo", "docker", "jq"]) {
                return None;
            }
            let host = test_docker_host()?;
            if !is_root() {
                eprintln!("SKIPPING: scripts/image needs root");
                return None;
            }
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("caisson-image");
            let _ = fs_err::remove_dir_all(&out);
            let info = build_image(&out.join("a"));
            let archive = out.join("a/caisson.docker.tar");
            ok(
                docker(&host, &["load", "-i", &archive.display().to_string()]),
                "docker load",
            );
            Some(Built { out, info, host })
        })
        .as_ref()
}

#[test]
fn caisson_image_is_reproducible_and_labelled_with_its_commit() {
    let Some(b) = built() else {
        return;
    };
    let first = &b.info;
    let second = build_image(&b.out.join("b"));
    assert_eq!(first["digest"], second["digest"], "two builds differ");

    // Annotations: version, the commit, its time as `created`.
    let version = first["version"].as_str().expect("version").to_string();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let head = git(&["rev-parse", "HEAD"]);
    let layout = b.out.join("a/caisson-oci");
    let digest = first["digest"].as_str().expect("digest").to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs_err::read(layout.join("blobs/sha256").join(&digest["sha256:".len()..]))
            .expect("manifest blob"),
    )
    .expect("manifest json");
    let ann = &manifest["annotations"];
    assert_eq!(ann["org.opencontainers.image.revision"], head.as_str());
    assert_eq!(ann["org.opencontainers.image.version"], version.as_str());
    let commit_time = git(&["log", "-1", "--format=%cI"]);
    let created = ann["org.opencontainers.image.created"]
        .as_str()
        .expect("created");
    assert_eq!(
        run(Command::new("date").args(["-u", "-d", &commit_time, "+%Y-%m-%dT%H:%M:%SZ"]))
            .trim_ascii(),
        created.as_bytes()
    );
    assert!(ann["org.opencontainers.image.source"].is_string(), "{ann}");

    // Its SBOM lists the Debian packages the root filesystem holds.
    let sbom: serde_json::Value =
        serde_json::from_slice(&fs_err::read(b.out.join("a/caisson.cdx.json")).expect("sbom"))
            .expect("sbom json");
    let names: Vec<&str> = sbom["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for p in ["libc6", "ca-certificates", "libgcc-s1"] {
        assert!(names.contains(&p), "{p} missing from {names:?}");
    }
}

#[test]
fn caisson_image_runs_serve_and_the_host_agent_and_verifies_when_pushed() {
    let Some(b) = built() else {
        return;
    };
    let (first, host) = (&b.info, b.host.as_str());
    let version = first["version"].as_str().expect("version").to_string();
    let digest = first["digest"].as_str().expect("digest").to_string();
    let head = git(&["rev-parse", "HEAD"]);
    let dir = tempfile::tempdir().expect("tempdir");
    // --version prints the version and the commit.
    let image = first["docker_ref"]
        .as_str()
        .expect("docker_ref")
        .to_string();
    let out = ok(
        docker(host, &["run", "--rm", &image, "--version"]),
        "docker run --version",
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(&version) && printed.contains(&head[..12]),
        "{printed}"
    );
    // Non-root by default, and no shell in the image.
    let user = ok(
        docker(
            host,
            &["image", "inspect", "-f", "{{.Config.User}}", &image],
        ),
        "inspect",
    );
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "65532:65532");
    let sh = docker(
        host,
        &[
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            &image,
            "-c",
            "true",
        ],
    );
    assert!(!sh.status.success(), "the image must not ship a shell");

    // `caisson serve` in the image, as docs/deploy.md runs it.
    let port = free_port();
    let name = format!("caisson-image-test-{}", std::process::id());
    ok(
        docker(
            host,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "--read-only",
                "--tmpfs",
                "/tmp",
                "--tmpfs",
                "/var/lib/caisson:uid=65532,gid=65532",
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges",
                "-e",
                &format!("CAISSON_ADMIN_PASSWORD={PASSWORD}"),
                "-p",
                &format!("127.0.0.1:{port}:5000"),
                &image,
                "serve",
                "--data-dir",
                "/var/lib/caisson",
                "--listen",
                "0.0.0.0:5000",
                "--allow-insecure-http",
            ],
        ),
        "docker run serve",
    );
    let _container = Container {
        host: host.to_string(),
        name: name.clone(),
    };
    let registry = format!("127.0.0.1:{port}");
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        match http.get(format!("http://{registry}/v2/")).send() {
            Ok(r) => break r.status().as_u16(),
            Err(e) => {
                if Instant::now() > deadline {
                    let logs = docker(host, &["logs", &name]);
                    panic!(
                        "the registry in the image never answered: {e}\n{}",
                        String::from_utf8_lossy(&logs.stderr)
                    );
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert_eq!(status, 401, "/v2/ without credentials");
    let authed = http
        .get(format!("http://{registry}/v2/"))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .expect("GET /v2/");
    assert_eq!(authed.status().as_u16(), 200);

    // Push the image into it, attach the SBOM, sign; verify.
    let auth = write_auth_file(dir.path(), &registry, "admin", PASSWORD);
    let key_prefix = dir.path().join("cosign");
    run(Command::new(BIN)
        .args(["key", "generate", "--output-key-prefix"])
        .arg(&key_prefix)
        .env("COSIGN_PASSWORD", ""));
    let target = format!("{registry}/caisson/caisson:{version}");
    run(Command::new(repo_root().join("scripts/image"))
        .env("CAISSON_BIN", BIN)
        .env("REGISTRY_AUTH_FILE", &auth)
        .env("COSIGN_PASSWORD", "")
        .arg("--out")
        .arg(b.out.join("a"))
        .args([
            "--no-build",
            "--push",
            &target,
            "--insecure-registry",
            &registry,
        ])
        .arg("--sign-key")
        .arg(key_prefix.with_extension("key"))
        .stdin(Stdio::null()));
    let verified = Command::new(BIN)
        .args(["verify", "--key"])
        .arg(key_prefix.with_extension("pub"))
        .args(["--insecure-registry", &registry, &target])
        .env("REGISTRY_AUTH_FILE", &auth)
        .output()
        .expect("caisson verify");
    assert!(
        verified.status.success(),
        "caisson verify: {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let accepted: serde_json::Value = serde_json::from_slice(&verified.stdout).expect("json");
    let kinds: Vec<&str> = accepted
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"simple-signing"), "{accepted}");
    assert!(kinds.contains(&"sigstore-bundle"), "{accepted}");

    // The SBOM is a referrer of the pushed digest, and it is the image's.
    let referrers: serde_json::Value = http
        .get(format!(
            "http://{registry}/v2/caisson/caisson/referrers/{digest}?artifactType=application/vnd.cyclonedx%2Bjson"
        ))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .expect("referrers")
        .json_bytes();
    // The registry scans on push and attaches its own SBOM too (annotated
    // `dev.caisson.sbom.generator`); ours carries the image's `created`.
    let created = first["created"].as_str().expect("created");
    let ours: Vec<&serde_json::Value> = referrers["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter(|m| m["annotations"].get("dev.caisson.sbom.generator").is_none())
        .collect();
    assert_eq!(ours.len(), 1, "{referrers}");
    assert_eq!(ours[0]["artifactType"], "application/vnd.cyclonedx+json");
    assert_eq!(
        ours[0]["annotations"]["org.opencontainers.image.created"], created,
        "{referrers}"
    );

    // The host agent in the image, as docs/deploy.md runs it (plus the host
    // network, to reach the registry's loopback port), reports this engine.
    let robot: serde_json::Value = http
        .post(format!("http://{registry}/api/v1/robots"))
        .basic_auth("admin", Some(PASSWORD))
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"name": "image-agent",
                "scopes": [{"namespace": "hosts", "actions": ["report"]}]})
            .to_string(),
        )
        .send()
        .expect("create robot")
        .json_bytes();
    let socket = host.strip_prefix("unix://").expect("a unix socket");
    let host_id = format!("image-test-{}", std::process::id());
    let agent = Container {
        host: host.to_string(),
        name: format!("caisson-image-agent-{}", std::process::id()),
    };
    ok(
        docker(
            host,
            &[
                "run",
                "-d",
                "--name",
                &agent.name,
                "--network",
                "host",
                "--user",
                "0:0",
                "--read-only",
                "--tmpfs",
                "/tmp",
                "--tmpfs",
                "/var/lib/caisson/agent-queue",
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges",
                "-v",
                &format!("{socket}:/var/run/docker.sock"),
                "-v",
                "/:/host:ro",
                "-e",
                &format!(
                    "CAISSON_USER={}",
                    robot["name"].as_str().expect("robot name")
                ),
                "-e",
                &format!(
                    "CAISSON_PASSWORD={}",
                    robot["secret"].as_str().expect("secret")
                ),
                &image,
                "host",
                "agent",
                "--server",
                &format!("http://{registry}"),
                "--root",
                "/host",
                "--queue",
                "/var/lib/caisson/agent-queue",
                "--host-id",
                &host_id,
            ],
        ),
        "docker run host agent",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = http
            .get(format!(
                "http://{registry}/api/v1/hosts/{host_id}/containers"
            ))
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .expect("GET containers");
        let body = r.text().unwrap_or_default();
        // The registry's own container is among those reported.
        if body.contains(&name) {
            break;
        }
        let logs = docker(host, &["logs", &agent.name]);
        assert!(
            Instant::now() < deadline,
            "the agent never reported {name}: {body}\n{}",
            String::from_utf8_lossy(&logs.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

trait JsonBytes {
    fn json_bytes(self) -> serde_json::Value;
}
impl JsonBytes for reqwest::blocking::Response {
    fn json_bytes(self) -> serde_json::Value {
        let status = self.status();
        let body = self.bytes().expect("body");
        assert!(
            status.is_success(),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).expect("json body")
    }
}

/// The sensor in the image, run as docs/deploy.md runs it: host pid and
/// network namespaces, uid 0, exactly four capabilities, read-only root.
/// An `apk add` exec'd in another container must come out as a
/// `package-manager` alert naming that container and its image (the Docker
/// socket), with the process fully read from /proc (SYS_PTRACE).
#[test]
fn caisson_image_runs_the_sensor_with_only_the_documented_privileges() {
    let Some(b) = built() else {
        return;
    };
    let host = b.host.as_str();
    let Some(alpine) = sensor_support::alpine(host) else {
        return;
    };
    let image = b.info["docker_ref"].as_str().expect("docker_ref");
    let id = std::process::id();
    // The test daemon's socket and data root, mounted where docs/deploy.md
    // mounts the default ones (the data root at its own path: overlay
    // upper directories are named by their host path).
    let socket = host.strip_prefix("unix://").expect("a unix socket");
    let root = ok(
        docker(host, &["info", "-f", "{{.DockerRootDir}}"]),
        "docker info",
    );
    let root = String::from_utf8_lossy(&root.stdout).trim().to_string();
    let socket_mount = format!("{socket}:/var/run/docker.sock");
    let root_mount = format!("{root}:{root}:ro");
    let sensor = Container {
        host: host.to_string(),
        name: format!("caisson-image-sensor-{id}"),
    };
    ok(
        docker(
            host,
            &[
                "run",
                "-d",
                "--name",
                &sensor.name,
                "--pid",
                "host",
                "--network",
                "host",
                "--user",
                "0:0",
                "--read-only",
                "--tmpfs",
                "/tmp",
                "--cap-drop",
                "ALL",
                "--cap-add",
                "SYS_ADMIN",
                "--cap-add",
                "NET_ADMIN",
                "--cap-add",
                "SYS_PTRACE",
                "--cap-add",
                "DAC_READ_SEARCH",
                "--security-opt",
                "no-new-privileges",
                "-v",
                &socket_mount,
                "-v",
                "/sys/fs/cgroup:/sys/fs/cgroup:ro",
                "-v",
                &root_mount,
                image,
                "sensor",
                "run",
                "--alerts",
                "-",
                "--duration",
                "120",
            ],
        ),
        "docker run sensor",
    );
    let target = Container {
        host: host.to_string(),
        name: format!("caisson-image-sensor-target-{id}"),
    };
    ok(
        docker(
            host,
            &[
                "run",
                "-d",
                "--name",
                &target.name,
                "--network",
                "none",
                &alpine,
                "sleep",
                "300",
            ],
        ),
        "docker run alpine",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert = loop {
        let _ = docker(
            host,
            &[
                "exec",
                &target.name,
                "apk",
                "add",
                "caisson-no-such-package",
            ],
        );
        let logs = docker(host, &["logs", &sensor.name]);
        let stdout = String::from_utf8_lossy(&logs.stdout).to_string();
        let found = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|a| {
                a["rule"] == "package-manager" && a["container"]["name"] == target.name.as_str()
            });
        if let Some(a) = found {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no package-manager alert for {}; sensor stdout:\n{stdout}\nstderr:\n{}",
            target.name,
            String::from_utf8_lossy(&logs.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(alert["container"]["image"], alpine.as_str(), "{alert}");
    assert_eq!(alert["evidence"]["complete"], true, "{alert}");
    assert!(alert["process"]["exe"].is_string(), "{alert}");
}
