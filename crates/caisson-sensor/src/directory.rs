//! Container metadata: the [`ContainerDirectory`] trait (what the sensor asks
//! an engine), its bollard implementation [`DockerDirectory`], and
//! [`CachedDirectory`], which answers from memory and refreshes on a miss.
//! `caisson-host`'s `Engine` can implement the trait and replace
//! `DockerDirectory`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::DirectoryError;

/// Kubernetes labels the kubelet (dockershim, cri-dockerd) sets.
const POD_LABEL: &str = "io.kubernetes.pod.name";
const NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";

/// What an alert says about a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    /// The image reference the container was created from.
    pub image: String,
    /// Image id (`sha256:…`).
    #[serde(skip)]
    pub image_id: String,
    /// First repo digest of the image (`repo@sha256:…`), when pulled from a
    /// registry.
    pub image_digest: Option<String>,
    pub pod: Option<String>,
    pub namespace: Option<String>,
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// Addresses on the container's networks (attribute connections).
    #[serde(skip)]
    pub ips: Vec<IpAddr>,
}

impl ContainerInfo {
    /// Fills `pod` and `namespace` from the Kubernetes labels.
    pub fn with_kubernetes_labels(mut self) -> Self {
        self.pod = self.labels.get(POD_LABEL).cloned();
        self.namespace = self.labels.get(NAMESPACE_LABEL).cloned();
        self
    }
}

/// An engine that knows running containers.
pub trait ContainerDirectory: Send {
    /// Every running container.
    fn containers(&self) -> Result<Vec<ContainerInfo>, DirectoryError>;
    /// One container by id, also while it is still starting; `None` when
    /// the engine does not know it.
    fn container(&self, id: &str) -> Result<Option<ContainerInfo>, DirectoryError>;
}

/// [`ContainerDirectory`] over the Docker Engine API (bollard).
pub struct DockerDirectory {
    docker: bollard::Docker,
    rt: tokio::runtime::Runtime,
    endpoint: String,
    /// image id → first repo digest.
    digests: std::sync::Mutex<HashMap<String, Option<String>>>,
}

impl std::fmt::Debug for DockerDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerDirectory")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

const TIMEOUT_SECS: u64 = 10;

