//! The health of a digest: its stored scan and findings against the
//! namespace's severity threshold.

use std::collections::BTreeMap;

use caisson_oci::Digest;
use caisson_registry_store::{namespace_of, JobState, ScanState, ScanStore, StoreError};

use crate::{db, severity_rank, Health, HealthState, ScanHost, DEFAULT_THRESHOLD};

/// The namespace's threshold (lowercase), default [`DEFAULT_THRESHOLD`].
pub async fn threshold<H: ScanHost>(host: &H, repo: &str) -> Result<String, StoreError> {
    Ok(host
        .meta()
        .scan_threshold(namespace_of(repo))
        .await?
        .unwrap_or_else(|| DEFAULT_THRESHOLD.to_string()))
}

/// The health of `repo@digest`.
pub async fn health<H: ScanHost>(
    host: &H,
    repo: &str,
    digest: &Digest,
) -> Result<Health, StoreError> {
    let meta = host.meta();
    let threshold = threshold(host, repo).await?;
    let record = meta.scan_record(repo, digest).await?;
    let job = meta
        .scan_jobs(repo, digest)
        .await?
        .into_iter()
        .find(|j| matches!(j.state, JobState::Queued | JobState::Running))
        .map(|j| j.state);
    let db = db::db_info(host).await;
    let mut h = Health {
        repository: repo.to_string(),
        digest: digest.clone(),
        health: HealthState::Unscanned,
        reason: None,
        threshold: threshold.clone(),
        counts: BTreeMap::new(),
        scanned_at_ms: None,
        packages: 0,
        sbom: None,
        sbom_manifest: None,
        job,
        db: db.clone(),
    };
    let Some(rec) = record else {
        h.reason = Some(match job {
            Some(JobState::Running) => "scan running".into(),
            Some(_) => "scan queued".into(),
            None => "never scanned".into(),
        });
        return Ok(h);
    };
    h.scanned_at_ms = Some(rec.scanned_ms);
    h.packages = rec.packages;
    h.sbom = rec.sbom_digest.clone();
    h.sbom_manifest = rec.sbom_manifest.clone();
    if rec.state == ScanState::Failed {
        h.health = HealthState::ScanFailed;
        h.reason = rec.reason;
        return Ok(h);
    }
    if db.is_none() {
        h.reason = Some(
            "no advisory database configured (or it cannot be opened): SBOM stored, packages not matched"
                .into(),
        );
        return Ok(h);
    }
    let findings = meta.scan_findings(repo, digest).await?;
    let min = severity_rank(&threshold).unwrap_or(4);
    let mut worst = false;
    for f in &findings {
        *h.counts.entry(f.severity.clone()).or_default() += 1;
        if severity_rank(&f.severity).is_some_and(|r| r >= min) {
            worst = true;
        }
    }
    h.health = if worst {
        HealthState::Vulnerable
    } else {
        HealthState::Healthy
    };
    Ok(h)
}
