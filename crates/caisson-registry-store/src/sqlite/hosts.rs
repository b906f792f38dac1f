//! The hosts schema and the [`HostStore`] impl of the SQLite store.

use rusqlite::{params, Connection, OptionalExtension};

use super::backend;
use crate::hosts::*;
use crate::{Result, StoreError};

/// Tables added by the hosts schema migration (idempotent).
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS hosts (
  id TEXT PRIMARY KEY, hostname TEXT NOT NULL, engine TEXT NOT NULL, agent_version TEXT NOT NULL,
  interval_secs INTEGER NOT NULL, first_seen_ms INTEGER NOT NULL, last_report_ms INTEGER NOT NULL,
  last_seq INTEGER NOT NULL, reports INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS host_containers (
  host TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, image TEXT NOT NULL,
  image_id TEXT NOT NULL, repo_digests TEXT NOT NULL, state TEXT NOT NULL, started_at TEXT,
  repo TEXT, digest TEXT, PRIMARY KEY (host, id));
CREATE INDEX IF NOT EXISTS host_containers_digest ON host_containers(repo, digest);
CREATE TABLE IF NOT EXISTS host_bench (
  host TEXT PRIMARY KEY, seq INTEGER NOT NULL, received_ms INTEGER NOT NULL, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS host_reports (
  host TEXT NOT NULL, seq INTEGER NOT NULL, reason TEXT NOT NULL, generated_ms INTEGER NOT NULL,
  received_ms INTEGER NOT NULL, containers INTEGER NOT NULL, PRIMARY KEY (host, seq));
"#;

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("stored {what} is not valid JSON: {e}"))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(super) fn store(c: &mut Connection, u: HostUpdate) -> Result<ReportOutcome> {
    let tx = super::begin(c).map_err(backend("begin host report"))?;
    let existing: Option<i64> = tx
        .query_row(
            "SELECT last_seq FROM hosts WHERE id = ?1",
            params![u.id],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend("read host"))?;
    if let Some(last) = existing {
        if u.line.seq <= last {
            return Ok(ReportOutcome::Duplicate { last_seq: last });
        }
    }
    let engine = u.engine.to_string();
    let now = u.line.received_ms;
    tx.execute(
        "INSERT INTO hosts (id, hostname, engine, agent_version, interval_secs, first_seen_ms,
           last_report_ms, last_seq, reports) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, 1)
         ON CONFLICT(id) DO UPDATE SET hostname = ?2, engine = ?3, agent_version = ?4,
           interval_secs = ?5, last_report_ms = ?6, last_seq = ?7, reports = reports + 1",
        params![
            u.id,
            u.hostname,
            engine,
            u.agent_version,
            to_i64(u.interval_secs),
            now,
            u.line.seq
        ],
    )
    .map_err(backend("store host"))?;
    tx.execute("DELETE FROM host_containers WHERE host = ?1", params![u.id])
        .map_err(backend("replace host containers"))?;
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO host_containers (host, id, name, image, image_id, repo_digests, state,
                   started_at, repo, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(backend("store host containers"))?;
        for ct in &u.containers {
            let digests = serde_json::to_string(&ct.repo_digests).unwrap_or_else(|_| "[]".into());
            ins.execute(params![
                u.id,
                ct.id,
                ct.name,
                ct.image,
                ct.image_id,
                digests,
                ct.state,
                ct.started_at,
                ct.repo,
                ct.digest
            ])
            .map_err(backend("store host container"))?;
        }
    }
    let mut previous_bench = None;
    if let Some(b) = &u.bench {
        previous_bench = read_bench(&tx, &u.id)?;
        tx.execute(
            "INSERT INTO host_bench (host, seq, received_ms, document) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(host) DO UPDATE SET seq = ?2, received_ms = ?3, document = ?4",
            params![u.id, b.seq, b.received_ms, b.document.to_string()],
        )
        .map_err(backend("store host bench"))?;
    }
    tx.execute(
        "INSERT INTO host_reports (host, seq, reason, generated_ms, received_ms, containers)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            u.id,
            u.line.seq,
            u.line.reason,
            u.line.generated_ms,
            u.line.received_ms,
            to_i64(u.line.containers)
        ],
    )
    .map_err(backend("log host report"))?;
    tx.execute(
        "DELETE FROM host_reports WHERE host = ?1 AND seq NOT IN
           (SELECT seq FROM host_reports WHERE host = ?1 ORDER BY seq DESC LIMIT ?2)",
        params![u.id, REPORT_LOG_CAP],
    )
    .map_err(backend("prune host reports"))?;
    tx.commit().map_err(backend("commit host report"))?;
    Ok(ReportOutcome::Stored {
        new_host: existing.is_none(),
        previous_bench,
    })
}

