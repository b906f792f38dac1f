//! Secret detection.
//!
//! A [`RuleSet`] holds rules with stable kebab-case ids (the built-in set in
//! `rules.toml`, optionally extended by a user file; format in
//! `docs/secrets.md`). [`RuleSet::scan`] runs one Aho-Corasick pass over a
//! file for every rule keyword, then only the regexes of the rules whose
//! keywords occur; candidate secrets are checked against the rule's entropy
//! threshold and the allow-lists, and reported as [`SecretFinding`]s whose
//! only text is the redacted match line. Binaries, files over the size limit
//! and allow-listed paths are skipped. The crate does no I/O beyond reading a
//! given stream ([`RuleSet::scan_reader`], bounded by `max_file_size`).

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod rules;
mod scan;

pub use rules::{
    AllowSpec, Rule, RuleFile, RuleSet, RuleSpec, BUILTIN_RULES, DEFAULT_MAX_FILE_SIZE,
};
pub use scan::{is_binary, shannon_entropy, Skip, MAX_FINDINGS_PER_FILE};

use caisson_model::{LayerRef, Severity};
use serde::{Deserialize, Serialize};

/// One secret found in a file or in the image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFinding {
    /// The rule's stable id (`aws-access-key-id`).
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    /// Absolute path inside the image, or `config:<field>` for the image config.
    pub path: String,
    /// The layer that holds the file (`None` for the config or a single file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
    /// 1-based lines where the secret starts and ends.
    pub start_line: usize,
    pub end_line: usize,
    /// The line holding the secret with the secret replaced by `*****`; the
    /// secret itself is never kept.
    #[serde(rename = "match")]
    pub redacted: String,
}

/// A rule file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot parse secret rules from {origin}")]
    Parse {
        origin: String,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("invalid regex in {what} ({origin})")]
    Regex {
        origin: String,
        what: String,
        #[source]
        source: regex::Error,
    },
    #[error("secret rule `{id}` in {origin} is invalid: {reason}")]
    Invalid {
        origin: String,
        id: String,
        reason: String,
    },
    #[error("{origin} disables secret rule `{id}`, which does not exist")]
    UnknownRule { origin: String, id: String },
}

/// The severity's upper-case name.
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Unknown => "UNKNOWN",
        Severity::Negligible => "NEGLIGIBLE",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

#[cfg(test)]
mod tests;
