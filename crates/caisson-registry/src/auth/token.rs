//! Docker registry bearer tokens: compact JWS (ES256) with `access` claims,
//! and the `scope` parameter grammar (`repository:<name>:<actions>`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};

/// One `access` entry of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<AccessEntry>,
    /// The account's credential generation at issue (see
    /// `auth::credential_generation`); empty for anonymous tokens.
    #[serde(default)]
    pub gen: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a compact JWS")]
    Format,
    #[error("token signature does not verify")]
    Signature,
    #[error("token has expired or is not yet valid")]
    Expired,
    #[error("token audience {0:?} is not this registry")]
    Audience(String),
    #[error("token issuer {0:?} is not this registry")]
    Issuer(String),
    #[error("reading token key {path}")]
    KeyIo {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("token key {0} is not a PKCS#8 P-256 key")]
    Key(String),
}

/// The ES256 key that signs and verifies tokens.
pub struct TokenKey {
    signing: SigningKey,
    verifying: VerifyingKey,
    kid: String,
    /// Tokens whose signature already verified, by SHA-256 of the whole
    /// token: clients reuse one token for many requests, and an ECDSA
    /// verification per request dominated the cost of a manifest GET.
    verified: Mutex<HashMap<[u8; 32], Claims>>,
}

/// Verified tokens remembered at most (the map is cleared when full; a
/// token is valid for minutes, so this bounds memory, not correctness).
const VERIFIED_CACHE_MAX: usize = 4096;

impl TokenKey {
    /// Loads the key from `path`, generating and storing one (mode 0600) on first use.
    pub fn load_or_create(path: &Path) -> Result<Self, TokenError> {
        let io = |source| TokenError::KeyIo {
            path: path.display().to_string(),
            source,
        };
        let signing = if path.exists() {
            let pem = fs_err::read_to_string(path).map_err(io)?;
            SigningKey::from_pkcs8_pem(&pem)
                .map_err(|_| TokenError::Key(path.display().to_string()))?
        } else {
            let key = SigningKey::random(&mut rand::rngs::OsRng);
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|_| TokenError::Key(path.display().to_string()))?;
            let tmp = path.with_extension("tmp");
            write_private(&tmp, pem.as_bytes()).map_err(io)?;
            fs_err::rename(&tmp, path).map_err(io)?;
            key
        };
        Ok(Self::from_signing(signing))
    }

    /// A fresh in-memory key (tests and fuzzing; servers use [`Self::load_or_create`]).
    pub fn generate() -> Self {
        Self::from_signing(SigningKey::random(&mut rand::rngs::OsRng))
    }

    fn from_signing(signing: SigningKey) -> Self {
        let verifying = *signing.verifying_key();
        let kid = {
            use sha2::Digest as _;
            let der = verifying.to_encoded_point(true);
            hex::encode(sha2::Sha256::digest(der.as_bytes()))
                .get(..16)
                .unwrap_or_default()
                .to_string()
        };
        TokenKey {
            signing,
            verifying,
            kid,
            verified: Mutex::new(HashMap::new()),
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let input = format!("{h}.{c}");
        let sig: Signature = self.signing.sign(input.as_bytes());
        let sig = sig.normalize_s().unwrap_or(sig);
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    /// Verifies signature, time window (`now` in seconds), audience and
    /// issuer (this registry issues its tokens with `iss` = `aud` = service).
    pub fn verify(&self, token: &str, now: i64, audience: &str) -> Result<Claims, TokenError> {
        let key: [u8; 32] = {
            use sha2::Digest as _;
            sha2::Sha256::digest(token.as_bytes()).into()
        };
        let cached = self.verified.lock().ok().and_then(|m| m.get(&key).cloned());
        let claims = match cached {
            Some(c) => c,
            None => {
                let c = self.verify_signature(token)?;
                if let Ok(mut m) = self.verified.lock() {
                    if m.len() >= VERIFIED_CACHE_MAX {
                        m.clear();
                    }
                    m.insert(key, c.clone());
                }
                c
            }
        };
        if now >= claims.exp || now.saturating_add(60) < claims.nbf {
            return Err(TokenError::Expired);
        }
        if claims.aud != audience {
            return Err(TokenError::Audience(claims.aud));
        }
        if claims.iss != audience {
            return Err(TokenError::Issuer(claims.iss));
        }
        Ok(claims)
    }

    /// Checks the compact JWS and returns its claims (no time or audience checks).
    fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Format);
        };
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Format)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("ES256") {
            return Err(TokenError::Signature);
        }
        let sig_bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Format)?;
        let sig = Signature::from_slice(&sig_bytes).map_err(|_| TokenError::Signature)?;
        // Only the low-s form is ever issued: (r, n−s) is the same signature
        // re-encoded, and accepting it would make tokens malleable.
        if sig.normalize_s().is_some() {
            return Err(TokenError::Signature);
        }
        let input = format!("{h}.{c}");
        self.verifying
            .verify(input.as_bytes(), &sig)
            .map_err(|_| TokenError::Signature)?;
        URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice::<Claims>(&b).ok())
            .ok_or(TokenError::Format)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// A requested scope: `repository:<name>:<action,…>` or `registry:catalog:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// Parses one `scope` value (several may be space-separated). The name may
