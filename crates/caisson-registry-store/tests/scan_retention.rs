//! Retention of scan state in the SQLite store: finished jobs past the
//! cutoff and history lines past the per-digest cap go, pending jobs, newer
//! finished jobs, the newest history lines and scan records stay.

use std::time::Duration;

use caisson_oci::Digest;
use caisson_registry_store::scan::PrunedScanState;
use caisson_registry_store::sqlite::SqliteMetaStore;
use caisson_registry_store::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn line(time_ms: i64, kind: &str) -> HistoryEntry {
    HistoryEntry {
        time_ms,
        kind: kind.into(),
        detail: serde_json::json!({ "n": kind }),
    }
}

/// Queues `digest` in `r`, claims it and finishes it (`error`: failed).
async fn run_job(s: &SqliteMetaStore, d: &Digest, error: Option<&str>) -> i64 {
    s.enqueue_scan("r", d, "push")
        .await
        .expect("enqueue")
        .expect("queued");
    let job = s.claim_scan_job().await.expect("claim").expect("a job");
    assert_eq!(&job.digest, d, "the only queued job");
    s.finish_scan_job(job.id, error.map(str::to_string))
        .await
        .expect("finish");
    job.id
}

fn states(jobs: &[ScanJob]) -> Vec<JobState> {
    jobs.iter().map(|j| j.state).collect()
}

#[test]
fn finished_jobs_older_than_the_cutoff_are_pruned_and_pending_jobs_never() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |s: &str| Digest::sha256(s.as_bytes());
    let (old_done, old_failed, new_done, running, queued) = (
        d("old-done"),
        d("old-failed"),
        d("new-done"),
        d("running"),
        d("queued"),
    );
    rt().block_on(async {
        let s = SqliteMetaStore::open(&dir.path().join("meta.sqlite")).expect("open");
        run_job(&s, &old_done, None).await;
        run_job(&s, &old_failed, Some("bad layer")).await;
        // Pending jobs created before the cutoff: still never pruned.
        s.enqueue_scan("r", &running, "push")
            .await
            .expect("enqueue");
        let job = s.claim_scan_job().await.expect("claim").expect("a job");
        assert_eq!(job.digest, running);
        s.enqueue_scan("r", &queued, "pull").await.expect("enqueue");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let cutoff = now_ms();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // `queued` is older: take it out of the way, finish the new job, and
        // queue `queued` again so one job of each pending state remains.
        let q = s.claim_scan_job().await.expect("claim").expect("a job");
        assert_eq!(q.digest, queued);
        s.finish_scan_job(q.id, None).await.expect("finish");
        run_job(&s, &new_done, None).await;
        s.enqueue_scan("r", &queued, "pull")
            .await
            .expect("enqueue")
            .expect("queued again");

        let pruned = s.prune_scan_state(cutoff, 100).await.expect("prune");
        assert_eq!(
            pruned,
            PrunedScanState {
                jobs: 2,
                history: 0
            }
        );
        assert!(s.scan_jobs("r", &old_done).await.expect("jobs").is_empty());
        assert!(s
            .scan_jobs("r", &old_failed)
            .await
            .expect("jobs")
            .is_empty());
        assert_eq!(
            states(&s.scan_jobs("r", &new_done).await.expect("jobs")),
            [JobState::Done]
        );
        assert_eq!(
            states(&s.scan_jobs("r", &running).await.expect("jobs")),
            [JobState::Running]
        );
        assert_eq!(
            states(&s.scan_jobs("r", &queued).await.expect("jobs")),
            [JobState::Queued, JobState::Done],
            "newest first: the queued job and the job finished after the cutoff"
        );
        assert_eq!(
            s.prune_scan_state(cutoff, 100).await.expect("prune again"),
            PrunedScanState::default(),
            "nothing left to prune at the same cutoff"
        );

        // Any cutoff, however late, leaves queued and running jobs alone.
        let pruned = s.prune_scan_state(i64::MAX, 100).await.expect("prune all");
        assert_eq!(pruned.jobs, 2, "new-done and the finished `queued` job");
        assert!(s.scan_jobs("r", &new_done).await.expect("jobs").is_empty());
        assert_eq!(
            states(&s.scan_jobs("r", &running).await.expect("jobs")),
            [JobState::Running]
        );
        assert_eq!(
            states(&s.scan_jobs("r", &queued).await.expect("jobs")),
            [JobState::Queued]
        );
        let depth = s.scan_queue_depth().await.expect("depth");
        assert_eq!((depth.queued, depth.running), (1, 1));
        // The pending jobs still work: the queued one is claimed next.
        let next = s.claim_scan_job().await.expect("claim").expect("a job");
        assert_eq!(next.digest, queued);
    });
}