impl DockerDirectory {
    /// Connects to `docker_host` (`unix:///path`, `tcp://host:port`,
    /// `http://host:port`), else `DOCKER_HOST`, else
    /// `unix:///var/run/docker.sock`, and negotiates the API version.
    pub fn connect(docker_host: Option<&str>) -> Result<Self, DirectoryError> {
        let endpoint = docker_host
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let unreachable = |reason: String| DirectoryError::Unreachable {
            endpoint: endpoint.clone(),
            reason,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| unreachable(format!("starting the I/O runtime: {e}")))?;
        let version = bollard::API_DEFAULT_VERSION;
        let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
            bollard::Docker::connect_with_unix(path, TIMEOUT_SECS, version)
        } else if let Some(addr) = endpoint.strip_prefix("tcp://") {
            bollard::Docker::connect_with_http(&format!("http://{addr}"), TIMEOUT_SECS, version)
        } else if endpoint.starts_with("http://") {
            bollard::Docker::connect_with_http(&endpoint, TIMEOUT_SECS, version)
        } else {
            return Err(unreachable(
                "unsupported address (unix://PATH, tcp://HOST:PORT or http://HOST:PORT)".into(),
            ));
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let docker = rt
            .block_on(docker.negotiate_version())
            .map_err(|e| unreachable(format!("GET /version: {e}")))?;
        Ok(Self {
            docker,
            rt,
            endpoint,
            digests: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn digest(&self, image_id: &str) -> Option<String> {
        let mut cache = self.digests.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = cache.get(image_id) {
            return d.clone();
        }
        let d = self
            .rt
            .block_on(self.docker.inspect_image(image_id))
            .ok()
            .and_then(|i| i.repo_digests)
            .and_then(|v| v.into_iter().next());
        cache.insert(image_id.to_string(), d.clone());
        d
    }
}

impl ContainerDirectory for DockerDirectory {
    fn container(&self, id: &str) -> Result<Option<ContainerInfo>, DirectoryError> {
        let c = match self.rt.block_on(self.docker.inspect_container(id, None)) {
            Ok(c) => c,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => {
                return Err(DirectoryError::Api {
                    endpoint: self.endpoint.clone(),
                    operation: format!("GET /containers/{id}/json"),
                    reason: e.to_string(),
                })
            }
        };
        let image_id = c.image.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        let ips = c
            .network_settings
            .and_then(|n| n.networks)
            .into_iter()
            .flatten()
            .flat_map(|(_, ep)| [ep.ip_address, ep.global_ipv6_address])
            .flatten()
            .filter_map(|ip| ip.parse().ok())
            .collect();
        Ok(Some(
            ContainerInfo {
                id: c.id.unwrap_or_else(|| id.to_string()),
                name: c
                    .name
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                image: config.image.unwrap_or_default(),
                image_digest: self.digest(&image_id),
                image_id,
                labels: config.labels.unwrap_or_default().into_iter().collect(),
                ips,
                pod: None,
                namespace: None,
            }
            .with_kubernetes_labels(),
        ))
    }

    fn containers(&self) -> Result<Vec<ContainerInfo>, DirectoryError> {
        let list = self
            .rt
            .block_on(
                self.docker
                    .list_containers(None::<bollard::query_parameters::ListContainersOptions>),
            )
            .map_err(|e| DirectoryError::Api {
                endpoint: self.endpoint.clone(),
                operation: "GET /containers/json".into(),
                reason: e.to_string(),
            })?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let id = c.id?;
                let image_id = c.image_id.unwrap_or_default();
                let ips = c
                    .network_settings
                    .and_then(|n| n.networks)
                    .into_iter()
                    .flatten()
                    .flat_map(|(_, ep)| [ep.ip_address, ep.global_ipv6_address])
                    .flatten()
                    .filter_map(|ip| ip.parse().ok())
                    .collect();
                Some(
                    ContainerInfo {
                        name: c
                            .names
                            .and_then(|n| n.into_iter().next())
                            .map(|n| n.trim_start_matches('/').to_string())
                            .unwrap_or_default(),
                        image: c.image.unwrap_or_default(),
                        image_digest: self.digest(&image_id),
                        image_id,
                        labels: c.labels.unwrap_or_default().into_iter().collect(),
                        ips,
                        id,
                        pod: None,
                        namespace: None,
                    }
                    .with_kubernetes_labels(),
                )
            })
            .collect())
    }
}

/// Answers from memory; a miss triggers a refresh (a full list), at most once
/// per `min_refresh` so that a stream of events from unknown addresses (the
/// host's own traffic) cannot turn into a stream of engine calls.
pub struct CachedDirectory<D> {
    inner: D,
    by_id: HashMap<String, ContainerInfo>,
    by_ip: HashMap<IpAddr, String>,
    last_refresh: Option<Instant>,
    min_refresh: Duration,
    /// Ids the engine did not know, and when it was last asked.
    unknown: HashMap<String, Instant>,
    /// Refresh failures (the engine unreachable); events are still reported,
    /// with the container id only.
    pub errors: u64,
    pub refreshes: u64,
}

impl<D: ContainerDirectory> CachedDirectory<D> {
    pub fn new(inner: D, min_refresh: Duration) -> Self {
        Self {
            inner,
            by_id: HashMap::new(),
            by_ip: HashMap::new(),
            last_refresh: None,
            min_refresh,
            unknown: HashMap::new(),
            errors: 0,
            refreshes: 0,
        }
    }

    fn refresh(&mut self, now: Instant) {
        if self
            .last_refresh
            .is_some_and(|t| now.saturating_duration_since(t) < self.min_refresh)
        {
            return;
        }
        self.last_refresh = Some(now);
        self.refreshes += 1;
        match self.inner.containers() {
            Ok(list) => {
                self.by_id.clear();
                self.by_ip.clear();
                for c in list {
                    for ip in &c.ips {
                        self.by_ip.insert(*ip, c.id.clone());
                    }
                    self.by_id.insert(c.id.clone(), c);
                }
            }
            Err(e) => {
                self.errors += 1;
                tracing::warn!("container directory: {e}");
            }
        }
    }

    /// The container with this id. A miss asks the engine for that id (a
    /// container seen in a cgroup exists, even if it is still starting), at
    /// most once per [`UNKNOWN_RETRY`] per id.
    pub fn by_id(&mut self, id: &str, now: Instant) -> Option<&ContainerInfo> {
        if !self.by_id.contains_key(id) {
            let recently = self
                .unknown
                .get(id)
                .is_some_and(|t| now.saturating_duration_since(*t) < UNKNOWN_RETRY);
            if !recently {
                self.lookup(id, now);
            }
        }
        self.by_id.get(id)
    }

