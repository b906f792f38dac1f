//! The scanning schema and the SQL for scan records, scanned packages,
//! lookup matches, history, search and namespace scan settings (see
//! [`crate::scan`] for the layout; the queue and retention are in
//! `scan_queue.rs`).

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{backend, parse_digest};
use crate::scan::*;
use crate::{Result, StoreError};

/// Tables added by the scanning schema migration (idempotent).
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS scan_jobs (
  id INTEGER PRIMARY KEY, repo TEXT NOT NULL, digest TEXT NOT NULL, reason TEXT NOT NULL,
  state TEXT NOT NULL, created_ms INTEGER NOT NULL, started_ms INTEGER, finished_ms INTEGER,
  error TEXT);
CREATE INDEX IF NOT EXISTS scan_jobs_state ON scan_jobs(state, id);
CREATE INDEX IF NOT EXISTS scan_jobs_target ON scan_jobs(repo, digest);
CREATE TABLE IF NOT EXISTS scan_targets (
  tid INTEGER PRIMARY KEY, repo TEXT NOT NULL, digest TEXT NOT NULL, state TEXT NOT NULL,
  reason TEXT, sbom_digest TEXT, sbom_manifest TEXT, scanned_ms INTEGER NOT NULL,
  packages INTEGER NOT NULL, pids BLOB, UNIQUE (repo, digest));
CREATE TABLE IF NOT EXISTS scan_queries (
  qid INTEGER PRIMARY KEY, ecosystem TEXT NOT NULL, scheme TEXT NOT NULL, name TEXT NOT NULL,
  version TEXT NOT NULL, matched TEXT, UNIQUE (ecosystem, name, version));
CREATE TABLE IF NOT EXISTS scan_pkgs (
  pid INTEGER PRIMARY KEY, qid INTEGER NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
  purl TEXT NOT NULL, UNIQUE (qid, name, version, purl));
