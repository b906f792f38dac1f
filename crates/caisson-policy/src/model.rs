//! The vocabulary of decisions: severities, modes, policy metadata, violations.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a violation is. Ordered: `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?} (expected low, medium, high or critical)"
            )),
        }
    }
}

/// What a policy's violations do to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Violations deny the object.
    Enforce,
    /// Violations are returned as warnings; the object is allowed.
    Warn,
    /// Violations are only recorded (admission: audit annotations); the object is allowed.
    Audit,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Audit => "audit",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "enforce" => Ok(Mode::Enforce),
            "warn" => Ok(Mode::Warn),
            "audit" => Ok(Mode::Audit),
            other => Err(format!(
                "unknown mode {other:?} (expected enforce, warn or audit)"
            )),
        }
    }
}

/// Where a policy comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicySource {
    /// Shipped with Caisson (Rego embedded in the binary).
    Builtin,
    /// A user `.rego` file following the Caisson contract.
    Rego,
    /// A Gatekeeper constraint bound to its `ConstraintTemplate`.
    Gatekeeper,
}

/// What a policy is, independent of how it is configured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyMeta {
    /// Stable kebab-case identifier, used in config files, output and `--policy`.
    pub id: String,
    pub description: String,
    pub severity: Severity,
    pub remediation: String,
    /// Mode used when the config file does not set one.
    pub default_mode: Mode,
    pub source: PolicySource,
}

/// The object a decision is about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// Where the object came from (`file.yaml#2` for the third document), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// One finding of one policy on one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// The policy's id, or `policy-timeout` / `policy-error` / `input-too-large` for
    /// evaluation failures (then `policy` names the policy that failed).
    pub code: String,
    pub policy: String,
    pub severity: Severity,
    pub mode: Mode,
    pub message: String,
    /// Field path inside the object (`spec.containers[0].securityContext.privileged`), when
    /// the policy reports one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The control inside a policy (`privileged`, `runAsNonRoot`…), when the policy reports one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remediation: String,
}

/// The outcome of evaluating every applicable policy on one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub object: ObjectRef,
    /// False when any enforce-mode policy reported a violation or failed.
    pub allowed: bool,
    /// Enforce-mode violations: the reasons for a denial.
    pub denials: Vec<Violation>,
    /// Warn-mode violations and every policy's `warn` rule output.
    pub warnings: Vec<Violation>,
    /// Audit-mode violations.
    pub audits: Vec<Violation>,
    /// Notes about the evaluation itself (skipped Gatekeeper features, exemptions used).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Decision {
    pub(crate) fn new(object: ObjectRef) -> Self {
        Decision {
            object,
            allowed: true,
            denials: Vec::new(),
            warnings: Vec::new(),
            audits: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, v: Violation) {
        match v.mode {
            Mode::Enforce => {
                self.allowed = false;
                self.denials.push(v);
            }
            Mode::Warn => self.warnings.push(v),
            Mode::Audit => self.audits.push(v),
        }
    }
}
