//! Re-scan after an advisory update, without reading layers: every
//! distinct lookup stored for the registry's SBOMs is matched once against
//! the current database; only digests holding a lookup whose matches
//! changed are re-evaluated, get a history line and a
//! [`ScanEvent::FindingsChanged`].

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use caisson_advisory::Database;
use caisson_match::query::Query;
use caisson_registry_store::{
    now_ms, AffectedTargets, HistoryEntry, MatchedVuln, PackageQuery, ScanStore, StoreError,
    TargetPackages,
};
use serde::Serialize;

use crate::{db, ScanEvent, ScanHost};

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
    /// Time spent matching lookups, loading affected digests, diffing, and
    /// storing matches, history and events.
    pub match_ms: u128,
    pub load_ms: u128,
    pub diff_ms: u128,
    pub store_ms: u128,
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

/// Matches lookups against `db` (blocking), on every core: the lookups are
/// split at (ecosystem, name) boundaries into one slice per thread, each
/// thread with its own connection (queries and record decoding are
/// serialised per connection). A lookup with no ecosystem (a package with
/// no advisory data) matches nothing.
pub fn match_lookups(
    db: &Database,
    lookups: &[PackageQuery],
) -> Result<Vec<Vec<MatchedVuln>>, caisson_match::MatchError> {
    let key = |i: usize| {
        lookups
            .get(i)
            .map_or(("", ""), |l| (l.ecosystem.as_str(), l.name.as_str()))
    };
    let mut order: Vec<usize> = (0..lookups.len()).collect();
    order.sort_by(|a, b| key(*a).cmp(&key(*b)));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let target = order.len().div_ceil(threads).max(1);
    let mut chunks: Vec<&[usize]> = Vec::new();
    let mut rest: &[usize] = &order;
    while !rest.is_empty() {
        let mut cut = target.min(rest.len());
        // Keep one name's lookups together (one advisory fetch per name).
        while let (Some(x), Some(y)) = (rest.get(cut - 1), rest.get(cut)) {
            if key(*x) != key(*y) {
                break;
            }
            cut += 1;
        }
        let (head, tail) = rest.split_at(cut);
        chunks.push(head);
        rest = tail;
    }
    let dir = db.path().parent().map(std::path::Path::to_path_buf);
    type Part = Result<Vec<(usize, Vec<MatchedVuln>)>, caisson_match::MatchError>;
    let results: Vec<Part> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let dir = dir.clone();
                scope.spawn(move || {
                    let own = dir.and_then(|d| Database::open(d).ok());
                    let conn = own.as_ref().unwrap_or(db);
                    let part: Vec<PackageQuery> = chunk
                        .iter()
                        .filter_map(|i| lookups.get(*i).cloned())
                        .collect();
                    let matched = match_slice(conn, &part)?;
                    Ok(chunk.iter().copied().zip(matched).collect())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(caisson_match::MatchError::Source {
                        ecosystem: String::new(),
                        name: String::new(),
                        source: "a matching thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut out = vec![Vec::new(); lookups.len()];
    for r in results {
        for (i, m) in r? {
            if let Some(slot) = out.get_mut(i) {
                *slot = m;
            }
        }
    }
    Ok(out)
}

fn match_slice(
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
}

/// Findings of each affected digest before and after, from the old and new
/// matches of its packages' lookups (pure). A finding is (package row,
/// vulnerability id, severity) with ids interned to integers once, so the
/// per-digest work allocates nothing per finding; digests are diffed on
/// every core. Returns the changes and how many digests held a changed
/// lookup.
pub fn diff_targets(
    affected: &AffectedTargets,
    old: &HashMap<i64, Option<Vec<MatchedVuln>>>,
    new: &HashMap<i64, Vec<MatchedVuln>>,
) -> (Vec<TargetChange>, usize) {
    // Interned ids and severities of every changed lookup, old and new.
    let mut names: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, u32> = HashMap::new();
    fn intern<'a>(index: &mut HashMap<&'a str, u32>, names: &mut Vec<&'a str>, id: &'a str) -> u32 {
        *index.entry(id).or_insert_with(|| {
            names.push(id);
            u32::try_from(names.len() - 1).unwrap_or(u32::MAX)
        })
    }
    let sev = |s: &str| crate::severity_rank(s).unwrap_or(0) as u8;
    type Interned = Vec<(u32, u8)>;
    let mut old_i: HashMap<i64, Interned> = HashMap::new();
    let mut new_i: HashMap<i64, Interned> = HashMap::new();
    for (qid, m) in new {
        new_i.insert(
            *qid,
            m.iter()
                .map(|v| (intern(&mut index, &mut names, &v.id), sev(&v.severity)))
                .collect(),
        );
        let o = old.get(qid).and_then(|m| m.as_deref()).unwrap_or(&[]);
        old_i.insert(
            *qid,
            o.iter()
                .map(|v| (intern(&mut index, &mut names, &v.id), sev(&v.severity)))
                .collect(),
        );
    }
    let critical = u8::try_from(crate::SEVERITIES.len() - 1).unwrap_or(u8::MAX);
    let one = |t: &TargetPackages| -> Option<(Option<TargetChange>, bool)> {
        let mut before: Vec<(i64, u32, u8)> = Vec::new();
        let mut after: Vec<(i64, u32, u8)> = Vec::new();
        let mut any = false;
        for pid in &t.packages {
            let Some(row) = affected.packages.get(pid) else {
                continue;
            };
            let (Some(o), Some(n)) = (old_i.get(&row.qid), new_i.get(&row.qid)) else {
                // Lookup unchanged: the same findings before and after.
                continue;
            };
            any = true;
            before.extend(o.iter().map(|(id, s)| (*pid, *id, *s)));
            after.extend(n.iter().map(|(id, s)| (*pid, *id, *s)));
        }
        before.sort_unstable();
        before.dedup();
        after.sort_unstable();
        after.dedup();
        if before == after {
            return Some((None, any));
        }
        let ids = |v: &[(i64, u32, u8)], crit: bool| -> BTreeSet<u32> {
            v.iter()
                .filter(|k| !crit || k.2 >= critical)
                .map(|k| k.1)
                .collect()
        };
        let strings = |set: BTreeSet<u32>| -> Vec<String> {
            let mut v: Vec<String> = set
                .into_iter()
                .filter_map(|i| names.get(i as usize).map(|s| (*s).to_string()))
                .collect();
            v.sort();
            v
        };
        let (b, a) = (ids(&before, false), ids(&after, false));
        let (bc, ac) = (ids(&before, true), ids(&after, true));
        Some((
            Some(TargetChange {
                repo: t.repo.clone(),
                digest: t.digest.clone(),
                added: strings(a.difference(&b).copied().collect()),
                removed: strings(b.difference(&a).copied().collect()),
                new_critical: strings(ac.difference(&bc).copied().collect()),
            }),
            any,
        ))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let per = affected.targets.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<(Option<TargetChange>, bool)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = affected
            .targets
            .chunks(per)
            .map(|chunk| scope.spawn(|| chunk.iter().filter_map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut out = Vec::new();
    let mut touched = 0;
    for (change, any) in parts.into_iter().flatten() {
        touched += usize::from(any);
        out.extend(change);
    }
    (out, touched)
}

/// Re-matches every stored SBOM's packages against the current database.
pub async fn rescan<H: ScanHost>(host: &H) -> Result<RescanReport, RescanError> {
    let meta = host.meta();
    let mut last = host.scanner().rescan_lock.lock().await;
    let start = Instant::now();
    let db = db::advisory_db(host).await.ok_or(RescanError::NoDatabase)?;
    let stored = meta.all_queries().await?;
    let lookups: Vec<PackageQuery> = stored.iter().map(|q| q.query.clone()).collect();
    let database = db.db.clone();
    let phase = Instant::now();
    let matched = tokio::task::spawn_blocking(move || match_lookups(&database, &lookups))
        .await
        .map_err(|e| RescanError::Task(e.to_string()))?
        .map_err(RescanError::Match)?;
    let mut report = RescanReport {
        lookups: stored.len(),
        match_ms: phase.elapsed().as_millis(),
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
        *last = Some(db.stamp.clone());
        report.elapsed_ms = start.elapsed().as_millis();
        return Ok(report);
    }
    let phase = Instant::now();
    let affected = meta
        .targets_with_queries(new.keys().copied().collect())
        .await?;
    report.load_ms = phase.elapsed().as_millis();
    let phase = Instant::now();
    let (old, new, changes, touched) = tokio::task::spawn_blocking(move || {
        let (changes, touched) = diff_targets(&affected, &old, &new);
        (old, new, changes, touched)
    })
    .await
    .map_err(|e| RescanError::Task(e.to_string()))?;
    report.affected_digests = touched;
    report.diff_ms = phase.elapsed().as_millis();
    let phase = Instant::now();
    drop(old);
    meta.set_query_matches(new.into_iter().collect()).await?;
    report.changed_digests = changes.len();
    let db_built = db.info.built_at;
    let now = now_ms();
    let history = changes
        .iter()
        .map(|c| {
            (
                c.repo.clone(),
                c.digest.clone(),
                HistoryEntry {
                    time_ms: now,
                    kind: "rescan".into(),
                    detail: serde_json::json!({
                        "added": c.added,
                        "removed": c.removed,
                        "new_critical": c.new_critical,
                        "db_built_at": db_built,
                    }),
                },
            )
        })
        .collect();
    meta.add_scan_history(history).await?;
    for c in changes {
        host.publish(ScanEvent::FindingsChanged {
            repo: c.repo,
            digest: c.digest,
            added: c.added,
            removed: c.removed,
            new_critical: c.new_critical,
        });
    }
    *last = Some(db.stamp.clone());
    report.store_ms = phase.elapsed().as_millis();
    report.elapsed_ms = start.elapsed().as_millis();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use caisson_registry_store::PackageRow;

    fn vuln(id: &str, severity: &str) -> MatchedVuln {
        MatchedVuln {
            id: id.into(),
            aliases: Vec::new(),
            fixed: Vec::new(),
            severity: severity.into(),
            title: None,
        }
    }

    fn target(repo: &str, packages: Vec<i64>) -> TargetPackages {
        TargetPackages {
            repo: repo.into(),
            digest: caisson_oci::Digest::sha256(repo.as_bytes()),
            packages,
        }
    }

    fn row(qid: i64) -> PackageRow {
        PackageRow {
            qid,
            name: format!("pkg{qid}"),
            version: "1".into(),
        }
    }

    /// Lookup 1 gains a critical finding and loses a low one; lookup 2 is
    /// re-matched to the same findings; lookup 3 never changed. Only the
    /// digest holding lookup 1 changes; the one holding lookup 2 is
    /// affected but unchanged; the one holding only lookup 3 is neither.
    #[test]
    fn only_digests_whose_findings_changed_are_reported() {
        let affected = AffectedTargets {
            targets: vec![
                target("a", vec![10, 30]),
                target("b", vec![20]),
                target("c", vec![30]),
            ],
            packages: [(10, row(1)), (20, row(2)), (30, row(3))]
                .into_iter()
                .collect(),
        };
        let old = HashMap::from([
            (
                1,
                Some(vec![vuln("CVE-OLD", "LOW"), vuln("CVE-KEPT", "HIGH")]),
            ),
            (2, Some(vec![vuln("CVE-SAME", "MEDIUM")])),
        ]);
        let new = HashMap::from([
            (
                1,
                vec![vuln("CVE-KEPT", "HIGH"), vuln("CVE-NEW", "CRITICAL")],
            ),
            (2, vec![vuln("CVE-SAME", "MEDIUM")]),
        ]);
        let (changes, touched) = diff_targets(&affected, &old, &new);
        assert_eq!(touched, 2, "a and b hold a re-matched lookup");
        assert_eq!(
            changes,
            vec![TargetChange {
                repo: "a".into(),
                digest: caisson_oci::Digest::sha256(b"a"),
                added: vec!["CVE-NEW".into()],
                removed: vec!["CVE-OLD".into()],
                new_critical: vec!["CVE-NEW".into()],
            }]
        );
    }

    /// A lookup matched for the first time (no old matches) counts every
    /// new finding as added; a severity raised to critical is a new
    /// critical id without being added.
    #[test]
    fn first_match_and_raised_severity() {
        let affected = AffectedTargets {
            targets: vec![target("a", vec![1]), target("b", vec![2])],
            packages: [(1, row(1)), (2, row(2))].into_iter().collect(),
        };
        let old = HashMap::from([(1, None), (2, Some(vec![vuln("CVE-2", "HIGH")]))]);
        let new = HashMap::from([
            (1, vec![vuln("CVE-1", "LOW")]),
            (2, vec![vuln("CVE-2", "CRITICAL")]),
        ]);
        let (mut changes, touched) = diff_targets(&affected, &old, &new);
        changes.sort_by(|x, y| x.repo.cmp(&y.repo));
        assert_eq!(touched, 2);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(changes[0].added, vec!["CVE-1".to_string()]);
        assert!(changes[0].new_critical.is_empty());
        assert!(changes[1].added.is_empty() && changes[1].removed.is_empty());
        assert_eq!(changes[1].new_critical, vec!["CVE-2".to_string()]);
    }
}