CREATE INDEX IF NOT EXISTS scan_pkgs_name ON scan_pkgs(name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS scan_target_pkgs (
  tid INTEGER NOT NULL, pid INTEGER NOT NULL, PRIMARY KEY (tid, pid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS scan_target_pkgs_pid ON scan_target_pkgs(pid, tid);
CREATE TABLE IF NOT EXISTS scan_history (
  repo TEXT NOT NULL, digest TEXT NOT NULL, time_ms INTEGER NOT NULL, kind TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS scan_history_target ON scan_history(repo, digest, time_ms);
CREATE TABLE IF NOT EXISTS scan_settings (
  namespace TEXT PRIMARY KEY, severity_threshold TEXT);
"#;

fn json_err(op: &'static str) -> impl FnOnce(serde_json::Error) -> StoreError {
    move |e| StoreError::Backend {
        op,
        source: Box::new(e),
    }
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn state_str(s: ScanState) -> &'static str {
    match s {
        ScanState::Scanned => "scanned",
        ScanState::Failed => "failed",
    }
}

pub fn record(
    c: &mut Connection,
    rec: &ScanRecord,
    packages: &[ScannedPackage],
    history: &HistoryEntry,
) -> Result<()> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend("begin scan record"))?;
    let digest = rec.digest.to_string();
    tx.execute(
        "INSERT INTO scan_targets(repo, digest, state, reason, sbom_digest, sbom_manifest,
           scanned_ms, packages) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(repo, digest) DO UPDATE SET state = excluded.state,
           reason = excluded.reason, sbom_digest = excluded.sbom_digest,
           sbom_manifest = excluded.sbom_manifest, scanned_ms = excluded.scanned_ms,
           packages = excluded.packages",
        params![
            rec.repo,
            digest,
            state_str(rec.state),
            rec.reason,
            rec.sbom_digest.as_ref().map(|d| d.to_string()),
            rec.sbom_manifest.as_ref().map(|d| d.to_string()),
            rec.scanned_ms,
            i64_of(rec.packages)
        ],
    )
    .map_err(backend("store scan record"))?;
    let tid: i64 = tx
        .query_row(
            "SELECT tid FROM scan_targets WHERE repo = ?1 AND digest = ?2",
            params![rec.repo, digest],
            |r| r.get(0),
        )
        .map_err(backend("read scan target"))?;
    tx.execute("DELETE FROM scan_target_pkgs WHERE tid = ?1", params![tid])
        .map_err(backend("clear scanned packages"))?;
    {
        let mut ins_q = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO scan_queries(ecosystem, scheme, name, version) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(backend("store lookup"))?;
        let mut get_q = tx
            .prepare_cached(
                "SELECT qid FROM scan_queries WHERE ecosystem = ?1 AND name = ?2 AND version = ?3",
            )
            .map_err(backend("read lookup"))?;
        let mut ins_p = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO scan_pkgs(qid, name, version, purl) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(backend("store package"))?;
        let mut get_p = tx
            .prepare_cached(
                "SELECT pid FROM scan_pkgs WHERE qid = ?1 AND name = ?2 AND version = ?3 AND purl = ?4",
            )
            .map_err(backend("read package"))?;
        let mut link = tx
            .prepare_cached("INSERT OR IGNORE INTO scan_target_pkgs(tid, pid) VALUES (?1, ?2)")
            .map_err(backend("link package"))?;
        let mut pids: Vec<u8> = Vec::with_capacity(packages.len() * 8);
        for p in packages {
            let q = &p.query;
            ins_q
                .execute(params![q.ecosystem, q.scheme, q.name, q.version])
                .map_err(backend("store lookup"))?;
            let qid: i64 = get_q
                .query_row(params![q.ecosystem, q.name, q.version], |r| r.get(0))
                .map_err(backend("read lookup"))?;
            ins_p
                .execute(params![qid, p.name, p.version, p.purl])
                .map_err(backend("store package"))?;
            let pid: i64 = get_p
                .query_row(params![qid, p.name, p.version, p.purl], |r| r.get(0))
                .map_err(backend("read package"))?;
            link.execute(params![tid, pid])
                .map_err(backend("link package"))?;
            pids.extend_from_slice(&pid.to_le_bytes());
        }
        // The same list packed in the target row: a re-scan reads one row
        // per digest instead of one per package.
        tx.execute(
            "UPDATE scan_targets SET pids = ?2 WHERE tid = ?1",
            params![tid, pids],
        )
        .map_err(backend("store package list"))?;
    }
    insert_history(&tx, &rec.repo, &digest, history)?;
    tx.commit().map_err(backend("commit scan record"))?;
    Ok(())
}

fn insert_history(c: &Connection, repo: &str, digest: &str, h: &HistoryEntry) -> Result<()> {
    c.execute(
        "INSERT INTO scan_history(repo, digest, time_ms, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![repo, digest, h.time_ms, h.kind, h.detail.to_string()],
    )
    .map_err(backend("append scan history"))?;
    Ok(())
}

pub fn add_history(
    c: &mut Connection,
    entries: &[(String, caisson_oci::Digest, HistoryEntry)],
) -> Result<()> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend("begin scan history"))?;
    for (repo, digest, h) in entries {
        insert_history(&tx, repo, &digest.to_string(), h)?;
    }
    tx.commit().map_err(backend("commit scan history"))?;
    Ok(())
}

pub fn get_record(c: &mut Connection, repo: &str, digest: &str) -> Result<Option<ScanRecord>> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        i64,
    );
    let row: Option<Row> = c
        .query_row(
            "SELECT state, reason, sbom_digest, sbom_manifest, scanned_ms, packages
               FROM scan_targets WHERE repo = ?1 AND digest = ?2",
            params![repo, digest],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()
        .map_err(backend("read scan record"))?;
    let Some((state, reason, sbom, sbom_manifest, scanned_ms, packages)) = row else {
        return Ok(None);
    };
    Ok(Some(ScanRecord {
        repo: repo.to_string(),
        digest: parse_digest(digest)?,
        state: if state == "failed" {
            ScanState::Failed
        } else {
            ScanState::Scanned
        },
        reason,
        sbom_digest: sbom.as_deref().map(parse_digest).transpose()?,
        sbom_manifest: sbom_manifest.as_deref().map(parse_digest).transpose()?,
        scanned_ms,
        packages: u64::try_from(packages).unwrap_or(0),
    }))
}

