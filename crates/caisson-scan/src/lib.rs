//! The flow `caisson scan` runs:
//!
//! 1. the SBOM: built from an image source (`caisson-sbom`), or read from an
//!    SBOM file for `sbom:<file>` (CycloneDX, SPDX or Caisson JSON),
//! 2. the advisory database opened read-only (a stale database only warns),
//! 3. matching (`caisson-match`) with severities computed by `caisson-cvss`,
//! 4. filters, ignore file and VEX.

use std::path::PathBuf;
use std::time::Duration;

use caisson_advisory::Database;
use caisson_match::{CvssRating, Policy, ScanResults};
use caisson_model::{Sbom, Severity, Warning};

/// Maps a vector to a rating with `caisson-cvss`: the most specific score the
/// vector allows (environmental, threat/temporal, else base).
pub fn cvss_rating(vector: &str) -> Option<CvssRating> {
    let s = caisson_cvss::score(vector).ok()?;
    let severity = match s.overall_severity() {
        caisson_cvss::Severity::None => Severity::Negligible,
        caisson_cvss::Severity::Low => Severity::Low,
        caisson_cvss::Severity::Medium => Severity::Medium,
        caisson_cvss::Severity::High => Severity::High,
        caisson_cvss::Severity::Critical => Severity::Critical,
    };
    Some(CvssRating {
        score: s.overall(),
        severity,
    })
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub sbom: caisson_sbom::Options,
    /// Database directory (`--db`, else `CAISSON_DB`, else the user cache dir).
    pub db_dir: Option<PathBuf>,
    /// Warn when the database is older than this (default 7 days).
    pub max_db_age: Option<Duration>,
    pub policy: Policy,
}

#[derive(Debug)]
pub struct Output {
    pub sbom: Sbom,
    pub results: ScanResults,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Sbom(#[from] caisson_sbom::SbomError),
    #[error("cannot read SBOM file {path}")]
    SbomFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable SBOM")]
    SbomParse {
        path: PathBuf,
        #[source]
        source: caisson_report::ReadError,
    },
    #[error("the advisory database at {dir} cannot be opened (hint: run `caisson db update`, or `caisson db import <files>` offline)")]
    Database {
        dir: PathBuf,
        #[source]
        source: Box<caisson_advisory::DbError>,
    },
    #[error(transparent)]
    Match(#[from] caisson_match::MatchError),
}

/// Reads `sbom:<file>` or builds the SBOM of an image source.
pub fn load_sbom(source: &str, opts: &caisson_sbom::Options) -> Result<Sbom, ScanError> {
    let Some(file) = source.strip_prefix("sbom:") else {
        return Ok(caisson_sbom::generate(source, opts)?);
    };
    let path = PathBuf::from(file);
    let bytes = fs_err::read(&path).map_err(|source| ScanError::SbomFile {
        path: path.clone(),
        source,
    })?;
    let (mut sbom, warnings) =
        caisson_report::read_sbom(&bytes).map_err(|source| ScanError::SbomParse {
            path: path.clone(),
            source,
        })?;
    sbom.warnings.extend(warnings);
    if sbom.source.reference.is_empty() {
        sbom.source.reference = source.to_string();
    }
    Ok(sbom)
}

/// Runs the whole scan.
pub fn scan(source: &str, opts: &Options) -> Result<Output, ScanError> {
    let sbom = load_sbom(source, &opts.sbom)?;
    let dir = caisson_advisory::resolve_db_dir(opts.db_dir.as_deref()).map_err(|source| {
        ScanError::Database {
            dir: opts.db_dir.clone().unwrap_or_default(),
            source: Box::new(source),
        }
    })?;
    let db = Database::open(&dir).map_err(|source| ScanError::Database {
        dir: dir.clone(),
        source: Box::new(source),
    })?;
    let mut extra = Vec::new();
    if let Ok(status) = db.status() {
        let max = opts
            .max_db_age
            .unwrap_or(Duration::from_secs(7 * 24 * 3600));
        // The oldest source decides how stale the database is.
        let age = status
            .sources
            .iter()
            .map(|s| s.age_seconds())
            .max()
            .unwrap_or(0);
        if age > max.as_secs() {
            extra.push(Warning {
                code: "advisory-db-stale".into(),
                message: format!(
                    "the advisory database is {} days old; run `caisson db update`",
                    age / 86_400
                ),
            });
        }
    }
    let matched = caisson_match::match_sbom(&sbom, &db, &cvss_rating)?;
    let mut warnings = sbom.warnings.clone();
    warnings.extend(extra);
    warnings.extend(matched.warnings);
    let results = caisson_match::apply(matched.findings, warnings, &sbom, &opts.policy);
    Ok(Output { sbom, results })
}
