//! Image misconfiguration checks.
//!
//! Every check has a stable kebab-case id, a severity, and where one exists the
//! CIS Docker Benchmark (v1.6) item it implements ([`CHECKS`]). The same ids
//! are used for two inputs:
//!
//! - a built image ([`check_image`]): its config (`User`, `Healthcheck`,
//!   `ExposedPorts`, `Env`, `Labels`), its history `created_by` lines, and the
//!   few facts about its final file list the checks need ([`FileFact`]:
//!   set-uid files, `sshd`, package-manager caches);
//! - a Dockerfile ([`lint_dockerfile`]): the same rules plus hadolint-style
//!   ones, with line numbers.
//!
//! The crate is pure: callers collect the inputs.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod dockerfile;
mod image;
mod shell;

pub use dockerfile::{lint_dockerfile, parse_dockerfile, Instruction};
pub use image::{check_image, is_secret_name, wanted_file, FileFact, ImageInput};

use caisson_model::Severity;
use serde::{Deserialize, Serialize};

/// Where a check applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Image,
    Dockerfile,
    Both,
}

/// One check's description.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// CIS Docker Benchmark item, e.g. `4.1`.
    pub cis: Option<&'static str>,
    /// hadolint rules that test the same thing (for the differential test).
    pub hadolint: &'static [&'static str],
    pub scope: Scope,
    /// What to do about it.
    pub remediation: &'static str,
}