fn parse_matched(s: Option<String>) -> Result<Option<Vec<MatchedVuln>>> {
    s.map(|s| serde_json::from_str(&s).map_err(json_err("decode stored matches")))
        .transpose()
}

fn query_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, PackageQuery, Option<String>)> {
    Ok((
        r.get(0)?,
        PackageQuery {
            ecosystem: r.get(1)?,
            scheme: r.get(2)?,
            name: r.get(3)?,
            version: r.get(4)?,
        },
        r.get(5)?,
    ))
}

fn collect_queries(rows: Vec<(i64, PackageQuery, Option<String>)>) -> Result<Vec<StoredQuery>> {
    rows.into_iter()
        .map(|(qid, query, m)| {
            Ok(StoredQuery {
                qid,
                query,
                matched: parse_matched(m)?,
            })
        })
        .collect()
}

pub fn unmatched(c: &mut Connection, repo: &str, digest: &str) -> Result<Vec<StoredQuery>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT DISTINCT q.qid, q.ecosystem, q.scheme, q.name, q.version, q.matched
               FROM scan_targets t JOIN scan_target_pkgs tp ON tp.tid = t.tid
               JOIN scan_pkgs p ON p.pid = tp.pid JOIN scan_queries q ON q.qid = p.qid
              WHERE t.repo = ?1 AND t.digest = ?2 AND q.matched IS NULL",
        )
        .map_err(backend("list unmatched lookups"))?;
    let rows = stmt
        .query_map(params![repo, digest], query_row)
        .map_err(backend("list unmatched lookups"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list unmatched lookups"))?;
    collect_queries(rows)
}

pub fn all_queries(c: &mut Connection) -> Result<Vec<StoredQuery>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT qid, ecosystem, scheme, name, version, matched FROM scan_queries ORDER BY qid",
        )
        .map_err(backend("list lookups"))?;
    let rows = stmt
        .query_map([], query_row)
        .map_err(backend("list lookups"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list lookups"))?;
    collect_queries(rows)
}

pub fn findings(c: &mut Connection, repo: &str, digest: &str) -> Result<Vec<StoredFinding>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT p.name, p.version, p.purl, q.matched
               FROM scan_targets t JOIN scan_target_pkgs tp ON tp.tid = t.tid
               JOIN scan_pkgs p ON p.pid = tp.pid JOIN scan_queries q ON q.qid = p.qid
              WHERE t.repo = ?1 AND t.digest = ?2 AND q.matched IS NOT NULL
                AND q.matched != '[]'",
        )
        .map_err(backend("read findings"))?;
    let rows = stmt
        .query_map(params![repo, digest], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .map_err(backend("read findings"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("read findings"))?;
    let mut out = Vec::new();
    for (name, version, purl, matched) in rows {
        let vulns: Vec<MatchedVuln> =
            serde_json::from_str(&matched).map_err(json_err("decode stored matches"))?;
        out.extend(vulns.into_iter().map(|v| StoredFinding {
            id: v.id,
            aliases: v.aliases,
            package: name.clone(),
            installed: version.clone(),
            purl: purl.clone(),
            fixed: v.fixed,
            severity: v.severity,
            title: v.title,
        }));
    }
    out.sort_by(|a, b| {
        (&a.package, &a.installed, &a.purl, &a.id).cmp(&(&b.package, &b.installed, &b.purl, &b.id))
    });
    out.dedup();
    Ok(out)
}

pub fn history(c: &mut Connection, repo: &str, digest: &str) -> Result<Vec<HistoryEntry>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT time_ms, kind, detail FROM scan_history WHERE repo = ?1 AND digest = ?2
              ORDER BY time_ms, rowid",
        )
        .map_err(backend("read scan history"))?;
    let rows = stmt
        .query_map(params![repo, digest], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(backend("read scan history"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("read scan history"))?;
    rows.into_iter()
        .map(|(time_ms, kind, detail)| {
            Ok(HistoryEntry {
                time_ms,
                kind,
                detail: serde_json::from_str(&detail).map_err(json_err("decode scan history"))?,
            })
        })
        .collect()
}

pub fn forget(c: &mut Connection, repo: &str, digest: &str) -> Result<()> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend("begin forget scan"))?;
    tx.execute(
        "DELETE FROM scan_target_pkgs WHERE tid IN
           (SELECT tid FROM scan_targets WHERE repo = ?1 AND digest = ?2)",
        params![repo, digest],
    )
    .map_err(backend("forget scanned packages"))?;
    tx.execute(
        "DELETE FROM scan_targets WHERE repo = ?1 AND digest = ?2",
        params![repo, digest],
    )
    .map_err(backend("forget scan record"))?;
    tx.execute(
        "DELETE FROM scan_history WHERE repo = ?1 AND digest = ?2",
        params![repo, digest],
    )
    .map_err(backend("forget scan history"))?;
    tx.execute(
        "DELETE FROM scan_jobs WHERE repo = ?1 AND digest = ?2 AND state = 'queued'",
        params![repo, digest],
    )
    .map_err(backend("forget queued scans"))?;
    tx.commit().map_err(backend("commit forget scan"))?;
    Ok(())
}