/// contain `:` only before the last one (host:port names are not used here).
pub fn parse_scopes(s: &str) -> Vec<Scope> {
    s.split(' ')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (kind, rest) = p.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            Some(Scope {
                kind: kind.to_string(),
                name: name.to_string(),
                actions: actions
                    .split(',')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_tampering_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = TokenKey::load_or_create(&dir.path().join("k.pem")).expect("key");
        let claims = Claims {
            iss: "svc".into(),
            sub: "alice".into(),
            aud: "svc".into(),
            exp: 2000,
            nbf: 1000,
            iat: 1000,
            jti: "x".into(),
            access: vec![AccessEntry {
                kind: "repository".into(),
                name: "a/b".into(),
                actions: vec!["pull".into()],
            }],
            gen: "g".into(),
        };
        let t = key.sign(&claims);
        assert_eq!(key.verify(&t, 1500, "svc").expect("valid"), claims);
        assert!(matches!(
            key.verify(&t, 2000, "svc"),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            key.verify(&t, 1500, "other"),
            Err(TokenError::Audience(_))
        ));
        // Same key reloads from disk.
        let again = TokenKey::load_or_create(&dir.path().join("k.pem")).expect("reload");
        assert!(again.verify(&t, 1500, "svc").is_ok());
        // Changing the claims breaks the signature.
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                sub: "mallory".into(),
                ..claims
            })
            .expect("json"),
        );
        parts[1] = &forged;
        assert!(matches!(
            key.verify(&parts.join("."), 1500, "svc"),
            Err(TokenError::Signature)
        ));
    }

    fn claims(iss: &str) -> Claims {
        Claims {
            iss: iss.into(),
            sub: "alice".into(),
            aud: "svc".into(),
            exp: 2000,
            nbf: 1000,
            iat: 1000,
            jti: "x".into(),
            access: vec![],
            gen: String::new(),
        }
    }

    #[test]
    fn a_token_re_encoded_with_high_s_is_refused() {
        // Regression: (r, n−s) verifies as ECDSA but is not the token issued.
        let key = TokenKey::generate();
        for _ in 0..8 {
            let t = key.sign(&claims("svc"));
            assert!(key.verify(&t, 1500, "svc").is_ok());
            let (input, s) = t.rsplit_once('.').expect("three parts");
            let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(s).expect("b64")).expect("sig");
            let (r, s) = sig.split_scalars();
            let high = Signature::from_scalars(r, -*s).expect("high-s signature");
            let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(high.to_bytes()));
            assert!(matches!(
                key.verify(&forged, 1500, "svc"),
                Err(TokenError::Signature)
            ));
        }
    }

    #[test]
    fn a_token_from_another_issuer_is_refused() {
        let key = TokenKey::generate();
        let t = key.sign(&claims("someone-else"));
        assert!(matches!(
            key.verify(&t, 1500, "svc"),
            Err(TokenError::Issuer(_))
        ));
    }

    #[test]
    fn scopes_parse() {
        let s = parse_scopes("repository:team/app:pull,push registry:catalog:*");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "team/app");
        assert_eq!(s[0].actions, vec!["pull", "push"]);
        assert_eq!(s[1].kind, "registry");
    }
}
