//! The alerts schema and the [`AlertStore`] impl of the SQLite store.
//!
//! Storing a batch is a plain transaction, not an audited change: alerts
//! are data a sensor reports (thousands a day), not an administrator's
//! change, and sealing each batch onto the audit chain would bury the admin
//! records it exists for. The row records the reporting account instead.
//! Acknowledging is an administrator's act and is audited
//! ([`crate::Change::AckAlert`], see `sqlite/audited.rs`).

use rusqlite::{params, Connection, OptionalExtension, ToSql};

use super::backend;
use crate::alerts::*;
use crate::{Result, StoreError};

/// Tables added by the alerts schema migration (idempotent).
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY, time_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,
  reporter TEXT NOT NULL, host TEXT NOT NULL, container TEXT, rule TEXT NOT NULL,
  severity TEXT NOT NULL, document TEXT NOT NULL,
  acked_by TEXT, acked_ms INTEGER, ack_comment TEXT);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time_ms, id);
CREATE INDEX IF NOT EXISTS alerts_received ON alerts(received_ms);
CREATE INDEX IF NOT EXISTS alerts_host ON alerts(host, time_ms);
CREATE INDEX IF NOT EXISTS alerts_container ON alerts(container, time_ms);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule, time_ms);
CREATE INDEX IF NOT EXISTS alerts_severity ON alerts(severity, time_ms);
"#;

const COLUMNS: &str = "id, time_ms, received_ms, reporter, host, container, rule, severity,
  document, acked_by, acked_ms, ack_comment";

pub(super) fn store(
    c: &mut Connection,
    reporter: &str,
    received_ms: i64,
    alerts: Vec<NewAlert>,
) -> Result<Vec<String>> {
    let tx = super::begin(c).map_err(backend("begin storing alerts"))?;
    let mut stored = Vec::new();
    {
        let mut ins = tx
            .prepare(
                "INSERT OR IGNORE INTO alerts (id, time_ms, received_ms, reporter, host, container,
                   rule, severity, document) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(backend("store alerts"))?;
        for a in alerts {
            let n = ins
                .execute(params![
                    a.id,
                    a.time_ms,
                    received_ms,
                    reporter,
                    a.host,
                    a.container,
                    a.rule,
                    a.severity,
                    a.document.to_string()
                ])
                .map_err(backend("store alert"))?;
            if n == 1 {
                stored.push(a.id);
            }
        }
    }
    tx.commit().map_err(backend("commit alerts"))?;
    Ok(stored)
}

type Row = (
    String,
    i64,
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
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
        r.get(11)?,
    ))
}

fn record(r: Row) -> Result<StoredAlert> {
    let (id, time_ms, received_ms, reporter, host, container, rule, severity, doc, by, at, comment) =
        r;
    let document = serde_json::from_str(&doc)
        .map_err(|e| StoreError::Corrupt(format!("stored alert {id} is not valid JSON: {e}")))?;
    Ok(StoredAlert {
        ack: by.map(|by| AlertAck {
            by,
            time_ms: at.unwrap_or(0),
            comment,
        }),
        id,
        time_ms,
        received_ms,
        reporter,
        host,
        container,
        rule,
        severity,
        document,
    })
}

pub(super) fn list(c: &mut Connection, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
    let mut filters: Vec<String> = Vec::new();
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    // Pushes an argument and returns its placeholder (`?3`).
    fn arg(args: &mut Vec<Box<dyn ToSql>>, v: Box<dyn ToSql>) -> String {
        args.push(v);
        format!("?{}", args.len())
    }
    for (col, v) in [
        ("host", &q.host),
        ("container", &q.container),
        ("rule", &q.rule),
        ("severity", &q.severity),
    ] {
        if let Some(v) = v {
            let p = arg(&mut args, Box::new(v.clone()));
            filters.push(format!("{col} = {p}"));
        }
    }
    if let Some(t) = q.since_ms {
        let p = arg(&mut args, Box::new(t));
        filters.push(format!("time_ms >= {p}"));
    }
    if let Some(t) = q.until_ms {
        let p = arg(&mut args, Box::new(t));
        filters.push(format!("time_ms < {p}"));
    }
    match q.acknowledged {
        Some(true) => filters.push("acked_by IS NOT NULL".into()),
        Some(false) => filters.push("acked_by IS NULL".into()),
        None => {}
    }
    if let Some((t, id)) = &q.before {
        let pt = arg(&mut args, Box::new(*t));
        let pi = arg(&mut args, Box::new(id.clone()));
        filters.push(format!(
            "(time_ms < {pt} OR (time_ms = {pt} AND id < {pi}))"
        ));
    }
    args.push(Box::new(i64::from(q.limit)));
    let limit = args.len();
    let wher = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM alerts {wher} ORDER BY time_ms DESC, id DESC LIMIT ?{limit}"
    );
    let mut st = c.prepare(&sql).map_err(backend("list alerts"))?;
    let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let rows = st
        .query_map(refs.as_slice(), row)
        .map_err(backend("list alerts"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list alerts"))?;
    rows.into_iter().map(record).collect()
}

pub(super) fn one(c: &mut Connection, id: &str) -> Result<Option<StoredAlert>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM alerts WHERE id = ?1"),
        params![id],
        row,
    )
    .optional()
    .map_err(backend("read alert"))?
    .map(record)
    .transpose()
}

