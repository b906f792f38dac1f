//! Who talks: a Kubernetes owner (namespace + Deployment/StatefulSet/
//! DaemonSet/Job name, pod labels without the controller's hash labels) when
//! the container's labels say so, else the Docker Compose service, else the
//! container name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Labels the kubelet (dockershim, cri-dockerd) sets on containers.
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";
const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";

/// Labels a controller adds per revision or per pod: they change on every
/// rollout, so a selector must not use them.
const VOLATILE_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/controller-uid",
    "controller-uid",
    "batch.kubernetes.io/job-completion-index",
];

/// Label prefixes that belong to the runtime, not to the pod.
const RUNTIME_PREFIXES: &[&str] = &[
    "io.kubernetes.",
    "annotation.",
    "com.docker.",
    "org.opencontainers.",
    "io.cri-containerd.",
];

/// What kind of name a workload has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// A Kubernetes owner: `namespace` is the pod's namespace.
    K8s,
    /// A Docker Compose service: `namespace` is the Compose project.
    Compose,
    /// A plain container: `name` is the container name.
    Container,
}

/// A workload: the unit policies are written for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub kind: WorkloadKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// Pod labels (Kubernetes only), without the volatile ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Workload {
    /// The workload of a container with this name and these labels.
    pub fn from_container(name: &str, labels: &BTreeMap<String, String>) -> Self {
        if let (Some(pod), Some(ns)) = (labels.get(POD_NAME_LABEL), labels.get(POD_NAMESPACE_LABEL))
        {
            let pod_labels: BTreeMap<String, String> = labels
                .iter()
                .filter(|(k, _)| {
                    !VOLATILE_LABELS.contains(&k.as_str())
                        && !RUNTIME_PREFIXES.iter().any(|p| k.starts_with(p))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            return Self {
                kind: WorkloadKind::K8s,
                namespace: Some(ns.clone()),
                name: owner_name(pod, labels),
                labels: pod_labels,
            };
        }
        if let Some(service) = labels.get(COMPOSE_SERVICE_LABEL) {
            return Self {
                kind: WorkloadKind::Compose,
                namespace: labels.get(COMPOSE_PROJECT_LABEL).cloned(),
                name: service.clone(),
                labels: BTreeMap::new(),
            };
        }
        Self {
            kind: WorkloadKind::Container,
            namespace: None,
            name: name.trim_start_matches('/').to_string(),
            labels: BTreeMap::new(),
        }
    }

    /// `namespace/name` (or `name`), for comments and reports.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The characters Kubernetes uses for generated name suffixes
/// (`k8s.io/apimachinery/pkg/util/rand`: no vowels, no 0/1/3).
fn is_hash_char(c: char) -> bool {
    "bcdfghjklmnpqrstvwxz2456789".contains(c)
}

fn strip_suffix<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    name.strip_suffix(suffix)?.strip_suffix('-')
}

/// The owner of a pod, from its name and labels: a Deployment's pod is
/// `<deployment>-<pod-template-hash>-<5>`, a StatefulSet's `<name>-<ordinal>`,
/// a DaemonSet's and a Job's `<name>-<5>` (a Job's pods also carry
/// `job-name`). Without the labels, the generated suffixes are recognised by
/// their alphabet.
pub fn owner_name(pod: &str, labels: &BTreeMap<String, String>) -> String {
    if let Some(job) = labels
        .get("batch.kubernetes.io/job-name")
        .or_else(|| labels.get("job-name"))
    {
        return job.clone();
    }
    let Some((head, last)) = pod.rsplit_once('-') else {
        return pod.to_string();
    };
    if let Some(hash) = labels.get("pod-template-hash") {
        if let Some(owner) = strip_suffix(head, hash) {
            return owner.to_string();
        }
    }
    if (labels.contains_key("statefulset.kubernetes.io/pod-name")
        || labels.contains_key("apps.kubernetes.io/pod-index"))
        && !last.is_empty()
        && last.chars().all(|c| c.is_ascii_digit())
    {
        return head.to_string();
    }
    let generated = |s: &str| s.len() == 5 && s.chars().all(is_hash_char);
    if generated(last) {
        // <deployment>-<6..10 hash>-<5>, else <daemonset|job>-<5>.
        if let Some((owner, rs)) = head.rsplit_once('-') {
            if (6..=10).contains(&rs.len()) && rs.chars().all(is_hash_char) && !owner.is_empty() {
                return owner.to_string();
            }
        }
        if !head.is_empty() {
            return head.to_string();
        }
    }
    pod.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn deployment_pod_becomes_its_owner_without_hash_labels() {
        let l = labels(&[
            (POD_NAME_LABEL, "web-7d9c6b5f8d-x2kqz"),
            (POD_NAMESPACE_LABEL, "shop"),
            ("io.kubernetes.container.name", "web"),
            ("pod-template-hash", "7d9c6b5f8d"),
            ("app", "web"),
        ]);
        let w = Workload::from_container("k8s_web_web-7d9c6b5f8d-x2kqz_shop_0", &l);
        assert_eq!(w.kind, WorkloadKind::K8s);
        assert_eq!(w.display(), "shop/web");
        assert_eq!(w.labels, labels(&[("app", "web")]));
    }

    #[test]
    fn owner_names_from_pod_names() {
        let none = BTreeMap::new();
        // Deployment without labels: both generated suffixes go.
        assert_eq!(owner_name("api-5f6b7c8d9f-q7w2x", &none), "api");
        // StatefulSet.
        let sts = labels(&[("statefulset.kubernetes.io/pod-name", "db-0")]);
        assert_eq!(owner_name("db-0", &sts), "db");
        // DaemonSet: one suffix.
        assert_eq!(owner_name("node-exporter-x8k2z", &none), "node-exporter");
        // Job.
        let job = labels(&[("job-name", "migrate")]);
        assert_eq!(owner_name("migrate-abcde", &job), "migrate");
        // A plain pod name with a real word at the end stays.
        assert_eq!(owner_name("debug-shell", &none), "debug-shell");
        assert_eq!(owner_name("db-0", &none), "db-0");
    }

    #[test]
    fn compose_service_then_container_name() {
        let l = labels(&[
            (COMPOSE_SERVICE_LABEL, "api"),
            (COMPOSE_PROJECT_LABEL, "shop"),
        ]);
        assert_eq!(
            Workload::from_container("shop-api-1", &l).display(),
            "shop/api"
        );
        let w = Workload::from_container("/plain", &BTreeMap::new());
        assert_eq!(
            (w.kind, w.name.as_str()),
            (WorkloadKind::Container, "plain")
        );
    }
}
