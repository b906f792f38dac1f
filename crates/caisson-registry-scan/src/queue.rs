//! The scan queue and the service's lifecycle: queueing images (on push,
//! on a pull of an unscanned digest, on demand), forgetting deleted ones,
//! starting, pausing and stopping the workers, and the database watcher.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use caisson_oci::{media_type, Digest};
use caisson_registry_store::{MetaStore, RefKind, ScanStore, StoreError};

use crate::{db, is_scannable, referrer, rescan, retention, worker, ScanHost};

/// Pauses or resumes the scan workers (queued jobs stay queued).
pub fn pause<H: ScanHost>(host: &H, paused: bool) {
    let scanner = host.scanner();
    scanner.paused.store(paused, Ordering::SeqCst);
    if !paused {
        scanner.wake.notify_waiters();
    }
}

/// Queues a scan of `repo@digest`; `None` when one is already pending.
pub async fn enqueue<H: ScanHost>(
    host: &H,
    repo: &str,
    digest: &Digest,
    reason: &str,
) -> Result<Option<i64>, StoreError> {
    let id = host.meta().enqueue_scan(repo, digest, reason).await?;
    if id.is_some() {
        host.scanner().wake.notify_one();
    }
    Ok(id)
}

/// Queues `repo@digest` if it is an image, or its platform manifests if it
/// is an index. Without `force`, digests already scanned are skipped (a
/// re-push or a pull of a scanned image queues nothing). Returns how many
/// jobs were queued.
pub async fn queue_image<H: ScanHost>(
    host: &H,
    repo: &str,
    digest: &Digest,
    reason: &str,
    force: bool,
) -> Result<u64, StoreError> {
    let meta = host.meta();
    let Some(rec) = meta.get_manifest(repo, digest).await? else {
        return Ok(0);
    };
    let mut candidates = Vec::new();
    if is_scannable(&rec) {
        candidates.push(rec.digest.clone());
    } else if media_type::is_index(&rec.media_type) && rec.subject.is_none() {
        for r in rec.refs.iter().filter(|r| r.kind == RefKind::Manifest) {
            if let Some(child) = meta.get_manifest(repo, &r.digest).await? {
                if is_scannable(&child) {
                    candidates.push(child.digest);
                }
            }
        }
    }
    let mut n = 0;
    for d in candidates {
        if !force && meta.scan_record(repo, &d).await?.is_some() {
            continue;
        }
        if enqueue(host, repo, &d, reason).await?.is_some() {
            n += 1;
        }
    }
    Ok(n)
}

/// Forgets the scan of a manifest that left the repository (record,
/// packages, history, queued jobs) and deletes its SBOM referrer.
/// Errors are logged: the manifest is gone either way.
pub async fn forget<H: ScanHost>(host: &H, repo: &str, digest: &Digest) {
    let meta = host.meta();
    let sbom_manifest = match meta.scan_record(repo, digest).await {
        Ok(rec) => rec.and_then(|r| r.sbom_manifest),
        Err(e) => {
            tracing::error!("could not read the scan of deleted {repo}@{digest}: {e}");
            None
        }
    };
    if let Err(e) = meta.forget_scan(repo, digest).await {
        tracing::error!("could not forget the scan of {repo}@{digest}: {e}");
    }
    if let Some(m) = sbom_manifest {
        if let Err(e) = referrer::detach_sbom(host, repo, digest, &m).await {
            tracing::error!(
                "could not delete the SBOM referrer {m} of deleted {repo}@{digest}: {e}"
            );
        }
    }
}

/// Starts the scan workers, the database watcher and the retention task.
/// Jobs a previous process left running are queued again first.
pub async fn start<H: ScanHost>(host: &Arc<H>) -> Result<(), StoreError> {
    let n = host.meta().requeue_interrupted_scans().await?;
    if n > 0 {
        tracing::info!("re-queued {n} interrupted scan job(s)");
    }
    let scanner = host.scanner();
    let mut workers = Vec::with_capacity(scanner.config.workers);
    for i in 0..scanner.config.workers {
        let h = host.clone();
        workers.push(tokio::spawn(async move { worker::worker_loop(h, i).await }));
    }
    if let Ok(mut w) = scanner.workers.lock() {
        w.extend(workers);
    }
    if scanner.config.db_dir.is_some() {
        let h = host.clone();
        tokio::spawn(async move { db_watch_loop(h).await });
    }
    let h = host.clone();
    tokio::spawn(async move { retention::retention_loop(h).await });
    Ok(())
}

/// Stops the scan workers at a job boundary: a worker finishes the job it
/// holds (its results and audit record are stored) and takes no other.
/// Waits at most `deadline`; a worker still scanning then is abandoned with
/// the process, and its job, left `running`, is queued again at the next
/// start. Returns how many workers stopped in time, and how many there were.
pub async fn stop<H: ScanHost>(host: &H, deadline: Duration) -> (usize, usize) {
    let scanner = host.scanner();
    scanner.stopping.store(true, Ordering::SeqCst);
    scanner.wake.notify_waiters();
    let workers = match scanner.workers.lock() {
        Ok(mut w) => std::mem::take(&mut *w),
        Err(_) => Vec::new(),
    };
    let total = workers.len();
    let all = futures_util::future::join_all(workers);
    let stopped = match tokio::time::timeout(deadline, all).await {
        Ok(done) => done.len(),
        Err(_) => 0,
    };
    (stopped, total)
}

async fn db_watch_loop<H: ScanHost>(host: Arc<H>) {
    let every = host
        .scanner()
        .config
        .db_poll
        .max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        if !db::db_changed(&*host).await {
            continue;
        }
        tracing::info!("advisory database changed: re-matching stored SBOMs");
        match rescan::rescan(&*host).await {
            Ok(r) => tracing::info!(
                lookups = r.lookups,
                changed_lookups = r.changed_lookups,
                changed_digests = r.changed_digests,
                "re-scan finished in {} ms",
                r.elapsed_ms
            ),
            Err(e) => tracing::error!("re-scan failed: {e}"),
        }
    }
}
