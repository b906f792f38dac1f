//! The SQLite ScanStore: the persisted queue across a reopen (a process
//! killed mid-scan), packages shared between digests, matches, search.

use caisson_oci::Digest;
use caisson_registry_store::sqlite::SqliteMetaStore;
use caisson_registry_store::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn pkg(eco: &str, name: &str, version: &str) -> ScannedPackage {
    ScannedPackage {
        query: PackageQuery {
            ecosystem: eco.into(),
            scheme: eco.into(),
            name: name.to_lowercase(),
            version: version.into(),
        },
        name: name.into(),
        version: version.into(),
        purl: format!("pkg:pypi/{name}@{version}"),
    }
}

fn record(repo: &str, d: &Digest) -> ScanRecord {
    ScanRecord {
        repo: repo.into(),
        digest: d.clone(),
        state: ScanState::Scanned,
        reason: None,
        sbom_digest: None,
        sbom_manifest: None,
        scanned_ms: 1,
        packages: 2,
    }
}

fn hist() -> HistoryEntry {
    HistoryEntry {
        time_ms: 1,
        kind: "scan".into(),
        detail: serde_json::json!({}),
    }
}

#[test]
fn a_job_running_when_the_process_died_is_queued_again_on_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.sqlite");
    let d1 = Digest::sha256(b"one");
    let d2 = Digest::sha256(b"two");
    let rt = rt();
    let running_id = rt.block_on(async {
        let s = SqliteMetaStore::open(&path).expect("open");
        let a = s.enqueue_scan("r", &d1, "push").await.expect("enqueue");
        assert!(a.is_some());
        assert_eq!(
            s.enqueue_scan("r", &d1, "pull").await.expect("enqueue"),
            None,
            "a pending job is not queued twice"
        );
        s.enqueue_scan("r", &d2, "push").await.expect("enqueue");
        let job = s.claim_scan_job().await.expect("claim").expect("a job");
        assert_eq!(job.digest, d1);
        assert_eq!(job.state, JobState::Running);
        let depth = s.scan_queue_depth().await.expect("depth");
        assert_eq!((depth.queued, depth.running), (1, 1));
        job.id
        // The store is dropped with the job still running: a crash.
    });
    rt.block_on(async {
        let s = SqliteMetaStore::open(&path).expect("reopen");
        assert_eq!(s.requeue_interrupted_scans().await.expect("requeue"), 1);
        let job = s.claim_scan_job().await.expect("claim").expect("a job");
        assert_eq!((job.id, &job.digest), (running_id, &d1), "oldest first");
        s.finish_scan_job(job.id, None).await.expect("finish");
        let job = s.claim_scan_job().await.expect("claim").expect("a job");
        assert_eq!(job.digest, d2);
        s.finish_scan_job(job.id, Some("bad layer".into()))
            .await
            .expect("finish");
        assert!(s.claim_scan_job().await.expect("claim").is_none());
        let jobs = s.scan_jobs("r", &d2).await.expect("jobs");
        assert_eq!(jobs[0].state, JobState::Failed);
        assert_eq!(jobs[0].error.as_deref(), Some("bad layer"));
    });
}

#[test]
fn lookups_are_shared_between_digests_and_matched_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d1 = Digest::sha256(b"one");
    let d2 = Digest::sha256(b"two");
    rt().block_on(async {
        let s = SqliteMetaStore::open(&dir.path().join("meta.sqlite")).expect("open");
        s.record_scan(
            record("a/x", &d1),
            vec![pkg("PyPI", "urllib3", "1.26.4"), pkg("PyPI", "idna", "3.4")],
            hist(),
        )
        .await
        .expect("record");
        s.record_scan(
            record("b/y", &d2),
            vec![
                pkg("PyPI", "urllib3", "1.26.4"),
                pkg("PyPI", "six", "1.16.0"),
            ],
            hist(),
        )
        .await
        .expect("record");
        let all = s.all_queries().await.expect("queries");
        assert_eq!(
            all.len(),
            3,
            "urllib3 1.26.4 is one lookup for both digests"
        );
        assert!(all.iter().all(|q| q.matched.is_none()));
        assert_eq!(
            s.unmatched_queries("a/x", &d1)
                .await
                .expect("unmatched")
                .len(),
            2
        );
        let urllib3 = all
            .iter()
            .find(|q| q.query.name == "urllib3")
            .expect("urllib3")
            .qid;
        let vuln = MatchedVuln {
            id: "CVE-2021-33503".into(),
            aliases: vec!["PYSEC-2021-108".into()],
            fixed: vec!["1.26.5".into()],
            severity: "HIGH".into(),
            title: None,
        };
        let updates = all
            .iter()
            .map(|q| {
                let m = if q.qid == urllib3 {
                    vec![vuln.clone()]
                } else {
                    vec![]
                };
                (q.qid, m)
            })
            .collect();
        s.set_query_matches(updates).await.expect("matches");
        for (repo, d) in [("a/x", &d1), ("b/y", &d2)] {
            let f = s.scan_findings(repo, d).await.expect("findings");
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].package, "urllib3");
            assert_eq!(f[0].installed, "1.26.4");
            assert_eq!(f[0].fixed, ["1.26.5"]);
        }
        let affected = s
            .targets_with_queries(vec![urllib3])
            .await
            .expect("targets");
        assert_eq!(affected.targets.len(), 2);
        assert!(affected.targets.iter().all(|t| t.packages.len() == 2));
        for t in &affected.targets {
            let names: Vec<&str> = t
                .packages
                .iter()
                .map(|p| affected.packages[p].name.as_str())
                .collect();
            assert!(names.contains(&"urllib3"), "{names:?}");
        }
        let hits = s
            .find_vulnerability("pysec-2021-108")
            .await
            .expect("search");
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].vulnerability.as_deref(), Some("CVE-2021-33503"));
        assert_eq!(s.find_package("SIX").await.expect("search").len(), 1);
        assert!(s
            .find_vulnerability("CVE-0000-0")
            .await
            .expect("search")
            .is_empty());

        // Re-scanning a digest replaces its packages.
        s.record_scan(record("a/x", &d1), vec![pkg("PyPI", "idna", "3.4")], hist())
            .await
            .expect("record");
        assert!(s
            .scan_findings("a/x", &d1)
            .await
            .expect("findings")
            .is_empty());
        assert_eq!(s.scan_history("a/x", &d1).await.expect("history").len(), 2);
        s.forget_scan("b/y", &d2).await.expect("forget");
        assert!(s.scan_record("b/y", &d2).await.expect("record").is_none());
        assert_eq!(
            s.find_vulnerability("CVE-2021-33503")
                .await
                .expect("search")
                .len(),
            0
        );

        assert_eq!(s.scan_threshold("a").await.expect("get"), None);
        s.set_scan_threshold("a", Some("critical".into()))
            .await
            .expect("set");
        assert_eq!(
            s.scan_threshold("a").await.expect("get").as_deref(),
            Some("critical")
        );
    });
}
