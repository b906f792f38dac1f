//! The scan workers: claim a job from the persisted queue, read the image
//! from the blob store, catalog it on the blocking pool, attach the SBOM,
//! store packages, match new lookups, publish the outcome. A job that fails
//! (unreadable manifest, config or layer, a panic in a cataloger) marks the
//! digest `scan-failed` with the reason; the worker moves on.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use caisson_image::OpenedImage;
use caisson_model::{Sbom, SourceInfo};
use caisson_oci::{parse_manifest_document, Digest, ImageConfig, ManifestDocument};
use caisson_registry_store::{
    now_ms, BlobStore, HistoryEntry, MetaStore, PackageQuery, ScanJob, ScanRecord, ScanState,
    ScanStore, ScannedPackage,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::{db, health, is_scannable, queue, referrer, rescan, HealthState, ScanEvent, ScanHost};

/// Largest image config read into memory.
const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// The packages of an SBOM with their advisory lookups (skipped packages,
/// e.g. an OS without advisory data, are kept with an empty ecosystem so
/// package search still finds them).
pub fn scanned_packages(sbom: &Sbom) -> Vec<ScannedPackage> {
    let mut out: Vec<ScannedPackage> = sbom
        .packages
        .iter()
        .map(|p| {
            let query = match caisson_match::query::query_for(p, sbom.os.as_ref()) {
                Ok(q) => PackageQuery {
                    ecosystem: q.ecosystem,
                    scheme: q.scheme.to_string(),
                    name: q.name,
                    version: q.version,
                },
                Err(_) => PackageQuery {
                    ecosystem: String::new(),
                    scheme: String::new(),
                    name: p.name.clone(),
                    version: p.version.clone(),
                },
            };
            ScannedPackage {
                query,
                name: p.name.clone(),
                version: caisson_report::display_version(p),
                purl: p.purl.clone(),
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Why a job failed, for the digest's record.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    #[error("manifest {0} is not in the repository any more")]
    Gone(Digest),
    #[error("{0}")]
    Image(String),
    #[error("storage: {0}")]
    Store(#[from] caisson_registry_store::StoreError),
}

struct Catalogued {
    sbom: Sbom,
    cyclonedx: Vec<u8>,
    created: String,
}

/// One worker: takes jobs until [`crate::stop`].
pub(crate) async fn worker_loop<H: ScanHost>(host: Arc<H>, n: usize) {
    let scanner = host.scanner();
    let meta = host.meta();
    loop {
        if scanner.stopping.load(Ordering::SeqCst) {
            tracing::debug!(worker = n, "scan worker stopped");
            return;
        }
        if scanner.paused.load(Ordering::SeqCst) {
            let notified = scanner.wake.notified();
            if scanner.paused.load(Ordering::SeqCst) {
                let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
            }
            continue;
        }
        let job = match meta.claim_scan_job().await {
            Ok(Some(j)) => j,
            Ok(None) => {
                let _ = tokio::time::timeout(Duration::from_secs(2), scanner.wake.notified()).await;
                continue;
            }
            Err(e) => {
                tracing::error!(worker = n, "cannot read the scan queue: {e}");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        tracing::info!(
            worker = n,
            job = job.id,
            "scanning {}@{}",
            job.repo,
            job.digest
        );
        let outcome = run_job(&*host, &job).await;
        let error = outcome.err().map(|e| e.to_string());
        if let Some(e) = &error {
            tracing::warn!(
                job = job.id,
                "scan of {}@{} failed: {e}",
                job.repo,
                job.digest
            );
        }
        if let Err(e) = meta.finish_scan_job(job.id, error).await {
            tracing::error!(job = job.id, "cannot finish scan job: {e}");
        }
        // The image may have been deleted while it was scanned, after
        // the delete hook ran: drop what this job attached and stored.
        if let Ok(None) = meta.get_manifest(&job.repo, &job.digest).await {
            queue::forget(&*host, &job.repo, &job.digest).await;
        }
    }
}

/// Runs one job; a scan failure is recorded on the digest and returned.
pub(crate) async fn run_job<H: ScanHost>(host: &H, job: &ScanJob) -> Result<(), JobError> {
    let meta = host.meta();
    let Some(rec) = meta.get_manifest(&job.repo, &job.digest).await? else {
        return Err(JobError::Gone(job.digest.clone()));
    };
    if !is_scannable(&rec) {
        // An index queued on demand: queue its platform manifests.
        queue::queue_image(host, &job.repo, &job.digest, &job.reason, true).await?;
        return Ok(());
    }
    let previous = meta.scan_record(&job.repo, &job.digest).await?;
    let before = meta.scan_findings(&job.repo, &job.digest).await?;
    let catalogued = match catalog_image(host, job).await {
        Ok(c) => c,
        Err(e) => {
            let reason = e.to_string();
            meta.record_scan(
                ScanRecord {
                    repo: job.repo.clone(),
                    digest: job.digest.clone(),
                    state: ScanState::Failed,
                    reason: Some(reason.clone()),
                    sbom_digest: None,
                    sbom_manifest: previous.as_ref().and_then(|p| p.sbom_manifest.clone()),
                    scanned_ms: now_ms(),
                    packages: 0,
                },
                Vec::new(),
                HistoryEntry {
                    time_ms: now_ms(),
                    kind: "scan-failed".into(),
                    detail: serde_json::json!({ "job": job.id, "reason": reason }),
                },
            )
            .await?;
            host.publish(ScanEvent::ScanCompleted {
                repo: job.repo.clone(),
                digest: job.digest.clone(),
                health: HealthState::ScanFailed,
                changed: true,
            });
            return Err(e);
        }
    };
    let (sbom_digest, sbom_manifest) = referrer::attach_sbom(
        host,
        &job.repo,
        &rec,
        catalogued.cyclonedx,
        &catalogued.created,
        previous.as_ref().and_then(|p| p.sbom_manifest.as_ref()),
    )
    .await?;
    let packages = scanned_packages(&catalogued.sbom);
    let db = db::advisory_db(host).await;
    meta.record_scan(
        ScanRecord {
            repo: job.repo.clone(),
            digest: job.digest.clone(),
            state: ScanState::Scanned,
            reason: None,
            sbom_digest: Some(sbom_digest.clone()),
            sbom_manifest: Some(sbom_manifest),
            scanned_ms: now_ms(),
            packages: catalogued.sbom.packages.len() as u64,
        },
        packages,
        HistoryEntry {
            time_ms: now_ms(),
            kind: "scan".into(),
            detail: serde_json::json!({
                "job": job.id,
                "reason": job.reason,
                "sbom": sbom_digest.to_string(),
                "packages": catalogued.sbom.packages.len(),
                "matched": db.is_some(),
            }),
        },
    )
    .await?;
    if let Some(db) = db {
        // Lookups no earlier scan or re-scan matched: match them now.
        let unmatched = meta.unmatched_queries(&job.repo, &job.digest).await?;
        if !unmatched.is_empty() {
            let queries: Vec<PackageQuery> = unmatched.iter().map(|q| q.query.clone()).collect();
            let database = db.db.clone();
            let matched =
                tokio::task::spawn_blocking(move || rescan::match_lookups(&database, &queries))
                    .await
                    .map_err(|e| JobError::Image(format!("matching panicked: {e}")))?
                    .map_err(|e| JobError::Image(format!("matching: {e}")))?;
            let updates = unmatched.iter().map(|q| q.qid).zip(matched).collect();
            meta.set_query_matches(updates).await?;
        }
    }
    let after = meta.scan_findings(&job.repo, &job.digest).await?;
    let health = health(host, &job.repo, &job.digest).await?;
    host.publish(ScanEvent::ScanCompleted {
        repo: job.repo.clone(),
        digest: job.digest.clone(),
        health: health.health,
        changed: previous.is_none() || before != after,
    });
    Ok(())
}

/// Reads the image from the blob store and catalogs it off the runtime.
async fn catalog_image<H: ScanHost>(host: &H, job: &ScanJob) -> Result<Catalogued, JobError> {
    let blobs = host.blobs();
    let bad = |what: String| JobError::Image(what);
    let manifest = blobs
        .read_small(&job.digest, host.max_manifest_bytes())
        .await?
        .ok_or_else(|| bad(format!("manifest blob {} is missing", job.digest)))?;
    let doc = parse_manifest_document(&manifest, None)
        .map_err(|e| bad(format!("manifest {}: {e}", job.digest)))?;
    let ManifestDocument::Manifest(m) = doc else {
        return Err(bad(format!("{} is not an image manifest", job.digest)));
    };
    let config_bytes = blobs
        .read_small(&m.config.digest, MAX_CONFIG_BYTES)
        .await
        .map_err(|e| bad(format!("image config {}: {e}", m.config.digest)))?
        .ok_or_else(|| bad(format!("image config {} is missing", m.config.digest)))?;
    let config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
        bad(format!(
            "image config {} is not valid JSON: {e}",
            m.config.digest
        ))
    })?;
    let tmp = tempfile::tempdir().map_err(|e| bad(format!("creating a scratch directory: {e}")))?;
    let mut files: Vec<PathBuf> = Vec::with_capacity(m.layers.len());
    for (i, l) in m.layers.iter().enumerate() {
        if !l.urls.is_empty() {
            return Err(bad(format!("layer {i} ({}) is a foreign layer", l.digest)));
        }
        files.push(layer_file(host, &l.digest, tmp.path(), i).await?);
    }
    let info = SourceInfo {
        reference: format!("{}@{}", job.repo, job.digest),
        kind: "registry".to_string(),
        manifest_digest: Some(job.digest.to_string()),
        config_digest: Some(m.config.digest.to_string()),
        ..SourceInfo::default()
    };
    let limits = host.scanner().config.limits.clone();
    let created = caisson_report::rfc3339_utc(std::time::SystemTime::now());
    let created2 = created.clone();
    let result = tokio::task::spawn_blocking(move || {
        let _keep = tmp;
        let image = OpenedImage::from_pulled(info, config, files)
            .map_err(|e| format!("opening the image: {e}"))?;
        let opts = caisson_sbom::Options {
            limits,
            ..caisson_sbom::Options::default()
        };
        let sbom = caisson_sbom::from_image(&image, &opts).map_err(|e| {
            let mut m = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                m.push_str(&format!(": {s}"));
                src = s.source();
            }
            m
        })?;
        let render =
            caisson_report::RenderOptions::new(&sbom, &created2, env!("CARGO_PKG_VERSION"));
        let cyclonedx =
            caisson_report::to_string(caisson_report::Format::CycloneDxJson, &sbom, &render)
                .map_err(|e| format!("writing the CycloneDX SBOM: {e}"))?
                .into_bytes();
        Ok::<_, String>((sbom, cyclonedx))
    })
    .await
    .map_err(|e| bad(format!("cataloging panicked: {e}")))?
    .map_err(bad)?;
    Ok(Catalogued {
        sbom: result.0,
        cyclonedx: result.1,
        created,
    })
}

/// A file with the layer's bytes: the blob itself when the store has one,
/// else a copy in `dir`.
async fn layer_file<H: ScanHost>(
    host: &H,
    digest: &Digest,
    dir: &std::path::Path,
    index: usize,
) -> Result<PathBuf, JobError> {
    if let Some(p) = host.blobs().local_path(digest) {
        return Ok(p);
    }
    let read = host
        .blobs()
        .open(digest, None)
        .await?
        .ok_or_else(|| JobError::Image(format!("layer {index} ({digest}) is missing")))?;
    let path = dir.join(format!("layer-{index}"));
    let io = |e: std::io::Error| JobError::Image(format!("copying layer {digest}: {e}"));
    let mut out = tokio::fs::File::create(&path).await.map_err(io)?;
    let mut stream = tokio_util::io::ReaderStream::new(read.reader);
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk.map_err(io)?).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    Ok(path)
}
