//! Every CIS Docker Benchmark item Caisson reports, with its number in v1.7.0
//! and v1.8.0, its level, whether docker-bench-security scores it, and the
//! remediation. Checks produce results by `key`; the report shows the number
//! of the selected benchmark.

use crate::model::Benchmark;

/// One benchmark item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckDef {
    /// Stable kebab-case code, the same in every numbering.
    pub key: &'static str,
    /// Number in CIS Docker Benchmark v1.7.0 (`None`: not in that version).
    pub v17: Option<&'static str>,
    /// Number in v1.8.0.
    pub v18: Option<&'static str>,
    /// CIS profile level.
    pub level: u8,
    /// docker-bench-security counts it in the score (`pass -s`/`warn -s`).
    pub scored: bool,
    pub title: &'static str,
    pub remediation: &'static str,
}

impl CheckDef {
    /// Its number in `b`.
    pub fn id(&self, b: Benchmark) -> Option<&'static str> {
        match b {
            Benchmark::V1_7 => self.v17,
            Benchmark::V1_8 => self.v18,
        }
    }
}

/// Section titles by top-level number.
pub const SECTIONS: &[(&str, &str)] = &[
    ("1", "Host Configuration"),
    ("2", "Docker daemon configuration"),
    ("3", "Docker daemon configuration files"),
    ("4", "Container Images and Build File"),
    ("5", "Container Runtime"),
    ("6", "Docker Security Operations"),
    ("7", "Docker Swarm Configuration"),
];

/// The title of section `n`.
pub fn section_title(n: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|(k, _)| *k == n)
        .map_or("", |(_, t)| *t)
}

macro_rules! def {
    ($key:literal, $v17:expr, $v18:expr, $level:literal, $scored:literal, $title:literal, $rem:literal) => {
        CheckDef {
            key: $key,
            v17: $v17,
            v18: $v18,
            level: $level,
            scored: $scored,
            title: $title,
            remediation: $rem,
        }
    };
    ($key:literal, $id:literal, $level:literal, $scored:literal, $title:literal, $rem:literal) => {
        def!($key, Some($id), Some($id), $level, $scored, $title, $rem)
    };
}

const AUDIT_REM: &str = "Add a watch for the path to /etc/audit/rules.d/docker.rules (`-w <path> -k docker`) and reload the rules (`augenrules --load` or restart auditd).";

macro_rules! audit {
    ($key:literal, $id:literal, $level:literal, $what:literal) => {
        CheckDef {
            key: $key,
            v17: Some($id),
            v18: Some($id),
            level: $level,
            scored: true,
            title: concat!(
                "Ensure auditing is configured for Docker files and directories - ",
                $what
            ),
            remediation: AUDIT_REM,
        }
    };
}

