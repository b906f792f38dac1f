//! Gatekeeper `ConstraintTemplate`s and their constraints: the template's Rego runs
//! unchanged with `input.review` (the admission request) and `input.parameters`
//! (the constraint's `spec.parameters`); `violation[{"msg": msg}]` results become
//! violations. `data.inventory` is empty: Caisson has no replicated cluster state.

use serde_json::Value as Json;

use crate::config::{glob_match, LabelSelector};
use crate::model::Mode;
use crate::PolicyError;

/// A parsed `ConstraintTemplate` (target `admission.k8s.gatekeeper.sh`).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: String,
    /// The constraint kind it defines (`K8sRequiredLabels`).
    pub kind: String,
    pub rego: String,
    pub libs: Vec<String>,
    pub title: Option<String>,
    pub description: Option<String>,
}

/// A constraint: an instance of a template kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    pub kind: String,
    pub name: String,
    pub parameters: Json,
    pub mode: Mode,
    pub matcher: Match,
}

/// `spec.match` of a constraint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Match {
    /// (apiGroups, kinds) pairs; empty means every kind.
    pub kinds: Vec<(Vec<String>, Vec<String>)>,
    pub namespaces: Vec<String>,
    pub excluded_namespaces: Vec<String>,
    pub label_selector: Option<LabelSelector>,
    pub namespace_selector: Option<LabelSelector>,
    /// `*`, `Cluster` or `Namespaced`.
    pub scope: Option<String>,
    pub name: Option<String>,
}

fn gk_err(what: &'static str, path: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::Gatekeeper {
        what,
        path: path.to_string(),
        message: message.into(),
    }
}

fn s(v: &Json, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Json::as_str).map(str::to_string)
}

fn strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Template {
    pub fn from_json(doc: &Json, path: &str) -> Result<Template, PolicyError> {
        let name = s(doc, "/metadata/name").unwrap_or_default();
        let kind = s(doc, "/spec/crd/spec/names/kind")
            .ok_or_else(|| gk_err("template", path, "spec.crd.spec.names.kind is missing"))?;
        let targets = doc
            .pointer("/spec/targets")
            .and_then(Json::as_array)
            .ok_or_else(|| gk_err("template", path, "spec.targets is missing"))?;
        let target = targets
            .iter()
            .find(|t| t.get("target").and_then(Json::as_str) == Some("admission.k8s.gatekeeper.sh"))
            .ok_or_else(|| gk_err("template", path, "no target admission.k8s.gatekeeper.sh"))?;
        // `rego` + `libs`, or the newer `code: [{engine: Rego, source: {rego, libs}}]`.
        let code_rego = target
            .get("code")
            .and_then(Json::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|e| e.get("engine").and_then(Json::as_str) == Some("Rego"))
            })
            .and_then(|e| e.get("source"));
        let (rego, libs) = match (target.get("rego").and_then(Json::as_str), code_rego) {
            (Some(r), _) => (r.to_string(), strings(target.get("libs"))),
            (None, Some(src)) => (
                src.get("rego")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
                strings(src.get("libs")),
            ),
            (None, None) => {
                return Err(gk_err(
                    "template",
                    path,
                    "the target has no Rego (CEL-only templates are not supported)",
                ))
            }
        };
        Ok(Template {
            name,
            kind,
            rego,
            libs,
            title: s(doc, "/metadata/annotations/metadata.gatekeeper.sh~1title"),
            description: s(doc, "/metadata/annotations/description"),
        })
    }

    /// Whether the Rego reads cluster state Caisson does not have.
    pub fn uses_inventory(&self) -> bool {
        self.rego.contains("data.inventory")
            || self.libs.iter().any(|l| l.contains("data.inventory"))
    }
}

fn selector(
    v: Option<&Json>,
    path: &str,
    field: &str,
) -> Result<Option<LabelSelector>, PolicyError> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(v) => {
            let sel: LabelSelector = serde_json::from_value(v.clone())
                .map_err(|e| gk_err("constraint", path, format!("spec.match.{field}: {e}")))?;
            sel.validate()
                .map_err(|e| gk_err("constraint", path, format!("spec.match.{field}: {e}")))?;
            Ok(Some(sel))
        }
    }
}

