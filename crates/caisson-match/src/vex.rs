//! OpenVEX documents (<https://github.com/openvex/spec>, v0.2.0, and the
//! v0.0.x string forms of `vulnerability` and `products`). A statement with
//! status `not_affected` or `fixed` suppresses the findings whose id or alias
//! is the statement's vulnerability (name or aliases) in a package whose purl
//! matches one of its products or subcomponents (version optional,
//! qualifiers ignored). Later statements override earlier ones.

use serde::Deserialize;

use crate::purl_match::purl_matches;

/// Largest VEX document accepted.
pub const MAX_VEX_BYTES: usize = 16 << 20;

/// A VEX status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub fn name(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }

    /// True for statuses that suppress a finding.
    pub fn suppresses(self) -> bool {
        matches!(self, VexStatus::NotAffected | VexStatus::Fixed)
    }
}

/// One statement, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexStatement {
    /// The vulnerability name and its aliases.
    pub vulnerabilities: Vec<String>,
    /// Product and subcomponent identifiers (purls and others).
    pub products: Vec<String>,
    pub status: VexStatus,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    /// 1-based position, for messages.
    pub index: usize,
}

/// A parsed VEX document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexDocument {
    /// Where it came from (a path), for messages.
    pub origin: String,
    /// The document's `@id`, when present.
    pub id: Option<String>,
    pub statements: Vec<VexStatement>,
}

