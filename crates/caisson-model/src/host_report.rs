//! The report `caisson host agent` sends to `caisson serve`
//! (`docs/formats/caisson-host-report.md`): one host's containers and its
//! latest CIS Docker Benchmark result, as a full snapshot.
//!
//! The server receives it from the network, so [`parse`] treats it as
//! untrusted: the body must be JSON of this shape (unknown fields refused),
//! every string and list is bounded, identifiers have fixed alphabets, and
//! the first problem found is returned with the path of the field
//! (`containers[3].image_id`).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use serde::{Deserialize, Serialize};

/// `format` of the document.
pub const FORMAT: &str = "caisson-host-report";
/// `format_version` of the document.
pub const FORMAT_VERSION: u32 = 1;

/// Largest report body the server reads, in bytes.
pub const MAX_REPORT_BYTES: usize = 4 << 20;
/// Most containers one report may list.
pub const MAX_CONTAINERS: usize = 5_000;
/// Most repo digests one container may list.
pub const MAX_REPO_DIGESTS: usize = 32;
/// Most benchmark checks one report may carry.
pub const MAX_CHECKS: usize = 500;
/// Longest short string (names, states, versions).
pub const MAX_SHORT: usize = 256;
/// Longest long string (image references, titles, evidence).
pub const MAX_LONG: usize = 4096;

