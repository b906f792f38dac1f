//! The simple-signing payload cosign signs:
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"registry/repo"},
//!              "image":{"docker-manifest-digest":"sha256:…"},
//!              "type":"cosign container image signature"},
//!  "optional":{"key":"value"}}
//! ```
//!
//! `optional` is `null` without annotations, as cosign writes it. Parsing is
//! strict about `critical` (all three fields, the exact type string) and
//! lenient about `optional` (any JSON object; values compared as strings).

use std::collections::BTreeMap;

use caisson_oci::Digest;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::{ParseError, Rejection};

pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";
/// Payloads larger than this are refused before parsing.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleSigning {
    pub critical: Critical,
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Critical {
    pub identity: Identity,
    pub image: Image,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// The payload bytes for `digest` at `docker_reference` (`registry/repo`,
/// without tag or digest) with `annotations` in `optional`.
pub fn build(
    docker_reference: &str,
    digest: &Digest,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ParseError> {
    let optional = if annotations.is_empty() {
        None
    } else {
        Some(
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        )
    };
    let p = SimpleSigning {
        critical: Critical {
            identity: Identity {
                docker_reference: docker_reference.to_string(),
            },
            image: Image {
                docker_manifest_digest: digest.to_string(),
            },
            kind: COSIGN_SIGNATURE_TYPE.to_string(),
        },
        optional,
    };
    serde_json::to_vec(&p).map_err(|source| ParseError::Json {
        what: "simple-signing payload",
        source,
    })
}

/// Parses payload bytes (the exact bytes that were signed).
pub fn parse(bytes: &[u8]) -> Result<SimpleSigning, ParseError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(ParseError::TooLarge {
            what: "simple-signing payload",
            size: bytes.len(),
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    let p: SimpleSigning = serde_json::from_slice(bytes).map_err(|source| ParseError::Json {
        what: "simple-signing payload",
        source,
    })?;
    if p.critical.kind != COSIGN_SIGNATURE_TYPE {
        return Err(ParseError::Invalid {
            what: "simple-signing payload",
            reason: format!(
                "critical.type is {:?}, expected {COSIGN_SIGNATURE_TYPE:?}",
                p.critical.kind
            ),
        });
    }
    Ok(p)
}

/// Docker Hub names compare equal in their short and long forms.
fn same_reference(a: &str, b: &str) -> bool {
    let strip = |s: &str| -> String {
        ["index.docker.io/", "registry-1.docker.io/", "docker.io/"]
            .iter()
            .find_map(|p| s.strip_prefix(p))
            .unwrap_or(s)
            .to_string()
    };
    strip(a) == strip(b)
}

/// The value of an `optional` entry as a string: strings as they are, other
/// JSON values in their compact JSON form.
pub fn annotation_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl SimpleSigning {
    /// Checks the claims: exactly `digest`, `reference` when given (short and
    /// long Docker Hub names are equal), and every required annotation.
    pub fn check(
        &self,
        digest: &Digest,
        reference: Option<&str>,
        required: &BTreeMap<String, String>,
    ) -> Result<(), Rejection> {
        let claimed = self.critical.image.docker_manifest_digest.as_bytes();
        let want = digest.to_string();
        if !bool::from(claimed.ct_eq(want.as_bytes())) {
            return Err(Rejection::DigestMismatch {
                expected: digest.clone(),
                found: self.critical.image.docker_manifest_digest.clone(),
            });
        }
        if let Some(r) = reference {
            if !same_reference(&self.critical.identity.docker_reference, r) {
                return Err(Rejection::WrongReference {
                    expected: r.to_string(),
                    found: self.critical.identity.docker_reference.clone(),
                });
            }
        }
        check_annotations(self.optional.as_ref(), required)
    }
}

/// Every `required` key must be present in `optional` with the same value.
pub fn check_annotations(
    optional: Option<&BTreeMap<String, serde_json::Value>>,
    required: &BTreeMap<String, String>,
) -> Result<(), Rejection> {
    for (k, want) in required {
        let found = optional.and_then(|o| o.get(k)).map(annotation_value);
        if found.as_deref() != Some(want.as_str()) {
            return Err(Rejection::Annotation {
                key: k.clone(),
                expected: want.clone(),
                found,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &[u8]) -> Digest {
        Digest::sha256(s)
    }

    #[test]
    fn build_matches_cosign_layout_and_parses_back() {
        let digest = d(b"x");
        let bytes = build("r.example/app", &digest, &BTreeMap::new()).expect("build");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert_eq!(
            text,
            format!("{{\"critical\":{{\"identity\":{{\"docker-reference\":\"r.example/app\"}},\"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}")
        );
        let p = parse(&bytes).expect("parse");
        p.check(&digest, Some("r.example/app"), &BTreeMap::new())
            .expect("claims hold");
    }

    #[test]
    fn check_names_the_reason() {
        let mut ann = BTreeMap::new();
        ann.insert("env".to_string(), "prod".to_string());
        let p =
            parse(&build("docker.io/library/app", &d(b"a"), &ann).expect("build")).expect("parse");
        assert!(matches!(
            p.check(&d(b"b"), None, &BTreeMap::new()),
            Err(Rejection::DigestMismatch { .. })
        ));
        assert!(matches!(
            p.check(&d(b"a"), Some("docker.io/library/other"), &BTreeMap::new()),
            Err(Rejection::WrongReference { .. })
        ));
        p.check(&d(b"a"), Some("index.docker.io/library/app"), &ann)
            .expect("docker hub long name is the same reference");
        let mut other = BTreeMap::new();
        other.insert("env".to_string(), "dev".to_string());
        let err = p.check(&d(b"a"), None, &other).expect_err("annotation");
        assert!(err.to_string().contains("\"prod\""), "{err}");
    }

    #[test]
    fn strict_critical() {
        assert!(parse(br#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"sha256:00"},"type":"something else"},"optional":null}"#).is_err());
        assert!(parse(br#"{"critical":{"identity":{"docker-reference":"a"},"type":"cosign container image signature"},"optional":null}"#).is_err());
        assert!(parse(br#"{"critical":{"identity":{"docker-reference":"a","extra":1},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"}}"#).is_err());
        assert!(parse(b"not json").is_err());
    }
}
