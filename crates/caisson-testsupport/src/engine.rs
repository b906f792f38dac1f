//! Container engines for tests: the one Docker daemon `scripts/dockerd`
//! starts for the whole test run, and a Podman Docker-compatible service on
//! a socket of its own with test-local configuration (vfs storage, runc,
//! cgroupfs, explicit ulimits) so nothing on the host is touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable `scripts/test` exports: the test run's Docker daemon.
pub const DOCKER_HOST_VAR: &str = "CAISSON_TEST_DOCKER_HOST";

/// `$CAISSON_TEST_DOCKER_HOST` (`unix://…/docker.sock`). Unset: the test
/// is skipped with a message locally and fails under CI, where
/// `scripts/test` must have started the daemon (`scripts/dockerd`).
pub fn test_docker_host() -> Option<String> {
    match std::env::var(DOCKER_HOST_VAR) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            let msg = format!(
                "{DOCKER_HOST_VAR} is not set; run scripts/dockerd and export {DOCKER_HOST_VAR}=unix://$CAISSON_CACHE/dockerd/docker.sock (scripts/test does both)"
            );
            assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{msg}");
            crate::skip(&msg);
            None
        }
    }
}

/// Writes test-local containers-storage and containers.conf files under
/// `dir` (plus a registries.conf marking `insecure_registry` plain HTTP)
/// and points `cmd` (podman, buildah, skopeo) at them.
pub fn podman_env(cmd: &mut Command, dir: &Path, insecure_registry: Option<&str>) {
    let storage = dir.join("storage.conf");
    let conf = dir.join("containers.conf");
    fs_err::write(
        &storage,
        format!(
            "[storage]\ndriver = \"vfs\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/graph\"\n",
            dir.display()
        ),
    )
    .expect("storage.conf");
    fs_err::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=1024:1024\"]\n\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
    )
    .expect("containers.conf");
    if let Some(registry) = insecure_registry {
        let registries = dir.join("registries.conf");
        fs_err::write(
            &registries,
            format!("[[registry]]\nlocation = \"{registry}\"\ninsecure = true\n"),
        )
        .expect("registries.conf");
        cmd.env("CONTAINERS_REGISTRIES_CONF", &registries);
    }
    fs_err::create_dir_all(dir.join("xdg")).expect("xdg dir");
    cmd.env("CONTAINERS_STORAGE_CONF", &storage)
        .env("CONTAINERS_CONF", &conf)
        .env("XDG_RUNTIME_DIR", dir.join("xdg"))
        .env("TMPDIR", dir);
}

/// `podman system service --time=0 unix://<dir>/docker.sock` with
/// [`podman_env`]; killed on drop.
pub struct PodmanService {
    child: Child,
    pub dir: PathBuf,
    pub socket: PathBuf,
    insecure_registry: Option<String>,
}

impl PodmanService {
    /// Starts the service and waits until its socket exists.
    pub fn start(dir: &Path, insecure_registry: Option<&str>) -> PodmanService {
        let socket = dir.join("docker.sock");
        let mut cmd = Command::new("podman");
        podman_env(&mut cmd, dir, insecure_registry);
        let log = fs_err::File::create(dir.join("service.log")).expect("service log");
        let child = cmd
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log.into_parts().0))
            .spawn()
            .expect("podman system service");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "podman service did not start; log:\n{}",
                fs_err::read_to_string(dir.join("service.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        PodmanService {
            child,
            dir: dir.to_path_buf(),
            socket,
            insecure_registry: insecure_registry.map(str::to_string),
        }
    }

    /// `unix://<socket>`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A `podman` command with the service's configuration.
    pub fn podman(&self) -> Command {
        let mut c = Command::new("podman");
        podman_env(&mut c, &self.dir, self.insecure_registry.as_deref());
        c
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
