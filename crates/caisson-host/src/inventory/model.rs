//! The inventory document (`docs/formats/caisson-host-inventory.md`) and the
//! pure steps that build it from what the engine answered.

use std::collections::BTreeMap;

use bollard::models::{ContainerInspectResponse, SystemInfo, SystemVersion};
use caisson_model::{Finding, Severity};
use serde::{Deserialize, Serialize};

use crate::engine::{engine_kind, EngineKind};

/// `format` of the JSON document.
pub const FORMAT: &str = "caisson-host-inventory";
/// `format_version` of the JSON document.
pub const FORMAT_VERSION: u32 = 1;

/// Label Kubernetes (kubelet, dockershim / cri-dockerd) puts on pod containers.
pub const K8S_POD_LABEL: &str = "io.kubernetes.pod.name";
pub const K8S_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";

/// One inventory of one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub format: String,
    pub format_version: u32,
    pub generated_at: String,
    pub tool: Tool,
    pub engine: EngineFacts,
    /// Whether stopped containers were left out (`--running`).
    pub running_only: bool,
    pub containers: Vec<ContainerEntry>,
    /// Every image a listed container runs, once per image id.
    pub images: Vec<ImageEntry>,
    /// Containers skipped and other things the reader should know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// What the engine says about itself (`/version`, `/info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineFacts {
    pub kind: EngineKind,
    /// Where it was reached: `unix:///var/run/docker.sock`, `tcp://host:2376 (TLS)`.
    pub endpoint: String,
    pub version: Option<String>,
    /// The engine's own API version.
    pub api_version: Option<String>,
    /// The API version the client used.
    pub negotiated_api_version: String,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub kernel_version: Option<String>,
    pub storage_driver: Option<String>,
    pub images: Option<i64>,
    pub containers: Option<i64>,
    pub containers_running: Option<i64>,
}

/// One container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerEntry {
    pub id: String,
    pub name: String,
    /// The image as the container was created from it (`nginx:1.25`).
    pub image: String,
    /// `sha256:<hex>`, the key into `images`.
    pub image_id: String,
    pub repo_digests: Vec<String>,
    /// `running`, `exited`, `created`, `paused`, …
    pub state: String,
    /// RFC 3339, absent when never started.
    pub started_at: Option<String>,
    pub ports: Vec<PublishedPort>,
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesPod>,
    /// `scanned` or `scan-failed` (the image's status).
    pub scan_status: ScanStatus,
    pub vulnerabilities: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub container_port: u16,
    pub protocol: String,
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesPod {
    pub pod: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanStatus {
    Scanned,
    ScanFailed,
}

/// Where an image's findings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingsSource {
    /// Exported from the engine and scanned in this run.
    Scan,
    /// The SBOM cached by an earlier run, matched again now.
    Cache,
    /// A Caisson registry's stored findings (`--registry`).
    Registry,
}

/// One image, with its findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageEntry {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Names of the listed containers that run it.
    pub containers: Vec<String>,
    pub status: ScanStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<FindingsSource>,
    /// Why the scan failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `debian 12`, `alpine 3.23.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<usize>,
    pub vulnerabilities: Counts,
    /// The findings `caisson scan` reports for the image (after `--severity`).
    pub findings: Vec<Finding>,
}

/// Findings per severity, and how many have a fixed version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub negligible: usize,
    pub unknown: usize,
    pub total: usize,
    pub fixable: usize,
}

impl Counts {
    pub fn of(findings: &[Finding]) -> Counts {
        let mut c = Counts::default();
        for f in findings {
            match f.severity {
                Severity::Critical => c.critical += 1,
                Severity::High => c.high += 1,
                Severity::Medium => c.medium += 1,
                Severity::Low => c.low += 1,
                Severity::Negligible => c.negligible += 1,
                Severity::Unknown => c.unknown += 1,
            }
            if !f.fixed_versions.is_empty() {
                c.fixable += 1;
            }
        }
        c.total = findings.len();
        c
    }
}

/// Something skipped or worth knowing, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// `container-gone`, `container-inspect-failed`, `registry-findings-unavailable`, …
    pub code: String,
    pub message: String,
}

/// The engine facts from `/version` and `/info`.
pub fn engine_facts(
    endpoint: String,
    negotiated: String,
    version: &SystemVersion,
    info: &SystemInfo,
) -> EngineFacts {
    let kind: EngineKind = engine_kind(version);
    EngineFacts {
        kind,
        endpoint,
        version: version.version.clone(),
        api_version: version.api_version.clone(),
        negotiated_api_version: negotiated,
        os: info.operating_system.clone().or_else(|| version.os.clone()),
        arch: version.arch.clone(),
        kernel_version: version
            .kernel_version
            .clone()
            .or_else(|| info.kernel_version.clone()),
        storage_driver: info.driver.clone(),
        images: info.images,
        containers: info.containers,
        containers_running: info.containers_running,
    }
}

