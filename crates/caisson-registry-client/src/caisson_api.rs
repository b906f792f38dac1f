//! A Caisson registry's own API (`/api/v1`): scan results, health and the
//! stored SBOM of an image, on-demand scans. HTTP Basic with the caller's
//! registry credentials (explicit, or from the same auth files as pulls).
//! Used by `caisson registry status|scan` and by the admission webhook's
//! scan-result facts.

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
        let mut builder =
            reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(30));
        if let Some(ca) = ca_bundle {
            let pem = fs_err::read(ca).map_err(|e| ApiError::Setup(e.to_string()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ApiError::Setup(format!("reading the registry CA certificates: {e}"))
            })?;
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
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
            client: builder
                .build()
                .map_err(|e| ApiError::Setup(format!("building the HTTP client: {e}")))?,
            base: format!("{scheme}://{}", r.registry),
            auth,
        })
    }

    /// `method /api/v1{path}`: the body, when 2xx.
    pub fn call_bytes(&self, method: reqwest::Method, path: &str) -> Result<Vec<u8>, ApiError> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut req = self.client.request(method.clone(), &url);
        if let Some((u, p)) = &self.auth {
            req = req.basic_auth(u, Some(p.as_str()));
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

/// `/repositories/<repo>/manifests/<digest, tag or latest>`.
pub fn manifest_path(r: &Reference) -> String {
    let reference = match (&r.digest, &r.tag) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.clone(),
        (None, None) => "latest".to_string(),
    };
    format!("/repositories/{}/manifests/{reference}", r.repository)
}
