//! Authentication (HTTP Basic, bearer tokens) and authorization for the
//! registry and the admin API. Decisions are in [`rbac`], tokens in [`token`].

pub mod rbac;
pub mod token;

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use caisson_registry_store::{now_ms, BlobStore, MetaStore, Robot, User};
use sha2::Digest as _;

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

/// Why credentials were refused (the message is audited, never the secret).
#[derive(Debug, Clone)]
pub struct AuthFailure {
    pub actor: String,
    pub reason: String,
}

fn fail(actor: impl Into<String>, reason: impl Into<String>) -> AuthFailure {
    AuthFailure {
        actor: actor.into(),
        reason: reason.into(),
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

    async fn check_secret(&self, user: &str, hash: &str, secret: &str) -> bool {
        let key = Self::cache_key(user, secret);
        if self.cached(&key) {
            return true;
        }
        let (hash, secret) = (hash.to_string(), secret.to_string());
        let ok = tokio::task::spawn_blocking(move || verify_secret(&hash, &secret))
            .await
            .unwrap_or(false);
        if ok {
            self.remember(key);
        }
        ok
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

    /// Checks user or robot credentials.
    pub async fn login(&self, user: &str, secret: &str) -> Result<Principal, AuthFailure> {
        if user.starts_with("robot$") {
            let robot = self
                .meta
                .get_robot(user)
                .await
                .map_err(|e| fail(format!("robot:{user}"), e.to_string()))?
                .ok_or_else(|| fail(format!("robot:{user}"), "unknown robot"))?;
            if !self.check_secret(user, &robot.secret_hash, secret).await {
                return Err(fail(format!("robot:{user}"), "wrong secret"));
            }
            return Self::robot_principal(robot);
        }
        let u = self
            .meta
            .get_user(user)
            .await
            .map_err(|e| fail(format!("user:{user}"), e.to_string()))?
            .ok_or_else(|| fail(format!("user:{user}"), "unknown user"))?;
        if !self.check_secret(user, &u.password_hash, secret).await {
            return Err(fail(format!("user:{user}"), "wrong password"));
        }
        Ok(Self::user_principal(u))
    }

    /// Authenticates a request from its `Authorization` header.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Authn, AuthFailure> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Authn {
                principal: Principal::Anonymous,
                token_access: None,
            });
        };
        let value = value
            .to_str()
            .map_err(|_| fail("anonymous", "Authorization header is not ASCII"))?;
        if let Some(tok) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        {
            let claims = self
                .tokens
                .verify(tok.trim(), now_ms() / 1000, &self.config.service)
                .map_err(|e| fail("anonymous", format!("bearer token refused: {e}")))?;
            let principal = if claims.sub.is_empty() {
                Principal::Anonymous
            } else if claims.sub.starts_with("robot$") {
                let robot = self
                    .meta
                    .get_robot(&claims.sub)
                    .await
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        fail(format!("robot:{}", claims.sub), "robot no longer exists")
                    })?;
                Self::robot_principal(robot)?
            } else {
                let user = self
                    .meta
                    .get_user(&claims.sub)
                    .await
                    .ok()
                    .flatten()
                    .ok_or_else(|| fail(format!("user:{}", claims.sub), "user no longer exists"))?;
                Self::user_principal(user)
            };
            return Ok(Authn {
                principal,
                token_access: Some(claims.access),
            });
        }
        let (user, pass) =
            parse_basic(value).ok_or_else(|| fail("anonymous", "malformed Basic credentials"))?;
        let principal = self.login(&user, &pass).await?;
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

    /// Whether an authenticated request may do `action` on `repo`.
    pub async fn authorize(&self, authn: &Authn, repo: &str, action: Action) -> bool {
        match &authn.token_access {
            Some(access) => access.iter().any(|a| {
                a.kind == "repository"
                    && a.name == repo
                    && a.actions.iter().any(|x| x == action.as_str() || x == "*")
            }),
            None => self.may(&authn.principal, repo, action).await,
        }
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
