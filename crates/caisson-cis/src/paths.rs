//! The host paths the checks look at, computed from the daemon's
//! configuration and `/info`. Shared by the gathering (which stats them) and
//! the checks (which judge them), so both agree on what "the file" is.

use bollard::models::SystemInfo;

use crate::config::DaemonConfig;
use crate::facts::{FileState, HostFacts};

/// Where systemd units live, in lookup order.
pub const SYSTEMD_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

/// Directories a binary is looked up in (CIS names /usr/bin; Debian's
/// docker.io installs dockerd in /usr/sbin).
pub const BIN_DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/usr/local/bin"];

pub const ETC_DOCKER: &str = "/etc/docker";
pub const CERTS_D: &str = "/etc/docker/certs.d";
pub const DEFAULT_DAEMON_JSON: &str = "/etc/docker/daemon.json";
pub const ETC_DEFAULT_DOCKER: &str = "/etc/default/docker";
pub const ETC_SYSCONFIG_DOCKER: &str = "/etc/sysconfig/docker";
pub const RUN_CONTAINERD: &str = "/run/containerd";
pub const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
pub const DEFAULT_CONTAINERD_SOCK: &str = "/run/containerd/containerd.sock";
pub const DEFAULT_DOCKER_ROOT: &str = "/var/lib/docker";

/// Candidate paths of a systemd unit.
pub fn unit_candidates(unit: &str) -> Vec<String> {
    SYSTEMD_DIRS.iter().map(|d| format!("{d}/{unit}")).collect()
}

/// Candidate paths of a binary; for dockerd also argv\[0\] when absolute.
pub fn binary_candidates(name: &str, argv0: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = BIN_DIRS.iter().map(|d| format!("{d}/{name}")).collect();
    if let Some(a) = argv0.filter(|a| a.starts_with('/') && a.ends_with(&format!("/{name}"))) {
        if !v.iter().any(|p| p == a) {
            v.insert(0, a.to_string());
        }
    }
    v
}

/// The containerd socket dockerd uses (`--containerd`, daemon.json
/// `containerd`, else the default).
pub fn containerd_socket(cfg: &DaemonConfig<'_>) -> String {
    cfg.str_setting("containerd", "containerd")
        .ok()
        .flatten()
        .unwrap_or_else(|| DEFAULT_CONTAINERD_SOCK.to_string())
}

/// The Docker root directory (`/info` DockerRootDir, else the default).
pub fn docker_root(info: Option<&SystemInfo>) -> String {
    info.and_then(|i| i.docker_root_dir.clone())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| DEFAULT_DOCKER_ROOT.to_string())
}

/// `tlscacert`, `tlscert`, `tlskey` as configured (flag or daemon.json).
pub fn tls_files(cfg: &DaemonConfig<'_>) -> [(&'static str, Option<String>); 3] {
    let get = |k: &str| cfg.str_setting(k, k).ok().flatten();
    [
        ("tlscacert", get("tlscacert")),
        ("tlscert", get("tlscert")),
        ("tlskey", get("tlskey")),
    ]
}

/// Every single path some check stats (the certs.d walk is separate).
pub fn all(cfg: &DaemonConfig<'_>, info: Option<&SystemInfo>) -> Vec<String> {
    let argv0 = cfg.argv0();
    let mut v = Vec::new();
    v.extend(unit_candidates("docker.service"));
    v.extend(unit_candidates("docker.socket"));
    for b in [
        "dockerd",
        "containerd",
        "containerd-shim",
        "containerd-shim-runc-v1",
        "containerd-shim-runc-v2",
        "runc",
    ] {
        v.extend(binary_candidates(b, argv0));
    }
    for p in [
        ETC_DOCKER,
        ETC_DEFAULT_DOCKER,
        ETC_SYSCONFIG_DOCKER,
        RUN_CONTAINERD,
        CONTAINERD_CONFIG,
    ] {
        v.push(p.to_string());
    }
    v.push(cfg.config_path().to_string());
    v.push(containerd_socket(cfg));
    v.push(docker_root(info));
    v.extend(cfg.unix_sockets());
    v.extend(tls_files(cfg).into_iter().filter_map(|(_, p)| p));
    v.sort();
    v.dedup();
    v
}

/// The first candidate that exists on the host.
pub fn first_existing<'h>(host: &'h HostFacts, candidates: &[String]) -> Option<&'h str> {
    candidates.iter().find_map(|c| {
        host.files
            .get_key_value(c)
            .filter(|(_, s)| !matches!(s, FileState::Missing))
            .map(|(k, _)| k.as_str())
    })
}
