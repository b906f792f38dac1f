//! The flow `caisson scan` runs:
//!
//! 1. the SBOM: built from an image source (`caisson-sbom`), or read from an
//!    SBOM file for `sbom:<file>` (CycloneDX, SPDX or Caisson JSON),
//! 2. the advisory database opened read-only (a stale database only warns),
//! 3. matching (`caisson-match`) with severities computed by `caisson-cvss`,
//! 4. filters, ignore file and VEX;
//!
//! and, for image sources, with the `secret` and `misconfig` scanners: the
//! secret scanner (with the layer that holds each secret) and the file facts
//! of the misconfig checks ([`walk`]) subscribed to the SBOM's pass over the
//! layers ([`scan_image`]: each layer decompressed once, layers in parallel),
//! plus the image config's `Env`, `Labels` and history. The image is opened
//! once.

pub mod walk;

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

/// Which scanners run (`--scanners vuln,secret,misconfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanners {
    pub vuln: bool,
    pub secret: bool,
    pub misconfig: bool,
}

impl Default for Scanners {
    fn default() -> Self {
        Scanners {
            vuln: true,
            secret: true,
            misconfig: true,
        }
    }
}

impl std::str::FromStr for Scanners {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = Scanners {
            vuln: false,
            secret: false,
            misconfig: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "vuln" => out.vuln = true,
                "secret" => out.secret = true,
                "misconfig" => out.misconfig = true,
                other => {
                    return Err(format!(
                        "unknown scanner `{other}` (expected vuln, secret, misconfig)"
                    ))
                }
            }
        }
        if out
            == (Scanners {
                vuln: false,
                secret: false,
                misconfig: false,
            })
        {
            return Err("no scanner selected (expected vuln, secret, misconfig)".into());
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub scanners: Scanners,
    /// Secret rules (built-in plus the user's file); `None` = built-in.
    pub secret_rules: Option<caisson_secrets::RuleSet>,
    pub sbom: caisson_sbom::Options,
    /// Database directory (`--db`, else `CAISSON_DB`, else the user cache dir).
    pub db_dir: Option<PathBuf>,
    /// Warn when the database is older than this (default 7 days).
    pub max_db_age: Option<Duration>,
    pub policy: Policy,
}

#[derive(Debug)]
pub struct Output {
    /// The SBOM (only the source info when the vuln scanner did not run).
    pub sbom: Sbom,
    pub results: ScanResults,
    /// `None` when the secret scanner did not run.
    pub secrets: Option<Vec<caisson_secrets::SecretFinding>>,
    /// `None` when the misconfig scanner did not run.
    pub misconfigs: Option<Vec<caisson_misconfig::MisconfigFinding>>,
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
    #[error("cannot walk the layers of {source_ref} for secrets and misconfigurations")]
    Walk {
        source_ref: String,
        #[source]
        source: caisson_image::ImageError,
    },
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
    let sc = opts.scanners;
    let mut extra = Vec::new();
    let (sbom, secrets, misconfigs) = if source.starts_with("sbom:") {
        if sc.secret || sc.misconfig {
            extra.push(Warning {
                code: "scanner-not-applicable".into(),
                message: "secret and misconfig scanners need an image; an SBOM file only gets the vuln scanner".into(),
            });
        }
        (load_sbom(source, &opts.sbom)?, None, None)
    } else {
        let image = caisson_sbom::open(source, &opts.sbom)?;
        let builtin;
        let rules = match (&opts.secret_rules, sc.secret) {
            (_, false) => None,
            (Some(r), true) => Some(r),
            (None, true) => {
                builtin = caisson_secrets::RuleSet::builtin();
                Some(&builtin)
            }
        };
        let (sbom, walked) = scan_image(&image, sc, rules, &opts.sbom)?;
        let (mut secrets, mut misconfigs) = (None, None);
        if let Some(w) = walked {
            if let Some(r) = rules {
                let mut s = walk::config_secrets(&image, r);
                s.extend(w.secrets);
                secrets = Some(s);
            }
            if sc.misconfig {
                misconfigs = Some(walk::image_misconfigs(&image, &w.files));
            }
        }
        (sbom, secrets, misconfigs)
    };
    if !sc.vuln {
        let mut results =
            caisson_match::apply(Vec::new(), sbom.warnings.clone(), &sbom, &opts.policy);
        results.warnings.extend(extra);
        let secrets = secrets.map(|s| filter_severity(s, &opts.policy, |f| f.severity));
        let misconfigs = misconfigs.map(|m| filter_severity(m, &opts.policy, |f| f.severity));
        return Ok(Output {
            sbom,
            results,
            secrets,
            misconfigs,
        });
    }
    let (db, stale) = open_database(opts)?;
    extra.extend(stale);
    let results = match_vulnerabilities(&sbom, &db, &opts.policy, extra)?;
    let secrets = secrets.map(|s| filter_severity(s, &opts.policy, |f| f.severity));
    let misconfigs = misconfigs.map(|m| filter_severity(m, &opts.policy, |f| f.severity));
    Ok(Output {
        sbom,
        results,
        secrets,
        misconfigs,
    })
}

