//! Builders for hand-made facts.
#![allow(dead_code)]

use caisson_cis::{
    AuditFacts, ConfigFile, ContainerFacts, DaemonFacts, FileKind, FileStat, FileState, GroupFact,
    HostFacts, Options, Report,
};
use serde_json::{json, Value};

/// A running container's inspect document, hardened: every 5.x check passes.
pub fn hardened_inspect(name: &str) -> Value {
    json!({
        "Id": format!("{:0<64}", name.len()),
        "Name": format!("/{name}"),
        "Image": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "State": {"Status": "running", "Running": true, "Pid": 42,
                  "Health": {"Status": "healthy", "FailingStreak": 0, "Log": []}},
        "AppArmorProfile": "docker-default",
        "ProcessLabel": "system_u:system_r:container_t:s0:c1,c2",
        "Config": {"User": "1000", "Image": "example/app:1"},
        "HostConfig": {
            "Privileged": false, "CapAdd": null, "CapDrop": ["ALL"],
            "NetworkMode": "appnet", "PidMode": "", "IpcMode": "private", "UTSMode": "", "UsernsMode": "",
            "Memory": 67108864, "CpuShares": 512, "NanoCpus": 0, "PidsLimit": 64,
            "ReadonlyRootfs": true, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "SecurityOpt": ["no-new-privileges"], "CgroupParent": "", "Devices": [], "Ulimits": null
        },
        "Mounts": [{"Type": "volume", "Name": "data", "Source": "/var/lib/docker/volumes/data/_data",
                    "Destination": "/data", "RW": true, "Propagation": ""}],
        "NetworkSettings": {
            "Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
            "Networks": {"appnet": {}}
        }
    })
}

/// Applies a JSON merge patch (objects merge, other values replace).
pub fn patch(mut base: Value, p: Value) -> Value {
    merge(&mut base, p);
    base
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

pub fn container(inspect: Value) -> ContainerFacts {
    ContainerFacts {
        inspect: serde_json::from_value(inspect).expect("inspect document"),
        top: Some(top(&["sleep 3600"])),
        image: None,
        history: None,
        setuid_files: None,
    }
}

pub fn top(cmds: &[&str]) -> bollard::models::ContainerTopResponse {
    serde_json::from_value(json!({
        "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "Processes": cmds.iter().enumerate().map(|(i, c)| json!(["root", (100 + i).to_string(), "1", "0", "10:00", "?", "00:00:00", c])).collect::<Vec<_>>()
    }))
    .expect("top document")
}

pub fn stat(uid: u32, gid: u32, mode: u32, kind: FileKind) -> FileState {
    FileState::Present(FileStat {
        kind,
        uid,
        gid,
        mode,
        owner: None,
        group: None,
    })
}

/// A host whose daemon and files comply, with an engine `/info`.
pub fn good_host() -> HostFacts {
    let mut h = HostFacts {
        root: "/".into(),
        info: Some(info(json!({}))),
        daemon: daemon(
            &[
                "/usr/bin/dockerd",
                "-H",
                "fd://",
                "--containerd=/run/containerd/containerd.sock",
            ],
            Some(
                r#"{
            "icc": false, "log-level": "info", "userns-remap": "default", "authorization-plugins": ["authz"],
            "no-new-privileges": true, "userland-proxy": false, "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}}
        }"#,
            ),
        ),
        audit: AuditFacts {
            source: Some("auditctl -l".into()),
            rules: Vec::new(),
        },
        mounts: Some(caisson_cis::parse::mountinfo(
            "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n30 22 8:2 / /var/lib/docker rw - xfs /dev/sdb1 rw\n",
        )),
        docker_group: GroupFact::Present {
            gid: 998,
            members: vec![],
        },
        content_trust: Some("1".into()),
        ..Default::default()
    };
    for p in [
        "/lib/systemd/system/docker.service",
        "/lib/systemd/system/docker.socket",
        "/etc/docker/daemon.json",
    ] {
        h.files.insert(p.into(), stat(0, 0, 0o644, FileKind::File));
    }
    h.files
        .insert("/etc/docker".into(), stat(0, 0, 0o755, FileKind::Dir));
    h.files.insert(
        "/var/run/docker.sock".into(),
        stat(0, 998, 0o660, FileKind::Socket),
    );
    h.files.insert(
        "/run/containerd/containerd.sock".into(),
        stat(0, 0, 0o660, FileKind::Socket),
    );
    for p in ["/usr/bin/dockerd", "/usr/bin/containerd", "/usr/bin/runc"] {
        h.files.insert(p.into(), stat(0, 0, 0o755, FileKind::File));
    }
    h.files
        .insert("/run/containerd".into(), stat(0, 0, 0o711, FileKind::Dir));
    h.files
        .insert("/var/lib/docker".into(), stat(0, 0, 0o710, FileKind::Dir));
    let watched: Vec<String> = h
        .files
        .keys()
        .map(|p| format!("-w {p} -p rwxa -k docker"))
        .collect();
    h.audit.rules = watched;
    h
}

pub fn daemon(argv: &[&str], json: Option<&str>) -> DaemonFacts {
    DaemonFacts {
        pid: Some(4242),
        cmdline: Some(argv.iter().map(|s| s.to_string()).collect()),
        config_path: "/etc/docker/daemon.json".into(),
        config: json.map_or(ConfigFile::Absent, |j| {
            caisson_cis::parse::daemon_json(j.as_bytes())
        }),
    }
}

/// A `/info` document: compliant defaults patched with `p`.
pub fn info(p: Value) -> bollard::models::SystemInfo {
    let base = json!({
        "ServerVersion": "28.2.2", "Driver": "overlay2", "DockerRootDir": "/var/lib/docker",
        "LoggingDriver": "syslog", "LiveRestoreEnabled": true, "ExperimentalBuild": false, "Debug": false,
        "SecurityOptions": ["name=seccomp,profile=builtin", "name=userns"],
        "Swarm": {"LocalNodeState": "inactive"},
        "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8", "::1/128"], "IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": true}}},
        "Plugins": {"Authorization": ["authz"]},
        "Images": 3, "Containers": 2, "ContainersRunning": 2, "ContainersStopped": 0, "ContainersPaused": 0
    });
    serde_json::from_value(patch(base, p)).expect("info document")
}

pub fn run(host: &HostFacts, containers: &[ContainerFacts]) -> Report {
    caisson_cis::run(host, containers, &[], &Options::default()).expect("run")
}

pub fn result<'r>(r: &'r Report, id: &str) -> &'r caisson_cis::CheckResult {
    r.results
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no result {id}"))
}