/// Every item, in benchmark order.
pub const CHECKS: &[CheckDef] = &[
    def!("host-partition", "1.1.1", 1, true, "Ensure a separate partition for containers has been created", "Put the Docker root directory (/var/lib/docker) on its own partition or logical volume."),
    def!("host-docker-group", "1.1.2", 1, true, "Ensure only trusted users are allowed to control Docker daemon", "Remove untrusted users from the docker group (`gpasswd -d <user> docker`); membership is equivalent to root."),
    CheckDef { key: "audit-dockerd", v17: Some("1.1.3"), v18: Some("1.1.3"), level: 1, scored: true, title: "Ensure auditing is configured for the Docker daemon", remediation: AUDIT_REM },
    audit!("audit-run-containerd", "1.1.4", 1, "/run/containerd"),
    audit!("audit-var-lib-docker", "1.1.5", 1, "/var/lib/docker"),
    audit!("audit-etc-docker", "1.1.6", 1, "/etc/docker"),
    audit!("audit-docker-service", "1.1.7", 2, "docker.service"),
    audit!("audit-containerd-sock", "1.1.8", 2, "containerd.sock"),
    audit!("audit-docker-sock", "1.1.9", 2, "docker.sock"),
    audit!("audit-etc-default-docker", "1.1.10", 2, "/etc/default/docker"),
    audit!("audit-daemon-json", "1.1.11", 2, "/etc/docker/daemon.json"),
    audit!("audit-containerd-config", "1.1.12", 2, "/etc/containerd/config.toml"),
    audit!("audit-etc-sysconfig-docker", "1.1.13", 2, "/etc/sysconfig/docker"),
    audit!("audit-containerd-bin", "1.1.14", 2, "/usr/bin/containerd"),
    audit!("audit-containerd-shim", "1.1.15", 2, "/usr/bin/containerd-shim"),
    audit!("audit-containerd-shim-runc-v1", "1.1.16", 2, "/usr/bin/containerd-shim-runc-v1"),
    audit!("audit-containerd-shim-runc-v2", "1.1.17", 2, "/usr/bin/containerd-shim-runc-v2"),
    audit!("audit-runc", "1.1.18", 2, "/usr/bin/runc"),
    def!("host-hardened", "1.2.1", 1, false, "Ensure the container host has been Hardened", "Harden the host OS (its own CIS benchmark); run only what the container host needs."),
    def!("host-docker-version", "1.2.2", 1, false, "Ensure that the version of Docker is up to date", "Keep Docker Engine on a supported, patched release."),
    // 2.x: v1.8.0 inserts 2.7 (devicemapper) and shifts the rest by one.
    def!("daemon-rootless", "2.1", 1, false, "Run the Docker daemon as a non-root user, if possible", "Run dockerd in rootless mode (dockerd-rootless-setuptool.sh) where the workload allows it."),
    def!("daemon-icc", "2.2", 1, true, "Ensure network traffic is restricted between containers on the default bridge", "Set `\"icc\": false` in daemon.json (or start dockerd with --icc=false) and link containers over user-defined networks."),
    def!("daemon-log-level", "2.3", 1, true, "Ensure the logging level is set to 'info'", "Set `\"log-level\": \"info\"` in daemon.json (or --log-level=info) and drop --debug."),
    def!("daemon-iptables", "2.4", 1, true, "Ensure Docker is allowed to make changes to iptables", "Remove `\"iptables\": false` / --iptables=false so Docker manages its firewall rules."),
    def!("daemon-insecure-registries", "2.5", 1, true, "Ensure insecure registries are not used", "Remove `insecure-registries` / --insecure-registry and serve every registry over verified TLS."),
    def!("daemon-aufs", "2.6", 1, true, "Ensure aufs storage driver is not used", "Use overlay2 (`\"storage-driver\": \"overlay2\"`)."),
    def!("daemon-devicemapper", None, Some("2.7"), 1, true, "Ensure devicemapper storage driver is not used", "Use overlay2 (`\"storage-driver\": \"overlay2\"`); devicemapper is deprecated."),
    def!("daemon-tls", Some("2.7"), Some("2.8"), 1, true, "Ensure TLS authentication for Docker daemon is configured", "When dockerd listens on TCP, set tlsverify with tlscacert, tlscert and tlskey (`\"tlsverify\": true`)."),
    def!("daemon-default-ulimit", Some("2.8"), Some("2.9"), 1, false, "Ensure the default ulimit is configured appropriately", "Set `default-ulimits` in daemon.json (or --default-ulimit) to limits suited to the host."),
    def!("daemon-userns", Some("2.9"), Some("2.10"), 2, true, "Enable user namespace support", "Set `\"userns-remap\": \"default\"` (or a dedicated user) in daemon.json."),
    def!("daemon-cgroup-parent", Some("2.10"), Some("2.11"), 2, true, "Ensure the default cgroup usage has been confirmed", "Leave `cgroup-parent` unset unless a specific cgroup is required, and confirm the one set."),
    def!("daemon-base-device-size", Some("2.11"), Some("2.12"), 2, true, "Ensure base device size is not changed until needed", "Remove the `dm.basesize` storage option unless it is needed."),
    def!("daemon-authorization", Some("2.12"), Some("2.13"), 2, true, "Ensure that authorization for Docker client commands is enabled", "Install an authorization plugin and set `authorization-plugins` in daemon.json."),
    def!("daemon-remote-logging", Some("2.13"), Some("2.14"), 2, true, "Ensure centralized and remote logging is configured", "Set `log-driver` to a remote driver (syslog, journald forwarded, gelf, fluentd, awslogs, splunk, …) with its `log-opts`."),
    def!("daemon-no-new-privileges", Some("2.14"), Some("2.15"), 1, true, "Ensure containers are restricted from acquiring new privileges", "Set `\"no-new-privileges\": true` in daemon.json (or --no-new-privileges)."),
    def!("daemon-live-restore", Some("2.15"), Some("2.16"), 1, true, "Ensure live restore is enabled", "Set `\"live-restore\": true` in daemon.json."),
    def!("daemon-userland-proxy", Some("2.16"), Some("2.17"), 1, true, "Ensure Userland Proxy is Disabled", "Set `\"userland-proxy\": false` in daemon.json."),
    def!("daemon-seccomp", Some("2.17"), Some("2.18"), 2, false, "Ensure that a daemon-wide custom seccomp profile is applied if appropriate", "Keep the default seccomp profile or set `seccomp-profile` to a reviewed custom profile; never `unconfined`."),
    def!("daemon-experimental", Some("2.18"), Some("2.19"), 1, true, "Ensure that experimental features are not implemented in production", "Remove `\"experimental\": true` / --experimental on production hosts."),
    def!("file-docker-service-owner", "3.1", 1, true, "Ensure that the docker.service file ownership is set to root:root", "chown root:root <docker.service path>"),
    def!("file-docker-service-mode", "3.2", 1, true, "Ensure that docker.service file permissions are appropriately set", "chmod 644 <docker.service path>"),
    def!("file-docker-socket-owner", "3.3", 1, true, "Ensure that docker.socket file ownership is set to root:root", "chown root:root <docker.socket path>"),
    def!("file-docker-socket-mode", "3.4", 1, true, "Ensure that docker.socket file permissions are set to 644 or more restrictive", "chmod 644 <docker.socket path>"),
    def!("file-etc-docker-owner", "3.5", 1, true, "Ensure that the /etc/docker directory ownership is set to root:root", "chown root:root /etc/docker"),
    def!("file-etc-docker-mode", "3.6", 1, true, "Ensure that /etc/docker directory permissions are set to 755 or more restrictively", "chmod 755 /etc/docker"),
    def!("file-registry-certs-owner", "3.7", 1, true, "Ensure that registry certificate file ownership is set to root:root", "chown root:root /etc/docker/certs.d/<registry>/*"),
    def!("file-registry-certs-mode", "3.8", 1, true, "Ensure that registry certificate file permissions are set to 444 or more restrictively", "chmod 444 /etc/docker/certs.d/<registry>/*"),
    def!("file-tlscacert-owner", "3.9", 1, true, "Ensure that TLS CA certificate file ownership is set to root:root", "chown root:root <tlscacert>"),
    def!("file-tlscacert-mode", "3.10", 1, true, "Ensure that TLS CA certificate file permissions are set to 444 or more restrictively", "chmod 444 <tlscacert>"),
    def!("file-tlscert-owner", "3.11", 1, true, "Ensure that Docker server certificate file ownership is set to root:root", "chown root:root <tlscert>"),
    def!("file-tlscert-mode", "3.12", 1, true, "Ensure that the Docker server certificate file permissions are set to 444 or more restrictively", "chmod 444 <tlscert>"),
    def!("file-tlskey-owner", "3.13", 1, true, "Ensure that the Docker server certificate key file ownership is set to root:root", "chown root:root <tlskey>"),
    def!("file-tlskey-mode", "3.14", 1, true, "Ensure that the Docker server certificate key file permissions are set to 400", "chmod 400 <tlskey>"),
    def!("file-docker-sock-owner", "3.15", 1, true, "Ensure that the Docker socket file ownership is set to root:docker", "chown root:docker <docker.sock>"),
    def!("file-docker-sock-mode", "3.16", 1, true, "Ensure that the Docker socket file permissions are set to 660 or more restrictively", "chmod 660 <docker.sock>"),
    def!("file-daemon-json-owner", "3.17", 2, true, "Ensure that the daemon.json file ownership is set to root:root", "chown root:root <daemon.json>"),
    def!("file-daemon-json-mode", "3.18", 2, true, "Ensure that daemon.json file permissions are set to 644 or more restrictive", "chmod 644 <daemon.json>"),
    def!("file-etc-default-docker-owner", "3.19", 2, true, "Ensure that the /etc/default/docker file ownership is set to root:root", "chown root:root /etc/default/docker"),
    def!("file-etc-default-docker-mode", "3.20", 2, true, "Ensure that the /etc/default/docker file permissions are set to 644 or more restrictively", "chmod 644 /etc/default/docker"),
    def!("file-etc-sysconfig-docker-mode", "3.21", 2, true, "Ensure that the /etc/sysconfig/docker file permissions are set to 644 or more restrictively", "chmod 644 /etc/sysconfig/docker"),
    def!("file-etc-sysconfig-docker-owner", "3.22", 2, true, "Ensure that the /etc/sysconfig/docker file ownership is set to root:root", "chown root:root /etc/sysconfig/docker"),
    def!("file-containerd-sock-owner", "3.23", 1, true, "Ensure that the Containerd socket file ownership is set to root:root", "chown root:root /run/containerd/containerd.sock"),
    def!("file-containerd-sock-mode", "3.24", 1, true, "Ensure that the Containerd socket file permissions are set to 660 or more restrictively", "chmod 660 /run/containerd/containerd.sock"),
    def!("image-user", "4.1", 1, true, "Ensure that a user for the container has been created", "Create a non-root user in the image (USER) or run the container with --user."),
    def!("image-trusted-base", "4.2", 1, false, "Ensure that containers use only trusted base images", "Pull base images only from trusted registries and verify their signatures (`caisson verify`)."),
    def!("image-minimal", "4.3", 1, false, "Ensure that unnecessary packages are not installed in the container", "Build from minimal bases; review the SBOM (`caisson sbom`) for packages the application does not need."),
    def!("image-patched", "4.4", 1, false, "Ensure images are scanned and rebuilt to include security patches", "Scan images (`caisson host inventory`, `caisson scan`) and rebuild on fixes."),
    def!("image-content-trust", "4.5", 2, true, "Ensure Content trust for Docker is Enabled", "export DOCKER_CONTENT_TRUST=1 in the environment of every docker client."),
    def!("image-healthcheck", "4.6", 1, true, "Ensure that HEALTHCHECK instructions have been added to container images", "Add a HEALTHCHECK instruction to the image."),
    def!("image-update-alone", "4.7", 1, false, "Ensure update instructions are not used alone in Dockerfiles", "Combine the package index update with the install in one RUN (`apt-get update && apt-get install …`)."),
    def!("image-setuid", "4.8", 2, false, "Ensure setuid and setgid permissions are removed", "Remove the setuid/setgid bits the application does not need (`find / -perm /6000 -type f -exec chmod a-s {} +`)."),
    def!("image-add", "4.9", 1, false, "Ensure that COPY is used instead of ADD in Dockerfiles", "Use COPY; fetch remote files with a verified checksum."),
    def!("image-secrets", "4.10", 1, false, "Ensure secrets are not stored in Dockerfiles", "Use build secrets (RUN --mount=type=secret) and runtime secrets, never ENV/ARG."),
    def!("image-verified-packages", "4.11", 2, false, "Ensure only verified packages are installed", "Install packages only from signed repositories and verify checksums of downloads."),
    def!("image-signed-artifacts", "4.12", 1, false, "Ensure all signed artifacts are validated", "Verify signatures of images and artifacts before use (`caisson verify`)."),
    def!("runtime-swarm", "5.1", 1, true, "Ensure swarm mode is not Enabled, if not needed", "Leave swarm mode (`docker swarm leave`) on hosts that do not need it."),
    def!("runtime-apparmor", "5.2", 1, true, "Ensure that, if applicable, an AppArmor Profile is enabled", "Run containers with an AppArmor profile (docker-default or --security-opt apparmor=<profile>), never unconfined."),
    def!("runtime-selinux", "5.3", 2, true, "Ensure that, if applicable, SELinux security options are set", "Start dockerd with --selinux-enabled and run containers with a label (--security-opt label=…), never label=disable."),
    def!("runtime-capabilities", "5.4", 1, true, "Ensure that Linux kernel capabilities are restricted within containers", "Drop all capabilities (--cap-drop ALL) and add back only those needed; do not --cap-add beyond Docker's default set."),
    def!("runtime-privileged", "5.5", 1, true, "Ensure that privileged containers are not used", "Do not run containers with --privileged; grant specific capabilities or devices instead."),
    def!("runtime-sensitive-mounts", "5.6", 1, true, "Ensure sensitive host system directories are not mounted on containers", "Do not bind-mount /, /boot, /dev, /etc, /lib, /proc, /sys or /usr (or below them) read-write; mount what is needed read-only."),
    def!("runtime-sshd", "5.7", 1, true, "Ensure sshd is not run within containers", "Remove sshd from the container; use `docker exec` for access."),
    def!("runtime-privileged-ports", "5.8", 1, true, "Ensure privileged ports are not mapped within containers", "Publish container ports on host ports >= 1024 (-p 8080:80)."),
    def!("runtime-open-ports", "5.9", 1, false, "Ensure that only needed ports are open on the container", "Publish only the ports the service needs; drop -P / unneeded -p."),
    def!("runtime-host-network", "5.10", 1, true, "Ensure that the host's network namespace is not shared", "Do not run containers with --network host."),
    def!("runtime-memory", "5.11", 1, true, "Ensure that the memory usage for containers is limited", "Run containers with --memory (and --memory-swap)."),
    def!("runtime-cpu", "5.12", 1, true, "Ensure that CPU priority is set appropriately on containers", "Run containers with --cpu-shares or --cpus."),
    def!("runtime-readonly-rootfs", "5.13", 1, true, "Ensure that the container's root filesystem is mounted as read only", "Run containers with --read-only and mount writable paths as volumes or tmpfs."),
    def!("runtime-bind-interface", "5.14", 1, true, "Ensure that incoming container traffic is bound to a specific host interface", "Publish ports on a specific address (-p 127.0.0.1:8080:80), not 0.0.0.0 or ::."),
    def!("runtime-restart-policy", "5.15", 1, true, "Ensure that the 'on-failure' container restart policy is set to '5'", "Use --restart on-failure:5 (or fewer retries) instead of always / unless-stopped."),
    def!("runtime-host-pid", "5.16", 1, true, "Ensure that the host's process namespace is not shared", "Do not run containers with --pid host."),
    def!("runtime-host-ipc", "5.17", 1, true, "Ensure that the host's IPC namespace is not shared", "Do not run containers with --ipc host."),
    def!("runtime-devices", "5.18", 1, false, "Ensure that host devices are not directly exposed to containers", "Expose host devices (--device) only when needed, with the least permissions (r, w, m)."),
    def!("runtime-ulimits", "5.19", 1, false, "Ensure that the default ulimit is overwritten at runtime if needed", "Override the daemon's default ulimits (--ulimit) only where a container needs it."),
    def!("runtime-mount-propagation", "5.20", 1, true, "Ensure mount propagation mode is not set to shared", "Do not mount volumes with shared or rshared propagation."),
    def!("runtime-host-uts", "5.21", 1, true, "Ensure that the host's UTS namespace is not shared", "Do not run containers with --uts host."),
    def!("runtime-seccomp", "5.22", 1, true, "Ensure the default seccomp profile is not Disabled", "Do not run containers with --security-opt seccomp=unconfined (or --privileged)."),
    def!("runtime-exec-privileged", "5.23", 2, false, "Ensure that docker exec commands are not used with the privileged option", "Do not use `docker exec --privileged`; review the daemon's audit log for it."),
    def!("runtime-exec-root", "5.24", 2, false, "Ensure that docker exec commands are not used with the user=root option", "Do not use `docker exec --user root`; review the daemon's audit log for it."),
    def!("runtime-cgroup-parent", "5.25", 1, true, "Ensure that cgroup usage is confirmed", "Run containers under the default cgroup parent unless a specific one is needed (no --cgroup-parent)."),
    def!("runtime-no-new-privileges", "5.26", 1, true, "Ensure that the container is restricted from acquiring additional privileges", "Run containers with --security-opt no-new-privileges (or set it daemon-wide)."),
    def!("runtime-health", "5.27", 1, true, "Ensure that container health is checked at runtime", "Add a HEALTHCHECK to the image or run with --health-cmd."),
    def!("runtime-latest-image", "5.28", 1, false, "Ensure that Docker commands always make use of the latest version of their image", "Pull images by digest or with --pull always so the intended version runs."),
    def!("runtime-pids-limit", "5.29", 1, true, "Ensure that the PIDs cgroup limit is used", "Run containers with --pids-limit."),
    def!("runtime-default-bridge", "5.30", 2, false, "Ensure that Docker's default bridge \"docker0\" is not used", "Attach containers to user-defined networks (docker network create) instead of the default bridge."),
    def!("runtime-host-userns", "5.31", 1, true, "Ensure that the host's user namespaces are not shared", "Do not run containers with --userns host."),
    def!("runtime-docker-sock", "5.32", 1, true, "Ensure that the Docker socket is not mounted inside any containers", "Do not mount the Docker socket into containers; use a narrowly scoped API proxy if one is needed."),
    def!("ops-image-sprawl", "6.1", 1, false, "Ensure that image sprawl is avoided", "Remove unused images (`docker image prune -a`) and keep only tagged, in-use ones."),
    def!("ops-container-sprawl", "6.2", 1, false, "Ensure that container sprawl is avoided", "Remove stopped containers (`docker container prune`)."),
    def!("swarm-managers", "7.1", 1, true, "Ensure that the minimum number of manager nodes have been created in a swarm", "Keep the number of swarm managers to the minimum needed for fault tolerance."),
    def!("swarm-bind-interface", "7.2", 1, true, "Ensure that swarm services are bound to a specific host interface", "Initialise the swarm with --listen-addr on a specific interface."),
    def!("swarm-overlay-encryption", "7.3", 1, true, "Ensure that all Docker swarm overlay networks are encrypted", "Create overlay networks with --opt encrypted."),
    def!("swarm-secrets", "7.4", 1, false, "Ensure that Docker's secret management commands are used for managing secrets in a swarm cluster", "Use `docker secret` for service secrets."),
    def!("swarm-autolock", "7.5", 1, true, "Ensure that swarm manager is run in auto-lock mode", "Enable auto-lock (`docker swarm update --autolock=true`)."),
    def!("swarm-autolock-rotation", "7.6", 1, false, "Ensure that the swarm manager auto-lock key is rotated periodically", "Rotate the unlock key (`docker swarm unlock-key --rotate`) on a schedule."),
    def!("swarm-node-cert-rotation", "7.7", 1, false, "Ensure that node certificates are rotated as appropriate", "Set --cert-expiry to a suitable period."),
    def!("swarm-ca-rotation", "7.8", 1, false, "Ensure that CA certificates are rotated as appropriate", "Rotate the root CA (`docker swarm ca --rotate`) on a schedule."),
    def!("swarm-plane-separation", "7.9", 1, false, "Ensure that management plane traffic is separated from data plane traffic", "Initialise the swarm with separate --advertise-addr and --data-path-addr interfaces."),
];

/// The item with this key.
pub fn by_key(key: &str) -> Option<&'static CheckDef> {
    CHECKS.iter().find(|c| c.key == key)
}

/// The item numbered `id` in `b`.
pub fn by_id(b: Benchmark, id: &str) -> Option<&'static CheckDef> {
    CHECKS.iter().find(|c| c.id(b) == Some(id))
}

/// Whether `id` is selected by a `--checks` entry: the entry itself or a
/// section prefix (`5` selects `5.4`, `1.1` selects `1.1.3`).
pub fn selected_by(id: &str, pattern: &str) -> bool {
    id == pattern
        || id
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.starts_with('.'))
}
