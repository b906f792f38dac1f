//! The host agent and the runtime sensor: one pod per node (DaemonSet),
//! each with exactly the host access its mechanisms need (see
//! [`crate::EXEMPTIONS`] for the reasons).

use serde_json::{json, Value as Json};

use crate::{labels, pod_security, restricted_container, Component, Doc, Options};

const SOCKET: &str = "/var/run/docker.sock";
const DOCKER_HOST: &str = "unix:///var/run/docker.sock";
const SERVER_CA: &str = "/etc/caisson/server-ca";

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

fn host_path(name: &str, path: &str, kind: &str) -> Json {
    json!({"name": name, "hostPath": {"path": path, "type": kind}})
}

/// `--server`, the robot's credentials from the Secret `<name>-robot`
/// (keys `user`, `password`) and, with a CA Secret, `--server-ca`.
fn server_wiring(
    opts: &Options,
    name: &str,
    args: &mut Vec<String>,
    mounts: &mut Vec<Json>,
    volumes: &mut Vec<Json>,
) -> Json {
    args.extend(["--server".to_string(), opts.server_url()]);
    if let Some(ca) = &opts.server_ca_secret {
        args.extend(["--server-ca".to_string(), format!("{SERVER_CA}/ca.crt")]);
        mounts.push(json!({"name": "server-ca", "mountPath": SERVER_CA, "readOnly": true}));
        volumes.push(json!({"name": "server-ca", "secret": {"secretName": ca, "items": [{"key": "ca.crt", "path": "ca.crt"}]}}));
    }
    let secret = format!("{name}-robot");
    json!([
        {"name": "CAISSON_USER", "valueFrom": {"secretKeyRef": {"name": secret, "key": "user"}}},
        {"name": "CAISSON_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}},
    ])
}

fn daemonset(
    opts: &Options,
    name: &str,
    component: Component,
    pod_extra: Json,
    container: Json,
    volumes: Vec<Json>,
) -> Json {
    let labels = labels(component, name);
    let mut spec = json!({
        // Neither component calls the Kubernetes API.
        "automountServiceAccountToken": false,
        "securityContext": pod_security(true),
        "terminationGracePeriodSeconds": 10,
        // Run on every node, control plane included.
        "tolerations": [{"operator": "Exists"}],
        "containers": [container],
        "volumes": volumes,
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), pod_extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": opts.namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    })
}

pub(crate) fn host_agent(opts: &Options, name: &str) -> Vec<Doc> {
    let mut args = strings(&[
        "host",
        "agent",
        "--docker-host",
        DOCKER_HOST,
        "--root",
        "/host",
        "--queue",
        "/var/lib/caisson/agent-queue",
    ]);
    let mut mounts = vec![
        json!({"name": "docker-sock", "mountPath": SOCKET}),
        json!({"name": "host-root", "mountPath": "/host", "readOnly": true, "mountPropagation": "None"}),
        json!({"name": "queue", "mountPath": "/var/lib/caisson/agent-queue"}),
        json!({"name": "tmp", "mountPath": "/tmp"}),
    ];
    let mut volumes = vec![
        host_path("docker-sock", SOCKET, "Socket"),
        host_path("host-root", "/", "Directory"),
        host_path(
            "queue",
            &format!("/var/lib/caisson/{name}-queue"),
            "DirectoryOrCreate",
        ),
        json!({"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}),
    ];
    let env = server_wiring(opts, name, &mut args, &mut mounts, &mut volumes);
    let container = json!({
        "name": "agent",
        "image": opts.image,
        "args": args,
        "env": env,
        "securityContext": restricted_container(true, &[]),
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"},
                      "limits": {"cpu": "500m", "memory": "256Mi"}},
        "volumeMounts": mounts,
    });
    let ds = daemonset(
        opts,
        name,
        Component::HostAgent,
        json!({}),
        container,
        volumes,
    );
    vec![Doc {
        comment: Some(
            "caisson host agent: reports this node's containers and CIS Docker Benchmark.\n\
             Host access, each needed:\n\
             - docker-sock (hostPath Socket): the engine API (containers, images, events).\n\
               Whoever reaches it controls the node's containers: the pod holds no other\n\
               privilege and runs no shell.\n\
             - host-root (hostPath /, read-only, at /host): the benchmark's files under /etc,\n\
               /usr, /lib, /var/lib/docker, /run and /proc (`--root /host`).\n\
             - queue (hostPath DirectoryOrCreate): reports queued while the server is down\n\
               survive a pod replacement.\n\
             uid 0 with every capability dropped: root owns the socket and the files read.\n\
             Credentials: Secret <name>-robot (user, password) of a robot with hosts:report."
                .replace("<name>", name),
        ),
        body: ds,
    }]
}

pub(crate) fn sensor(opts: &Options, name: &str) -> Vec<Doc> {
    let mut args = strings(&[
        "sensor",
        "run",
        "--docker-host",
        DOCKER_HOST,
        "--alerts",
        "-",
        "--queue",
        "/var/lib/caisson/alert-queue",
    ]);
    let mut mounts = vec![
        json!({"name": "docker-sock", "mountPath": SOCKET}),
        json!({"name": "cgroup", "mountPath": "/sys/fs/cgroup", "readOnly": true}),
        json!({"name": "docker-data", "mountPath": "/var/lib/docker", "readOnly": true, "mountPropagation": "HostToContainer"}),
        json!({"name": "queue", "mountPath": "/var/lib/caisson/alert-queue"}),
        json!({"name": "tmp", "mountPath": "/tmp"}),
    ];
    let mut volumes = vec![
        host_path("docker-sock", SOCKET, "Socket"),
        host_path("cgroup", "/sys/fs/cgroup", "Directory"),
        host_path("docker-data", "/var/lib/docker", "Directory"),
        host_path(
            "queue",
            &format!("/var/lib/caisson/{name}-queue"),
            "DirectoryOrCreate",
        ),
        json!({"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}),
    ];
    let env = server_wiring(opts, name, &mut args, &mut mounts, &mut volumes);
    let container = json!({
        "name": "sensor",
        "image": opts.image,
        "args": args,
        "env": env,
        "securityContext": restricted_container(true, &["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH"]),
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"cpu": "1", "memory": "512Mi"}},
        "volumeMounts": mounts,
    });
    let ds = daemonset(
        opts,
        name,
        Component::Sensor,
        json!({"hostPID": true, "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"}),
        container,
        volumes,
    );
    vec![Doc {
        comment: Some(
            "caisson sensor run: exec, connection and file events of every container here.\n\
             The one component that needs privileges; not `privileged: true`, only:\n\
             - hostPID: the process connector and /proc see other pods' processes only from\n\
               the host pid namespace.\n\
             - hostNetwork: the connector and conntrack events work only in the initial\n\
               network namespace (and the host's connection table is the one read).\n\
             - capabilities SYS_ADMIN (fanotify, mount marks), NET_ADMIN (netlink multicast\n\
               groups), SYS_PTRACE (/proc/<pid>/exe, root, fd of other users' processes),\n\
               DAC_READ_SEARCH (lstat below container upper layers); all others dropped.\n\
             - docker-sock: container names, images and addresses for attribution.\n\
             - cgroup (read-only): memory and pids of each container against its limits.\n\
             - docker-data (read-only): overlay upper layers (drop-and-execute rule).\n\
             - queue: alert batches queued while the server is down survive a restart.\n\
             uid 0: capabilities are only effective for root. Alerts go to stdout (the pod\n\
             log) and to the server; credentials: Secret <name>-robot (user, password) of a\n\
             robot with alerts:write and profiles:sync."
                .replace("<name>", name),
        ),
        body: ds,
    }]
}
