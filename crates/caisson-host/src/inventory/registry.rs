//! `--registry URL`: findings a Caisson registry already stored for an
//! image, found by the image's repo digest (`host/repo@sha256:…`), through
//! the registry's `/api/v1/repositories/<repo>/manifests/<digest>/findings`.

use caisson_model::{Finding, Severity};
use caisson_oci::Reference;
use caisson_registry_client::caisson_api::CaissonApi;
use serde::Deserialize;

/// Why the registry could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum RegistrySetupError {
    #[error("invalid registry URL {url:?} (expected https://host[:port] or http://host[:port])")]
    BadUrl { url: String },
    #[error("setting up the client for the Caisson registry at {url}")]
    Api {
        url: String,
        #[source]
        source: caisson_registry_client::caisson_api::ApiError,
    },
}

/// A Caisson registry's scan API.
#[derive(Debug)]
pub struct RegistrySource {
    api: CaissonApi,
    /// `host[:port]`, compared with each repo digest's registry.
    host: String,
    url: String,
}

/// One finding as the registry stores it.
#[derive(Debug, Deserialize)]
struct StoredFinding {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    package: String,
    installed: String,
    #[serde(default)]
    purl: String,
    #[serde(default)]
    fixed: Vec<String>,
    severity: String,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FindingsDoc {
    health: Option<String>,
    #[serde(default)]
    findings: Vec<StoredFinding>,
}

/// What the registry has for an image.
#[derive(Debug)]
pub enum Lookup {
    /// Stored findings for `reference` (`host/repo@digest`).
    Found {
        reference: String,
        findings: Vec<Finding>,
    },
    /// None of the image's repo digests is in this registry.
    NotThere,
    /// The registry holds the image but has no usable scan, or the call
    /// failed: the image is scanned locally instead.
    Unavailable { reason: String },
}

fn severity(s: &str) -> Severity {
    match s.to_ascii_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        "NEGLIGIBLE" => Severity::Negligible,
        _ => Severity::Unknown,
    }
}

impl RegistrySource {
    /// `url` is `https://host[:port]`, `http://host[:port]` (plain HTTP) or
    /// `host[:port]` (HTTPS). Credentials: `explicit`, else the auth files
    /// `caisson registry status` reads.
    pub fn new(
        url: &str,
        ca_bundle: Option<&std::path::Path>,
        explicit: Option<(String, String)>,
    ) -> Result<RegistrySource, RegistrySetupError> {
        let bad = || RegistrySetupError::BadUrl {
            url: url.to_string(),
        };
        let (plain, rest) = match url.split_once("://") {
            Some(("http", r)) => (true, r),
            Some(("https", r)) => (false, r),
            Some(_) => return Err(bad()),
            None => (false, url),
        };
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains('/') {
            return Err(bad());
        }
        let probe: Reference = format!("{host}/probe").parse().map_err(|_| bad())?;
        let insecure = if plain {
            vec![probe.registry.clone()]
        } else {
            Vec::new()
        };
        let api = CaissonApi::for_reference(&probe, &insecure, ca_bundle, explicit).map_err(
            |source| RegistrySetupError::Api {
                url: url.to_string(),
                source,
            },
        )?;
        Ok(RegistrySource {
            api,
            host: probe.registry,
            url: url.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The stored findings of the first repo digest that lives in this
    /// registry and has a finished scan.
    pub fn lookup(&self, repo_digests: &[String]) -> Lookup {
        let mut reason = None;
        for rd in repo_digests {
            let Ok(r) = rd.parse::<Reference>() else {
                continue;
            };
            let Some(digest) = r.digest.as_ref() else {
                continue;
            };
            if !r.registry.eq_ignore_ascii_case(&self.host) {
                continue;
            }
            let path = format!("/repositories/{}/manifests/{digest}/findings", r.repository);
            match self.api.call_bytes(reqwest::Method::GET, &path) {
                Ok(bytes) => match serde_json::from_slice::<FindingsDoc>(&bytes) {
                    Ok(doc) if matches!(doc.health.as_deref(), Some("healthy" | "vulnerable")) => {
                        return Lookup::Found {
                            reference: rd.clone(),
                            findings: doc.findings.into_iter().map(to_finding).collect(),
                        }
                    }
                    Ok(doc) => {
                        reason = Some(format!(
                            "{} has no finished scan in {} (health {})",
                            rd,
                            self.url,
                            doc.health.as_deref().unwrap_or("unknown")
                        ))
                    }
                    Err(e) => reason = Some(format!("{}: unreadable findings: {e}", self.url)),
                },
                Err(e) => reason = Some(e.to_string()),
            }
        }
        match reason {
            Some(reason) => Lookup::Unavailable { reason },
            None => Lookup::NotThere,
        }
    }
}

fn to_finding(s: StoredFinding) -> Finding {
    Finding {
        id: s.id,
        aliases: s.aliases,
        package_id: s.purl,
        package_name: s.package,
        installed_version: s.installed,
        fixed_versions: s.fixed,
        severity: severity(&s.severity),
        severity_source: None,
        cvss_score: None,
        cvss_vector: None,
        title: s.title,
        references: Vec::new(),
        layer: None,
        locations: Vec::new(),
        data_source: "caisson-registry".into(),
        // The registry's stored findings do not say which records matched.
        records: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for bad in ["ftp://h", "https://", "https://h/x", ""] {
            assert!(
                matches!(
                    RegistrySource::new(bad, None, Some(("u".into(), "p".into()))),
                    Err(RegistrySetupError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
        let r = RegistrySource::new(
            "http://127.0.0.1:5000/",
            None,
            Some(("u".into(), "p".into())),
        )
        .expect("url");
        assert_eq!(r.host, "127.0.0.1:5000");
        // A repo digest of another registry is not looked up.
        let other = format!("docker.io/library/nginx@sha256:{}", "d".repeat(64));
        assert!(matches!(r.lookup(&[other]), Lookup::NotThere));
    }

    #[test]
    fn stored_findings_convert() {
        let s: StoredFinding = serde_json::from_value(serde_json::json!({
            "id": "CVE-1", "package": "openssl", "installed": "3.0.1",
            "purl": "pkg:deb/debian/openssl@3.0.1", "fixed": ["3.0.2"], "severity": "HIGH"
        }))
        .expect("finding");
        let f = to_finding(s);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.fixed_versions, vec!["3.0.2".to_string()]);
        assert_eq!(f.package_name, "openssl");
    }
}
