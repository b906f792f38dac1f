//! Authentication (HTTP Basic, bearer tokens) and authorization for the
//! registry and the admin API. Decisions are in [`rbac`], tokens in [`token`].

pub mod guard;
pub mod rbac;
pub mod token;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use caisson_registry_store::{now_ms, BlobStore, MetaStore, Robot, User};
use sha2::Digest as _;

use crate::error::{ApiError, Code};
use crate::route::namespace_of;
use crate::Registry;
use rbac::{Action, Principal};
use token::{AccessEntry, Scope};

/// How long a verified password stays cached (argon2 is deliberately slow).
const CREDENTIAL_CACHE: Duration = Duration::from_secs(60);

/// Hashes a password or robot secret with argon2id (PHC string).
pub fn hash_secret(secret: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(Argon2::default()
        .hash_password(secret.as_bytes(), &salt)?
        .to_string())
}

/// Checks a secret against a PHC hash (constant-time inside argon2).
pub fn verify_secret(hash: &str, secret: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn refusal(actor: &str, r: guard::Refusal) -> AuthFailure {
    match r {
        guard::Refusal::Throttled {
            retry_after,
            by,
            first,
        } => AuthFailure {
            actor: actor.to_string(),
            reason: format!(
                "login throttled by {by} after repeated failures; retry after {} s",
                retry_after.as_secs().max(1)
            ),
            kind: FailureKind::Throttled { retry_after, first },
        },
        guard::Refusal::Busy => AuthFailure {
            actor: actor.to_string(),
            reason: "password verification slots busy".into(),
            kind: FailureKind::Busy,
        },
    }
}

/// A new random secret (robot credentials, generated admin password).
pub fn random_secret() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The outcome of authenticating one request.
#[derive(Debug, Clone)]
pub struct Authn {
    pub principal: Principal,
    /// For bearer tokens, what the token grants; `None` means "ask the roles".
    pub token_access: Option<Vec<AccessEntry>>,
}

/// How credentials were refused; decides the answer's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Wrong password, unknown account, bad or stale token: 401.
    Invalid,
    /// Too many recent failures from this address or for this user: 429.
    Throttled { retry_after: Duration, first: bool },
    /// Every password verification slot is busy: 503.
    Busy,
}

/// Why credentials were refused (the reason is audited, never the secret;
/// clients see only [`AuthFailure::public_message`]).
#[derive(Debug, Clone)]
pub struct AuthFailure {
    pub actor: String,
    pub reason: String,
    pub kind: FailureKind,
}

impl AuthFailure {
    /// What the client is told: one message for unknown accounts and wrong
    /// passwords, so account names cannot be enumerated.
    pub fn public_message(&self) -> String {
        match &self.kind {
            FailureKind::Invalid if self.reason.starts_with("bearer token") => self.reason.clone(),
            FailureKind::Invalid => "invalid username or password".into(),
            FailureKind::Throttled { retry_after, .. } => format!(
                "too many failed logins; retry after {} s",
                retry_after.as_secs().max(1)
            ),
            FailureKind::Busy => "too many logins in progress; retry shortly".into(),
        }
    }

    /// The error response: 401 with `challenge`, 429 or 503 with `Retry-After`.
    pub fn to_api_error(&self, challenge: &str) -> ApiError {
        let msg = self.public_message();
        match &self.kind {
            FailureKind::Invalid => ApiError::new(Code::Unauthorized, msg)
                .with_header(axum::http::header::WWW_AUTHENTICATE, challenge),
            FailureKind::Throttled { retry_after, .. } => ApiError::new(Code::TooManyRequests, msg)
                .with_header(
                    axum::http::header::RETRY_AFTER,
                    &retry_after.as_secs().max(1).to_string(),
                ),
            FailureKind::Busy => ApiError::new(Code::TooManyRequests, msg)
                .with_status(axum::http::StatusCode::SERVICE_UNAVAILABLE)
                .with_header(axum::http::header::RETRY_AFTER, "1"),
        }
    }

    /// Whether this failure goes to the audit log (throttled refusals are
    /// recorded once per delay, not once per request).
    pub fn audited(&self) -> bool {
        !matches!(self.kind, FailureKind::Throttled { first: false, .. })
    }
}

fn fail(actor: impl Into<String>, reason: impl Into<String>) -> AuthFailure {
    AuthFailure {
        actor: actor.into(),
        reason: reason.into(),
        kind: FailureKind::Invalid,
    }
}

/// Decodes `Authorization: Basic …` into user and password.
pub fn parse_basic(value: &str) -> Option<(String, String)> {
    let b64 = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let raw = STANDARD.decode(b64.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The bearer token of an `Authorization` header, if it is one.
pub fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(str::trim)
}

/// The client address of a `source` (`ip:port`), for throttling.
pub fn address_of(source: &str) -> String {
    source
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| source.to_string())
}

