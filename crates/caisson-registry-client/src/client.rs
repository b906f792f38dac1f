//! The HTTP layer: options, the scheme per registry, authentication
//! (Docker token flow and Basic), redirects, status mapping.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::blocking::{Client as HttpClient, RequestBuilder, Response};
use reqwest::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

use crate::auth::{self, Challenge, Credentials, Secret};
use crate::error::{transport_error, RegistryError, RemoteDetail, Target};

/// How the client connects and authenticates.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registries (`host[:port]`, as in image references) spoken to over plain
    /// HTTP. Every other registry is HTTPS only.
    pub insecure_registries: Vec<String>,
    /// Extra PEM CA certificates to trust (e.g. a private registry's CA), in
    /// addition to the system and webpki roots.
    pub ca_bundle: Option<PathBuf>,
    /// Auth files to read credentials from, in order. `None` means the usual
    /// places: see [`auth::default_auth_files`].
    pub auth_files: Option<Vec<PathBuf>>,
    /// Longest wait for a connection, response headers or each read of a body.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Blobs downloaded at once by [`Client::pull_image`].
    pub max_parallel_downloads: usize,
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            ca_bundle: None,
            auth_files: None,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(30),
            max_parallel_downloads: 3,
            user_agent: concat!("caisson/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// One registry request: what [`Client::request`] sends (and resends after
/// authenticating).
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: Url,
    pub accept: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: Option<Vec<u8>>,
    /// Needs push access (a `pull,push` token scope).
    pub push: bool,
}