pub fn targets_with(c: &mut Connection, qids: &[i64]) -> Result<AffectedTargets> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Deferred)
        .map_err(backend("begin target lookup"))?;
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS changed_q (qid INTEGER PRIMARY KEY);
         CREATE TEMP TABLE IF NOT EXISTS affected_t (tid INTEGER PRIMARY KEY);
         DELETE FROM changed_q; DELETE FROM affected_t;",
    )
    .map_err(backend("prepare changed lookups"))?;
    {
        let mut ins = tx
            .prepare_cached("INSERT OR IGNORE INTO changed_q(qid) VALUES (?1)")
            .map_err(backend("prepare changed lookups"))?;
        for q in qids {
            ins.execute(params![q])
                .map_err(backend("prepare changed lookups"))?;
        }
    }
    let lookups: i64 = tx
        .query_row("SELECT COUNT(*) FROM scan_queries", [], |r| r.get(0))
        .map_err(backend("count lookups"))?;
    // Many lookups changed (a first database, a big update): reading every
    // digest sequentially beats an index probe per package row; digests
    // without a changed lookup come out unchanged from the diff.
    let everything = i64::try_from(qids.len())
        .unwrap_or(i64::MAX)
        .saturating_mul(5)
        >= lookups;
    if !everything {
        tx.execute(
            "INSERT OR IGNORE INTO affected_t(tid)
               SELECT tp.tid FROM changed_q c JOIN scan_pkgs p ON p.qid = c.qid
                 JOIN scan_target_pkgs tp ON tp.pid = p.pid",
            [],
        )
        .map_err(backend("list affected digests"))?;
    }
    let mut out = AffectedTargets::default();
    {
        let mut stmt = tx
            .prepare_cached(if everything {
                "SELECT tid, repo, digest, pids FROM scan_targets ORDER BY tid"
            } else {
                "SELECT t.tid, t.repo, t.digest, t.pids FROM affected_t a
                   JOIN scan_targets t ON t.tid = a.tid ORDER BY t.tid"
            })
            .map_err(backend("list affected digests"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                ))
            })
            .map_err(backend("list affected digests"))?;
        for row in rows {
            let (repo, digest, pids) = row.map_err(backend("list affected digests"))?;
            let packages = pids
                .unwrap_or_default()
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    i64::from_le_bytes(b)
                })
                .collect();
            out.targets.push(TargetPackages {
                repo,
                digest: parse_digest(&digest)?,
                packages,
            });
        }
    }
    if !out.targets.is_empty() {
        let mut stmt = tx
            .prepare_cached("SELECT pid, qid, name, version FROM scan_pkgs")
            .map_err(backend("read package rows"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    PackageRow {
                        qid: r.get(1)?,
                        name: r.get(2)?,
                        version: r.get(3)?,
                    },
                ))
            })
            .map_err(backend("read package rows"))?;
        for row in rows {
            let (pid, p) = row.map_err(backend("read package rows"))?;
            out.packages.insert(pid, p);
        }
    }
    tx.execute_batch("DELETE FROM changed_q; DELETE FROM affected_t;")
        .map_err(backend("clear changed lookups"))?;
    tx.commit().map_err(backend("end target lookup"))?;
    Ok(out)
}