#[test]
fn history_keeps_the_newest_lines_per_digest_and_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d1 = Digest::sha256(b"one");
    let d2 = Digest::sha256(b"two");
    rt().block_on(async {
        let s = SqliteMetaStore::open(&dir.path().join("meta.sqlite")).expect("open");
        s.record_scan(
            ScanRecord {
                repo: "r".into(),
                digest: d1.clone(),
                state: ScanState::Scanned,
                reason: None,
                sbom_digest: None,
                sbom_manifest: None,
                scanned_ms: 1,
                packages: 0,
            },
            Vec::new(),
            line(1, "k0"),
        )
        .await
        .expect("record");
        // r@d1: five lines, two with the same time (the later insert is newer).
        // other@d1: the same digest in another repository, four lines.
        // r@d2: two lines, under the cap.
        let mut entries = vec![
            ("r".to_string(), d1.clone(), line(2, "k1")),
            ("r".to_string(), d1.clone(), line(3, "k2")),
            ("r".to_string(), d1.clone(), line(3, "k3")),
            ("r".to_string(), d1.clone(), line(4, "k4")),
        ];
        for (i, t) in [10, 20, 30, 40].into_iter().enumerate() {
            entries.push(("other".to_string(), d1.clone(), line(t, &format!("o{i}"))));
        }
        entries.push(("r".to_string(), d2.clone(), line(5, "a")));
        entries.push(("r".to_string(), d2.clone(), line(6, "b")));
        // Out of time order on insert: time decides, not insertion.
        entries.push(("other".to_string(), d1.clone(), line(5, "o-early")));
        s.add_scan_history(entries).await.expect("history");

        let kinds =
            |h: Vec<HistoryEntry>| -> Vec<String> { h.into_iter().map(|e| e.kind).collect() };
        let pruned = s.prune_scan_state(0, 3).await.expect("prune");
        assert_eq!(
            pruned,
            PrunedScanState {
                jobs: 0,
                history: 2 + 2
            }
        );
        assert_eq!(
            kinds(s.scan_history("r", &d1).await.expect("history")),
            ["k2", "k3", "k4"],
            "oldest first, the three newest kept (ties by insertion)"
        );
        assert_eq!(
            kinds(s.scan_history("other", &d1).await.expect("history")),
            ["o1", "o2", "o3"]
        );
        assert_eq!(
            kinds(s.scan_history("r", &d2).await.expect("history")),
            ["a", "b"]
        );

        let pruned = s.prune_scan_state(0, 1).await.expect("prune to one");
        assert_eq!(pruned.history, 2 + 2 + 1);
        assert_eq!(
            kinds(s.scan_history("r", &d1).await.expect("history")),
            ["k4"]
        );
        assert_eq!(
            kinds(s.scan_history("other", &d1).await.expect("history")),
            ["o3"]
        );
        assert_eq!(
            kinds(s.scan_history("r", &d2).await.expect("history")),
            ["b"]
        );
        // Only history goes: the scan record stays.
        let rec = s.scan_record("r", &d1).await.expect("record");
        assert_eq!(rec.map(|r| r.state), Some(ScanState::Scanned));
    });
}
