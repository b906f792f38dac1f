//! One Docker Engine API client for Docker and Podman's compatible service,
//! built on `bollard`.
//!
//! Where the engine is: `--docker-host`, else `DOCKER_HOST`, else the first
//! default socket that exists: `/var/run/docker.sock`,
//! `$XDG_RUNTIME_DIR/podman/podman.sock`, `/run/podman/podman.sock`
//! ([`resolve_endpoint`], pure). `unix://PATH` (or a bare absolute path),
//! `tcp://` / `http://` (TLS when `DOCKER_TLS_VERIFY` is set, with `ca.pem`,
//! `cert.pem`, `key.pem` from `DOCKER_CERT_PATH`, default `~/.docker`),
//! `https://` (always TLS).
//!
//! API version: the client asks `/version` at bollard's newest API version;
//! an engine that refuses it (HTTP 400: Docker before the client's version)
//! is asked again at 1.44 (the floor of Docker 29) and 1.24 (the floor of
//! older engines). The version used is then the lower of the engine's own
//! `ApiVersion` and the client's newest; Podman's compatible API reports its
//! own (e.g. 1.41 for Podman 4).
//!
//! [`Engine`] is blocking: it owns a current-thread tokio runtime, so call it
//! from plain threads (or `spawn_blocking`), not from inside a runtime.
//! [`Engine::docker`] gives async callers the negotiated bollard client.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use bollard::models::{
    ContainerInspectResponse, ContainerSummary, ContainerTopResponse, EventMessage, ImageInspect,
    SystemInfo, SystemVersion,
};
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use futures_util::{Stream, StreamExt};

use crate::error::{error_chain, HostError};
use crate::spool::{spool_stream, SpoolOptions, Spooled};

/// Seconds bollard waits for one request's answer.
const TIMEOUT_SECS: u64 = 120;

/// Client API versions tried in turn when the engine refuses a newer one.
const FALLBACK_VERSIONS: [ClientVersion; 2] = [
    ClientVersion {
        major_version: 1,
        minor_version: 44,
    },
    ClientVersion {
        major_version: 1,
        minor_version: 24,
    },
];

/// Where the engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `host:port` over plain HTTP.
    Http(String),
    /// `host:port` over TLS with the client certificate files in `cert_dir`.
    Tls {
        addr: String,
        cert_dir: PathBuf,
    },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Http(a) => write!(f, "tcp://{a}"),
            Endpoint::Tls { addr, .. } => write!(f, "tcp://{addr} (TLS)"),
        }
    }
}

/// Where to connect: `given` (`--docker-host`), else `DOCKER_HOST`, else the
/// first default socket `exists` reports. `env` reads the environment.
pub fn resolve_endpoint(
    given: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&Path) -> bool,
) -> Result<Endpoint, HostError> {
    let host = given
        .map(str::to_string)
        .or_else(|| env("DOCKER_HOST").filter(|h| !h.is_empty()));
    let Some(host) = host else {
        let mut tried = vec![PathBuf::from("/var/run/docker.sock")];
        if let Some(xdg) = env("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
            tried.push(Path::new(&xdg).join("podman/podman.sock"));
        }
        tried.push(PathBuf::from("/run/podman/podman.sock"));
        return match tried.iter().find(|p| exists(p)) {
            Some(p) => Ok(Endpoint::Unix(p.clone())),
            None => Err(HostError::NoEngine {
                tried: tried
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        };
    };
    let cert_dir = || {
        env("DOCKER_CERT_PATH")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                env("HOME")
                    .map(|h| Path::new(&h).join(".docker"))
                    .unwrap_or_else(|| PathBuf::from(".docker"))
            })
    };
    let tls_verify = env("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty() && v != "0");
    let bad = || HostError::BadEndpoint {
        endpoint: host.clone(),
    };
    let addr_of = |rest: &str| -> Result<String, HostError> {
        let addr = rest.trim_end_matches('/');
        if addr.is_empty() || addr.contains('/') {
            return Err(bad());
        }
        Ok(addr.to_string())
    };
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(bad());
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    if host.starts_with('/') {
        return Ok(Endpoint::Unix(PathBuf::from(&host)));
    }
    if let Some(rest) = host.strip_prefix("https://") {
        return Ok(Endpoint::Tls {
            addr: addr_of(rest)?,
            cert_dir: cert_dir(),
        });
    }
    if let Some(rest) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
    {
        let addr = addr_of(rest)?;
        return Ok(if tls_verify {
            Endpoint::Tls {
                addr,
                cert_dir: cert_dir(),
            }
        } else {
            Endpoint::Http(addr)
        });
    }
    Err(bad())
}

/// Docker or Podman, from `/version`'s components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Docker,
    Podman,
}