pub fn set_matches(c: &mut Connection, updates: &[(i64, Vec<MatchedVuln>)]) -> Result<()> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend("begin store matches"))?;
    {
        let mut stmt = tx
            .prepare_cached("UPDATE scan_queries SET matched = ?2 WHERE qid = ?1")
            .map_err(backend("store matches"))?;
        for (qid, m) in updates {
            let json = serde_json::to_string(m).map_err(json_err("encode matches"))?;
            stmt.execute(params![qid, json])
                .map_err(backend("store matches"))?;
        }
    }
    tx.commit().map_err(backend("commit matches"))?;
    Ok(())
}

fn hits(
    c: &Connection,
    op: &'static str,
    sql: &str,
    p: &[&dyn rusqlite::ToSql],
    vulnerability: Option<&str>,
) -> Result<Vec<SearchHit>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend(op))?;
    let rows = stmt
        .query_map(p, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .map_err(backend(op))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend(op))?;
    rows.into_iter()
        .map(|(repo, digest, package, version, purl)| {
            Ok(SearchHit {
                repo,
                digest: parse_digest(&digest)?,
                package,
                version,
                purl,
                vulnerability: vulnerability.map(str::to_string),
            })
        })
        .collect()
}

const HIT_SQL: &str = "SELECT t.repo, t.digest, p.name, p.version, p.purl
   FROM scan_pkgs p JOIN scan_target_pkgs tp ON tp.pid = p.pid
   JOIN scan_targets t ON t.tid = tp.tid";

pub fn find_vulnerability(c: &mut Connection, id: &str) -> Result<Vec<SearchHit>> {
    let pattern = format!("%\"{}\"%", id.replace(['%', '_', '\\'], ""));
    let candidates = {
        let mut stmt = c
            .prepare_cached("SELECT qid, matched FROM scan_queries WHERE matched LIKE ?1")
            .map_err(backend("search vulnerabilities"))?;
        let v = stmt
            .query_map(params![pattern], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(backend("search vulnerabilities"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend("search vulnerabilities"))?;
        v
    };
    let mut out = Vec::new();
    for (qid, matched) in candidates {
        let vulns: Vec<MatchedVuln> =
            serde_json::from_str(&matched).map_err(json_err("decode stored matches"))?;
        let Some(v) = vulns.iter().find(|v| {
            v.id.eq_ignore_ascii_case(id) || v.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
        }) else {
            continue;
        };
        out.extend(hits(
            c,
            "search vulnerabilities",
            &format!("{HIT_SQL} WHERE p.qid = ?1"),
            &[&qid],
            Some(&v.id),
        )?);
    }
    out.sort_by(|a, b| (&a.repo, &a.digest, &a.package).cmp(&(&b.repo, &b.digest, &b.package)));
    Ok(out)
}

pub fn find_package(c: &mut Connection, name: &str) -> Result<Vec<SearchHit>> {
    hits(
        c,
        "search packages",
        &format!("{HIT_SQL} WHERE p.name = ?1 COLLATE NOCASE ORDER BY t.repo, t.digest, p.version"),
        &[&name],
        None,
    )
}

pub fn threshold(c: &mut Connection, ns: &str) -> Result<Option<String>> {
    c.query_row(
        "SELECT severity_threshold FROM scan_settings WHERE namespace = ?1",
        params![ns],
        |r| r.get::<_, Option<String>>(0),
    )
    .optional()
    .map(Option::flatten)
    .map_err(backend("read scan settings"))
}

pub fn set_threshold(c: &mut Connection, ns: &str, t: Option<&str>) -> Result<()> {
    c.execute(
        "INSERT INTO scan_settings(namespace, severity_threshold) VALUES (?1, ?2)
         ON CONFLICT(namespace) DO UPDATE SET severity_threshold = excluded.severity_threshold",
        params![ns, t],
    )
    .map_err(backend("store scan settings"))?;
    Ok(())
}