/// Every check, in a stable order.
pub const CHECKS: &[Check] = &[
    Check { id: "root-user", title: "Image runs as root", severity: Severity::High, cis: Some("4.1"), hadolint: &["DL3002"], scope: Scope::Both, remediation: "Add a USER instruction with a non-root user (name or uid) in the final stage." },
    Check { id: "no-healthcheck", title: "No HEALTHCHECK instruction", severity: Severity::Low, cis: Some("4.6"), hadolint: &[], scope: Scope::Both, remediation: "Add a HEALTHCHECK instruction so the runtime can tell a hung container." },
    Check { id: "add-instead-of-copy", title: "ADD used instead of COPY", severity: Severity::Medium, cis: Some("4.9"), hadolint: &["DL3020"], scope: Scope::Both, remediation: "Use COPY for local files; download remote files with a verified checksum (ADD --checksum or curl + sha256sum) and extract archives explicitly." },
    Check { id: "setuid-files", title: "Set-uid or set-gid files", severity: Severity::Low, cis: Some("4.8"), hadolint: &[], scope: Scope::Image, remediation: "Remove the setuid/setgid bits the application does not need (find / -perm /6000 -type f -exec chmod a-s {} +)." },
    Check { id: "sshd-installed", title: "SSH server installed", severity: Severity::High, cis: Some("5.7"), hadolint: &[], scope: Scope::Both, remediation: "Do not ship sshd in an application image; use `docker exec`/`kubectl exec`." },
    Check { id: "package-cache-left", title: "Package manager cache left in the image", severity: Severity::Low, cis: None, hadolint: &["DL3009", "DL3019", "DL3042"], scope: Scope::Both, remediation: "Clean the cache in the same RUN: `rm -rf /var/lib/apt/lists/*`, `apk add --no-cache`, `pip install --no-cache-dir`, `npm cache clean --force`." },
    Check { id: "unpinned-base-image", title: "Base image is `latest` or not pinned", severity: Severity::Medium, cis: None, hadolint: &["DL3006", "DL3007"], scope: Scope::Both, remediation: "Pin the base image to a version tag, ideally with its digest (image:tag@sha256:…)." },
    Check { id: "secret-in-env-arg", title: "Secret passed through ENV or ARG", severity: Severity::High, cis: Some("4.10"), hadolint: &[], scope: Scope::Both, remediation: "Use build secrets (RUN --mount=type=secret) or runtime secrets; ENV values and ARG values used by RUN are stored in the image." },
    Check { id: "privileged-port", title: "Privileged port exposed", severity: Severity::Low, cis: Some("5.8"), hadolint: &[], scope: Scope::Both, remediation: "Listen on a port >= 1024 and map it at run time." },
    Check { id: "apt-no-install-recommends", title: "apt-get install without --no-install-recommends", severity: Severity::Low, cis: None, hadolint: &["DL3015"], scope: Scope::Dockerfile, remediation: "Add --no-install-recommends to avoid unneeded packages." },
    Check { id: "apt-unpinned", title: "apt-get install without pinned versions", severity: Severity::Low, cis: None, hadolint: &["DL3008"], scope: Scope::Dockerfile, remediation: "Pin versions: apt-get install pkg=1.2.3-1." },
    Check { id: "apt-missing-yes", title: "apt-get install without -y", severity: Severity::Low, cis: None, hadolint: &["DL3014"], scope: Scope::Dockerfile, remediation: "Add -y (builds are non-interactive)." },
    Check { id: "apk-unpinned", title: "apk add without pinned versions", severity: Severity::Low, cis: None, hadolint: &["DL3018"], scope: Scope::Dockerfile, remediation: "Pin versions: apk add pkg=1.2.3-r0." },
    Check { id: "pip-unpinned", title: "pip install without pinned versions", severity: Severity::Low, cis: None, hadolint: &["DL3013"], scope: Scope::Dockerfile, remediation: "Pin versions (pkg==1.2.3) or install from a requirements file with hashes." },
    Check { id: "npm-unpinned", title: "npm install without pinned versions", severity: Severity::Low, cis: None, hadolint: &["DL3016"], scope: Scope::Dockerfile, remediation: "Pin versions (pkg@1.2.3) or use `npm ci` with a lockfile." },
    Check { id: "curl-pipe-shell", title: "Remote script piped into a shell", severity: Severity::Medium, cis: None, hadolint: &[], scope: Scope::Dockerfile, remediation: "Download the script, verify its checksum or signature, then run it." },
    Check { id: "sudo", title: "sudo used in RUN", severity: Severity::Medium, cis: None, hadolint: &["DL3004"], scope: Scope::Dockerfile, remediation: "Build steps run as root already; use USER to change users." },
    Check { id: "cd-instead-of-workdir", title: "cd used instead of WORKDIR", severity: Severity::Low, cis: None, hadolint: &["DL3003"], scope: Scope::Dockerfile, remediation: "Use WORKDIR to change directory." },
    Check { id: "maintainer-deprecated", title: "MAINTAINER is deprecated", severity: Severity::Low, cis: None, hadolint: &["DL4000"], scope: Scope::Dockerfile, remediation: "Use LABEL org.opencontainers.image.authors=… instead." },
    Check { id: "relative-workdir", title: "WORKDIR is relative", severity: Severity::Low, cis: None, hadolint: &["DL3000"], scope: Scope::Dockerfile, remediation: "Use an absolute WORKDIR path." },
];

/// The check with this id.
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

/// One misconfiguration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MisconfigFinding {
    /// The check's stable id.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cis: Option<String>,
    /// What was found (never a secret value).
    pub message: String,
    /// `config`, `history[3]`, a path inside the image, or the Dockerfile path.
    pub location: String,
    /// 1-based Dockerfile line, when linting a Dockerfile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub remediation: String,
}

pub(crate) fn finding(
    id: &str,
    message: String,
    location: &str,
    line: Option<usize>,
) -> MisconfigFinding {
    let c = check(id);
    MisconfigFinding {
        id: id.to_string(),
        title: c.map(|c| c.title).unwrap_or(id).to_string(),
        severity: c.map_or(Severity::Unknown, |c| c.severity),
        cis: c.and_then(|c| c.cis).map(str::to_string),
        message,
        location: location.to_string(),
        line,
        remediation: c.map(|c| c.remediation).unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests;
