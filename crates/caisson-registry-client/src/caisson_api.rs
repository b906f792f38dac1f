//! A Caisson registry's own API (`/api/v1`): scan results, health and the
//! stored SBOM of an image, on-demand scans. HTTP Basic with the caller's
//! registry credentials (explicit, or from the same auth files as pulls).
//! Used by `caisson registry status|scan`, by the admission webhook's
//! scan-result facts, and (with [`CaissonApi::for_url`] and JSON bodies)
//! by `caisson admin` and `caisson profile` for every administrative call.

use std::path::Path;

use caisson_oci::Reference;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::auth::{default_auth_files, lookup_credentials, Credentials};

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("setting up the API client: {0}")]
    Setup(String),
    #[error("{method} {url}: {source}")]
    Transport {
        method: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {url}: {status}: {message}")]
    Status {
        method: String,
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} did not answer JSON")]
    NotJson { url: String },
}

impl ApiError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The API of the registry a reference names.
pub struct CaissonApi {
    client: reqwest::blocking::Client,
    base: String,
    auth: Option<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for CaissonApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaissonApi")
            .field("base", &self.base)
            .field("authenticated", &self.auth.is_some())
            .finish()
    }
}

/// Largest API answer read (an SBOM of a large image is a few MiB).
const MAX_BODY: usize = 64 << 20;

impl CaissonApi {
    /// For the registry of `r`: plain HTTP when it is in `insecure`, extra
    /// roots from `ca_bundle`, credentials `explicit` or else from the auth
    /// files.
    pub fn for_reference(
        r: &Reference,
        insecure: &[String],
        ca_bundle: Option<&Path>,
        explicit: Option<(String, String)>,
    ) -> Result<CaissonApi, ApiError> {
        let builder =
            reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(30));
        let client = build_client(builder, ca_bundle)?;
        let plain = insecure.iter().any(|h| h.eq_ignore_ascii_case(&r.registry));
        let scheme = if plain { "http" } else { "https" };
        let auth = match explicit {
            Some((u, p)) => Some((u, Zeroizing::new(p))),
            None => {
                let files = default_auth_files(|k| std::env::var(k).ok());
                match lookup_credentials(&files, &r.registry, &r.repository)
                    .map_err(|e| ApiError::Setup(format!("reading registry credentials: {e}")))?
                {
                    Some(Credentials::Basic { username, password }) => {
                        Some((username, Zeroizing::new(password.expose().to_string())))
                    }
                    Some(Credentials::IdentityToken(_)) => {
                        return Err(ApiError::Setup(
                            "the registry API needs a user and password, not an identity token"
                                .into(),
                        ))
                    }
                    None => None,
                }
            }
        };
        Ok(CaissonApi {
            client,
            base: format!("{scheme}://{}", r.registry),
            auth,
        })
    }

    /// For the registry at `base_url` (`https://registry.example`), as
    /// `auth` (HTTP Basic) when given, trusting `ca_bundle` too. Only the
    /// connection has a deadline (30 s): administrative calls such as a
    /// garbage collection may run long.
    pub fn for_url(
        base_url: &str,
        ca_bundle: Option<&Path>,
        auth: Option<(String, String)>,
    ) -> Result<CaissonApi, ApiError> {
        let builder = reqwest::blocking::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30));
        Ok(CaissonApi {
            client: build_client(builder, ca_bundle)?,
            base: base_url.trim_end_matches('/').to_string(),
            auth: auth.map(|(u, p)| (u, Zeroizing::new(p))),
        })
    }

    /// `method /api/v1{path}`: the body, when 2xx.
    pub fn call_bytes(&self, method: reqwest::Method, path: &str) -> Result<Vec<u8>, ApiError> {
        self.request(method, path, None)
    }

    /// `method /api/v1{path}` with a JSON `body`: the JSON answer, or
    /// `Value::Null` when the answer is empty.
    pub fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ApiError::Setup(format!("encoding the request body: {e}")))?;
        let answer = self.request(method, path, body)?;
        if answer.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&answer).map_err(|_| ApiError::NotJson {
            url: format!("{}/api/v1{path}", self.base),
        })
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, ApiError> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut req = self.client.request(method.clone(), &url);
        if let Some((u, p)) = &self.auth {
            req = req.basic_auth(u, Some(p.as_str()));
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let transport = |source| ApiError::Transport {
            method: method.to_string(),
            url: url.clone(),
            source,
        };
        let resp = req.send().map_err(transport)?;
        let status = resp.status();
        let mut body = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(resp, u64::try_from(MAX_BODY).unwrap_or(u64::MAX)),
            &mut body,
        )
        .map_err(|e| ApiError::Setup(format!("reading {url}: {e}")))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body).into_owned();
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.pointer("/errors/0/message")?.as_str().map(str::to_string))
                .unwrap_or(text);
            return Err(ApiError::Status {
                method: method.to_string(),
                url,
                status: status.as_u16(),
                message,
            });
        }
        Ok(body)
    }

    /// `method /api/v1{path}` as JSON.
    pub fn call(&self, method: reqwest::Method, path: &str) -> Result<Value, ApiError> {
        let body = self.call_bytes(method, path)?;
        serde_json::from_slice(&body).map_err(|_| ApiError::NotJson {
            url: format!("{}/api/v1{path}", self.base),
        })
    }
}

/// The client `builder` trusting the certificates of `ca_bundle` too.
fn build_client(
    mut builder: reqwest::blocking::ClientBuilder,
    ca_bundle: Option<&Path>,
) -> Result<reqwest::blocking::Client, ApiError> {
    if let Some(ca) = ca_bundle {
        let pem = fs_err::read(ca).map_err(|e| ApiError::Setup(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ApiError::Setup(format!("reading the registry CA certificates: {e}")))?;
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    builder
        .build()
        .map_err(|e| ApiError::Setup(format!("building the HTTP client: {e}")))
}

/// `/repositories/<repo>/manifests/<digest, tag or latest>`.
pub fn manifest_path(r: &Reference) -> String {
    let reference = match (&r.digest, &r.tag) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.clone(),
        (None, None) => "latest".to_string(),
    };
    format!("/repositories/{}/manifests/{reference}", r.repository)
}
