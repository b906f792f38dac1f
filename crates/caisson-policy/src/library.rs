//! The built-in policy library: Rego modules embedded in the binary, with their
//! metadata and parameter checks.

use serde_json::{json, Value as Json};

use crate::model::{Mode, PolicyMeta, PolicySource, Severity};

/// Shared Rego modules the built-ins import (`data.caisson.lib.*`).
pub(crate) const LIB_MODULES: &[(&str, &str)] =
    &[("builtin:lib/pss.rego", include_str!("../rego/lib/pss.rego"))];

/// One built-in policy.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub id: &'static str,
    /// The Rego package, below `data.`.
    pub package: &'static str,
    pub rego: &'static str,
    pub description: &'static str,
    pub severity: Severity,
    pub remediation: &'static str,
    pub default_mode: Mode,
    /// Part of the set `caisson policy check` runs when no `--policy` is given.
    pub in_default_set: bool,
    pub params: ParamKind,
}

/// The parameters a built-in accepts, for validation and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    None,
    /// `version: latest | v1.N`.
    PssVersion,
    /// `resources: [cpu, memory, …]`.
    Resources,
    /// `allowed_service_accounts: [name, …]`.
    ServiceAccounts,
    /// `registries: [prefix, …]` (required).
    Registries,
    /// `os: [id[:version], …]` (required).
    BaseOs,
    /// `keys: [key id, …]`.
    Keys,
    /// `severity: low | medium | high | critical`, `unscanned: deny | allow`.
    SeverityThreshold,
}

macro_rules! rego {
    ($file:literal) => {
        include_str!(concat!("../rego/builtin/", $file))
    };
}

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        id: "pss-baseline",
        package: "caisson.builtin.pss_baseline",
        rego: rego!("pss_baseline.rego"),
        description: "Pod Security Standards, Baseline level: no host namespaces, privileged containers, extra capabilities, hostPath volumes, host ports, host probes, unsafe sysctls, custom SELinux/AppArmor/seccomp/procMount",
        severity: Severity::High,
        remediation: "Remove the listed fields or set them to the allowed values of the Baseline level (https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline).",
        default_mode: Mode::Enforce,
        in_default_set: false,
        params: ParamKind::PssVersion,
    },
    Builtin {
        id: "pss-restricted",
        package: "caisson.builtin.pss_restricted",
        rego: rego!("pss_restricted.rego"),
        description: "Pod Security Standards, Restricted level: Baseline plus non-root, no privilege escalation, seccomp RuntimeDefault/Localhost, drop ALL capabilities, core volume types only",
        severity: Severity::High,
        remediation: "Set runAsNonRoot: true, allowPrivilegeEscalation: false, seccompProfile.type: RuntimeDefault and capabilities.drop: [\"ALL\"] (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted).",
        default_mode: Mode::Enforce,
        in_default_set: true,
        params: ParamKind::PssVersion,
    },
    Builtin {
        id: "read-only-root-filesystem",
        package: "caisson.builtin.read_only_root_filesystem",
        rego: rego!("read_only_root_filesystem.rego"),
        description: "Containers mount their root filesystem read-only",
        severity: Severity::Medium,
        remediation: "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the program writes.",
        default_mode: Mode::Warn,
        in_default_set: true,
        params: ParamKind::None,
    },
    Builtin {
        id: "resource-limits",
        package: "caisson.builtin.resource_limits",
        rego: rego!("resource_limits.rego"),
        description: "Containers and init containers set CPU and memory limits",
        severity: Severity::Medium,
        remediation: "Set resources.limits.cpu and resources.limits.memory on every container.",
        default_mode: Mode::Warn,
        in_default_set: true,
        params: ParamKind::Resources,
    },
    Builtin {
        id: "automount-service-account-token",
        package: "caisson.builtin.automount_service_account_token",
        rego: rego!("automount_service_account_token.rego"),
        description: "Pods do not mount a service account token unless their service account needs one",
        severity: Severity::Medium,
        remediation: "Set automountServiceAccountToken: false in the pod spec, or list the service account in allowed_service_accounts.",
        default_mode: Mode::Warn,
        in_default_set: true,
        params: ParamKind::ServiceAccounts,
    },
    Builtin {
        id: "image-tag",
        package: "caisson.builtin.image_tag",
        rego: rego!("image_tag.rego"),
        description: "Images name a version tag or a digest, never :latest or no tag",
        severity: Severity::Medium,
        remediation: "Reference images as name:version or name@sha256:digest.",
        default_mode: Mode::Enforce,
        in_default_set: true,
        params: ParamKind::None,
    },
    Builtin {
        id: "image-digest",
        package: "caisson.builtin.image_digest",
        rego: rego!("image_digest.rego"),
        description: "Images are pinned by digest (off by default)",
        severity: Severity::Low,
        remediation: "Reference images as name@sha256:digest (e.g. resolve tags in CI).",
        default_mode: Mode::Warn,
        in_default_set: false,
        params: ParamKind::None,
    },
    Builtin {
        id: "approved-registries",
        package: "caisson.builtin.approved_registries",
        rego: rego!("approved_registries.rego"),
        description: "Images come from an approved registry or repository prefix (parameter: registries)",
        severity: Severity::High,
        remediation: "Mirror the image into an approved registry and reference it there.",
        default_mode: Mode::Enforce,
        in_default_set: false,
        params: ParamKind::Registries,
    },
    Builtin {
        id: "approved-base-os",
        package: "caisson.builtin.approved_base_os",
        rego: rego!("approved_base_os.rego"),
        description: "The image's OS (from its SBOM) is approved (parameter: os)",
        severity: Severity::Medium,
        remediation: "Rebuild the image on an approved base image.",
        default_mode: Mode::Enforce,
        in_default_set: false,
        params: ParamKind::BaseOs,
    },
    Builtin {
        id: "signed-images",
        package: "caisson.builtin.signed_images",
        rego: rego!("signed_images.rego"),
        description: "Images carry a signature verified with a trusted key (verdicts supplied by the caller)",
        severity: Severity::Critical,
        remediation: "Sign the image digest with a trusted key (caisson sign) before deploying it.",
        default_mode: Mode::Enforce,
        in_default_set: false,
        params: ParamKind::Keys,
    },
    Builtin {
        id: "vulnerability-threshold",
        package: "caisson.builtin.vulnerability_threshold",
        rego: rego!("vulnerability_threshold.rego"),
        description: "Images have no vulnerabilities at or above a severity (parameter: severity; findings supplied by the caller)",
        severity: Severity::High,
        remediation: "Rebuild the image with fixed packages, or raise the threshold for this workload in the config.",
        default_mode: Mode::Enforce,
        in_default_set: false,
        params: ParamKind::SeverityThreshold,
    },
];

