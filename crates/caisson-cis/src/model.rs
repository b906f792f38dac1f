//! What a benchmark run produces: one [`CheckResult`] per check, the score,
//! the containers skipped while gathering, and notes.

use serde::{Deserialize, Serialize};

/// Which numbering of the CIS Docker Benchmark a report uses. The checks are
/// the same; v1.8.0 adds 2.7 (devicemapper) and renumbers 2.7–2.18 to
/// 2.8–2.19.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Benchmark {
    #[default]
    #[serde(rename = "v1.7")]
    V1_7,
    #[serde(rename = "v1.8")]
    V1_8,
}

impl Benchmark {
    /// `v1.7` / `v1.8` (also accepts `1.7`, `1.7.0`, `v1.8.0`).
    pub fn parse(s: &str) -> Option<Benchmark> {
        match s.trim().trim_start_matches('v') {
            "1.7" | "1.7.0" => Some(Benchmark::V1_7),
            "1.8" | "1.8.0" => Some(Benchmark::V1_8),
            _ => None,
        }
    }

    /// `CIS Docker Benchmark v1.7.0`.
    pub fn name(self) -> &'static str {
        match self {
            Benchmark::V1_7 => "CIS Docker Benchmark v1.7.0",
            Benchmark::V1_8 => "CIS Docker Benchmark v1.8.0",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Benchmark::V1_7 => "v1.7",
            Benchmark::V1_8 => "v1.8",
        }
    }
}

/// A check's verdict, with docker-bench-security's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Compliant.
    Pass,
    /// Not compliant (or could not be verified where docker-bench warns too).
    Warn,
    /// Something to review; not a failure (docker-bench `INFO`).
    Info,
    /// A reminder of a manual step (docker-bench `NOTE`).
    Note,
    /// The check does not apply here (file absent, no SELinux, no swarm).
    NotApplicable,
    /// Cannot be automated: a person has to look.
    Manual,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Info => "info",
            Status::Note => "note",
            Status::NotApplicable => "not-applicable",
            Status::Manual => "manual",
        }
    }
}

/// Something a result is about: a container or a host file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Object {
    Container {
        id: String,
        name: String,
        /// The value seen on this container.
        evidence: String,
    },
    File {
        path: String,
        evidence: String,
    },
    Image {
        id: String,
        /// First repo tag, when the image has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        evidence: String,
    },
}

impl Object {
    pub fn evidence(&self) -> &str {
        match self {
            Object::Container { evidence, .. }
            | Object::File { evidence, .. }
            | Object::Image { evidence, .. } => evidence,
        }
    }

    /// `name (id12)`, a path, or an image reference.
    pub fn label(&self) -> String {
        match self {
            Object::Container { id, name, .. } => format!("{name} ({})", short_id(id)),
            Object::File { path, .. } => path.clone(),
            Object::Image { id, reference, .. } => reference
                .clone()
                .unwrap_or_else(|| short_id(id).to_string()),
        }
    }
}

/// The first 12 hex digits of a container or image id (`sha256:` dropped).
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.get(..12).unwrap_or(id)
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The CIS item number in the selected benchmark (`5.4`).
    pub id: String,
    /// Stable kebab-case code, the same in every numbering (`runtime-capabilities`).
    pub key: String,
    pub title: String,
    /// Top-level section number (`5`).
    pub section: String,
    /// CIS profile level (1 or 2).
    pub level: u8,
    /// Whether docker-bench-security counts the check in its score.
    pub scored: bool,
    pub status: Status,
    /// The value(s) seen; for container checks the failing containers'
    /// values, or every container's when all pass.
    pub evidence: String,
    pub remediation: String,
    /// The affected containers, files or images, each with its own evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<Object>,
}

/// A container listed by the engine that could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub reason: String,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub info: usize,
    pub note: usize,
    pub not_applicable: usize,
    pub manual: usize,
    /// docker-bench's score: +1 per scored pass, −1 per scored warn.
    pub score: i64,
}

impl Summary {
    pub fn of(results: &[CheckResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.status {
                Status::Pass => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Info => s.info += 1,
                Status::Note => s.note += 1,
                Status::NotApplicable => s.not_applicable += 1,
                Status::Manual => s.manual += 1,
            }
            if r.scored {
                match r.status {
                    Status::Pass => s.score += 1,
                    Status::Warn => s.score -= 1,
                    _ => {}
                }
            }
        }
        s
    }
}

/// Facts about the engine the report names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_root_dir: Option<String>,
    /// The dockerd process whose command line was read, if one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_pid: Option<u32>,
    /// The daemon configuration file read (`--config-file` or the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_config_file: Option<String>,
    /// The host root the files were read under (`/` or `--root`).
    pub root: String,
    pub containers_checked: usize,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// `caisson-host-bench/v1`.
    pub schema: String,
    /// `v1.7` or `v1.8`.
    pub benchmark: Benchmark,
    /// `CIS Docker Benchmark v1.7.0`.
    pub benchmark_name: String,
    pub engine: EngineSummary,
    pub summary: Summary,
    pub results: Vec<CheckResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// Gathering problems that did not stop the run (unreadable files,
    /// a malformed daemon.json, auditctl unavailable).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The `schema` value of [`Report`].
pub const REPORT_SCHEMA: &str = "caisson-host-bench/v1";
