//! Re-scan after an advisory update, without reading layers: every
//! distinct lookup stored for the registry's SBOMs is matched once against
//! the current database; only digests holding a lookup whose matches
//! changed are re-evaluated, get a history line and a
//! [`RegistryEvent::FindingsChanged`].

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use caisson_advisory::Database;
use caisson_match::query::Query;
use caisson_registry_store::{
    now_ms, BlobStore, HistoryEntry, MatchedVuln, MetaStore, PackageQuery, StoreError,
    TargetPackages,
};
use serde::Serialize;

use super::RegistryEvent;
use crate::Registry;

/// What a re-scan did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RescanReport {
    /// Distinct lookups matched.
    pub lookups: usize,
    /// Lookups whose matches changed.
    pub changed_lookups: usize,
    /// Digests holding a changed lookup.
    pub affected_digests: usize,
    /// Digests whose findings changed (one event each).
    pub changed_digests: usize,
    pub elapsed_ms: u128,
}

#[derive(Debug, thiserror::Error)]
pub enum RescanError {
    #[error("no advisory database is configured or it cannot be opened")]
    NoDatabase,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("matching stored packages")]
    Match(#[source] caisson_match::MatchError),
    #[error("re-scan task failed: {0}")]
    Task(String),
}

/// Matches lookups against `db` (blocking). A lookup with no ecosystem (a
/// package with no advisory data) matches nothing.
pub fn match_lookups(
    db: &Database,
    lookups: &[PackageQuery],
) -> Result<Vec<Vec<MatchedVuln>>, caisson_match::MatchError> {
    let mut idx = Vec::with_capacity(lookups.len());
    let mut queries = Vec::with_capacity(lookups.len());
    for (i, l) in lookups.iter().enumerate() {
        let Ok(scheme) = l.scheme.parse::<caisson_version::Ecosystem>() else {
            continue;
        };
        if l.ecosystem.is_empty() {
            continue;
        }
        idx.push(i);
        queries.push(Query {
            ecosystem: l.ecosystem.clone(),
            scheme,
            name: l.name.clone(),
            version: l.version.clone(),
        });
    }
    let (found, _warnings) =
        caisson_match::match_queries(&queries, db, &caisson_scan::cvss_rating)?;
    let mut out = vec![Vec::new(); lookups.len()];
    for (i, findings) in idx.into_iter().zip(found) {
        if let Some(slot) = out.get_mut(i) {
            *slot = findings
                .into_iter()
                .map(|f| MatchedVuln {
                    id: f.id,
                    aliases: f.aliases,
                    fixed: f.fixed_versions,
                    severity: serde_json::to_value(f.severity)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| "UNKNOWN".into()),
                    title: f.title,
                })
                .collect();
        }
    }
    Ok(out)
}

/// One digest whose findings changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetChange {
    pub repo: String,
    pub digest: caisson_oci::Digest,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub new_critical: Vec<String>,
    pub findings: usize,
}

type Key = (String, String, String, String);

/// Findings (id, package, version, severity) of each affected digest before
/// and after, from the old and new matches of its lookups (pure).
pub fn diff_targets(
    targets: &[TargetPackages],
    old: &HashMap<i64, Option<Vec<MatchedVuln>>>,
    new: &HashMap<i64, Vec<MatchedVuln>>,
) -> Vec<TargetChange> {
    let mut out = Vec::new();
    for t in targets {
        let mut before: BTreeSet<Key> = BTreeSet::new();
        let mut after: BTreeSet<Key> = BTreeSet::new();
        for (qid, name, version, _purl) in &t.packages {
            let old_m = old.get(qid).and_then(|m| m.as_deref()).unwrap_or(&[]);
            let new_m = new.get(qid).map(Vec::as_slice).unwrap_or(old_m);
            for v in old_m {
                before.insert((
                    v.id.clone(),
                    name.clone(),
                    version.clone(),
                    v.severity.clone(),
                ));
            }
            for v in new_m {
                after.insert((
                    v.id.clone(),
                    name.clone(),
                    version.clone(),
                    v.severity.clone(),
                ));
            }
        }
        if before == after {
            continue;
        }
        let ids = |s: &BTreeSet<Key>, crit: bool| -> BTreeSet<String> {
            s.iter()
                .filter(|k| !crit || k.3 == "CRITICAL")
                .map(|k| k.0.clone())
                .collect()
        };
        let (b, a) = (ids(&before, false), ids(&after, false));
        let (bc, ac) = (ids(&before, true), ids(&after, true));
        out.push(TargetChange {
            repo: t.repo.clone(),
            digest: t.digest.clone(),
            added: a.difference(&b).cloned().collect(),
            removed: b.difference(&a).cloned().collect(),
            new_critical: ac.difference(&bc).cloned().collect(),
            findings: after.len(),
        });
    }
    out
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Re-matches every stored SBOM's packages against the current database.
    pub async fn rescan(&self) -> Result<RescanReport, RescanError> {
        let _one = self.scan.rescan_lock.lock().await;
        let start = Instant::now();
        let db = self.advisory_db().await.ok_or(RescanError::NoDatabase)?;
        let stored = self.meta.all_queries().await?;
        let lookups: Vec<PackageQuery> = stored.iter().map(|q| q.query.clone()).collect();
        let database = db.db.clone();
        let matched = tokio::task::spawn_blocking(move || match_lookups(&database, &lookups))
            .await
            .map_err(|e| RescanError::Task(e.to_string()))?
            .map_err(RescanError::Match)?;
        let mut report = RescanReport {
            lookups: stored.len(),
            ..RescanReport::default()
        };
        let mut old: HashMap<i64, Option<Vec<MatchedVuln>>> = HashMap::new();
        let mut new: HashMap<i64, Vec<MatchedVuln>> = HashMap::new();
        for (q, m) in stored.into_iter().zip(matched) {
            if q.matched.as_ref() != Some(&m) {
                old.insert(q.qid, q.matched);
                new.insert(q.qid, m);
            }
        }
        report.changed_lookups = new.len();
        if new.is_empty() {
            report.elapsed_ms = start.elapsed().as_millis();
            return Ok(report);
        }
        let targets = self
            .meta
            .targets_with_queries(new.keys().copied().collect())
            .await?;
        report.affected_digests = targets.len();
        let changes = diff_targets(&targets, &old, &new);
        self.meta
            .set_query_matches(new.into_iter().collect())
            .await?;
        report.changed_digests = changes.len();
        let db_built = db.info.built_at;
        for c in changes {
            self.meta
                .add_scan_history(
                    &c.repo,
                    &c.digest,
                    HistoryEntry {
                        time_ms: now_ms(),
                        kind: "rescan".into(),
                        detail: serde_json::json!({
                            "added": c.added,
                            "removed": c.removed,
                            "new_critical": c.new_critical,
                            "findings": c.findings,
                            "db_built_at": db_built,
                        }),
                    },
                )
                .await?;
            self.publish(RegistryEvent::FindingsChanged {
                repo: c.repo,
                digest: c.digest,
                added: c.added,
                removed: c.removed,
                new_critical: c.new_critical,
            });
        }
        report.elapsed_ms = start.elapsed().as_millis();
        Ok(report)
    }
}
