//! The registry (`caisson serve`): a StatefulSet of one replica (the
//! metadata database is SQLite on the volume, one writer), its
//! PersistentVolumeClaim template and a Service.

use serde_json::json;

use crate::{labels, pod_security, restricted_container, Component, Doc, Options};

/// The port `caisson serve` listens on in the pod and the Service exposes.
pub const PORT: u16 = 5000;

const DATA: &str = "/var/lib/caisson";
const TLS: &str = "/etc/caisson/tls";

pub(crate) fn documents(opts: &Options, name: &str) -> Vec<Doc> {
    let ns = opts.namespace.as_str();
    let labels = labels(Component::Registry, name);
    let mut args = vec![
        "serve".to_string(),
        "--data-dir".into(),
        DATA.into(),
        "--listen".into(),
        format!("0.0.0.0:{PORT}"),
    ];
    let mut mounts = vec![
        json!({"name": "data", "mountPath": DATA}),
        json!({"name": "tmp", "mountPath": "/tmp"}),
    ];
    let mut volumes = vec![json!({"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}})];
    let scheme = match &opts.tls_secret {
        Some(secret) => {
            args.extend([
                "--tls-cert".to_string(),
                format!("{TLS}/tls.crt"),
                "--tls-key".into(),
                format!("{TLS}/tls.key"),
            ]);
            mounts.push(json!({"name": "tls", "mountPath": TLS, "readOnly": true}));
            volumes.push(json!({"name": "tls", "secret": {"secretName": secret}}));
            "https"
        }
        None => {
            // Plain HTTP is refused on a non-loopback address without it:
            // TLS is then terminated in front (an Ingress, a mesh).
            args.push("--allow-insecure-http".into());
            "http"
        }
    };
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"selector": labels,
                 "ports": [{"name": scheme, "port": PORT, "targetPort": PORT, "protocol": "TCP"}]},
    });
    // `/v2/` answers 401 without credentials; a TCP probe is enough to know
    // the listener is up (the server binds only after opening its stores).
    let probe = json!({"tcpSocket": {"port": PORT}, "periodSeconds": 10, "timeoutSeconds": 2});
    let statefulset = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    // The registry never calls the Kubernetes API.
                    "automountServiceAccountToken": false,
                    "securityContext": pod_security(false),
                    "terminationGracePeriodSeconds": 30,
                    "containers": [{
                        "name": "registry",
                        "image": opts.image,
                        "args": args,
                        "env": [{
                            // First start only: the `admin` user's password. Without
                            // the Secret one is generated and printed once in the log.
                            "name": "CAISSON_ADMIN_PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": format!("{name}-admin"),
                                                           "key": "password", "optional": true}},
                        }],
                        "ports": [{"name": scheme, "containerPort": PORT, "protocol": "TCP"}],
                        "securityContext": restricted_container(false, &[]),
                        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                      "limits": {"cpu": "2", "memory": "2Gi"}},
                        "readinessProbe": probe,
                        "livenessProbe": probe,
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data", "labels": labels},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": opts.storage}}},
            }],
        },
    });
    vec![
        Doc {
            comment: Some(format!(
                "The registry's address inside the cluster: {scheme}://{name}.{ns}.svc:{PORT}"
            )),
            body: service,
        },
        Doc {
            comment: Some(format!(
                "One replica: metadata is SQLite on the volume (one writer). Blobs, metadata,\n\
                 token and audit keys live on the `data` claim ({DATA}). Runs as the image's\n\
                 non-root user 65532 (fsGroup makes the volume writable), read-only root\n\
                 filesystem, no capabilities, no service account token."
            )),
            body: statefulset,
        },
    ]
}