#[derive(Debug, thiserror::Error)]
pub enum VexError {
    #[error("reading VEX document {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("VEX document {origin} is {size} bytes, over the {MAX_VEX_BYTES}-byte limit")]
    TooLarge { origin: String, size: usize },
    #[error("parsing VEX document {origin} as OpenVEX JSON")]
    Json {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("VEX document {origin}, statement {index}: {problem}")]
    Invalid {
        origin: String,
        index: usize,
        problem: String,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawVuln {
    Name(String),
    Object {
        #[serde(default)]
        name: Option<String>,
        #[serde(rename = "@id", default)]
        id: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawComponent {
    Id(String),
    Object {
        #[serde(rename = "@id", default)]
        id: Option<String>,
        #[serde(default)]
        identifiers: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(default)]
        subcomponents: Vec<RawComponent>,
    },
}

#[derive(Deserialize)]
struct RawStatement {
    vulnerability: RawVuln,
    #[serde(default)]
    products: Vec<RawComponent>,
    #[serde(default)]
    subcomponents: Vec<RawComponent>,
    status: VexStatus,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
}

#[derive(Deserialize)]
struct RawDoc {
    #[serde(rename = "@context")]
    context: String,
    #[serde(rename = "@id", default)]
    id: Option<String>,
    #[serde(default)]
    statements: Vec<RawStatement>,
}

fn collect_ids(c: &RawComponent, out: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    match c {
        RawComponent::Id(s) => out.push(s.clone()),
        RawComponent::Object {
            id,
            identifiers,
            subcomponents,
        } => {
            out.extend(id.clone());
            if let Some(map) = identifiers {
                out.extend(map.get("purl").and_then(|v| v.as_str()).map(str::to_string));
            }
            for s in subcomponents {
                collect_ids(s, out, depth + 1);
            }
        }
    }
}

impl VexDocument {
    /// Parses an OpenVEX JSON document; `origin` names it in errors.
    pub fn parse(origin: &str, bytes: &[u8]) -> Result<VexDocument, VexError> {
        if bytes.len() > MAX_VEX_BYTES {
            return Err(VexError::TooLarge {
                origin: origin.into(),
                size: bytes.len(),
            });
        }
        let raw: RawDoc = serde_json::from_slice(bytes).map_err(|source| VexError::Json {
            origin: origin.into(),
            source,
        })?;
        let invalid = |index: usize, problem: String| VexError::Invalid {
            origin: origin.into(),
            index,
            problem,
        };
        if !raw.context.starts_with("https://openvex.dev/ns") {
            return Err(invalid(
                0,
                format!("@context {:?} is not an OpenVEX context", raw.context),
            ));
        }
        let mut statements = Vec::with_capacity(raw.statements.len());
        for (i, s) in raw.statements.into_iter().enumerate() {
            let index = i + 1;
            let vulnerabilities: Vec<String> = match s.vulnerability {
                RawVuln::Name(n) => vec![n],
                RawVuln::Object { name, id, aliases } => {
                    name.into_iter().chain(id).chain(aliases).collect()
                }
            }
            .into_iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
            if vulnerabilities.is_empty() {
                return Err(invalid(index, "the vulnerability has no name".into()));
            }
            let mut products = Vec::new();
            for c in s.products.iter().chain(&s.subcomponents) {
                collect_ids(c, &mut products, 0);
            }
            if products.is_empty() {
                return Err(invalid(index, "no products".into()));
            }
            if s.status == VexStatus::NotAffected
                && s.justification.is_none()
                && s.impact_statement.is_none()
            {
                return Err(invalid(
                    index,
                    "status not_affected needs a justification or an impact_statement".into(),
                ));
            }
            statements.push(VexStatement {
                vulnerabilities,
                products,
                status: s.status,
                justification: s.justification,
                impact_statement: s.impact_statement,
                index,
            });
        }
        Ok(VexDocument {
            origin: origin.into(),
            id: raw.id,
            statements,
        })
    }

    /// Reads and parses the document at `path`.
    pub fn load(path: &std::path::Path) -> Result<VexDocument, VexError> {
        let origin = path.display().to_string();
        let bytes = fs_err::read(path).map_err(|source| VexError::Read {
            path: origin.clone(),
            source,
        })?;
        Self::parse(&origin, &bytes)
    }

    /// The last statement about `ids` (a finding's id and aliases) for the
    /// package with `purl`, if any.
    pub fn statement_for(&self, ids: &[&str], purl: &str) -> Option<&VexStatement> {
        self.statements.iter().rev().find(|s| {
            s.vulnerabilities
                .iter()
                .any(|v| ids.iter().any(|i| i.eq_ignore_ascii_case(v)))
                && s.products.iter().any(|p| purl_matches(p, purl))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v020_and_v001_shapes() {
        let doc = br#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://x/vex-1",
          "author":"a","timestamp":"2024-01-01T00:00:00Z","version":1,
          "statements":[
            {"vulnerability":{"name":"CVE-2024-1","aliases":["GHSA-a"]},
             "products":[{"@id":"pkg:oci/app","subcomponents":[{"@id":"pkg:pypi/jinja2@3.1.2"}]}],
             "status":"not_affected","justification":"vulnerable_code_not_in_execute_path"},
            {"vulnerability":"CVE-2024-2","products":["pkg:deb/debian/openssl"],"status":"fixed"}]}"#;
        let d = VexDocument::parse("v.json", doc).expect("parses");
        assert_eq!(d.statements.len(), 2);
        let s = d
            .statement_for(&["GHSA-a"], "pkg:pypi/jinja2@3.1.2")
            .expect("applies");
        assert_eq!(s.status, VexStatus::NotAffected);
        assert!(d
            .statement_for(&["CVE-2024-1"], "pkg:pypi/jinja2@3.1.3")
            .is_none());
        assert!(d
            .statement_for(&["CVE-2024-2"], "pkg:deb/debian/openssl@3?arch=amd64")
            .is_some());
    }

    #[test]
    fn not_affected_needs_a_justification() {
        let doc = br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[
            {"vulnerability":{"name":"CVE-1"},"products":[{"@id":"pkg:npm/a"}],"status":"not_affected"}]}"#;
        let err = VexDocument::parse("v.json", doc).expect_err("invalid");
        assert!(err.to_string().contains("statement 1"), "{err}");
        assert!(VexDocument::parse("v.json", b"{}").is_err());
        assert!(VexDocument::parse(
            "v.json",
            br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"CVE-1","products":["pkg:npm/a"],"status":"maybe"}]}"#
        )
        .is_err());
    }
}