/// A token's binding to the account it was issued for: changes when the
/// account is re-created (new creation time and salt) or its password or
/// secret changes, so earlier tokens stop working.
pub fn credential_generation(name: &str, created_ms: i64, secret_hash: &str) -> String {
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update([0u8]);
    h.update(created_ms.to_be_bytes());
    h.update([0u8]);
    h.update(secret_hash.as_bytes());
    hex::encode(h.finalize())
        .get(..32)
        .unwrap_or_default()
        .to_string()
}

/// An argon2 hash of nothing anyone knows: unknown accounts are verified
/// against it so they take as long as wrong passwords.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_secret(&random_secret()).unwrap_or_default())
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    fn cache_key(user: &str, secret: &str) -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        h.update(user.as_bytes());
        h.update([0u8]);
        h.update(secret.as_bytes());
        h.finalize().into()
    }

    fn cached(&self, key: &[u8; 32]) -> bool {
        self.cred_cache
            .lock()
            .ok()
            .and_then(|m| m.get(key).copied())
            .is_some_and(|t| t.elapsed() < CREDENTIAL_CACHE)
    }

    fn remember(&self, key: [u8; 32]) {
        if let Ok(mut m) = self.cred_cache.lock() {
            if m.len() > 10_000 {
                m.retain(|_, t| t.elapsed() < CREDENTIAL_CACHE);
            }
            m.insert(key, Instant::now());
        }
    }

    /// Forgets cached credentials (after a password change or deletion).
    pub(crate) fn flush_credentials(&self) {
        if let Ok(mut m) = self.cred_cache.lock() {
            m.clear();
        }
    }

    /// Verifies `secret` against `hash` (or the dummy hash when the account
    /// is unknown), under the login guard: recently verified credentials
    /// pass at once; otherwise throttled addresses and users are refused,
    /// and the verification waits for a bounded slot.
    async fn check_secret(
        &self,
        actor: &str,
        user: &str,
        hash: Option<&str>,
        secret: &str,
        address: &str,
    ) -> Result<(), AuthFailure> {
        let key = Self::cache_key(user, secret);
        if hash.is_some() && self.cached(&key) {
            return Ok(());
        }
        let now = Instant::now();
        self.login_guard
            .admit(user, address, now)
            .map_err(|r| refusal(actor, r))?;
        let known = hash.is_some();
        let (hash, secret_owned) = (
            hash.unwrap_or_else(|| dummy_hash()).to_string(),
            secret.to_string(),
        );
        let ok = self
            .login_guard
            .verify(move || verify_secret(&hash, &secret_owned))
            .await
            .map_err(|r| refusal(actor, r))?;
        if ok && known {
            self.remember(key);
            self.login_guard.succeeded(user, address, Instant::now());
            return Ok(());
        }
        let (by_addr, by_user) = self.login_guard.failed(user, address, Instant::now());
        let what = if known {
            "wrong password or secret"
        } else {
            "unknown account"
        };
        Err(fail(
            actor,
            format!("{what} ({by_addr} recent failures from {address}, {by_user} for {user})"),
        ))
    }

    fn robot_principal(robot: Robot) -> Result<Principal, AuthFailure> {
        if robot.expires_ms.is_some_and(|e| e <= now_ms()) {
            return Err(fail(
                format!("robot:{}", robot.name),
                "robot account expired",
            ));
        }
        Ok(Principal::Robot {
            name: robot.name,
            scopes: robot.scopes,
        })
    }

    fn user_principal(user: User) -> Principal {
        Principal::User {
            name: user.name,
            system_admin: user.system_admin,
        }
    }

    /// Checks user or robot credentials presented from `source` (`ip:port`).
    pub async fn login(
        &self,
        user: &str,
        secret: &str,
        source: &str,
    ) -> Result<Principal, AuthFailure> {
        let address = address_of(source);
        if user.starts_with("robot$") {
            let actor = format!("robot:{user}");
            let robot = self
                .meta
                .get_robot(user)
                .await
                .map_err(|e| fail(actor.clone(), e.to_string()))?;
            self.check_secret(
                &actor,
                user,
                robot.as_ref().map(|r| r.secret_hash.as_str()),
                secret,
                &address,
            )
            .await?;
            let robot = robot.ok_or_else(|| fail(actor, "unknown account"))?;
            return Self::robot_principal(robot);
        }
        let actor = format!("user:{user}");
        let u = self
            .meta
            .get_user(user)
            .await
            .map_err(|e| fail(actor.clone(), e.to_string()))?;
        self.check_secret(
            &actor,
            user,
            u.as_ref().map(|u| u.password_hash.as_str()),
            secret,
            &address,
        )
        .await?;
        let u = u.ok_or_else(|| fail(actor, "unknown account"))?;
        Ok(Self::user_principal(u))
    }

    /// The current credential generation of account `name` (a token's `gen`
    /// must match it), or `None` when the account no longer exists.
    pub(crate) async fn generation_of(&self, name: &str) -> Option<(Principal, String)> {
        if name.starts_with("robot$") {
            let r = self.meta.get_robot(name).await.ok().flatten()?;
            let gen = credential_generation(&r.name, r.created_ms, &r.secret_hash);
            let p = Self::robot_principal(r).ok()?;
            Some((p, gen))
        } else {
            let u = self.meta.get_user(name).await.ok().flatten()?;
            let gen = credential_generation(&u.name, u.created_ms, &u.password_hash);
            Some((Self::user_principal(u), gen))
        }
    }

    /// Authenticates a request from its `Authorization` header; `source` is
    /// the client's `ip:port` (failed logins are throttled per address).
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        source: &str,
    ) -> Result<Authn, AuthFailure> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Authn {
                principal: Principal::Anonymous,
                token_access: None,
            });
        };
        let value = value
            .to_str()
            .map_err(|_| fail("anonymous", "Authorization header is not ASCII"))?;
        if let Some(tok) = bearer_of(headers) {
            let claims = self
                .tokens
                .verify(tok, now_ms() / 1000, &self.config.service)
                .map_err(|e| fail("anonymous", format!("bearer token refused: {e}")))?;
            let principal = if claims.sub.is_empty() {
                Principal::Anonymous
            } else {
                let actor = if claims.sub.starts_with("robot$") {
                    format!("robot:{}", claims.sub)
                } else {
                    format!("user:{}", claims.sub)
                };
                let (principal, gen) = self.generation_of(&claims.sub).await.ok_or_else(|| {
                    fail(
                        actor.clone(),
                        "bearer token refused: its account no longer exists or has expired",
                    )
                })?;
                if gen != claims.gen {
                    return Err(fail(
                        actor,
                        "bearer token refused: issued for an earlier credential of this account",
                    ));
                }
                principal
            };
            return Ok(Authn {
                principal,
                token_access: Some(claims.access),
            });
        }
        let (user, pass) =
            parse_basic(value).ok_or_else(|| fail("anonymous", "malformed Basic credentials"))?;
        let principal = self.login(&user, &pass, source).await?;
        Ok(Authn {
            principal,
            token_access: None,
        })
    }

    /// Whether `principal` (by its roles) may do `action` on repository `repo`.
    pub async fn may(&self, principal: &Principal, repo: &str, action: Action) -> bool {
        let ns = namespace_of(repo);
        let nsrec = self.meta.get_namespace(ns).await.ok().flatten();
        let public = nsrec.as_ref().is_some_and(|n| n.public);
        let role = match principal {
            Principal::User { name, .. } => self
                .meta
                .memberships_of_user(name)
                .await
                .ok()
                .and_then(|ms| ms.into_iter().find(|m| m.namespace == ns).map(|m| m.role)),
            _ => None,
        };
        rbac::allowed(principal, ns, role, public, action)
    }

    /// Whether an authenticated request may do `action` on `repo`. A
    /// token must grant it in its `access` claim *and* the account must
    /// still hold it now (roles are checked at use, not only at issue).
    pub async fn authorize(&self, authn: &Authn, repo: &str, action: Action) -> bool {
        if let Some(access) = &authn.token_access {
            let granted = access.iter().any(|a| {
                a.kind == "repository"
                    && a.name == repo
                    && a.actions.iter().any(|x| x == action.as_str() || x == "*")
            });
            if !granted {
                return false;
            }
        }
        self.may(&authn.principal, repo, action).await
    }

    /// The subset of requested scopes the principal holds (token issuance).
    pub async fn grant(&self, principal: &Principal, scopes: &[Scope]) -> Vec<AccessEntry> {
        let mut out = Vec::new();
        for s in scopes {
            if s.kind == "registry" && s.name == "catalog" {
                if !matches!(principal, Principal::Anonymous) {
                    out.push(AccessEntry {
                        kind: "registry".into(),
                        name: "catalog".into(),
                        actions: vec!["*".into()],
                    });
                }
                continue;
            }
            if s.kind != "repository" || crate::route::validate_name(&s.name).is_err() {
                continue;
            }
            let mut actions = Vec::new();
            for a in &s.actions {
                let wanted: Vec<Action> = if a == "*" {
                    vec![Action::Pull, Action::Push, Action::Delete]
                } else {
                    Action::parse(a).into_iter().collect()
                };
                for w in wanted {
                    if !actions.contains(&w.as_str().to_string())
                        && self.may(principal, &s.name, w).await
                    {
                        actions.push(w.as_str().to_string());
                    }
                }
            }
            out.push(AccessEntry {
                kind: "repository".into(),
                name: s.name.clone(),
                actions,
            });
        }
        out
    }
}