/// `sha256:<64 hex>` from either that or a bare 64-hex id (Podman); `None`
/// for anything else.
pub fn normalize_image_id(id: &str) -> Option<String> {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    let ok = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then(|| format!("sha256:{hex}"))
}

/// Docker reports a never-started container's time as year 1.
pub fn started_at(s: Option<&str>) -> Option<String> {
    s.filter(|t| !t.is_empty() && !t.starts_with("0001-01-01"))
        .map(str::to_string)
}

/// The container's entry from its inspect document (counts and scan
/// status are filled in once its image is scanned). `None` when the
/// document lacks the id or the image id.
pub fn container_entry(c: &ContainerInspectResponse) -> Option<ContainerEntry> {
    let id = c.id.clone().filter(|i| !i.is_empty())?;
    let image_id = c.image.as_deref().and_then(normalize_image_id)?;
    let config = c.config.as_ref();
    let labels: BTreeMap<String, String> = config
        .and_then(|cfg| cfg.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let kubernetes = {
        let pod = labels.get(K8S_POD_LABEL).cloned();
        let namespace = labels.get(K8S_NAMESPACE_LABEL).cloned();
        (pod.is_some() || namespace.is_some()).then_some(KubernetesPod { pod, namespace })
    };
    let mut ports = Vec::new();
    let bound = c
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref())
        .into_iter()
        .flatten();
    for (key, bindings) in bound {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        for b in bindings.iter().flatten() {
            let host_port = b
                .host_port
                .as_deref()
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap_or(0);
            ports.push(PublishedPort {
                container_port,
                protocol: proto.to_string(),
                host_ip: b.host_ip.clone().unwrap_or_default(),
                host_port,
            });
        }
    }
    ports.sort_by(|a, b| {
        (a.container_port, &a.protocol, &a.host_ip, a.host_port).cmp(&(
            b.container_port,
            &b.protocol,
            &b.host_ip,
            b.host_port,
        ))
    });
    let state = c.state.as_ref();
    Some(ContainerEntry {
        name: c
            .name
            .as_deref()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| id.chars().take(12).collect()),
        id,
        image: config
            .and_then(|cfg| cfg.image.clone())
            .unwrap_or_else(|| image_id.clone()),
        image_id,
        repo_digests: Vec::new(),
        state: state
            .and_then(|s| s.status.as_ref())
            .map(ToString::to_string)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into()),
        started_at: started_at(state.and_then(|s| s.started_at.as_deref())),
        ports,
        labels,
        kubernetes,
        scan_status: ScanStatus::Scanned,
        vulnerabilities: Counts::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_ids_normalise() {
        let hex = "a".repeat(64);
        assert_eq!(normalize_image_id(&hex), Some(format!("sha256:{hex}")));
        assert_eq!(
            normalize_image_id(&format!("sha256:{hex}")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(normalize_image_id("sha256:../../etc"), None);
        assert_eq!(normalize_image_id(&"A".repeat(64)), None);
        assert_eq!(normalize_image_id(""), None);
    }

    #[test]
    fn container_entry_from_inspect() {
        let hex = "b".repeat(64);
        let doc = serde_json::json!({
            "Id": "c0ffee",
            "Name": "/web-1",
            "Image": format!("sha256:{hex}"),
            "State": {"Status": "exited", "StartedAt": "0001-01-01T00:00:00Z"},
            "Config": {"Image": "nginx:1.25", "Labels": {
                "io.kubernetes.pod.name": "web-5f7",
                "io.kubernetes.pod.namespace": "shop",
                "team": "a"
            }},
            "NetworkSettings": {"Ports": {
                "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                "53/udp": null,
                "bogus": [{"HostIp": "", "HostPort": "x"}]
            }}
        });
        let c: ContainerInspectResponse = serde_json::from_value(doc).expect("inspect");
        let e = container_entry(&c).expect("entry");
        assert_eq!(e.name, "web-1");
        assert_eq!(e.image, "nginx:1.25");
        assert_eq!(e.image_id, format!("sha256:{hex}"));
        assert_eq!(e.state, "exited");
        assert_eq!(e.started_at, None);
        assert_eq!(
            e.ports,
            vec![PublishedPort {
                container_port: 80,
                protocol: "tcp".into(),
                host_ip: "0.0.0.0".into(),
                host_port: 8080
            }]
        );
        assert_eq!(
            e.kubernetes,
            Some(KubernetesPod {
                pod: Some("web-5f7".into()),
                namespace: Some("shop".into())
            })
        );
        let mut no_image = c.clone();
        no_image.image = Some("not-an-id".into());
        assert!(container_entry(&no_image).is_none());
    }
}
