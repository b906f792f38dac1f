//! Supply-chain facts the caller passes in: per image, the resolved digest, the
//! OS found by the SBOM, the signature verdict and a summary of vulnerability
//! findings. The engine does no I/O: whoever calls it (CI, the registry, the
//! admission webhook) fetches these first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Facts keyed by image reference as written in the manifest (`nginx:1.27`) or by
/// digest (`sha256:…`). Lookup for a container image: the digest (pinned in the
/// reference, or given as `digest` by the reference's entry) selects the base entry,
/// then the reference's own entry overrides its fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplyChainFacts {
    #[serde(default)]
    pub images: BTreeMap<String, ImageFacts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFacts {
    /// The manifest digest the reference resolved to (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The operating system the SBOM identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsFacts>,
    /// The signature verifier's verdict for the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureVerdict>,
    /// Vulnerability findings counted by severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<FindingsSummary>,
}

/// `os-release` identity: `id` (`debian`, `alpine`, `rhel`…) and `version_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsFacts {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureVerdict {
    /// True when a signature over the digest verified with a trusted key.
    pub verified: bool,
    /// Identifier of the key (or identity) that verified it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Why verification failed, for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsSummary {
    #[serde(default)]
    pub critical: u64,
    #[serde(default)]
    pub high: u64,
    #[serde(default)]
    pub medium: u64,
    #[serde(default)]
    pub low: u64,
    #[serde(default)]
    pub unknown: u64,
}

impl SupplyChainFacts {
    /// The facts for an image as referenced in a manifest.
    pub fn lookup(&self, reference: &str, pinned_digest: Option<&str>) -> ImageFacts {
        let by_ref = self.images.get(reference);
        let digest = pinned_digest
            .map(str::to_string)
            .or_else(|| by_ref.and_then(|f| f.digest.clone()));
        let mut facts = digest
            .as_deref()
            .and_then(|d| self.images.get(d))
            .cloned()
            .unwrap_or_default();
        if let Some(r) = by_ref {
            if r.os.is_some() {
                facts.os = r.os.clone();
            }
            if r.signature.is_some() {
                facts.signature = r.signature.clone();
            }
            if r.findings.is_some() {
                facts.findings = r.findings.clone();
            }
        }
        facts.digest = digest;
        facts
    }
}