    fn lookup(&mut self, id: &str, now: Instant) {
        self.refreshes += 1;
        match self.inner.container(id) {
            Ok(Some(c)) => {
                self.unknown.remove(id);
                for ip in &c.ips {
                    self.by_ip.insert(*ip, c.id.clone());
                }
                self.by_id.insert(id.to_string(), c);
            }
            Ok(None) => self.remember_unknown(id, now),
            Err(e) => {
                self.errors += 1;
                tracing::warn!("container directory: {e}");
                self.remember_unknown(id, now);
            }
        }
    }

    fn remember_unknown(&mut self, id: &str, now: Instant) {
        if self.unknown.len() >= UNKNOWN_LIMIT {
            self.unknown
                .retain(|_, t| now.saturating_duration_since(*t) < UNKNOWN_RETRY);
        }
        if self.unknown.len() < UNKNOWN_LIMIT {
            self.unknown.insert(id.to_string(), now);
        }
    }

    /// The container that owns one of these addresses, first match wins.
    pub fn by_ips(&mut self, ips: &[IpAddr], now: Instant) -> Option<&ContainerInfo> {
        if !ips.iter().any(|ip| self.by_ip.contains_key(ip))
            && ips.iter().any(|ip| is_container_candidate(*ip))
        {
            self.refresh(now);
        }
        let id = ips.iter().find_map(|ip| self.by_ip.get(ip))?;
        self.by_id.get(id)
    }
}

/// How long an id the engine did not know is not asked about again.
pub const UNKNOWN_RETRY: Duration = Duration::from_millis(500);
/// Most unknown ids remembered.
const UNKNOWN_LIMIT: usize = 1024;

/// Loopback and unspecified addresses never belong to a container in the
/// host's conntrack table: no refresh for them.
fn is_container_candidate(ip: IpAddr) -> bool {
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    struct Fake(Arc<AtomicU32>);

    impl ContainerDirectory for Fake {
        fn containers(&self) -> Result<Vec<ContainerInfo>, DirectoryError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(vec![ContainerInfo {
                id: "abc".into(),
                name: "web".into(),
                ips: vec!["172.17.0.2".parse().unwrap()],
                labels: BTreeMap::from([
                    (POD_LABEL.to_string(), "web-0".to_string()),
                    (NAMESPACE_LABEL.to_string(), "prod".to_string()),
                ]),
                ..ContainerInfo::default()
            }
            .with_kubernetes_labels()])
        }

        fn container(&self, id: &str) -> Result<Option<ContainerInfo>, DirectoryError> {
            Ok(self.containers()?.into_iter().find(|c| c.id == id))
        }
    }

    #[test]
    fn refreshes_on_miss_but_not_more_than_once_per_interval() {
        let calls = Arc::new(AtomicU32::new(0));
        let mut d = CachedDirectory::new(Fake(calls.clone()), Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(d.by_id("abc", t0).unwrap().pod.as_deref(), Some("web-0"));
        assert!(d.by_id("abc", t0).is_some());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The lookup by id also learned the container's address.
        let ip: IpAddr = "172.17.0.2".parse().unwrap();
        assert_eq!(d.by_ips(&[ip], t0).unwrap().name, "web");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Address misses refresh at most once per interval.
        for _ in 0..100 {
            assert!(d.by_ips(&["10.0.0.9".parse().unwrap()], t0).is_none());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(d
            .by_ips(&["10.0.0.9".parse().unwrap()], t0 + Duration::from_secs(2))
            .is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Loopback never triggers a refresh.
        assert!(d
            .by_ips(&["127.0.0.1".parse().unwrap()], t0 + Duration::from_secs(9))
            .is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn unknown_ids_are_asked_again_only_after_the_retry_delay() {
        let calls = Arc::new(AtomicU32::new(0));
        let mut d = CachedDirectory::new(Fake(calls.clone()), Duration::from_secs(1));
        let t0 = Instant::now();
        for _ in 0..50 {
            assert!(d.by_id("gone", t0).is_none());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(d.by_id("gone", t0 + UNKNOWN_RETRY).is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