/// Acknowledges alert `id` (inside the audited change's transaction).
pub(super) fn ack(c: &mut Connection, id: &str, ack: &AlertAck) -> Result<AckOutcome> {
    let Some(a) = one(c, id)? else {
        return Ok(AckOutcome::NotFound);
    };
    if let Some(prev) = a.ack {
        return Ok(AckOutcome::Already(prev));
    }
    c.execute(
        "UPDATE alerts SET acked_by = ?2, acked_ms = ?3, ack_comment = ?4 WHERE id = ?1",
        params![id, ack.by, ack.time_ms, ack.comment],
    )
    .map_err(backend("acknowledge alert"))?;
    Ok(AckOutcome::Acked)
}

pub(super) fn prune(c: &mut Connection, before_ms: i64, max: u64) -> Result<PrunedAlerts> {
    let tx = super::begin(c).map_err(backend("begin pruning alerts"))?;
    let expired = tx
        .execute(
            "DELETE FROM alerts WHERE received_ms < ?1",
            params![before_ms],
        )
        .map_err(backend("prune expired alerts"))?;
    let over_cap = tx
        .execute(
            "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts
               ORDER BY received_ms DESC, time_ms DESC, id DESC LIMIT -1 OFFSET ?1)",
            params![i64::try_from(max).unwrap_or(i64::MAX)],
        )
        .map_err(backend("prune alerts over the cap"))?;
    tx.commit().map_err(backend("commit alert pruning"))?;
    Ok(PrunedAlerts {
        expired: expired as u64,
        over_cap: over_cap as u64,
    })
}

impl AlertStore for super::SqliteMetaStore {
    async fn store_alerts(
        &self,
        reporter: &str,
        received_ms: i64,
        alerts: Vec<NewAlert>,
    ) -> Result<Vec<String>> {
        let reporter = reporter.to_string();
        self.run("store alerts", move |c| {
            store(c, &reporter, received_ms, alerts)
        })
        .await
    }
    async fn alerts(&self, query: AlertQuery) -> Result<Vec<StoredAlert>> {
        self.run("list alerts", move |c| list(c, &query)).await
    }
    async fn alert(&self, id: &str) -> Result<Option<StoredAlert>> {
        let id = id.to_string();
        self.run("read alert", move |c| one(c, &id)).await
    }
    async fn prune_alerts(&self, received_before_ms: i64, max_alerts: u64) -> Result<PrunedAlerts> {
        self.run("prune alerts", move |c| {
            prune(c, received_before_ms, max_alerts)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteMetaStore;

    fn alert(id: &str, t: i64, host: &str, rule: &str) -> NewAlert {
        NewAlert {
            id: id.into(),
            time_ms: t,
            host: host.into(),
            container: Some("c1".into()),
            rule: rule.into(),
            severity: "HIGH".into(),
            document: serde_json::json!({"id": id}),
        }
    }

    #[tokio::test]
    async fn duplicates_skip_filters_page_and_prune() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SqliteMetaStore::open(&dir.path().join("m.sqlite")).expect("open");
        let first = vec![alert("a", 10, "h1", "r1"), alert("b", 20, "h2", "r1")];
        assert_eq!(
            s.store_alerts("robot$s", 100, first.clone())
                .await
                .expect("store"),
            vec!["a", "b"]
        );
        // A retried batch with one new alert stores only the new one.
        let mut again = first;
        again.push(alert("c", 20, "h1", "r2"));
        assert_eq!(
            s.store_alerts("robot$s", 200, again).await.expect("store"),
            vec!["c"]
        );
        let q = |f: &dyn Fn(&mut AlertQuery)| {
            let mut q = AlertQuery {
                limit: 10,
                ..Default::default()
            };
            f(&mut q);
            q
        };
        let ids = |v: Vec<StoredAlert>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(
            ids(s.alerts(q(&|_| {})).await.expect("list")),
            vec!["c", "b", "a"]
        );
        assert_eq!(
            ids(s
                .alerts(q(&|q| q.host = Some("h1".into())))
                .await
                .expect("list")),
            vec!["c", "a"]
        );
        // Pages: after (20, "c") come b then a.
        let page = s
            .alerts(q(&|q| {
                q.before = Some((20, "c".into()));
                q.limit = 1
            }))
            .await
            .expect("list");
        assert_eq!(ids(page), vec!["b"]);
        assert_eq!(
            ids(s
                .alerts(q(&|q| {
                    q.since_ms = Some(15);
                    q.rule = Some("r1".into())
                }))
                .await
                .expect("list")),
            vec!["b"]
        );
        // Received at 100: a and b; at 200: c. Age first, then the cap.
        let p = s.prune_alerts(150, 10).await.expect("prune");
        assert_eq!((p.expired, p.over_cap), (2, 0));
        s.store_alerts("robot$s", 300, vec![alert("d", 5, "h1", "r1")])
            .await
            .expect("store");
        let p = s.prune_alerts(0, 1).await.expect("prune");
        assert_eq!((p.expired, p.over_cap), (0, 1));
        assert_eq!(ids(s.alerts(q(&|_| {})).await.expect("list")), vec!["d"]);
    }
}