/// Podman's compatible API names a "Podman Engine" component.
pub fn engine_kind(v: &SystemVersion) -> EngineKind {
    let podman = v
        .components
        .iter()
        .flatten()
        .any(|c| c.name.to_ascii_lowercase().contains("podman"))
        || v.platform
            .as_ref()
            .is_some_and(|p| p.name.to_ascii_lowercase().contains("podman"));
    if podman {
        EngineKind::Podman
    } else {
        EngineKind::Docker
    }
}

/// `"1.41"` → 1.41.
fn parse_api_version(s: &str) -> Option<ClientVersion> {
    let (major, minor) = s.trim().split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

fn version_string(v: &ClientVersion) -> String {
    format!("{}.{}", v.major_version, v.minor_version)
}

/// A connected, version-negotiated engine client.
pub struct Engine {
    docker: Docker,
    rt: tokio::runtime::Runtime,
    endpoint: Endpoint,
    api_version: String,
    server: SystemVersion,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("endpoint", &self.endpoint.to_string())
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// Connects to the engine: `docker_host` (`--docker-host`), else
/// `DOCKER_HOST`, else the default sockets; negotiates the API version.
pub fn connect(docker_host: Option<&str>) -> Result<Engine, HostError> {
    let env = |k: &str| std::env::var(k).ok();
    let endpoint = resolve_endpoint(docker_host, &env, &|p: &Path| p.exists())?;
    Engine::connect_to(endpoint)
}

fn open(endpoint: &Endpoint, version: &ClientVersion) -> Result<Docker, HostError> {
    let shown = endpoint.to_string();
    match endpoint {
        Endpoint::Unix(path) => {
            let p = path.to_string_lossy();
            Docker::connect_with_unix(&p, TIMEOUT_SECS, version).map_err(|e| match e {
                bollard::errors::Error::SocketNotFoundError(_) => HostError::Unreachable {
                    endpoint: shown,
                    reason: "no socket at that path".into(),
                },
                other => HostError::Unreachable {
                    endpoint: shown,
                    reason: other.to_string(),
                },
            })
        }
        Endpoint::Http(addr) => {
            Docker::connect_with_http(&format!("http://{addr}"), TIMEOUT_SECS, version).map_err(
                |e| HostError::Unreachable {
                    endpoint: shown,
                    reason: e.to_string(),
                },
            )
        }
        Endpoint::Tls { addr, cert_dir } => {
            let file = |name: &str| {
                let p = cert_dir.join(name);
                if p.is_file() {
                    Ok(p)
                } else {
                    Err(HostError::Tls {
                        endpoint: shown.clone(),
                        reason: format!(
                            "{} is missing (DOCKER_CERT_PATH names the directory with ca.pem, cert.pem and key.pem)",
                            p.display()
                        ),
                    })
                }
            };
            let (ca, cert, key) = (file("ca.pem")?, file("cert.pem")?, file("key.pem")?);
            // bollard builds its rustls config with the process default
            // provider; several providers in one build make that ambiguous.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Docker::connect_with_ssl(
                &format!("https://{addr}"),
                &key,
                &cert,
                &ca,
                TIMEOUT_SECS,
                version,
            )
            .map_err(|e| HostError::Tls {
                endpoint: shown,
                reason: e.to_string(),
            })
        }
    }
}

/// A transport failure means nothing answered at the endpoint.
fn classify(endpoint: &Endpoint, operation: &str, e: bollard::errors::Error) -> HostError {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError { .. }
        | E::JsonDataError { .. }
        | E::JsonSerdeError { .. } => HostError::Api {
            operation: operation.to_string(),
            endpoint: endpoint.to_string(),
            source: e,
        },
        E::SocketNotFoundError(_) => HostError::Unreachable {
            endpoint: endpoint.to_string(),
            reason: "no socket at that path".into(),
        },
        other => HostError::Unreachable {
            endpoint: endpoint.to_string(),
            reason: error_chain(&other),
        },
    }
}