impl<'a> Request<'a> {
    pub fn get(url: Url, accept: Option<&'a str>) -> Request<'a> {
        Request {
            method: Method::GET,
            url,
            accept,
            content_type: None,
            body: None,
            push: false,
        }
    }
}

/// Redirects followed for one request before giving up.
const MAX_REDIRECTS: usize = 10;
/// Error bodies and token responses are read up to this size.
const MAX_SMALL_BODY: u64 = 1024 * 1024;

/// A registry client. Cheap to share between threads (`&Client` is `Sync`).
pub struct Client {
    pub(crate) http: HttpClient,
    pub(crate) opts: ClientOptions,
    auth_files: Vec<PathBuf>,
    /// Credentials found per `registry/repository` (None: none configured).
    creds: Mutex<HashMap<String, Option<Credentials>>>,
    /// `Authorization` header values per `registry/repository`.
    auth_headers: Mutex<HashMap<String, Secret>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("opts", &self.opts)
            .field("auth_files", &self.auth_files)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Client, RegistryError> {
        let mut builder = HttpClient::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .user_agent(opts.user_agent.clone())
            .https_only(false);
        if let Some(path) = &opts.ca_bundle {
            let pem = fs_err::read(path).map_err(|e| RegistryError::CaBundle {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                RegistryError::CaBundle {
                    path: path.clone(),
                    reason: e.to_string(),
                }
            })?;
            if certs.is_empty() {
                return Err(RegistryError::CaBundle {
                    path: path.clone(),
                    reason: "no PEM certificates in the file".to_string(),
                });
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder.build().map_err(RegistryError::Client)?;
        let auth_files = match &opts.auth_files {
            Some(f) => f.clone(),
            None => auth::default_auth_files(|k| std::env::var(k).ok()),
        };
        Ok(Client {
            http,
            opts,
            auth_files,
            creds: Mutex::new(HashMap::new()),
            auth_headers: Mutex::new(HashMap::new()),
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    fn is_insecure(&self, registry: &str) -> bool {
        self.opts
            .insecure_registries
            .iter()
            .any(|r| r.eq_ignore_ascii_case(registry))
    }

    /// `https://<api host>` for a registry (`http://` for insecure ones).
    pub(crate) fn base_url(&self, target: &Target) -> Result<Url, RegistryError> {
        let host = match target.registry.as_str() {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            h => h,
        };
        let scheme = if self.is_insecure(&target.registry) {
            "http"
        } else {
            "https"
        };
        Url::parse(&format!("{scheme}://{host}/")).map_err(|e| RegistryError::Protocol {
            target: target.clone(),
            reason: format!("registry host {host:?} does not form a URL: {e}"),
        })
    }

    /// `<base>/v2/<repository>/<kind>/<reference>`.
    pub(crate) fn api_url(
        &self,
        target: &Target,
        kind: &str,
        reference: &str,
    ) -> Result<Url, RegistryError> {
        let base = self.base_url(target)?;
        base.join(&format!("v2/{}/{kind}/{reference}", target.repository))
            .map_err(|e| RegistryError::Protocol {
                target: target.clone(),
                reason: format!("cannot form the request URL: {e}"),
            })
    }

    fn credentials(&self, target: &Target) -> Result<Option<Credentials>, RegistryError> {
        let key = format!("{}/{}", target.registry, target.repository);
        if let Some(c) = lock(&self.creds).get(&key) {
            return Ok(c.clone());
        }
        let found =
            auth::lookup_credentials(&self.auth_files, &target.registry, &target.repository)
                .map_err(|source| RegistryError::Credentials {
                    registry: target.registry.clone(),
                    source,
                })?;
        lock(&self.creds).insert(key, found.clone());
        Ok(found)
    }

    /// GETs `url` for `target`, authenticating on a 401 challenge and
    /// following redirects. Returns a response with a 2xx status; other
    /// statuses become errors.
    pub(crate) fn get(
        &self,
        target: &Target,
        url: Url,
        accept: Option<&str>,
    ) -> Result<Response, RegistryError> {
        let resp = self.request(target, Request::get(url, accept))?;
        check_status(target, resp)
    }

    /// Sends `req`, authenticating on a 401 challenge (with push scope when
    /// `req.push`) and following redirects for GET and HEAD. Returns the
    /// response whatever its status, except 401 after authenticating.
    pub(crate) fn request(
        &self,
        target: &Target,
        req: Request<'_>,
    ) -> Result<Response, RegistryError> {
        let key = format!(
            "{}/{}{}",
            target.registry,
            target.repository,
            if req.push { "#push" } else { "" }
        );
        let cached = lock(&self.auth_headers).get(&key).cloned();
        let resp = self.send_following_redirects(target, &req, cached.as_ref())?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenges = auth::parse_all(
            resp.headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        tracing::debug!(
            registry = %target.registry,
            schemes = ?challenges.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(),
            "registry asked for authentication"
        );
        let header = self.authenticate(target, &challenges, resp, req.push)?;
        let resp = self.send_following_redirects(target, &req, Some(&header))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(RegistryError::Unauthorized {
                target: target.clone(),
                detail: read_detail(resp),
            });
        }
        if resp.status().is_success() {
            lock(&self.auth_headers).insert(key, header);
        }
        Ok(resp)
    }

    /// Answers a 401: a bearer token from the realm, or Basic credentials.
    fn authenticate(
        &self,
        target: &Target,
        challenges: &[Challenge],
        first: Response,
        push: bool,
    ) -> Result<Secret, RegistryError> {
        let creds = self.credentials(target)?;
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            return self.fetch_token(target, bearer, creds.as_ref(), push);
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            if let Some(h) = creds.as_ref().and_then(Credentials::basic_header) {
                return Ok(h);
            }
        }
        Err(RegistryError::Unauthorized {
            target: target.clone(),
            detail: read_detail(first),
        })
    }

    fn fetch_token(
        &self,
        target: &Target,
        challenge: &Challenge,
        creds: Option<&Credentials>,
        push: bool,
    ) -> Result<Secret, RegistryError> {
        let token_target = target.with_operation("requesting a token for");
        let protocol = |reason: String| RegistryError::Protocol {
            target: token_target.clone(),
            reason,
        };
        let realm = challenge
            .param("realm")
            .ok_or_else(|| protocol("bearer challenge without a realm".to_string()))?;
        let mut url = Url::parse(realm)
            .map_err(|e| protocol(format!("token realm {realm:?} is not a URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if self.is_insecure(&target.registry) => {}
            other => {
                return Err(protocol(format!(
                "token realm {realm:?} uses {other}; only https is accepted for a secure registry"
            )))
            }
        }
        let actions = if push { "pull,push" } else { "pull" };
        let scope = format!("repository:{}:{actions}", target.repository);
        let service = challenge.param("service");
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", &scope);
            if let Some(extra) = challenge.param("scope").filter(|s| *s != scope) {
                q.append_pair("scope", extra);
            }
        }
        let url_shown = strip_query(&url);
        let request = match creds {
            Some(Credentials::IdentityToken(refresh)) => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.expose()),
                    ("client_id", "caisson"),
                    ("scope", scope.as_str()),
                ];
                if let Some(s) = service {
                    form.push(("service", s));
                }
                let mut post_url = url.clone();
                post_url.set_query(None);
                self.http.post(post_url).form(&form)
            }
            Some(c) => {
                let mut r = self.http.get(url.clone());
                if let Some(h) = c.basic_header() {
                    r = r.header(AUTHORIZATION, sensitive(&h)?);
                }
                r
            }
            None => self.http.get(url.clone()),
        };
        let resp = request
            .send()
            .map_err(|e| transport_error(&token_target, &url_shown, e))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                target: token_target.clone(),
                detail: read_detail(resp),
            });
        }
        if !status.is_success() {
            return Err(RegistryError::Status {
                target: token_target.clone(),
                status: status.as_u16(),
                detail: read_detail(resp),
            });
        }
        let body = read_limited(&token_target, resp, MAX_SMALL_BODY)?;
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            protocol(format!(
                "token server {url_shown} did not answer with a JSON token"
            ))
        })?;
        let token = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| {
                protocol(format!(
                    "token server {url_shown} answered without `token` or `access_token`"
                ))
            })?;
        tracing::debug!(registry = %target.registry, realm = %url_shown, "obtained a bearer token");
        Ok(Secret::new(format!("Bearer {token}")))
    }

    /// Sends a request, following up to [`MAX_REDIRECTS`] redirects itself
    /// (GET and HEAD only) so it can drop `Authorization` when a redirect
    /// leaves the registry's origin and refuse https→http downgrades.
    fn send_following_redirects(
        &self,
        target: &Target,
        req: &Request<'_>,
        auth: Option<&Secret>,
    ) -> Result<Response, RegistryError> {
        let origin = req.url.origin();
        let mut current = req.url.clone();
        let follow = req.method == Method::GET || req.method == Method::HEAD;
        for _ in 0..=MAX_REDIRECTS {
            let mut builder: RequestBuilder =
                self.http.request(req.method.clone(), current.clone());
            if let Some(a) = req.accept {
                builder = builder.header(ACCEPT, a);
            }
            if let Some(ct) = req.content_type {
                builder = builder.header(CONTENT_TYPE, ct);
            }
            if let Some(body) = &req.body {
                builder = builder.body(body.clone());
            } else if req.method == Method::PUT || req.method == Method::POST {
                builder = builder.header(CONTENT_LENGTH, 0);
            }
            let same_origin = current.origin() == origin;
            if let (Some(a), true) = (auth, same_origin) {
                builder = builder.header(AUTHORIZATION, sensitive(a)?);
            }
            let shown = strip_query(&current);
            let resp = builder
                .send()
                .map_err(|e| transport_error(target, &shown, e))?;
            if !follow
                || !resp.status().is_redirection()
                || resp.status() == StatusCode::NOT_MODIFIED
            {
                return Ok(resp);
            }
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| RegistryError::Protocol {
                    target: target.clone(),
                    reason: format!(
                        "HTTP {} redirect from {shown} without a Location header",
                        resp.status().as_u16()
                    ),
                })?;
            let next = current
                .join(location)
                .map_err(|e| RegistryError::Protocol {
                    target: target.clone(),
                    reason: format!("redirect from {shown} to an invalid URL: {e}"),
                })?;
            let downgrade = current.scheme() == "https" && next.scheme() != "https";
            if downgrade || !matches!(next.scheme(), "http" | "https") {
                return Err(RegistryError::Protocol {
                    target: target.clone(),
                    reason: format!("refusing redirect from {shown} to {}", strip_query(&next)),
                });
            }
            tracing::debug!(from = %shown, to = %strip_query(&next), "following redirect");
            current = next;
        }
        Err(RegistryError::Protocol {
            target: target.clone(),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn sensitive(secret: &Secret) -> Result<HeaderValue, RegistryError> {
    let mut v = HeaderValue::from_str(secret.expose()).map_err(|_| RegistryError::Protocol {
        target: Target::new("building", "the Authorization header", "", ""),
        reason: "credential or token contains characters not allowed in an HTTP header".to_string(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// A URL for messages: no query (pre-signed storage URLs carry secrets there)
/// and no user info.
pub(crate) fn strip_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// Reads at most `limit` bytes of body, failing if there are more.
pub(crate) fn read_limited(
    target: &Target,
    resp: Response,
    limit: u64,
) -> Result<Vec<u8>, RegistryError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(RegistryError::TooLarge {
            target: target.clone(),
            limit,
        });
    }
    let mut body = Vec::new();
    resp.take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|source| RegistryError::Body {
            target: target.clone(),
            source,
        })?;
    if u64::try_from(body.len()).unwrap_or(u64::MAX) > limit {
        return Err(RegistryError::TooLarge {
            target: target.clone(),
            limit,
        });
    }
    Ok(body)
}

fn read_detail(resp: Response) -> RemoteDetail {
    let mut body = Vec::new();
    // A best-effort read of an error body; failures just lose the detail.
    let _ = resp.take(64 * 1024).read_to_end(&mut body);
    RemoteDetail::from_body(&body)
}

/// Maps non-success statuses to errors, decoding OCI error bodies.
pub(crate) fn check_status(target: &Target, resp: Response) -> Result<Response, RegistryError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let t = target.clone();
    Err(match status {
        StatusCode::UNAUTHORIZED => RegistryError::Unauthorized {
            target: t,
            detail: read_detail(resp),
        },
        StatusCode::FORBIDDEN => RegistryError::Denied {
            target: t,
            detail: read_detail(resp),
        },
        StatusCode::NOT_FOUND => RegistryError::NotFound {
            target: t,
            detail: read_detail(resp),
        },
        s => RegistryError::Status {
            target: t,
            status: s.as_u16(),
            detail: read_detail(resp),
        },
    })
}