impl Constraint {
    pub fn from_json(doc: &Json, path: &str) -> Result<Constraint, PolicyError> {
        let kind = s(doc, "/kind").unwrap_or_default();
        let name = s(doc, "/metadata/name")
            .ok_or_else(|| gk_err("constraint", path, "metadata.name is missing"))?;
        let spec = doc.get("spec").cloned().unwrap_or(Json::Null);
        let mode = match spec.get("enforcementAction").and_then(Json::as_str) {
            None | Some("deny") => Mode::Enforce,
            Some("warn") => Mode::Warn,
            Some("dryrun") => Mode::Audit,
            Some(other) => {
                return Err(gk_err(
                    "constraint",
                    path,
                    format!("enforcementAction {other:?} is not deny, warn or dryrun"),
                ))
            }
        };
        let m = spec.get("match").cloned().unwrap_or(Json::Null);
        let kinds = m
            .get("kinds")
            .and_then(Json::as_array)
            .map(|ks| {
                ks.iter()
                    .map(|k| (strings(k.get("apiGroups")), strings(k.get("kinds"))))
                    .collect()
            })
            .unwrap_or_default();
        let matcher = Match {
            kinds,
            namespaces: strings(m.get("namespaces")),
            excluded_namespaces: strings(m.get("excludedNamespaces")),
            label_selector: selector(m.get("labelSelector"), path, "labelSelector")?,
            namespace_selector: selector(m.get("namespaceSelector"), path, "namespaceSelector")?,
            scope: m.get("scope").and_then(Json::as_str).map(str::to_string),
            name: m.get("name").and_then(Json::as_str).map(str::to_string),
        };
        Ok(Constraint {
            kind,
            name,
            parameters: spec
                .get("parameters")
                .cloned()
                .unwrap_or(Json::Object(Default::default())),
            mode,
            matcher,
        })
    }
}

/// Outcome of matching, with a note when a criterion could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchResult {
    Matched,
    NotMatched,
    /// Matched, but `namespaceSelector` was assumed to match (no namespace labels).
    MatchedAssumingNamespace,
}

fn pattern_match(p: &str, v: &str) -> bool {
    p == "*" || glob_match(p, v)
}

impl Match {
    /// Gatekeeper's matching on the admission request.
    pub fn matches(
        &self,
        review: &Json,
        namespace: Option<&str>,
        namespace_labels: Option<&serde_json::Map<String, Json>>,
    ) -> MatchResult {
        let group = review
            .pointer("/kind/group")
            .and_then(Json::as_str)
            .unwrap_or("");
        let kind = review
            .pointer("/kind/kind")
            .and_then(Json::as_str)
            .unwrap_or("");
        if !self.kinds.is_empty()
            && !self.kinds.iter().any(|(groups, kinds)| {
                (groups.is_empty() || groups.iter().any(|g| g == "*" || g == group))
                    && (kinds.is_empty() || kinds.iter().any(|k| k == "*" || k == kind))
            })
        {
            return MatchResult::NotMatched;
        }
        let namespaced = namespace.is_some();
        match self.scope.as_deref() {
            Some("Cluster") if namespaced => return MatchResult::NotMatched,
            Some("Namespaced") if !namespaced => return MatchResult::NotMatched,
            _ => {}
        }
        // Cluster-scoped objects are not filtered by namespace criteria.
        if let Some(ns) = namespace {
            if !self.namespaces.is_empty() && !self.namespaces.iter().any(|p| pattern_match(p, ns))
            {
                return MatchResult::NotMatched;
            }
            if self
                .excluded_namespaces
                .iter()
                .any(|p| pattern_match(p, ns))
            {
                return MatchResult::NotMatched;
            }
        }
        let object = review.get("object").unwrap_or(&Json::Null);
        if let Some(name) = &self.name {
            let obj_name = object
                .pointer("/metadata/name")
                .and_then(Json::as_str)
                .unwrap_or("");
            if !pattern_match(name, obj_name) {
                return MatchResult::NotMatched;
            }
        }
        if let Some(sel) = &self.label_selector {
            let labels = object.pointer("/metadata/labels").unwrap_or(&Json::Null);
            if !sel.matches(labels) {
                return MatchResult::NotMatched;
            }
        }
        if let Some(sel) = &self.namespace_selector {
            return match (namespace, namespace_labels) {
                (None, _) => MatchResult::Matched,
                (Some(_), Some(labels)) => {
                    if sel.matches(&Json::Object(labels.clone())) {
                        MatchResult::Matched
                    } else {
                        MatchResult::NotMatched
                    }
                }
                (Some(_), None) => MatchResult::MatchedAssumingNamespace,
            };
        }
        MatchResult::Matched
    }
}
