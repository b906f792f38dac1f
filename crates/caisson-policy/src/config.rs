//! The policy config file: modes, severities, parameters and exemptions.
//!
//! Parsing (`Config::parse`) rejects unknown fields and reports YAML positions;
//! validation against the loaded policies (`Config::validate`) is a separate step.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::model::{Mode, Severity};
use crate::PolicyError;

/// ```yaml
/// policies:
///   pss-restricted:
///     mode: warn
///     parameters: {version: v1.30}
///     exemptions:
///       - namespaces: [legacy]
/// exemptions:
///   - namespaces: [kube-system]
///   - images: ["registry.k8s.io/*"]
///     policies: [pss-restricted]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyConfig>,
    /// Exemptions for every policy (or those listed in the entry's `policies`).
    #[serde(default)]
    pub exemptions: Vec<Exemption>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Merged over the policy's default parameters (`input.parameters`).
    #[serde(default)]
    pub parameters: Option<serde_norway::Mapping>,
    #[serde(default)]
    pub exemptions: Vec<Exemption>,
}

/// An exemption applies when every criterion it sets matches. Namespace and label
/// criteria skip the policy for the whole object; `images` removes the matching
/// containers (and their images) from what the policy sees.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exemption {
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub label_selector: Option<LabelSelector>,
    /// Image patterns; `*` matches any run of characters. Matched against the
    /// reference as written and its normalised form (`docker.io/library/nginx:1.27`).
    #[serde(default)]
    pub images: Vec<String>,
    /// Policy ids this entry applies to (top-level entries only; empty means all).
    #[serde(default)]
    pub policies: Vec<String>,
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<LabelExpression>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelExpression {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

impl Config {
    /// Parses YAML (or JSON); unknown fields are errors with their position.
    pub fn parse(text: &str, path: &str) -> Result<Config, PolicyError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_norway::from_str(text).map_err(|e| PolicyError::Config {
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    /// Checks the config against the policies that are loaded: known ids, valid
    /// selectors and patterns. Parameter values are checked when the policy set is
    /// built (each policy knows its own).
    pub fn validate(&self, path: &str, known_ids: &[&str]) -> Result<(), PolicyError> {
        let err = |message: String| PolicyError::Config {
            path: path.to_string(),
            message,
        };
        for (id, pc) in &self.policies {
            if !known_ids.contains(&id.as_str()) {
                return Err(err(format!(
                    "policies.{id}: no such policy is loaded (loaded: {})",
                    known_ids.join(", ")
                )));
            }
            for (i, e) in pc.exemptions.iter().enumerate() {
                e.validate(&format!("policies.{id}.exemptions[{i}]"), false)
                    .map_err(&err)?;
            }
        }
        for (i, e) in self.exemptions.iter().enumerate() {
            let at = format!("exemptions[{i}]");
            e.validate(&at, true).map_err(&err)?;
            if let Some(p) = e.policies.iter().find(|p| !known_ids.contains(&p.as_str())) {
                return Err(err(format!(
                    "{at}.policies: no such policy {p:?} is loaded"
                )));
            }
        }
        Ok(())
    }
}

impl Exemption {
    fn validate(&self, at: &str, top_level: bool) -> Result<(), String> {
        if self.namespaces.is_empty() && self.label_selector.is_none() && self.images.is_empty() {
            return Err(format!(
                "{at}: an exemption needs namespaces, labelSelector or images"
            ));
        }
        if !top_level && !self.policies.is_empty() {
            return Err(format!(
                "{at}.policies: only top-level exemptions name policies"
            ));
        }
        if let Some(p) = self.images.iter().find(|p| p.is_empty()) {
            return Err(format!("{at}.images: empty pattern {p:?}"));
        }
        if let Some(sel) = &self.label_selector {
            sel.validate()
                .map_err(|m| format!("{at}.labelSelector: {m}"))?;
        }
        Ok(())
    }

    pub(crate) fn applies_to(&self, policy: &str) -> bool {
        self.policies.is_empty() || self.policies.iter().any(|p| p == policy)
    }

    /// Whether the namespace and label criteria match (images aside). An entry with
    /// only `images` matches every object.
    pub(crate) fn matches_object(&self, namespace: Option<&str>, labels: &Json) -> bool {
        let ns_ok = self.namespaces.is_empty()
            || namespace.is_some_and(|ns| self.namespaces.iter().any(|p| glob_match(p, ns)));
        let labels_ok = self
            .label_selector
            .as_ref()
            .is_none_or(|sel| sel.matches(labels));
        ns_ok && labels_ok
    }
}

impl LabelSelector {
    pub fn validate(&self) -> Result<(), String> {
        for (i, e) in self.match_expressions.iter().enumerate() {
            match e.operator.as_str() {
                "In" | "NotIn" if e.values.is_empty() => {
                    return Err(format!(
                        "matchExpressions[{i}]: operator {} needs values",
                        e.operator
                    ))
                }
                "Exists" | "DoesNotExist" if !e.values.is_empty() => {
                    return Err(format!(
                        "matchExpressions[{i}]: operator {} takes no values",
                        e.operator
                    ))
                }
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => {
                    return Err(format!(
                        "matchExpressions[{i}]: unknown operator {other:?} (In, NotIn, Exists, DoesNotExist)"
                    ))
                }
            }
        }
        Ok(())
    }

    /// Kubernetes semantics: every matchLabels pair and every expression must hold.
    pub fn matches(&self, labels: &Json) -> bool {
        let get = |k: &str| labels.get(k).and_then(Json::as_str);
        self.match_labels.iter().all(|(k, v)| get(k) == Some(v))
            && self.match_expressions.iter().all(|e| {
                let have = get(&e.key);
                match e.operator.as_str() {
                    "In" => have.is_some_and(|h| e.values.iter().any(|v| v == h)),
                    "NotIn" => have.is_none_or(|h| e.values.iter().all(|v| v != h)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            })
    }
}

/// `*` matches any run of characters (including `/`); everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Converts YAML parameters to JSON (keys must be strings).
pub(crate) fn yaml_params_to_json(m: &serde_norway::Mapping) -> Result<Json, String> {
    serde_json::to_value(m).map_err(|e| format!("parameters: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("registry.k8s.io/*", "registry.k8s.io/pause:3.9"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("kube-*", "kube-system"));
        assert!(!glob_match("kube-*", "default"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("ab*ab", "ab"));
    }
}