fn read_bench(c: &Connection, id: &str) -> Result<Option<StoredBench>> {
    let row: Option<(i64, i64, String)> = c
        .query_row(
            "SELECT seq, received_ms, document FROM host_bench WHERE host = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(backend("read host bench"))?;
    row.map(|(seq, received_ms, doc)| {
        Ok(StoredBench {
            seq,
            received_ms,
            document: serde_json::from_str(&doc).map_err(|e| corrupt("bench", e))?,
        })
    })
    .transpose()
}

pub(super) fn bench(c: &mut Connection, id: &str) -> Result<Option<StoredBench>> {
    read_bench(c, id)
}

const HOST_COLUMNS: &str = "h.id, h.hostname, h.engine, h.agent_version, h.interval_secs,
  h.first_seen_ms, h.last_report_ms, h.last_seq, h.reports,
  (SELECT COUNT(*) FROM host_containers c WHERE c.host = h.id),
  (SELECT COUNT(*) FROM host_containers c WHERE c.host = h.id AND c.state = 'running')";

type HostRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

fn host_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HostRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn host_record(row: HostRow) -> Result<HostRecord> {
    let (id, hostname, engine, agent_version, interval, first, last, seq, reports, n, running) =
        row;
    Ok(HostRecord {
        id,
        hostname,
        engine: serde_json::from_str(&engine).map_err(|e| corrupt("engine facts", e))?,
        agent_version,
        interval_secs: to_u64(interval),
        first_seen_ms: first,
        last_report_ms: last,
        last_seq: seq,
        reports: to_u64(reports),
        containers: to_u64(n),
        running: to_u64(running),
    })
}

pub(super) fn list(c: &mut Connection) -> Result<Vec<HostRecord>> {
    let mut st = c
        .prepare(&format!("SELECT {HOST_COLUMNS} FROM hosts h ORDER BY h.id"))
        .map_err(backend("list hosts"))?;
    let rows = st
        .query_map([], host_row)
        .map_err(backend("list hosts"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list hosts"))?;
    rows.into_iter().map(host_record).collect()
}

pub(super) fn one(c: &mut Connection, id: &str) -> Result<Option<HostRecord>> {
    let row = c
        .query_row(
            &format!("SELECT {HOST_COLUMNS} FROM hosts h WHERE h.id = ?1"),
            params![id],
            host_row,
        )
        .optional()
        .map_err(backend("read host"))?;
    row.map(host_record).transpose()
}

type ContainerRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

const CONTAINER_COLUMNS: &str = "c.id, c.name, c.image, c.image_id, c.repo_digests, c.state,
  c.started_at, c.repo, c.digest, h.id, h.hostname";

fn container_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ContainerRow, String, String)> {
    Ok((
        (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ),
        r.get(9)?,
        r.get(10)?,
    ))
}

fn container(row: ContainerRow) -> Result<HostContainer> {
    let (id, name, image, image_id, digests, state, started_at, repo, digest) = row;
    Ok(HostContainer {
        id,
        name,
        image,
        image_id,
        repo_digests: serde_json::from_str(&digests).map_err(|e| corrupt("repo digests", e))?,
        state,
        started_at,
        repo,
        digest,
    })
}

fn placed(
    c: &mut Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<PlacedContainer>> {
    let mut st = c
        .prepare(&format!(
            "SELECT {CONTAINER_COLUMNS} FROM host_containers c JOIN hosts h ON h.id = c.host
             WHERE {filter} ORDER BY h.id, c.name, c.id"
        ))
        .map_err(backend("read host containers"))?;
    let rows = st
        .query_map(args, container_row)
        .map_err(backend("read host containers"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("read host containers"))?;
    rows.into_iter()
        .map(|(row, host, hostname)| {
            Ok(PlacedContainer {
                host,
                hostname,
                container: container(row)?,
            })
        })
        .collect()
}

pub(super) fn containers(c: &mut Connection, id: &str) -> Result<Vec<HostContainer>> {
    Ok(placed(c, "c.host = ?1", &[&id as &dyn rusqlite::ToSql])?
        .into_iter()
        .map(|p| p.container)
        .collect())
}

pub(super) fn of_digest(
    c: &mut Connection,
    repo: &str,
    digest: &str,
) -> Result<Vec<PlacedContainer>> {
    placed(
        c,
        "c.repo = ?1 AND c.digest = ?2",
        &[&repo as &dyn rusqlite::ToSql, &digest],
    )
}

pub(super) fn reports(c: &mut Connection, id: &str, limit: u32) -> Result<Vec<ReportLine>> {
    let mut st = c
        .prepare(
            "SELECT seq, reason, generated_ms, received_ms, containers FROM host_reports
             WHERE host = ?1 ORDER BY seq DESC LIMIT ?2",
        )
        .map_err(backend("read host reports"))?;
    let rows = st
        .query_map(params![id, i64::from(limit)], |r| {
            Ok(ReportLine {
                seq: r.get(0)?,
                reason: r.get(1)?,
                generated_ms: r.get(2)?,
                received_ms: r.get(3)?,
                containers: to_u64(r.get(4)?),
            })
        })
        .map_err(backend("read host reports"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("read host reports"))?;
    Ok(rows)
}

impl HostStore for super::SqliteMetaStore {
    async fn store_host_report(&self, update: HostUpdate) -> Result<ReportOutcome> {
        self.run("store host report", move |c| store(c, update))
            .await
    }
    async fn list_hosts(&self) -> Result<Vec<HostRecord>> {
        self.run("list hosts", list).await
    }
    async fn host(&self, id: &str) -> Result<Option<HostRecord>> {
        let id = id.to_string();
        self.run("read host", move |c| one(c, &id)).await
    }
    async fn host_containers(&self, id: &str) -> Result<Vec<HostContainer>> {
        let id = id.to_string();
        self.run("read host containers", move |c| containers(c, &id))
            .await
    }
    async fn host_bench(&self, id: &str) -> Result<Option<StoredBench>> {
        let id = id.to_string();
        self.run("read host bench", move |c| bench(c, &id)).await
    }
    async fn host_reports(&self, id: &str, limit: u32) -> Result<Vec<ReportLine>> {
        let id = id.to_string();
        self.run("read host reports", move |c| reports(c, &id, limit))
            .await
    }
    async fn containers_of_digest(&self, repo: &str, digest: &str) -> Result<Vec<PlacedContainer>> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("find containers of a digest", move |c| of_digest(c, &r, &d))
            .await
    }
}
