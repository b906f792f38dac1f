//! The `/v2/…` dispatcher (authenticate, route, authorize, audit) and the
//! `/token` endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use caisson_audit::Outcome;
use caisson_registry_store::{now_ms, BlobStore, MetaStore};

use crate::auth::rbac::{Action, Principal};
use crate::auth::token::{parse_scopes, Claims};
use crate::auth::{parse_basic, AuthFailure, Authn};
use crate::error::{ApiError, ApiResult, Code};
use crate::route::{parse_v2_path, validate_name, Route};
use crate::Registry;

/// Per-request context handed to the endpoint handlers.
pub(crate) struct Ctx {
    pub authn: Authn,
    pub source: String,
}

impl Ctx {
    pub fn actor(&self) -> String {
        self.authn.principal.actor()
    }
}

pub(crate) fn source_of(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default()
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// The externally visible base URL: `--public-url` when set, else from
    /// the `Host` header when it is a valid `host[:port]` (anything else,
    /// e.g. a header carrying quotes, falls back to `localhost`).
    pub(crate) fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(u) = &self.config.public_url {
            return u.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| valid_host(h))
            .unwrap_or("localhost");
        let scheme = if self.config.tls { "https" } else { "http" };
        format!("{scheme}://{host}")
    }

    pub(crate) fn challenge(
        &self,
        headers: &HeaderMap,
        scope: Option<String>,
        insufficient: bool,
    ) -> String {
        let mut c = format!(
            "Bearer realm={},service={}",
            quoted(&format!("{}/token", self.base_url(headers))),
            quoted(&self.config.service)
        );
        if let Some(s) = scope {
            c.push_str(&format!(",scope={}", quoted(&s)));
        }
        if insufficient {
            c.push_str(",error=\"insufficient_scope\"");
        }
        c
    }

    /// Audits a successful Basic login at most once a minute per actor and address.
    async fn audit_login(&self, ctx: &Ctx) -> ApiResult<()> {
        if ctx.authn.token_access.is_some() || matches!(ctx.authn.principal, Principal::Anonymous) {
            return Ok(());
        }
        let key = format!(
            "{}|{}",
            ctx.actor(),
            ctx.source.split(':').next().unwrap_or("")
        );
        let fresh = match self.auth_seen.lock() {
            Ok(mut m) => {
                let seen = m
                    .get(&key)
                    .is_some_and(|t| t.elapsed() < Duration::from_secs(60));
                if !seen {
                    m.insert(key.clone(), Instant::now());
                }
                !seen
            }
            Err(_) => true,
        };
        if fresh {
            let audited = self
                .audit(
                    &ctx.actor(),
                    &ctx.source,
                    "auth",
                    "basic",
                    Outcome::Success,
                    "",
                )
                .await;
            if audited.is_err() {
                // Not on record: the next request tries again.
                if let Ok(mut m) = self.auth_seen.lock() {
                    m.remove(&key);
                }
            }
            audited?;
        }
        Ok(())
    }

    async fn auth_failed(&self, headers: &HeaderMap, source: &str, f: AuthFailure) -> ApiError {
        if f.audited() {
            if let Err(e) = self
                .audit(&f.actor, source, "auth", "v2", Outcome::Failure, &f.reason)
                .await
            {
                return e.into();
            }
        }
        f.to_api_error(&self.challenge(headers, None, false))
    }

    /// Checks `action` on `repo`; denials are audited and answered 401
    /// (anonymous or token lacking the scope, with a challenge) or 403.
    pub(crate) async fn require(
        &self,
        ctx: &Ctx,
        headers: &HeaderMap,
        repo: &str,
        action: Action,
    ) -> ApiResult<()> {
        if self.authorize(&ctx.authn, repo, action).await {
            return Ok(());
        }
        self.audit(
            &ctx.actor(),
            &ctx.source,
            action.as_str(),
            repo,
            Outcome::Denied,
            "insufficient permissions",
        )
        .await?;
        let scope_actions = match action {
            Action::Pull => "pull",
            Action::Push => "pull,push",
            Action::Delete => "delete",
        };
        let scope = format!("repository:{repo}:{scope_actions}");
        match (&ctx.authn.principal, &ctx.authn.token_access) {
            (Principal::Anonymous, _) | (_, Some(_)) => Err(ApiError::new(
                Code::Unauthorized,
                format!("authentication required to {} {repo}", action.as_str()),
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                &self.challenge(headers, Some(scope), ctx.authn.token_access.is_some()),
            )),
            _ => Err(ApiError::new(
                Code::Denied,
                format!("{} may not {} {repo}", ctx.actor(), action.as_str()),
            )),
        }
    }

    /// Whether this request is one the pull sampler records.
    pub(crate) fn sample_pull(&self) -> bool {
        let every = self.config.pull_audit_every;
        every != 0
            && self
                .pull_counter
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .is_multiple_of(every)
    }
}