fn is_status(e: &bollard::errors::Error, code: u16) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code, .. } if *status_code == code)
}

impl Engine {
    /// Connects to `endpoint` and negotiates the API version.
    pub fn connect_to(endpoint: Endpoint) -> Result<Engine, HostError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(HostError::Runtime)?;
        let mut tries = vec![*API_DEFAULT_VERSION];
        tries.extend(FALLBACK_VERSIONS.iter().copied());
        let mut last = None;
        for v in &tries {
            let docker = open(&endpoint, v)?;
            match rt.block_on(docker.version()) {
                Ok(server) => {
                    let theirs = server
                        .api_version
                        .as_deref()
                        .and_then(parse_api_version)
                        .ok_or_else(|| HostError::NoApiVersion {
                            endpoint: endpoint.to_string(),
                        })?;
                    let chosen = if theirs < *API_DEFAULT_VERSION {
                        theirs
                    } else {
                        *API_DEFAULT_VERSION
                    };
                    let docker = if chosen == *v {
                        docker
                    } else {
                        open(&endpoint, &chosen)?
                    };
                    tracing::debug!(endpoint = %endpoint, api = %version_string(&chosen), "engine API version");
                    return Ok(Engine {
                        docker,
                        rt,
                        api_version: version_string(&chosen),
                        endpoint,
                        server,
                    });
                }
                // The engine refuses this API version: try an older one.
                Err(e) if is_status(&e, 400) => last = Some(e),
                Err(e) => return Err(classify(&endpoint, "GET /version", e)),
            }
        }
        Err(match last {
            Some(e) => classify(&endpoint, "GET /version", e),
            None => HostError::NoApiVersion {
                endpoint: endpoint.to_string(),
            },
        })
    }

    /// The negotiated bollard client, for async callers.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The API version requests use (`1.41`, …).
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// Docker or Podman.
    pub fn kind(&self) -> EngineKind {
        engine_kind(&self.server)
    }

    fn call<T>(
        &self,
        operation: &str,
        fut: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, HostError> {
        self.rt
            .block_on(fut)
            .map_err(|e| classify(&self.endpoint, operation, e))
    }

    fn call_object<T>(
        &self,
        what: &'static str,
        id: &str,
        operation: &str,
        fut: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, HostError> {
        match self.rt.block_on(fut) {
            Err(e) if is_status(&e, 404) => Err(HostError::NotFound {
                what,
                id: id.to_string(),
                endpoint: self.endpoint.to_string(),
            }),
            other => other.map_err(|e| classify(&self.endpoint, operation, e)),
        }
    }

    /// `GET /info`.
    pub fn info(&self) -> Result<SystemInfo, HostError> {
        self.call("GET /info", self.docker.info())
    }

    /// `GET /version`.
    pub fn version(&self) -> Result<SystemVersion, HostError> {
        self.call("GET /version", self.docker.version())
    }

    /// `GET /containers/json`; `all` includes stopped containers.
    pub fn containers(&self, all: bool) -> Result<Vec<ContainerSummary>, HostError> {
        let opts = ListContainersOptions {
            all,
            ..Default::default()
        };
        self.call(
            "GET /containers/json",
            self.docker.list_containers(Some(opts)),
        )
    }

    /// `GET /containers/{id}/json`; [`HostError::NotFound`] when it is gone.
    pub fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, HostError> {
        self.call_object(
            "container",
            id,
            &format!("GET /containers/{id}/json"),
            self.docker.inspect_container(id, None),
        )
    }

    /// `GET /images/{id}/json`.
    pub fn image_inspect(&self, id: &str) -> Result<ImageInspect, HostError> {
        self.call_object(
            "image",
            id,
            &format!("GET /images/{id}/json"),
            self.docker.inspect_image(id),
        )
    }

    /// `GET /containers/{id}/top`: the processes of a running container
    /// (never an exec into it).
    pub fn top(&self, id: &str) -> Result<ContainerTopResponse, HostError> {
        self.call_object(
            "container",
            id,
            &format!("GET /containers/{id}/top"),
            self.docker.top_processes(id, None),
        )
    }

    /// `GET /images/{id}/get` streamed into a spool file of at most
    /// `opts.limit` bytes (`docker save` format).
    pub fn export_image(&self, id: &str, opts: &SpoolOptions) -> Result<Spooled, HostError> {
        let stream = self.docker.export_image(id);
        let endpoint = self.endpoint.to_string();
        self.rt.block_on(spool_stream(stream, id, &endpoint, opts))
    }

    /// `GET /events` as a blocking iterator (container and image events
    /// from now on); it ends when the engine closes the stream.
    pub fn events(&self) -> Events<'_> {
        let stream = self.docker.events(None::<EventsOptions>);
        Events {
            engine: self,
            stream: Box::pin(stream),
        }
    }
}

