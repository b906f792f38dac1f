//! Kubernetes manifests for Caisson's own components, least privilege
//! spelled out: the registry (`caisson serve`) as a StatefulSet with a
//! volume, the admission webhook (from `caisson-admission`), the host agent
//! and the runtime sensor as DaemonSets holding exactly the host access
//! each needs. Every grant beyond the Pod Security Standards' Restricted
//! profile is listed in [`EXEMPTIONS`] with its reason; the YAML carries the
//! same reasons as comments, and the tests check that `caisson policy
//! check` finds those violations and no others.
//!
//! Pure functions: options in, YAML text out (no cluster, no I/O).

mod agents;
mod registry;

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value as Json};

/// The components `caisson deploy manifests --component` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Registry,
    Admission,
    HostAgent,
    Sensor,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::Registry,
        Component::Admission,
        Component::HostAgent,
        Component::Sensor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Component::Registry => "registry",
            Component::Admission => "admission",
            Component::HostAgent => "host-agent",
            Component::Sensor => "sensor",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Component {
    type Err = DeployError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Component::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                DeployError::Options(format!(
                    "unknown component {s:?} (registry, admission, host-agent or sensor)"
                ))
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    Options(String),
    #[error("the admission webhook manifests")]
    Admission(#[source] caisson_admission::AdmissionError),
    #[error("writing {kind} as YAML")]
    Yaml {
        kind: String,
        #[source]
        source: serde_norway::Error,
    },
}

/// Options shared by every component; each uses the ones that apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub namespace: String,
    /// Object name; default `caisson-<component>`.
    pub name: Option<String>,
    /// The Caisson image (`scripts/image` builds it), by tag or digest.
    pub image: String,
    /// Registry: the `kubernetes.io/tls` Secret holding its certificate;
    /// `None` serves plain HTTP (TLS terminated in front of it).
    pub tls_secret: Option<String>,
    /// Registry: size of the data volume (`10Gi`).
    pub storage: String,
    /// Agents: the registry's base URL; default the registry component's
    /// Service in the same namespace.
    pub server: Option<String>,
    /// Agents: a Secret whose `ca.crt` is the server's CA.
    pub server_ca_secret: Option<String>,
    /// Admission only: the rest of its options (service name = `name`).
    pub admission: Option<caisson_admission::manifests::ManifestOptions>,
}

impl Options {
    pub fn new(namespace: impl Into<String>, image: impl Into<String>) -> Options {
        Options {
            namespace: namespace.into(),
            name: None,
            image: image.into(),
            tls_secret: None,
            storage: "10Gi".into(),
            server: None,
            server_ca_secret: None,
            admission: None,
        }
    }

    fn name(&self, c: Component) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("caisson-{}", c.as_str()))
    }

    /// The registry's URL inside the cluster, as the agents reach it.
    fn server_url(&self) -> String {
        self.server.clone().unwrap_or_else(|| {
            let scheme = if self.tls_secret.is_some() {
                "https"
            } else {
                "http"
            };
            format!(
                "{scheme}://caisson-registry.{}.svc:{}",
                self.namespace,
                registry::PORT
            )
        })
    }
}

/// A grant beyond the Restricted profile and why it is needed: the
/// `caisson policy check` violation it causes (`policy` and `check`, the
/// check id in the JSON output; `reason` as the message prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exemption {
    pub component: Component,
    pub policy: &'static str,
    pub check: &'static str,
    pub reason: &'static str,
    pub why: &'static str,
}