fn required_action(route: &Route, method: &Method) -> Action {
    match route {
        Route::UploadStart { .. } | Route::Upload { .. } => Action::Push,
        Route::Manifest { .. } if *method == Method::PUT => Action::Push,
        Route::Manifest { .. } | Route::Blob { .. } if *method == Method::DELETE => Action::Delete,
        _ => Action::Pull,
    }
}

pub(crate) async fn handle<B: BlobStore, M: MetaStore>(
    State(reg): State<Arc<Registry<B, M>>>,
    req: Request,
) -> Response {
    let mut resp = match dispatch(&reg, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    resp.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

async fn dispatch<B: BlobStore, M: MetaStore>(
    reg: &Registry<B, M>,
    req: Request,
) -> ApiResult<Response> {
    let source = source_of(&req);
    let route = parse_v2_path(req.uri().path()).ok_or_else(|| {
        ApiError::new(Code::NameUnknown, "no such endpoint").with_status(StatusCode::NOT_FOUND)
    })?;
    let authn = match reg.authenticate(req.headers(), &source).await {
        Ok(a) => a,
        Err(f) => return Err(reg.auth_failed(req.headers(), &source, f).await),
    };
    let ctx = Ctx { authn, source };
    reg.audit_login(&ctx).await?;
    match &route {
        Route::Ping => {
            if matches!(ctx.authn.principal, Principal::Anonymous)
                && ctx.authn.token_access.is_none()
            {
                return Err(ApiError::new(Code::Unauthorized, "authentication required")
                    .with_header(
                        header::WWW_AUTHENTICATE,
                        &reg.challenge(req.headers(), None, false),
                    ));
            }
            return Ok((StatusCode::OK, axum::Json(serde_json::json!({}))).into_response());
        }
        Route::Catalog => return reg.catalog(&ctx, req).await,
        _ => {}
    }
    let name = route.name().unwrap_or_default().to_string();
    validate_name(&name).map_err(|m| ApiError::new(Code::NameInvalid, m))?;
    let action = required_action(&route, req.method());
    reg.require(&ctx, req.headers(), &name, action).await?;
    let method = req.method().clone();
    match (route, method) {
        (Route::Tags { name }, Method::GET) => reg.tags(&name, req).await,
        (Route::Manifest { name, reference }, Method::GET | Method::HEAD) => {
            reg.get_manifest(&ctx, &name, &reference, req).await
        }
        (Route::Manifest { name, reference }, Method::PUT) => {
            reg.put_manifest(&ctx, &name, &reference, req).await
        }
        (Route::Manifest { name, reference }, Method::DELETE) => {
            reg.delete_manifest(&ctx, &name, &reference).await
        }
        (Route::Referrers { name, digest }, Method::GET) => {
            reg.referrers(&name, &digest, req).await
        }
        (Route::Blob { name, digest }, Method::GET | Method::HEAD) => {
            reg.get_blob(&ctx, &name, &digest, req).await
        }
        (Route::Blob { name, digest }, Method::DELETE) => {
            reg.delete_blob(&ctx, &name, &digest).await
        }
        (Route::UploadStart { name }, Method::POST) => reg.start_upload(&ctx, &name, req).await,
        (Route::Upload { name, id }, Method::PATCH) => reg.patch_upload(&name, &id, req).await,
        (Route::Upload { name, id }, Method::PUT) => reg.finish_upload(&ctx, &name, &id, req).await,
        (Route::Upload { name, id }, Method::GET) => reg.upload_status(&name, &id).await,
        (Route::Upload { name, id }, Method::DELETE) => reg.cancel_upload(&name, &id).await,
        (_, m) => Err(ApiError::new(
            Code::Unsupported,
            format!("method {m} not allowed here"),
        )),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    service: Option<String>,
}

/// `GET /token?service=…&scope=…`: Basic credentials (or none) in, a signed
/// short-lived JWT with the granted subset of the requested scopes out.
pub(crate) async fn token<B: BlobStore, M: MetaStore>(
    State(reg): State<Arc<Registry<B, M>>>,
    Query(q): Query<TokenQuery>,
    req: Request,
) -> Response {
    let source = source_of(&req);
    // `scope` may repeat; serde_urlencoded keeps only one, so read the raw query.
    let scopes: Vec<_> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("scope="))
        .map(percent_decode)
        .flat_map(|v| parse_scopes(&v))
        .collect();
    if let Some(s) = &q.service {
        if *s != reg.config.service {
            return ApiError::new(Code::Denied, format!("unknown service {s:?}"))
                .with_status(StatusCode::BAD_REQUEST)
                .into_response();
        }
    }
    let principal = match req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        None => Principal::Anonymous,
        Some(v) => {
            let Some((user, pass)) = parse_basic(v) else {
                let audited = reg
                    .audit(
                        "anonymous",
                        &source,
                        "auth",
                        "token",
                        Outcome::Failure,
                        "malformed Basic credentials",
                    )
                    .await;
                return refused(audited, "malformed Basic credentials");
            };
            match reg.login(&user, &pass, &source).await {
                Ok(p) => p,
                Err(f) => {
                    if f.audited() {
                        let audited = reg
                            .audit(
                                &f.actor,
                                &source,
                                "auth",
                                "token",
                                Outcome::Failure,
                                &f.reason,
                            )
                            .await;
                        if let Err(e) = audited {
                            return ApiError::from(e).into_response();
                        }
                    }
                    return f.to_api_error("Basic realm=\"caisson\"").into_response();
                }
            }
        }
    };
    let access = reg.grant(&principal, &scopes).await;
    let now = now_ms() / 1000;
    let sub = match &principal {
        Principal::Anonymous => String::new(),
        Principal::User { name, .. } | Principal::Robot { name, .. } => name.clone(),
    };
    let gen = if sub.is_empty() {
        String::new()
    } else {
        match reg.generation_of(&sub).await {
            Some((_, g)) => g,
            None => {
                return ApiError::new(Code::Unauthorized, "invalid username or password")
                    .into_response()
            }
        }
    };
    let claims = Claims {
        iss: reg.config.service.clone(),
        sub,
        aud: reg.config.service.clone(),
        exp: now.saturating_add(reg.config.token_ttl_secs),
        nbf: now.saturating_sub(5),
        iat: now,
        jti: hex::encode(rand::random::<[u8; 16]>()),
        access,
        gen,
    };
    if !matches!(principal, Principal::Anonymous) {
        let granted: Vec<String> = claims
            .access
            .iter()
            .map(|a| format!("{}:{}:{}", a.kind, a.name, a.actions.join(",")))
            .collect();
        let audited = reg
            .audit(
                &principal.actor(),
                &source,
                "auth",
                "token",
                Outcome::Success,
                &granted.join(" "),
            )
            .await;
        // No token is issued unless its issuance is on record.
        if let Err(e) = audited {
            return ApiError::from(e).into_response();
        }
    }
    let token = reg.tokens.sign(&claims);
    axum::Json(serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": reg.config.token_ttl_secs,
        "issued_at": caisson_report::rfc3339_utc_secs(now),
    }))
    .into_response()
}