pub fn builtin(id: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.id == id)
}

impl Builtin {
    pub fn meta(&self) -> PolicyMeta {
        PolicyMeta {
            id: self.id.to_string(),
            description: self.description.to_string(),
            severity: self.severity,
            remediation: self.remediation.to_string(),
            default_mode: self.default_mode,
            source: PolicySource::Builtin,
        }
    }

    /// Default parameters, merged under what the config file sets.
    pub fn default_params(&self) -> Json {
        match self.params {
            ParamKind::PssVersion => json!({"version": "latest"}),
            ParamKind::Resources => json!({"resources": ["cpu", "memory"]}),
            ParamKind::ServiceAccounts => json!({"allowed_service_accounts": []}),
            ParamKind::Keys => json!({"keys": []}),
            ParamKind::SeverityThreshold => json!({"severity": "critical", "unscanned": "deny"}),
            ParamKind::None | ParamKind::Registries | ParamKind::BaseOs => json!({}),
        }
    }

    /// Checks merged parameters; the error names the bad parameter.
    pub fn validate_params(&self, params: &Json) -> Result<(), String> {
        let obj = params
            .as_object()
            .ok_or_else(|| "parameters must be a mapping".to_string())?;
        let allowed: &[&str] = match self.params {
            ParamKind::None => &[],
            ParamKind::PssVersion => &["version"],
            ParamKind::Resources => &["resources"],
            ParamKind::ServiceAccounts => &["allowed_service_accounts"],
            ParamKind::Registries => &["registries"],
            ParamKind::BaseOs => &["os"],
            ParamKind::Keys => &["keys"],
            ParamKind::SeverityThreshold => &["severity", "unscanned"],
        };
        if let Some(unknown) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "unknown parameter {unknown:?} (accepted: {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            ));
        }
        match self.params {
            ParamKind::None => Ok(()),
            ParamKind::PssVersion => check_version(obj.get("version")),
            ParamKind::Resources => string_list(obj, "resources", false),
            ParamKind::ServiceAccounts => string_list(obj, "allowed_service_accounts", false),
            ParamKind::Registries => string_list(obj, "registries", true),
            ParamKind::BaseOs => string_list(obj, "os", true),
            ParamKind::Keys => string_list(obj, "keys", false),
            ParamKind::SeverityThreshold => {
                match obj.get("severity").and_then(Json::as_str) {
                    Some(s) => s.parse::<Severity>().map(|_| ())?,
                    None => return Err("parameter \"severity\" must be a string".to_string()),
                }
                match obj.get("unscanned") {
                    None => Ok(()),
                    Some(Json::String(s)) if s == "deny" || s == "allow" => Ok(()),
                    Some(other) => Err(format!(
                        "parameter \"unscanned\" {other} must be \"deny\" or \"allow\""
                    )),
                }
            }
        }
    }
}

/// The newest policy version the built-in PSS modules know (`latest`).
pub const PSS_LATEST_MINOR: u32 = 37;
/// The oldest policy version they model (field-based seccomp starts at v1.19).
pub const PSS_OLDEST_MINOR: u32 = 19;

fn check_version(v: Option<&Json>) -> Result<(), String> {
    let Some(s) = v.and_then(Json::as_str) else {
        return Err("parameter \"version\" must be a string (\"latest\" or \"v1.N\")".into());
    };
    if s == "latest" {
        return Ok(());
    }
    let minor = s
        .strip_prefix("v1.")
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| format!("parameter \"version\" {s:?} must be \"latest\" or \"v1.N\""))?;
    if !(PSS_OLDEST_MINOR..=PSS_LATEST_MINOR).contains(&minor) {
        return Err(format!(
            "parameter \"version\" {s:?} is outside the supported range v1.{PSS_OLDEST_MINOR}..v1.{PSS_LATEST_MINOR}"
        ));
    }
    Ok(())
}

fn string_list(
    obj: &serde_json::Map<String, Json>,
    key: &str,
    required: bool,
) -> Result<(), String> {
    match obj.get(key) {
        None if required => Err(format!("parameter {key:?} is required")),
        None => Ok(()),
        Some(Json::Array(items)) if items.iter().all(Json::is_string) => {
            if required && items.is_empty() {
                Err(format!("parameter {key:?} must not be empty"))
            } else {
                Ok(())
            }
        }
        Some(_) => Err(format!("parameter {key:?} must be a list of strings")),
    }
}
