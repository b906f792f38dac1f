//! CIS Docker Benchmark checks (v1.7.0, and v1.8.0 numbering on request).
//!
//! Fetch, then decide: [`gather`] reads the host's files under a root
//! directory and [`gather_containers`] asks an engine ([`ContainerSource`])
//! for the running containers; [`run`] is a pure function of those
//! [`HostFacts`] and [`ContainerFacts`] that returns a [`Report`] with one
//! [`CheckResult`] per benchmark item, scored as docker-bench-security
//! scores (+1 per scored pass, −1 per scored warn). [`render`] writes it as
//! a table, JSON or SARIF 2.1.0.
//!
//! daemon.json, audit rules, mountinfo and /etc/group are untrusted input:
//! the parsers ([`parse`]) are bounded, never panic and are fuzzed.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)
)]

pub mod catalog;
pub mod checks;
pub mod config;
pub mod facts;
mod gather;
pub mod model;
pub mod parse;
pub mod paths;
pub mod render;
mod source;

pub use facts::{
    AuditFacts, ConfigFile, ContainerFacts, DaemonFacts, FileKind, FileStat, FileState, GroupFact,
    HostFacts,
};
pub use gather::{gather_host, GatherOptions};
pub use model::{
    Benchmark, CheckResult, EngineSummary, Object, Report, Skipped, Status, Summary, REPORT_SCHEMA,
};
pub use source::{gather_containers, ContainerSource, SourceError};

use checks::{Ctx, Outcome};
use config::DaemonConfig;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub benchmark: Benchmark,
    /// `--checks`: item numbers or section prefixes in the selected
    /// numbering (`5`, `1.1`, `2.7`); empty runs every check.
    pub checks: Vec<String>,
    /// Users allowed in the docker group (1.1.2); `None` lists the members
    /// as info.
    pub trusted_users: Option<Vec<String>>,
}

/// Errors from [`run`]'s argument checks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("--checks {0}: no such check or section in {1}")]
    UnknownCheck(String, &'static str),
}

/// Validates `--checks` entries against the selected numbering.
pub fn validate_checks(b: Benchmark, patterns: &[String]) -> Result<(), Error> {
    for p in patterns {
        let known = catalog::CHECKS
            .iter()
            .filter_map(|c| c.id(b))
            .any(|id| catalog::selected_by(id, p));
        if !known {
            return Err(Error::UnknownCheck(p.clone(), b.name()));
        }
    }
    Ok(())
}

/// Runs the benchmark on gathered facts. Pure: no I/O.
pub fn run(
    host: &HostFacts,
    containers: &[ContainerFacts],
    skipped: &[Skipped],
    opts: &Options,
) -> Result<Report, Error> {
    validate_checks(opts.benchmark, &opts.checks)?;
    let ctx = Ctx {
        host,
        cfg: DaemonConfig::new(&host.daemon),
        containers,
        trusted_users: opts.trusted_users.as_deref(),
    };
    let outcomes = checks::all(&ctx);
    let mut results = Vec::new();
    for def in catalog::CHECKS {
        let Some(id) = def.id(opts.benchmark) else {
            continue;
        };
        if !opts.checks.is_empty() && !opts.checks.iter().any(|p| catalog::selected_by(id, p)) {
            continue;
        }
        let o = outcomes
            .iter()
            .find(|o| o.key == def.key)
            .cloned()
            .unwrap_or_else(|| Outcome::new(def.key, Status::Manual, "not automated"));
        results.push(CheckResult {
            id: id.to_string(),
            key: def.key.to_string(),
            title: def.title.to_string(),
            section: id.split('.').next().unwrap_or(id).to_string(),
            level: def.level,
            scored: def.scored,
            status: o.status,
            evidence: o.evidence,
            remediation: def.remediation.to_string(),
            objects: o.objects,
        });
    }
    let mut notes = host.notes.clone();
    for s in skipped {
        notes.push(format!(
            "container {} {} skipped: {}",
            model::short_id(&s.id),
            s.name,
            s.reason
        ));
    }
    let info = host.info.as_ref();
    Ok(Report {
        schema: REPORT_SCHEMA.to_string(),
        benchmark: opts.benchmark,
        benchmark_name: opts.benchmark.name().to_string(),
        engine: EngineSummary {
            docker_host: host.docker_host.clone(),
            server_version: info.and_then(|i| i.server_version.clone()),
            storage_driver: info.and_then(|i| i.driver.clone()),
            docker_root_dir: info.and_then(|i| i.docker_root_dir.clone()),
            daemon_pid: host.daemon.pid,
            daemon_config_file: Some(host.daemon.config_path.clone()),
            root: host.root.clone(),
            containers_checked: containers.len(),
        },
        summary: Summary::of(&results),
        results,
        skipped: skipped.to_vec(),
        notes,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