/// One report of one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostReport {
    pub format: String,
    pub format_version: u32,
    pub host: HostFacts,
    pub agent: AgentFacts,
    /// Strictly increasing per host (the agent persists it); the server
    /// ignores a report whose `seq` it has already stored (a re-delivery).
    pub seq: i64,
    /// When the agent built the report, Unix milliseconds.
    pub generated_ms: i64,
    /// `start`, `event` or `interval`.
    pub reason: String,
    /// Every container (running and stopped).
    pub containers: Vec<ReportedContainer>,
    /// The benchmark result; absent when the agent could not run it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<ReportedBench>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFacts {
    /// Stable host id: `--host-id`, else the engine's daemon id.
    pub id: String,
    pub hostname: String,
    pub engine: EngineFacts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineFacts {
    /// `docker` or `podman`.
    pub kind: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFacts {
    pub version: String,
    /// The agent's `--interval`; the server calls a host stale after three
    /// intervals without a report.
    pub interval_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedContainer {
    /// The engine's container id (hex).
    pub id: String,
    pub name: String,
    /// The image as the container was created from it.
    pub image: String,
    /// `sha256:<hex>`.
    pub image_id: String,
    /// `host/repo@sha256:<hex>` as the engine recorded the pull.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// `running`, `exited`, `created`, …
    pub state: String,
    #[serde(default)]
    pub started_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedBench {
    /// `v1.7` or `v1.8`.
    pub benchmark: String,
    pub checks: Vec<ReportedCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedCheck {
    /// `2.1`, `5.31`.
    pub id: String,
    pub title: String,
    /// `pass`, `warn`, `info`, `note`, `not-applicable`, `manual`.
    pub status: String,
    #[serde(default)]
    pub evidence: String,
}

/// Check statuses a report may carry.
pub const CHECK_STATUSES: &[&str] = &["pass", "warn", "info", "note", "not-applicable", "manual"];
/// Report reasons.
pub const REASONS: &[&str] = &["start", "event", "interval"];

/// Why a report was refused: the field (a JSON path) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() || self.field == "." {
            write!(f, "report: {}", self.message)
        } else {
            write!(f, "report field `{}`: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ReportError {}

fn err(field: impl Into<String>, message: impl Into<String>) -> ReportError {
    ReportError {
        field: field.into(),
        message: message.into(),
    }
}

/// Parses and validates a report body.
pub fn parse(body: &[u8]) -> Result<HostReport, ReportError> {
    if body.len() > MAX_REPORT_BYTES {
        return Err(err(
            "",
            format!("body is over the {MAX_REPORT_BYTES}-byte limit"),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    let report: HostReport = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        err(field, inner.to_string())
    })?;
    validate(&report)?;
    Ok(report)
}

fn short(field: &str, v: &str) -> Result<(), ReportError> {
    bounded(field, v, MAX_SHORT)
}

fn bounded(field: &str, v: &str, max: usize) -> Result<(), ReportError> {
    if v.len() > max {
        return Err(err(field, format!("longer than {max} bytes")));
    }
    if v.chars().any(char::is_control) {
        return Err(err(field, "contains control characters"));
    }
    Ok(())
}

fn nonempty(field: &str, v: &str, max: usize) -> Result<(), ReportError> {
    if v.is_empty() {
        return Err(err(field, "must not be empty"));
    }
    bounded(field, v, max)
}

/// A host id: 1-128 of `[A-Za-z0-9._:-]`.
pub fn valid_host_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn hex_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `sha256:<64 hex>`.
fn sha256_digest(v: &str) -> bool {
    v.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `name@sha256:<64 hex>`; returns (name, digest).
pub fn split_repo_digest(v: &str) -> Option<(&str, &str)> {
    let (name, digest) = v.rsplit_once('@')?;
    (!name.is_empty() && sha256_digest(digest)).then_some((name, digest))
}

/// Checks bounds, alphabets and cross-field rules of a parsed report.
pub fn validate(r: &HostReport) -> Result<(), ReportError> {
    if r.format != FORMAT {
        return Err(err("format", format!("expected {FORMAT:?}")));
    }
    if r.format_version != FORMAT_VERSION {
        return Err(err(
            "format_version",
            format!(
                "version {} is not supported (expected {FORMAT_VERSION})",
                r.format_version
            ),
        ));
    }
    if !valid_host_id(&r.host.id) {
        return Err(err("host.id", "must be 1-128 of [A-Za-z0-9._:-]"));
    }
    nonempty("host.hostname", &r.host.hostname, MAX_SHORT)?;
    if !matches!(r.host.engine.kind.as_str(), "docker" | "podman") {
        return Err(err("host.engine.kind", "must be docker or podman"));
    }
    for (f, v) in [
        ("host.engine.version", &r.host.engine.version),
        ("host.engine.api_version", &r.host.engine.api_version),
        ("host.engine.os", &r.host.engine.os),
        ("host.engine.arch", &r.host.engine.arch),
    ] {
        if let Some(v) = v {
            short(f, v)?;
        }
    }
    nonempty("agent.version", &r.agent.version, 64)?;
    if r.agent.interval_secs == 0 || r.agent.interval_secs > 7 * 86_400 {
        return Err(err("agent.interval_secs", "must be 1 to 604800 seconds"));
    }
    if r.seq <= 0 {
        return Err(err("seq", "must be positive"));
    }
    if r.generated_ms <= 0 {
        return Err(err("generated_ms", "must be positive"));
    }
    if !REASONS.contains(&r.reason.as_str()) {
        return Err(err("reason", "must be start, event or interval"));
    }
    if r.containers.len() > MAX_CONTAINERS {
        return Err(err(
            "containers",
            format!("more than {MAX_CONTAINERS} containers"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, c) in r.containers.iter().enumerate() {
        let f = |name: &str| format!("containers[{i}].{name}");
        if !hex_id(&c.id) {
            return Err(err(f("id"), "must be 1-128 hex digits"));
        }
        if !seen.insert(c.id.as_str()) {
            return Err(err(f("id"), "listed twice"));
        }
        nonempty(&f("name"), &c.name, MAX_SHORT)?;
        nonempty(&f("image"), &c.image, MAX_LONG)?;
        if !sha256_digest(&c.image_id) {
            return Err(err(f("image_id"), "must be sha256:<64 hex digits>"));
        }
        if c.repo_digests.len() > MAX_REPO_DIGESTS {
            return Err(err(
                f("repo_digests"),
                format!("more than {MAX_REPO_DIGESTS} entries"),
            ));
        }
        for (j, d) in c.repo_digests.iter().enumerate() {
            let fd = format!("containers[{i}].repo_digests[{j}]");
            bounded(&fd, d, MAX_LONG)?;
            if split_repo_digest(d).is_none() {
                return Err(err(fd, "must be <name>@sha256:<64 hex digits>"));
            }
        }
        nonempty(&f("state"), &c.state, 32)?;
        if !c.state.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(err(f("state"), "must be lower-case letters"));
        }
        if let Some(s) = &c.started_at {
            short(&f("started_at"), s)?;
        }
    }
    if let Some(b) = &r.bench {
        if !matches!(b.benchmark.as_str(), "v1.7" | "v1.8") {
            return Err(err("bench.benchmark", "must be v1.7 or v1.8"));
        }
        if b.checks.len() > MAX_CHECKS {
            return Err(err(
                "bench.checks",
                format!("more than {MAX_CHECKS} checks"),
            ));
        }
        for (i, c) in b.checks.iter().enumerate() {
            let f = |name: &str| format!("bench.checks[{i}].{name}");
            if c.id.is_empty()
                || c.id.len() > 16
                || !c.id.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            {
                return Err(err(f("id"), "must be a check number such as 5.31"));
            }
            bounded(&f("title"), &c.title, MAX_LONG)?;
            bounded(&f("evidence"), &c.evidence, MAX_LONG)?;
            if !CHECK_STATUSES.contains(&c.status.as_str()) {
                return Err(err(
                    f("status"),
                    "must be pass, warn, info, note, not-applicable or manual",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> serde_json::Value {
        serde_json::json!({
            "format": FORMAT, "format_version": 1,
            "host": {"id": "h-1", "hostname": "node1", "engine": {"kind": "docker", "version": "27.0"}},
            "agent": {"version": "0.1.0", "interval_secs": 600},
            "seq": 5, "generated_ms": 1000, "reason": "event",
            "containers": [{"id": "abc123", "name": "web", "image": "nginx:1",
                "image_id": format!("sha256:{}", "a".repeat(64)),
                "repo_digests": [format!("reg:5000/team/app@sha256:{}", "b".repeat(64))],
                "state": "running"}],
            "bench": {"benchmark": "v1.7", "checks": [{"id": "2.1", "title": "t", "status": "warn"}]}
        })
    }

    fn refused(v: serde_json::Value) -> ReportError {
        parse(&serde_json::to_vec(&v).unwrap_or_default()).expect_err("refused")
    }

    #[test]
    fn a_good_report_parses() {
        let r = parse(&serde_json::to_vec(&good()).unwrap_or_default()).expect("parses");
        assert_eq!(r.containers.len(), 1);
        assert_eq!(
            split_repo_digest(&r.containers[0].repo_digests[0]).map(|p| p.0),
            Some("reg:5000/team/app")
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let mut v = good();
        v["containers"][0]["image_id"] = "sha256:xyz".into();
        assert_eq!(refused(v).field, "containers[0].image_id");
        let mut v = good();
        v["containers"][0]["repo_digests"][0] = "nodigest".into();
        assert_eq!(refused(v).field, "containers[0].repo_digests[0]");
        let mut v = good();
        v["host"]["id"] = "a b".into();
        assert_eq!(refused(v).field, "host.id");
        let mut v = good();
        v["containers"][0]["id"] = 7.into();
        assert_eq!(refused(v).field, "containers[0].id");
        let mut v = good();
        v["bench"]["checks"][0]["status"] = "great".into();
        assert_eq!(refused(v).field, "bench.checks[0].status");
        let mut v = good();
        v["surprise"] = 1.into();
        let e = refused(v);
        assert!(e.message.contains("surprise"), "{e}");
        let mut v = good();
        v["containers"][0]["name"] = "a\u{7}b".into();
        assert_eq!(refused(v).field, "containers[0].name");
        let mut v = good();
        let c = v["containers"][0].clone();
        v["containers"] = serde_json::Value::Array(vec![c.clone(), c]);
        assert_eq!(refused(v).field, "containers[1].id");
    }

    #[test]
    fn too_many_containers_and_too_large_bodies_are_refused() {
        let mut v = good();
        let c = v["containers"][0].clone();
        v["containers"] = serde_json::Value::Array(vec![c; MAX_CONTAINERS + 1]);
        assert_eq!(refused(v).field, "containers");
        let big = vec![b' '; MAX_REPORT_BYTES + 1];
        assert!(parse(&big)
            .expect_err("too large")
            .message
            .contains("limit"));
        assert!(parse(b"{").is_err());
        assert!(parse(b"").is_err());
    }
}