/// Whether `h` is a `Host` header value: a DNS name, IPv4 address or
/// bracketed IPv6 address, with an optional port.
pub(crate) fn valid_host(h: &str) -> bool {
    if h.is_empty() || h.len() > 262 {
        return false;
    }
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return false,
            },
        }
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(h), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    host.is_none_or(|host| {
        !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    })
}

/// An HTTP quoted-string (RFC 9110 §5.6.4): `"` and `\` escaped.
pub(crate) fn quoted(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Decodes `%XX` and `+` in a query value; a malformed escape stays as
/// written.
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A refused login: 401, or 503 when the refusal could not be audited.
fn refused(audited: Result<(), caisson_registry_store::StoreError>, message: &str) -> Response {
    match audited {
        Ok(()) => ApiError::new(Code::Unauthorized, message).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_headers_are_checked_before_they_reach_a_challenge() {
        for ok in [
            "registry.example",
            "localhost:5000",
            "127.0.0.1:80",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(super::valid_host(ok), "{ok}");
        }
        for bad in [
            "evil\",service=\"x",
            "",
            "a b",
            "host:",
            "host:99999x",
            "[::1",
            "[zz]:1",
            "a..b",
            "x/y",
        ] {
            assert!(!super::valid_host(bad), "{bad}");
        }
        assert_eq!(super::quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            super::percent_decode("repository%3Aa%2Fb%3Apull+x"),
            "repository:a/b:pull x"
        );
        assert_eq!(super::percent_decode("%zz%"), "%zz%");
        assert_eq!(super::percent_decode("a%2Bb%20c"), "a+b c");
        assert_eq!(super::percent_decode("%+1"), "% 1");
    }
}