const AGENT_MOUNTS: &str = "the Docker socket (the engine API: containers, images, events), the host's root filesystem read-only at /host (the CIS Docker Benchmark reads /etc, /usr, /lib, /var/lib/docker, /run and /proc), and its report queue on the node so queued reports survive a pod replacement";
const AGENT_ROOT: &str = "uid 0 owns the Docker socket and most files the benchmark reads; every capability is dropped, so root grants file ownership and nothing more";
const SENSOR_NAMESPACES: &str = "hostPID: the netlink process connector and /proc show every container's processes only from the host pid namespace; hostNetwork: the connector and conntrack events work only in the initial network namespace";
const SENSOR_MOUNTS: &str = "the Docker socket (container names, images, addresses), /sys/fs/cgroup read-only (memory and pids near their limits), /var/lib/docker read-only (overlay upper layers, for drop-and-execute), and its alert queue on the node";
const SENSOR_CAPS: &str = "SYS_ADMIN: fanotify_init and mount marks (file events, protect mode); NET_ADMIN: joining the process connector and conntrack multicast groups; SYS_PTRACE: /proc/<pid>/exe, cwd, fd, root and mountinfo of other users' processes; DAC_READ_SEARCH: lstat below a container's upper layer whatever its directory modes. Every other capability is dropped";
const SENSOR_ROOT: &str =
    "the capabilities above are only effective for uid 0 (a non-root process loses them at exec)";

const fn ex(
    component: Component,
    policy: &'static str,
    check: &'static str,
    reason: &'static str,
    why: &'static str,
) -> Exemption {
    Exemption {
        component,
        policy,
        check,
        reason,
        why,
    }
}

/// Every documented exemption. Components not listed (the registry, the
/// webhook) pass the default policy set, `pss-restricted` included, and
/// `pss-baseline`, without any.
pub const EXEMPTIONS: &[Exemption] = &[
    ex(
        Component::HostAgent,
        "pss-baseline",
        "hostPathVolumes",
        "hostPath volumes",
        AGENT_MOUNTS,
    ),
    ex(
        Component::HostAgent,
        "pss-restricted",
        "restrictedVolumes",
        "restricted volume types",
        AGENT_MOUNTS,
    ),
    ex(
        Component::HostAgent,
        "pss-restricted",
        "runAsNonRoot",
        "runAsNonRoot != true",
        AGENT_ROOT,
    ),
    ex(
        Component::HostAgent,
        "pss-restricted",
        "runAsUser",
        "runAsUser=0",
        AGENT_ROOT,
    ),
    ex(
        Component::Sensor,
        "pss-baseline",
        "hostNamespaces",
        "host namespaces",
        SENSOR_NAMESPACES,
    ),
    ex(
        Component::Sensor,
        "pss-baseline",
        "hostPathVolumes",
        "hostPath volumes",
        SENSOR_MOUNTS,
    ),
    ex(
        Component::Sensor,
        "pss-baseline",
        "capabilities_baseline",
        "non-default capabilities",
        SENSOR_CAPS,
    ),
    ex(
        Component::Sensor,
        "pss-restricted",
        "hostNamespaces",
        "host namespaces",
        SENSOR_NAMESPACES,
    ),
    ex(
        Component::Sensor,
        "pss-restricted",
        "restrictedVolumes",
        "restricted volume types",
        SENSOR_MOUNTS,
    ),
    ex(
        Component::Sensor,
        "pss-restricted",
        "capabilities_restricted",
        "unrestricted capabilities",
        SENSOR_CAPS,
    ),
    ex(
        Component::Sensor,
        "pss-restricted",
        "runAsNonRoot",
        "runAsNonRoot != true",
        SENSOR_ROOT,
    ),
    ex(
        Component::Sensor,
        "pss-restricted",
        "runAsUser",
        "runAsUser=0",
        SENSOR_ROOT,
    ),
];

/// The exemptions of one component.
pub fn exemptions(c: Component) -> impl Iterator<Item = &'static Exemption> {
    EXEMPTIONS.iter().filter(move |e| e.component == c)
}

/// A DNS-1123 label: lowercase alphanumerics and `-`, at most 63 characters.
fn check_label(what: &str, s: &str) -> Result<(), DeployError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(DeployError::Options(format!(
            "{what} {s:?} is not a DNS label (lowercase letters, digits, '-', at most 63)"
        )))
    }
}