/// The engine's events; see [`Engine::events`].
pub struct Events<'a> {
    engine: &'a Engine,
    stream: Pin<Box<dyn Stream<Item = Result<EventMessage, bollard::errors::Error>> + 'a>>,
}

impl Iterator for Events<'_> {
    type Item = Result<EventMessage, HostError>;
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.engine.rt.block_on(self.stream.next())?;
        Some(item.map_err(|e| classify(&self.engine.endpoint, "GET /events", e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(
        given: Option<&str>,
        vars: &[(&str, &str)],
        present: &[&str],
    ) -> Result<Endpoint, HostError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let present: Vec<PathBuf> = present.iter().map(PathBuf::from).collect();
        resolve_endpoint(given, &|k: &str| vars.get(k).cloned(), &|p: &Path| {
            present.iter().any(|q| q == p)
        })
    }

    #[test]
    fn flag_beats_docker_host_and_defaults() {
        let e = resolve(
            Some("unix:///tmp/a.sock"),
            &[("DOCKER_HOST", "tcp://h:2375")],
            &["/var/run/docker.sock"],
        );
        assert_eq!(e.ok(), Some(Endpoint::Unix("/tmp/a.sock".into())));
        let e = resolve(None, &[("DOCKER_HOST", "tcp://h:2375")], &[]);
        assert_eq!(e.ok(), Some(Endpoint::Http("h:2375".into())));
    }

    #[test]
    fn tls_from_env_and_https() {
        let e = resolve(
            None,
            &[
                ("DOCKER_HOST", "tcp://h:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs"),
            ],
            &[],
        );
        assert_eq!(
            e.ok(),
            Some(Endpoint::Tls {
                addr: "h:2376".into(),
                cert_dir: "/certs".into()
            })
        );
        let e = resolve(Some("https://h:2376/"), &[("HOME", "/home/u")], &[]);
        assert_eq!(
            e.ok(),
            Some(Endpoint::Tls {
                addr: "h:2376".into(),
                cert_dir: "/home/u/.docker".into()
            })
        );
    }

    #[test]
    fn defaults_docker_then_podman_sockets() {
        let e = resolve(None, &[("XDG_RUNTIME_DIR", "/run/user/1000")], &[]);
        let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("/var/run/docker.sock"), "{msg}");
        assert!(msg.contains("/run/user/1000/podman/podman.sock"), "{msg}");
        assert!(msg.contains("DOCKER_HOST"), "{msg}");
        let e = resolve(
            None,
            &[("XDG_RUNTIME_DIR", "/run/user/1000")],
            &[
                "/run/user/1000/podman/podman.sock",
                "/run/podman/podman.sock",
            ],
        );
        assert_eq!(
            e.ok(),
            Some(Endpoint::Unix("/run/user/1000/podman/podman.sock".into()))
        );
        let e = resolve(
            None,
            &[],
            &["/var/run/docker.sock", "/run/podman/podman.sock"],
        );
        assert_eq!(e.ok(), Some(Endpoint::Unix("/var/run/docker.sock".into())));
    }

    #[test]
    fn bad_addresses_are_named() {
        for bad in ["ssh://h", "unix://", "tcp://", "tcp://h:1/x", "h:2375"] {
            let e = resolve(Some(bad), &[], &[]);
            let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.contains(bad), "{bad}: {msg}");
        }
    }

    #[test]
    fn api_versions_parse() {
        let v = parse_api_version("1.41");
        assert_eq!(v.map(|v| version_string(&v)), Some("1.41".to_string()));
        assert!(parse_api_version("x").is_none());
        assert!(parse_api_version("1.").is_none());
    }
}
