//! The [`ScanStore`] impl of the SQLite store: every call on the blocking
//! pool, delegating to the SQL in `scan.rs` and `scan_queue.rs`.

use super::scan::*;
use super::scan_queue::*;
use crate::scan::*;
use crate::Result;

impl ScanStore for super::SqliteMetaStore {
    async fn enqueue_scan(
        &self,
        repo: &str,
        digest: &caisson_oci::Digest,
        reason: &str,
    ) -> Result<Option<i64>> {
        let (r, d, why) = (repo.to_string(), digest.to_string(), reason.to_string());
        self.run("queue scan", move |c| enqueue(c, &r, &d, &why))
            .await
    }
    async fn claim_scan_job(&self) -> Result<Option<ScanJob>> {
        self.run("claim scan job", claim).await
    }
    async fn finish_scan_job(&self, id: i64, error: Option<String>) -> Result<()> {
        self.run("finish scan job", move |c| finish(c, id, error.as_deref()))
            .await
    }
    async fn requeue_interrupted_scans(&self) -> Result<u64> {
        self.run("requeue interrupted scans", requeue).await
    }
    async fn scan_queue_depth(&self) -> Result<QueueDepth> {
        self.run("count scan queue", depth).await
    }
    async fn prune_scan_state(
        &self,
        finished_before_ms: i64,
        keep_history: u64,
    ) -> Result<PrunedScanState> {
        self.run("prune scan state", move |c| {
            prune(c, finished_before_ms, keep_history)
        })
        .await
    }
    async fn scan_jobs(&self, repo: &str, digest: &caisson_oci::Digest) -> Result<Vec<ScanJob>> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("list scan jobs", move |c| jobs(c, &r, &d)).await
    }
    async fn record_scan(
        &self,
        rec: ScanRecord,
        packages: Vec<ScannedPackage>,
        history: HistoryEntry,
    ) -> Result<()> {
        self.run("store scan", move |c| record(c, &rec, &packages, &history))
            .await
    }
    async fn scan_record(
        &self,
        repo: &str,
        digest: &caisson_oci::Digest,
    ) -> Result<Option<ScanRecord>> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("read scan record", move |c| get_record(c, &r, &d))
            .await
    }
    async fn unmatched_queries(
        &self,
        repo: &str,
        digest: &caisson_oci::Digest,
    ) -> Result<Vec<StoredQuery>> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("list unmatched lookups", move |c| unmatched(c, &r, &d))
            .await
    }
    async fn scan_findings(
        &self,
        repo: &str,
        digest: &caisson_oci::Digest,
    ) -> Result<Vec<StoredFinding>> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("read findings", move |c| findings(c, &r, &d))
            .await
    }
    async fn add_scan_history(
        &self,
        entries: Vec<(String, caisson_oci::Digest, HistoryEntry)>,
    ) -> Result<()> {
        self.run("append scan history", move |c| add_history(c, &entries))
            .await
    }
    async fn scan_history(
        &self,
        repo: &str,
        digest: &caisson_oci::Digest,
    ) -> Result<Vec<HistoryEntry>> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("read scan history", move |c| history(c, &r, &d))
            .await
    }
    async fn forget_scan(&self, repo: &str, digest: &caisson_oci::Digest) -> Result<()> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("forget scan", move |c| forget(c, &r, &d)).await
    }
    async fn all_queries(&self) -> Result<Vec<StoredQuery>> {
        self.run("list lookups", all_queries).await
    }
    async fn targets_with_queries(&self, qids: Vec<i64>) -> Result<AffectedTargets> {
        self.run("list affected digests", move |c| targets_with(c, &qids))
            .await
    }
    async fn set_query_matches(&self, updates: Vec<(i64, Vec<MatchedVuln>)>) -> Result<()> {
        self.run("store matches", move |c| set_matches(c, &updates))
            .await
    }
    async fn find_vulnerability(&self, id: &str) -> Result<Vec<SearchHit>> {
        let i = id.to_string();
        self.run("search vulnerabilities", move |c| find_vulnerability(c, &i))
            .await
    }
    async fn find_package(&self, name: &str) -> Result<Vec<SearchHit>> {
        let n = name.to_string();
        self.run("search packages", move |c| find_package(c, &n))
            .await
    }
    async fn scan_threshold(&self, namespace: &str) -> Result<Option<String>> {
        let n = namespace.to_string();
        self.run("read scan settings", move |c| threshold(c, &n))
            .await
    }
    async fn set_scan_threshold(&self, namespace: &str, t: Option<String>) -> Result<()> {
        let n = namespace.to_string();
        self.run("store scan settings", move |c| {
            set_threshold(c, &n, t.as_deref())
        })
        .await
    }
}