/// The one pass over an opened image's layers that `scan` makes: the SBOM
/// when `scanners.vuln` (else only the source info), and the secret
/// (`rules`) and misconfig walk when `scanners.secret` or
/// `scanners.misconfig`, subscribed to the SBOM's layer walk so each layer
/// is decompressed once. Without `vuln` the walk's warnings go to the SBOM's.
pub fn scan_image(
    image: &caisson_image::OpenedImage,
    scanners: Scanners,
    rules: Option<&caisson_secrets::RuleSet>,
    opts: &caisson_sbom::Options,
) -> Result<(Sbom, Option<walk::WalkOutput>), ScanError> {
    let walk = (scanners.secret || scanners.misconfig)
        .then(|| walk::Walk::new(image, rules, scanners.misconfig));
    if scanners.vuln {
        let also: Vec<&dyn caisson_image::Interest> = walk
            .iter()
            .map(|w| w as &dyn caisson_image::Interest)
            .collect();
        let (sbom, mut views) = caisson_sbom::from_image_with(image, opts, &also)?;
        let walked = walk.map(|w| w.finish(views.pop().unwrap_or_default()));
        return Ok((sbom, walked));
    }
    let mut sbom = Sbom {
        source: image.info.clone(),
        ..Sbom::default()
    };
    let Some(walk) = walk else {
        return Ok((sbom, None));
    };
    let squashed =
        caisson_image::scan(image, &walk, &opts.limits).map_err(|source| ScanError::Walk {
            source_ref: image.info.reference.clone(),
            source,
        })?;
    let walked = walk.finish(squashed);
    sbom.warnings.extend(walked.warnings.iter().cloned());
    Ok((sbom, Some(walked)))
}

/// The advisory database `opts` names (`db_dir`, else `CAISSON_DB`, else the
/// user cache dir), opened read-only, and an `advisory-db-stale` warning when
/// its oldest source is older than `max_db_age`.
pub fn open_database(opts: &Options) -> Result<(Database, Vec<Warning>), ScanError> {
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
    let mut warnings = Vec::new();
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
            warnings.push(Warning {
                code: "advisory-db-stale".into(),
                message: format!(
                    "the advisory database is {} days old; run `caisson db update`",
                    age / 86_400
                ),
            });
        }
    }
    Ok((db, warnings))
}

/// The vulnerability step of [`scan`] for one SBOM against an open database:
/// matching with CVSS ratings (OS-owned language packages as
/// `policy.os_owned` says), then the policy (severity filter, ignore
/// file, VEX). `extra` warnings are reported after the SBOM's own.
/// `caisson host inventory` calls it per image so its findings are exactly
/// `caisson scan`'s.
pub fn match_vulnerabilities(
    sbom: &Sbom,
    db: &Database,
    policy: &Policy,
    extra: Vec<Warning>,
) -> Result<ScanResults, ScanError> {
    let matched = caisson_match::match_sbom_with(sbom, db, &cvss_rating, policy.os_owned)?;
    let mut warnings = sbom.warnings.clone();
    warnings.extend(extra);
    warnings.extend(matched.warnings);
    Ok(caisson_match::apply(
        matched.findings,
        warnings,
        sbom,
        policy,
    ))
}

/// `--severity` applies to secrets and misconfigurations too.
fn filter_severity<T>(items: Vec<T>, policy: &Policy, sev: impl Fn(&T) -> Severity) -> Vec<T> {
    match &policy.severities {
        Some(keep) => items
            .into_iter()
            .filter(|i| keep.contains(&sev(i)))
            .collect(),
        None => items,
    }
}
