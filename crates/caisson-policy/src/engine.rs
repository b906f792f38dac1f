//! Evaluating a compiled [`PolicySet`] on one object.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::config::{glob_match, Exemption};
use crate::facts::SupplyChainFacts;
use crate::gatekeeper::{Match, MatchResult};
use crate::input::{build_input, check_bounds, InputLimits, Request};
use crate::model::{Decision, Mode, PolicyMeta, Violation};

/// Evaluation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub input: InputLimits,
    /// Wall-clock budget of one policy on one object (regorus' cooperative timer).
    pub policy_timeout: Duration,
    /// Budget of all policies on one object; policies not started in time report
    /// `policy-timeout`.
    pub object_timeout: Duration,
    /// Heap ceiling, in bytes, of the whole process while a policy runs:
    /// regorus checks the allocator's counters as it evaluates and stops a
    /// policy that would take the process past it (`policy-memory`), instead
    /// of letting it exhaust the machine. `None` disables the check. The
    /// ceiling is process-wide (the counters are), so it must leave room for
    /// everything else the process holds; the last policy set built sets it
    /// (unless built with `keep_memory_ceiling`).
    pub memory_ceiling: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            input: InputLimits::default(),
            policy_timeout: Duration::from_millis(500),
            object_timeout: Duration::from_secs(2),
            memory_ceiling: Some(1 << 30),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum PolicyKind {
    /// Caisson contract: `data.<package>.deny` / `.warn`.
    Caisson {
        package: String,
        deny: bool,
        warn: bool,
    },
    /// Gatekeeper template package (`violation`) with the constraint's match.
    Gatekeeper {
        package: String,
        matcher: Box<Match>,
    },
}

/// A policy with its configuration applied.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub meta: PolicyMeta,
    pub mode: Mode,
    pub params: regorus::Value,
    pub params_json: Json,
    pub kind: PolicyKind,
    pub exemptions: Vec<Exemption>,
}

/// What `caisson policy list` and the webhook's status page show.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PolicyInfo {
    #[serde(flatten)]
    pub meta: PolicyMeta,
    /// The mode in force (config file, else the policy's default).
    pub mode: Mode,
    pub parameters: Json,
}

/// Compiled policies. Cheap to clone and safe to share between threads: each
/// evaluation runs on its own clone of the prepared engine.
#[derive(Clone)]
pub struct PolicySet {
    proto: Arc<Mutex<regorus::Engine>>,
    policies: Arc<Vec<Loaded>>,
    limits: Limits,
    notes: Arc<Vec<String>>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field(
                "policies",
                &self.policies.iter().map(|p| &p.meta.id).collect::<Vec<_>>(),
            )
            .field("limits", &self.limits)
            .finish()
    }
}

enum Failure {
    Timeout,
    Memory { usage: u64, limit: u64 },
    Error(String),
}

fn memory_exceeded(e: &anyhow::Error) -> Option<(u64, u64)> {
    e.chain().find_map(
        |c| match c.downcast_ref::<regorus::utils::limits::LimitError>() {
            Some(regorus::utils::limits::LimitError::MemoryLimitExceeded { usage, limit }) => {
                Some((*usage, *limit))
            }
            _ => None,
        },
    )
}

fn is_timeout(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<regorus::utils::limits::LimitError>(),
            Some(regorus::utils::limits::LimitError::TimeLimitExceeded { .. })
        )
    }) || format!("{e:#}").contains("time limit")
}

impl PolicySet {
    pub(crate) fn new(
        engine: regorus::Engine,
        policies: Arc<Vec<Loaded>>,
        limits: Limits,
        notes: Vec<String>,
    ) -> Self {
        PolicySet {
            proto: Arc::new(Mutex::new(engine)),
            policies,
            limits,
            notes: Arc::new(notes),
        }
    }

