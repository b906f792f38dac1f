//! Container attribution from `/proc/<pid>/cgroup`: the shapes Docker,
//! Podman (libpod), containerd and CRI-O give cgroup paths, v1 and v2.
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

/// The container id (64 hex digits) a process's cgroup file names, if any.
///
/// Recognised path components: `docker/<id>` (cgroupfs driver, v1 and v2),
/// `docker-<id>.scope` (systemd driver), `libpod-<id>.scope` and
/// `libpod-<id>` (Podman; `libpod-conmon-<id>.scope` is the monitor, not the
/// container), `crio-<id>.scope`, `cri-containerd-<id>.scope` and a bare
/// `<id>` under `kubepods…/pod<uid>/`. The outermost id wins: a container
/// nested in another is attributed to the one the host's engine knows.
pub fn container_id(cgroup_file: &str) -> Option<&str> {
    for line in cgroup_file.lines().take(64) {
        // hierarchy-id:controllers:path
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        let mut prev: Option<&str> = None;
        for comp in path.split('/').take(64) {
            if let Some(id) = component_id(comp, prev) {
                return Some(id);
            }
            if !comp.is_empty() {
                prev = Some(comp);
            }
        }
    }
    None
}

fn component_id<'a>(comp: &'a str, prev: Option<&str>) -> Option<&'a str> {
    if comp.starts_with("libpod-conmon-") {
        return None;
    }
    let stripped = comp.strip_suffix(".scope").unwrap_or(comp);
    for prefix in [
        "docker-",
        "libpod-",
        "crio-",
        "cri-containerd-",
        "containerd-",
    ] {
        if let Some(id) = stripped.strip_prefix(prefix) {
            return is_id(id).then_some(id);
        }
    }
    let under_engine = matches!(prev, Some("docker" | "libpod_parent" | "lxc"))
        || prev.is_some_and(|p| p.starts_with("pod") || p.starts_with("kubepods"));
    (under_engine && is_id(stripped)).then_some(stripped)
}

fn is_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    const ID: &str = "1a239dd541002cd3ce931c0ba17b40c2e27c3ec282a581d572cb8ef31a9ba1b9";

    #[test]
    fn docker_cgroupfs_v1() {
        let f = format!("12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n0::/\n");
        assert_eq!(container_id(&f), Some(ID));
    }

    #[test]
    fn systemd_driver_v2_and_podman_and_kubernetes() {
        for f in [
            format!("0::/system.slice/docker-{ID}.scope"),
            format!("0::/machine.slice/libpod-{ID}.scope/container"),
            format!("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"),
            format!("1:name=systemd:/libpod_parent/libpod-{ID}"),
            format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-{ID}.scope"),
            format!("0::/kubepods.slice/kubepods-pod1234.slice/crio-{ID}.scope"),
            format!("3:cpu:/kubepods/burstable/pod5d1c0b9e-1f5c-4a36-9d0f-3e6f0d3b2c1a/{ID}"),
        ] {
            assert_eq!(container_id(&f), Some(ID), "{f}");
        }
    }

    #[test]
    fn host_processes_and_conmon_are_not_containers() {
        for f in [
            "0::/init.scope".to_string(),
            "12:pids:/user.slice/user-0.slice/session-1.scope".to_string(),
            format!("0::/machine.slice/libpod-conmon-{ID}.scope"),
            format!("0::/system.slice/{ID}"),
            "0::/docker/abc".to_string(),
            "garbage".to_string(),
        ] {
            assert_eq!(container_id(&f), None, "{f}");
        }
    }

    #[test]
    fn outermost_container_wins() {
        let inner = "f".repeat(64);
        let f = format!("0::/docker/{ID}/docker/{inner}");
        assert_eq!(container_id(&f), Some(ID));
    }
}