/// The manifests of `component` as multi-document YAML.
pub fn generate(component: Component, opts: &Options) -> Result<String, DeployError> {
    check_label("namespace", &opts.namespace)?;
    let name = opts.name(component);
    check_label("name", &name)?;
    for (what, s) in [
        ("tls secret", &opts.tls_secret),
        ("server CA secret", &opts.server_ca_secret),
    ] {
        if let Some(s) = s {
            check_label(what, s)?;
        }
    }
    let image = opts.image.trim();
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return Err(DeployError::Options(format!(
            "image {:?} is not an image reference",
            opts.image
        )));
    }
    let size_ok = opts.storage.len() <= 32
        && opts.storage.starts_with(|c: char| c.is_ascii_digit())
        && opts
            .storage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.');
    if !size_ok {
        return Err(DeployError::Options(format!(
            "storage size {:?} is not a Kubernetes quantity (e.g. 10Gi)",
            opts.storage
        )));
    }
    if component == Component::Admission {
        let mut a = opts.admission.clone().unwrap_or_else(|| {
            caisson_admission::manifests::ManifestOptions::new(&opts.namespace, &name)
        });
        a.namespace.clone_from(&opts.namespace);
        a.service = name;
        a.image = image.to_string();
        return caisson_admission::manifests::generate(&a)
            .map(|g| g.yaml)
            .map_err(DeployError::Admission);
    }
    let docs = match component {
        Component::Registry => registry::documents(opts, &name),
        Component::HostAgent => agents::host_agent(opts, &name),
        Component::Sensor => agents::sensor(opts, &name),
        Component::Admission => Vec::new(),
    };
    let mut yaml = format!(
        "# Generated by `caisson deploy manifests --component {component}` ({}).\n\
         # Least privilege: see docs/deploy.md for each grant.\n",
        env!("CARGO_PKG_VERSION")
    );
    let mut listed = exemptions(component).peekable();
    if listed.peek().is_some() {
        yaml.push_str("#\n# Exempt from these Pod Security Standards checks, and why:\n");
        for e in listed {
            yaml.push_str(&format!(
                "#   {} {} ({}): {}\n",
                e.policy, e.check, e.reason, e.why
            ));
        }
    }
    for doc in docs {
        yaml.push_str("---\n");
        if let Some(c) = doc.comment {
            for line in c.lines() {
                yaml.push_str("# ");
                yaml.push_str(line);
                yaml.push('\n');
            }
        }
        let kind = doc.body["kind"]
            .as_str()
            .unwrap_or("a manifest")
            .to_string();
        yaml.push_str(
            &serde_norway::to_string(&doc.body)
                .map_err(|source| DeployError::Yaml { kind, source })?,
        );
    }
    Ok(yaml)
}

/// One YAML document and the comment written above it.
struct Doc {
    comment: Option<String>,
    body: Json,
}

fn labels(component: Component, name: &str) -> Json {
    json!({
        "app.kubernetes.io/name": format!("caisson-{}", component.as_str()),
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/part-of": "caisson",
    })
}

/// The container security context shared by every component: nothing
/// escalates, the root filesystem is read-only, capabilities are dropped.
fn restricted_container(run_as_root: bool, add: &[&str]) -> Json {
    let mut caps = json!({"drop": ["ALL"]});
    if !add.is_empty() {
        caps["add"] = json!(add);
    }
    let mut sc = json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": caps,
    });
    if run_as_root {
        sc["runAsUser"] = json!(0);
        sc["runAsGroup"] = json!(0);
    } else {
        sc["runAsNonRoot"] = json!(true);
    }
    sc
}

/// The pod security context: the image's non-root user unless `root`,
/// RuntimeDefault seccomp.
fn pod_security(root: bool) -> Json {
    if root {
        json!({"seccompProfile": {"type": "RuntimeDefault"}})
    } else {
        json!({"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
               "seccompProfile": {"type": "RuntimeDefault"}})
    }
}

#[cfg(test)]
mod tests;