    pub fn builder() -> crate::PolicySetBuilder {
        crate::PolicySetBuilder::new()
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Notes from loading (e.g. templates reading `data.inventory`).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    pub fn policies(&self) -> Vec<PolicyInfo> {
        self.policies
            .iter()
            .map(|p| PolicyInfo {
                meta: p.meta.clone(),
                mode: p.mode,
                parameters: p.params_json.clone(),
            })
            .collect()
    }

    fn engine(&self) -> regorus::Engine {
        // A poisoned lock only means another evaluation panicked; the prototype is
        // never mutated after build, so it is still good.
        match self.proto.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Evaluates every applicable policy on the request's object.
    pub fn evaluate(&self, req: &Request, facts: &SupplyChainFacts) -> Decision {
        let started = Instant::now();
        let mut decision = Decision::new(req.object_ref());
        let object = req.object();
        if !object.is_object() {
            decision
                .notes
                .push("no object to evaluate (e.g. a DELETE request)".into());
            return decision;
        }
        if let Err(message) = check_bounds(&req.review, &self.limits.input) {
            decision.push(Violation {
                code: "input-too-large".into(),
                policy: "caisson".into(),
                severity: crate::Severity::High,
                mode: Mode::Enforce,
                message: format!("input rejected before evaluation: {message}"),
                path: None,
                check: None,
                remediation: String::new(),
            });
            return decision;
        }
        let namespace = req.namespace();
        let labels = object.pointer("/metadata/labels").unwrap_or(&Json::Null);
        let mut engine = self.engine();
        // Inputs differ only by the image exemptions in force; build each once.
        let mut inputs: Vec<(Vec<String>, regorus::Value)> = Vec::new();
        for p in self.policies.iter() {
            let mut image_patterns: Vec<String> = Vec::new();
            let mut skipped = false;
            for e in &p.exemptions {
                if !e.matches_object(namespace, labels) {
                    continue;
                }
                if e.images.is_empty() {
                    skipped = true;
                    break;
                }
                image_patterns.extend(e.images.iter().cloned());
            }
            if skipped {
                decision.notes.push(format!("{}: exempt", p.meta.id));
                continue;
            }
            if let PolicyKind::Gatekeeper { matcher, .. } = &p.kind {
                match matcher.matches(&req.review, namespace, req.namespace_labels.as_ref()) {
                    MatchResult::NotMatched => continue,
                    MatchResult::Matched => {}
                    MatchResult::MatchedAssumingNamespace => decision.notes.push(format!(
                        "{}: namespaceSelector not evaluated (namespace labels unknown); applied",
                        p.meta.id
                    )),
                }
            }
            if started.elapsed() > self.limits.object_timeout {
                decision.push(self.failure(p, Failure::Timeout));
                continue;
            }
            image_patterns.sort();
            image_patterns.dedup();
            let base = match inputs.iter().find(|(k, _)| *k == image_patterns) {
                Some((_, v)) => v.clone(),
                None => {
                    let exempt = |image: &str| image_exempt(&image_patterns, image);
                    let v = regorus::Value::from(build_input(req, facts, &exempt));
                    inputs.push((image_patterns.clone(), v.clone()));
                    v
                }
            };
            match self.eval_one(&mut engine, p, base) {
                Ok((deny, warn)) => {
                    for item in deny {
                        decision.push(violation(p, p.mode, &item));
                    }
                    for item in warn {
                        let mode = if p.mode == Mode::Audit {
                            Mode::Audit
                        } else {
                            Mode::Warn
                        };
                        decision.push(violation(p, mode, &item));
                    }
                }
                Err(f) => decision.push(self.failure(p, f)),
            }
        }
        decision
    }

    fn eval_one(
        &self,
        engine: &mut regorus::Engine,
        p: &Loaded,
        mut input: regorus::Value,
    ) -> Result<(Vec<Json>, Vec<Json>), Failure> {
        if let Ok(map) = input.as_object_mut() {
            map.insert(regorus::Value::from("parameters"), p.params.clone());
        }
        engine.set_input(input);
        let rules: Vec<(String, bool)> = match &p.kind {
            PolicyKind::Caisson {
                package,
                deny,
                warn,
            } => {
                let mut r = Vec::new();
                if *deny {
                    r.push((format!("data.{package}.deny"), true));
                }
                if *warn {
                    r.push((format!("data.{package}.warn"), false));
                }
                r
            }
            PolicyKind::Gatekeeper { package, .. } => {
                vec![(format!("data.{package}.violation"), true)]
            }
        };
        let (mut deny, mut warn) = (Vec::new(), Vec::new());
        for (rule, is_deny) in rules {
            let v = engine.eval_rule(rule).map_err(|e| {
                if is_timeout(&e) {
                    Failure::Timeout
                } else if let Some((usage, limit)) = memory_exceeded(&e) {
                    Failure::Memory { usage, limit }
                } else {
                    Failure::Error(format!("{e:#}"))
                }
            })?;
            let items = match serde_json::to_value(&v) {
                Ok(Json::Array(a)) => a,
                Ok(Json::Null) | Err(_) => Vec::new(),
                Ok(Json::Bool(false)) => Vec::new(),
                Ok(other) => vec![other],
            };
            if is_deny {
                deny.extend(items);
            } else {
                warn.extend(items);
            }
        }
        Ok((deny, warn))
    }

    fn failure(&self, p: &Loaded, f: Failure) -> Violation {
        let (code, message) = match f {
            Failure::Timeout => (
                "policy-timeout",
                format!(
                    "policy {} did not finish within its time limit ({} ms per policy, {} ms per object)",
                    p.meta.id,
                    self.limits.policy_timeout.as_millis(),
                    self.limits.object_timeout.as_millis()
                ),
            ),
            Failure::Memory { usage, limit } => (
                "policy-memory",
                format!(
                    "policy {} was stopped: the process heap reached {} MiB, over the {} MiB \
                     ceiling for policy evaluation",
                    p.meta.id,
                    usage >> 20,
                    limit >> 20
                ),
            ),
            Failure::Error(e) => ("policy-error", format!("policy {} failed: {e}", p.meta.id)),
        };
        Violation {
            code: code.into(),
            policy: p.meta.id.clone(),
            severity: p.meta.severity,
            mode: p.mode,
            message,
            path: None,
            check: None,
            remediation: String::new(),
        }
    }
}

fn image_exempt(patterns: &[String], image: &str) -> bool {
    if patterns.is_empty() {
        return false;
    }
    let normalised = image.parse::<caisson_oci::Reference>().ok().map(|r| {
        let mut s = r.name();
        if let Some(t) = &r.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &r.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    });
    patterns
        .iter()
        .any(|p| glob_match(p, image) || normalised.as_deref().is_some_and(|n| glob_match(p, n)))
}

fn violation(p: &Loaded, mode: Mode, item: &Json) -> Violation {
    let s = |k: &str| item.get(k).and_then(Json::as_str).map(str::to_string);
    let message = match item {
        Json::String(m) => m.clone(),
        _ => s("msg").unwrap_or_else(|| item.to_string()),
    };
    Violation {
        code: p.meta.id.clone(),
        policy: p.meta.id.clone(),
        severity: p.meta.severity,
        mode,
        message,
        path: s("path"),
        check: s("check"),
        remediation: p.meta.remediation.clone(),
    }
}
