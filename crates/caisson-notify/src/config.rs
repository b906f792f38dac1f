//! Webhook endpoints from YAML:
//!
//! ```yaml
//! webhooks:
//!   - name: security-team
//!     url: https://hooks.example.com/caisson
//!     secret_env: CAISSON_WEBHOOK_SECRET   # or secret_file: /run/secrets/hook
//!     events: [scan.completed, finding.new-critical, policy.violation]
//! ```
//!
//! `events` empty or absent: every event. Secrets come from the environment
//! or a file (inline `secret:` is accepted for tests and local use).

use std::path::Path;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::{events, NotifyError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    webhooks: Vec<EndpointConfig>,
}

/// One endpoint as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<String>,
    #[serde(default)]
    pub events: Vec<String>,
}

/// A validated endpoint with its secret.
#[derive(Clone)]
pub struct Endpoint {
    pub name: String,
    pub url: reqwest::Url,
    secret: Zeroizing<Vec<u8>>,
    pub events: Vec<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("url", &self.url.as_str())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Validates `config` and reads its secret.
    pub fn from_config(config: EndpointConfig) -> Result<Endpoint, NotifyError> {
        let bad = |problem: String| NotifyError::Endpoint {
            name: config.name.clone(),
            problem,
        };
        if config.name.trim().is_empty() {
            return Err(bad("has no name".into()));
        }
        let url: reqwest::Url = config
            .url
            .parse()
            .map_err(|e| bad(format!("url {:?} is not a URL: {e}", config.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!("url {:?} is not http(s)", config.url)));
        }
        for e in &config.events {
            if !events::ALL.contains(&e.as_str()) {
                return Err(bad(format!(
                    "unknown event {e:?} (known: {})",
                    events::ALL.join(", ")
                )));
            }
        }
        let secret = match (&config.secret, &config.secret_env, &config.secret_file) {
            (Some(s), None, None) => s.clone().into_bytes(),
            (None, Some(var), None) => std::env::var(var)
                .map_err(|_| bad(format!("secret_env {var} is not set")))?
                .into_bytes(),
            (None, None, Some(file)) => {
                let mut s = fs_err::read(file).map_err(|e| bad(format!("secret_file: {e}")))?;
                while s.last().is_some_and(u8::is_ascii_whitespace) {
                    s.pop();
                }
                s
            }
            (None, None, None) => {
                return Err(bad("needs one of secret_env, secret_file, secret".into()))
            }
            _ => {
                return Err(bad(
                    "give only one of secret_env, secret_file, secret".into()
                ))
            }
        };
        if secret.len() < 16 {
            return Err(bad("the secret is shorter than 16 bytes".into()));
        }
        Ok(Endpoint {
            name: config.name,
            url,
            secret: Zeroizing::new(secret),
            events: config.events,
        })
    }

    /// True when this endpoint wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

/// Reads and validates the endpoints of a YAML file.
pub fn load_endpoints(path: &Path) -> Result<Vec<Endpoint>, NotifyError> {
    let shown = path.display().to_string();
    let text = fs_err::read_to_string(path).map_err(|source| NotifyError::ReadConfig {
        path: shown.clone(),
        source,
    })?;
    let file: File = serde_norway::from_str(&text).map_err(|source| NotifyError::ParseConfig {
        path: shown,
        source,
    })?;
    let mut out: Vec<Endpoint> = Vec::new();
    for c in file.webhooks {
        if out.iter().any(|e| e.name == c.name) {
            return Err(NotifyError::Endpoint {
                name: c.name,
                problem: "is defined twice".into(),
            });
        }
        out.push(Endpoint::from_config(c)?);
    }
    Ok(out)
}
