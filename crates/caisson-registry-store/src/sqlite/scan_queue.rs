//! SQL for the scan queue (enqueue, claim, finish, requeue, listing) and
//! the retention of finished scan state: finished jobs past their age and
//! history lines past the per-digest cap are pruned, pending jobs never.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{backend, parse_digest};
use crate::scan::*;
use crate::{now_ms, Result, StoreError};

pub fn enqueue(c: &mut Connection, repo: &str, digest: &str, reason: &str) -> Result<Option<i64>> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend("begin enqueue"))?;
    let pending: Option<i64> = tx
        .query_row(
            "SELECT id FROM scan_jobs WHERE repo = ?1 AND digest = ?2
               AND state IN ('queued', 'running') LIMIT 1",
            params![repo, digest],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend("check pending scan"))?;
    if pending.is_some() {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO scan_jobs(repo, digest, reason, state, created_ms) VALUES (?1, ?2, ?3, 'queued', ?4)",
        params![repo, digest, reason, now_ms()],
    )
    .map_err(backend("insert scan job"))?;
    let id = tx.last_insert_rowid();
    tx.commit().map_err(backend("commit enqueue"))?;
    Ok(Some(id))
}

const JOB_COLS: &str =
    "id, repo, digest, reason, state, created_ms, started_ms, finished_ms, error";

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ScanJob, String, String)> {
    let digest: String = r.get(2)?;
    let state: String = r.get(4)?;
    Ok((
        ScanJob {
            id: r.get(0)?,
            repo: r.get(1)?,
            // Filled in below (a bad digest is a store error, not a row error).
            digest: caisson_oci::Digest::sha256(b""),
            reason: r.get(3)?,
            state: JobState::Queued,
            created_ms: r.get(5)?,
            started_ms: r.get(6)?,
            finished_ms: r.get(7)?,
            error: r.get(8)?,
        },
        digest,
        state,
    ))
}

fn finish_job(row: (ScanJob, String, String)) -> Result<ScanJob> {
    let (mut job, digest, state) = row;
    job.digest = parse_digest(&digest)?;
    job.state = JobState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("scan job state {state:?}")))?;
    Ok(job)
}

pub fn claim(c: &mut Connection) -> Result<Option<ScanJob>> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend("begin claim"))?;
    let row = tx
        .query_row(
            &format!("SELECT {JOB_COLS} FROM scan_jobs WHERE state = 'queued' ORDER BY id LIMIT 1"),
            [],
            job_row,
        )
        .optional()
        .map_err(backend("read queued scan"))?;
    let Some(row) = row else { return Ok(None) };
    let mut job = finish_job(row)?;
    let now = now_ms();
    tx.execute(
        "UPDATE scan_jobs SET state = 'running', started_ms = ?2 WHERE id = ?1",
        params![job.id, now],
    )
    .map_err(backend("mark scan running"))?;
    tx.commit().map_err(backend("commit claim"))?;
    job.state = JobState::Running;
    job.started_ms = Some(now);
    Ok(Some(job))
}

pub fn finish(c: &mut Connection, id: i64, error: Option<&str>) -> Result<()> {
    let state = if error.is_some() { "failed" } else { "done" };
    c.execute(
        "UPDATE scan_jobs SET state = ?2, finished_ms = ?3, error = ?4 WHERE id = ?1",
        params![id, state, now_ms(), error],
    )
    .map_err(backend("finish scan job"))?;
    Ok(())
}

pub fn requeue(c: &mut Connection) -> Result<u64> {
    c.execute(
        "UPDATE scan_jobs SET state = 'queued', started_ms = NULL WHERE state = 'running'",
        [],
    )
    .map(|n| n as u64)
    .map_err(backend("requeue interrupted scans"))
}

pub fn depth(c: &mut Connection) -> Result<QueueDepth> {
    c.query_row(
        "SELECT COALESCE(SUM(state = 'queued'), 0), COALESCE(SUM(state = 'running'), 0)
           FROM scan_jobs WHERE state IN ('queued', 'running')",
        [],
        |r| {
            Ok(QueueDepth {
                queued: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                running: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            })
        },
    )
    .map_err(backend("count scan queue"))
}

pub fn jobs(c: &mut Connection, repo: &str, digest: &str) -> Result<Vec<ScanJob>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {JOB_COLS} FROM scan_jobs WHERE repo = ?1 AND digest = ?2 ORDER BY id DESC LIMIT 100"
        ))
        .map_err(backend("list scan jobs"))?;
    let rows = stmt
        .query_map(params![repo, digest], job_row)
        .map_err(backend("list scan jobs"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list scan jobs"))?;
    rows.into_iter().map(finish_job).collect()
}

/// Removes `done`/`failed` jobs that finished before `finished_before_ms`
/// and, per digest, every history line but the `keep_history` newest; one
/// transaction. Queued and running jobs are never touched.
pub fn prune(
    c: &mut Connection,
    finished_before_ms: i64,
    keep_history: u64,
) -> Result<PrunedScanState> {
    let keep = i64::try_from(keep_history).unwrap_or(i64::MAX);
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend("begin scan retention"))?;
    let jobs = tx
        .execute(
            "DELETE FROM scan_jobs WHERE state IN ('done', 'failed')
               AND COALESCE(finished_ms, created_ms) < ?1",
            params![finished_before_ms],
        )
        .map_err(backend("prune finished scan jobs"))?;
    // Only digests over the cap are ranked (the GROUP BY walks the
    // (repo, digest, time_ms) index); order as `history` lists them.
    let history = tx
        .execute(
            "DELETE FROM scan_history WHERE rowid IN (
               SELECT rowid FROM (
                 SELECT h.rowid AS rowid, ROW_NUMBER() OVER (
                          PARTITION BY h.repo, h.digest ORDER BY h.time_ms DESC, h.rowid DESC) AS rn
                   FROM scan_history h
                   JOIN (SELECT repo, digest FROM scan_history
                          GROUP BY repo, digest HAVING COUNT(*) > ?1) o
                     ON o.repo = h.repo AND o.digest = h.digest)
                WHERE rn > ?1)",
            params![keep],
        )
        .map_err(backend("prune scan history"))?;
    tx.commit().map_err(backend("commit scan retention"))?;
    Ok(PrunedScanState {
        jobs: jobs as u64,
        history: history as u64,
    })
}
